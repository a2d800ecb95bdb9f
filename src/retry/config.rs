//! Retry configuration: the AWS SDKs' standard and adaptive modes, and the 2026
//! revision of the standard mode.

use std::time::Duration;

use crate::error::ConfigError;

/// Which retry behaviour a [`RetryConfig`] follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RetryMode {
    /// The AWS SDKs' `standard` mode.
    Standard,
    /// The `standard` mode as revised in 2026 (`AWS_NEW_RETRIES_2026=true`).
    Standard2026,
    /// The `adaptive` mode: the standard mode (or its 2026 revision, see
    /// [`RetryConfig::is_2026_revision`]) plus a client-side rate limiter that
    /// paces every attempt ([`AdaptiveRateLimitLayer`](super::AdaptiveRateLimitLayer)).
    Adaptive,
}

/// How the retry layer decides, backs off and spends its quota.
///
/// Defaults follow the AWS SDKs' *standard* retry mode (smithy-rs
/// `aws-smithy-types/src/retry.rs` and `aws-smithy-runtime/src/client/retries/
/// {strategy/standard.rs,token_bucket.rs}`; botocore `botocore/retries/standard.py`
/// and `quota.py`; the AWS SDKs and Tools Reference Guide, "Retry behavior"):
///
/// | setting | standard | standard, 2026 revision |
/// |---|---|---|
/// | attempts in total | 3 | 3 |
/// | backoff base, non-throttling errors | 1 s | 50 ms |
/// | backoff base, throttling errors | 1 s | 1 s |
/// | backoff cap | 20 s | 20 s |
/// | backoff | full jitter: `rand[0,1) * min(cap, base * 2^(attempt-1))` | same |
/// | retry quota (token bucket, shared by all clones of a client) | 500 | 500 |
/// | cost of a retry after a transient error (5xx, timeout, connection) | 10 | 14 |
/// | cost of a retry after throttling | 5 | 5 |
/// | refund on success | the last retry's cost, or 1 after a first-try success | same |
/// | `x-amz-retry-after` (ms) | ignored | honoured, clamped to `[t, t + 5 s]` of the computed backoff `t` |
///
/// When the quota cannot pay for a retry, the error is returned at once: a dead or
/// overloaded KMS makes the client fail fast instead of multiplying its load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryConfig {
    pub(crate) mode: RetryMode,
    pub(crate) max_attempts: u32,
    pub(crate) base: Duration,
    pub(crate) throttling_base: Duration,
    pub(crate) max_backoff: Duration,
    pub(crate) transient_cost: u32,
    pub(crate) throttling_cost: u32,
    pub(crate) success_refund: u32,
    pub(crate) quota_capacity: u32,
    pub(crate) honour_retry_after: bool,
    pub(crate) adaptive: bool,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self::standard()
    }
}

impl RetryConfig {
    /// The AWS SDKs' standard mode.
    pub fn standard() -> Self {
        Self {
            mode: RetryMode::Standard,
            max_attempts: 3,
            base: Duration::from_secs(1),
            throttling_base: Duration::from_secs(1),
            max_backoff: Duration::from_secs(20),
            transient_cost: 10,
            throttling_cost: 5,
            success_refund: 1,
            quota_capacity: 500,
            honour_retry_after: false,
            adaptive: false,
        }
    }

    /// The AWS SDKs' adaptive mode: the standard mode's retries, backoff and
    /// quota, plus a client-side rate limiter (CUBIC) below the retry layer that
    /// every attempt goes through. A [`KmsClient`](crate::KmsClient) built with
    /// it adds an [`AdaptiveRateLimitLayer`](super::AdaptiveRateLimitLayer)
    /// shared by all its clones; a hand-built stack adds the layer itself.
    pub fn adaptive() -> Self {
        Self::standard().with_adaptive(true)
    }

    /// Turns the adaptive rate limiter on or off, keeping everything else (so
    /// `standard_2026().with_adaptive(true)` is the adaptive mode on the 2026
    /// revision).
    pub fn with_adaptive(mut self, adaptive: bool) -> Self {
        self.adaptive = adaptive;
        self
    }

    /// Whether the adaptive rate limiter is on.
    pub fn is_adaptive(&self) -> bool {
        self.adaptive
    }

    /// Whether the standard part follows the 2026 revision.
    pub fn is_2026_revision(&self) -> bool {
        self.mode == RetryMode::Standard2026
    }

    /// The standard mode as the AWS SDKs revised it in 2026: a 50 ms base for
    /// non-throttling errors, 1 s for throttling, a cost of 14 per transient retry
    /// and 5 per throttling retry, and `x-amz-retry-after` honoured.
    pub fn standard_2026() -> Self {
        Self {
            mode: RetryMode::Standard2026,
            base: Duration::from_millis(50),
            transient_cost: 14,
            honour_retry_after: true,
            ..Self::standard()
        }
    }

    /// One attempt, no retries (a signing-time rejection still gets its one
    /// clock-skew correction; see the [module docs](super)).
    pub fn disabled() -> Self {
        Self {
            max_attempts: 1,
            ..Self::standard()
        }
    }

    /// Reads `AWS_MAX_ATTEMPTS`, `AWS_RETRY_MODE` and `AWS_NEW_RETRIES_2026` from the
    /// process environment; see [`from_env_with`](Self::from_env_with).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_env_with(|k| std::env::var(k).ok())
    }

    /// Reads the retry variables through `get`:
    /// - `AWS_NEW_RETRIES_2026=true` selects [`standard_2026`](Self::standard_2026);
    /// - `AWS_RETRY_MODE` accepts `standard` and `adaptive` (the standard mode plus
    ///   the client-side rate limiter, [`adaptive`](Self::adaptive)); any other
    ///   value is an error;
    /// - `AWS_MAX_ATTEMPTS` is a whole number of attempts, at least 1.
    pub fn from_env_with(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let new_2026 =
            get("AWS_NEW_RETRIES_2026").is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
        let mut cfg = if new_2026 {
            Self::standard_2026()
        } else {
            Self::standard()
        };
        if let Some(mode) = get("AWS_RETRY_MODE").filter(|v| !v.trim().is_empty()) {
            let m = mode.trim().to_ascii_lowercase();
            match m.as_str() {
                "standard" => {}
                "adaptive" => cfg.adaptive = true,
                _ => {
                    return Err(ConfigError::new(format!(
                        "AWS_RETRY_MODE={mode:?} is not a retry mode (standard or adaptive)"
                    )));
                }
            }
        }
        if let Some(n) = max_attempts_from_env(&get)? {
            cfg.max_attempts = n;
        }
        Ok(cfg)
    }

    /// Sets the number of attempts in total (at least 1).
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// Sets the backoff base for non-throttling errors.
    pub fn with_base(mut self, base: Duration) -> Self {
        self.base = base;
        self
    }

    /// Sets the backoff base for throttling errors.
    pub fn with_throttling_base(mut self, base: Duration) -> Self {
        self.throttling_base = base;
        self
    }

    /// Sets the backoff cap.
    pub fn with_max_backoff(mut self, cap: Duration) -> Self {
        self.max_backoff = cap;
        self
    }

    /// Sets the retry quota's capacity (0 disables retries through the quota).
    pub fn with_quota_capacity(mut self, tokens: u32) -> Self {
        self.quota_capacity = tokens;
        self
    }

    /// The mode: [`RetryMode::Adaptive`] when the rate limiter is on, else the
    /// standard mode's revision.
    pub fn mode(&self) -> RetryMode {
        if self.adaptive {
            RetryMode::Adaptive
        } else {
            self.mode
        }
    }

    /// Attempts in total.
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The backoff before attempt `attempts_made + 1`, for a random `jitter` in
    /// `[0, 1)`: `jitter * min(cap, base * 2^(attempts_made - 1))`.
    pub fn backoff(&self, attempts_made: u32, throttling: bool, jitter: f64) -> Duration {
        let base = if throttling {
            self.throttling_base
        } else {
            self.base
        };
        let exp = attempts_made.saturating_sub(1).min(62);
        let ceiling = base.as_secs_f64() * (1u64 << exp) as f64;
        let capped = ceiling.min(self.max_backoff.as_secs_f64());
        let jitter = if jitter.is_finite() {
            jitter.clamp(0.0, 1.0)
        } else {
            0.0
        };
        Duration::from_secs_f64(capped * jitter)
    }
}

/// `AWS_MAX_ATTEMPTS` read through `get`: `None` when unset or empty.
pub(crate) fn max_attempts_from_env(
    get: impl Fn(&str) -> Option<String>,
) -> Result<Option<u32>, ConfigError> {
    let Some(n) = get("AWS_MAX_ATTEMPTS").filter(|v| !v.trim().is_empty()) else {
        return Ok(None);
    };
    let parsed: u32 = n
        .trim()
        .parse()
        .map_err(|_| ConfigError::new(format!("AWS_MAX_ATTEMPTS={n:?} is not a whole number")))?;
    if parsed == 0 {
        return Err(ConfigError::new("AWS_MAX_ATTEMPTS must be at least 1"));
    }
    Ok(Some(parsed))
}
