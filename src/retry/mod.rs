//! Middleware that retries failed KMS calls the way the AWS SDKs' *standard*
//! retry mode does: tower's [`Retry`](tower::retry::Retry) with [`KmsRetryPolicy`];
//! and the *adaptive* mode's client-side rate limiter, [`AdaptiveRateLimitLayer`]
//! (see [`adaptive`]), which goes below it.
//!
//! - **What is retried:** throttling (`ThrottlingException` and the other codes
//!   AWS SDKs treat as throttling, HTTP 429), transient server errors (HTTP 500,
//!   502, 503, 504, `KMSInternalException`, `DependencyTimeoutException`,
//!   `KeyUnavailableException`), connection failures, attempt timeouts, and a
//!   connection that broke while the response body was being read. Every other
//!   KMS exception, validation, credentials and signing errors are final; see
//!   [`KmsError::is_retryable`].
//! - **How:** at most [`RetryConfig::max_attempts`] attempts, full-jitter exponential
//!   backoff, and a retry quota shared by all clones of the layer ([`RetryQuota`]).
//!   Every attempt goes through the layers below again, so it is re-encoded and
//!   re-signed with a fresh timestamp. The attempt number is in the request's
//!   extensions as [`Attempt`].
//! - **Clock skew:** when the server rejects a signature because of the signing
//!   time (`Signature expired`, `RequestExpired`, `RequestTimeTooSkewed`, or
//!   `InvalidSignatureException` with a server clock over 4 minutes away), the
//!   offset from the response's `Date` header is stored in the layer's
//!   [`ClockSkew`], which every request carries in its extensions to the
//!   [`SigV4`](crate::sign::SigV4) signer below (so any stack with this layer
//!   above the signer corrects its clock, with no wiring), and the call is
//!   retried once at once (this retry
//!   costs no quota and does not count against the attempts, so it happens even
//!   with `max_attempts = 1`: it corrects the client, it does not retry a fault).
//!   Offsets over a day are ignored.
//! - **Idempotency:** a retried `ReEncrypt` may already have succeeded on the server
//!   before the connection broke. That is harmless: ReEncrypt changes no state in
//!   KMS, and the new ciphertext of the lost response is simply never used. The
//!   AWS SDKs retry it too.
//!
//! ```
//! use std::time::Duration;
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//! use tower_kms::retry::{RetryConfig, RetryLayer};
//! use tower_kms::{KmsError, ReEncryptRequest, ReEncryptResponse, ServiceError};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! tokio::time::pause(); // skip the backoff sleeps
//! let calls = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
//! let seen = calls.clone();
//! let flaky = service_fn(move |_req: ReEncryptRequest| {
//!     let n = seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
//!     async move {
//!         if n == 0 {
//!             let e = ServiceError::new("KMSInternalException", http::StatusCode::INTERNAL_SERVER_ERROR);
//!             Err(KmsError::from_service_error(e))
//!         } else {
//!             Ok(ReEncryptResponse::default())
//!         }
//!     }
//! });
//! let svc = ServiceBuilder::new()
//!     .layer(RetryLayer::new(RetryConfig::standard()))
//!     .service(flaky);
//! let req = ReEncryptRequest::builder().ciphertext_blob(vec![1]).destination_key_id("k").build().unwrap();
//! svc.oneshot(req).await.unwrap();
//! assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 2);
//! # }
//! ```

pub mod adaptive;
mod config;
mod quota;

pub use adaptive::{
    AdaptiveRateLimit, AdaptiveRateLimitLayer, AdaptiveRateSnapshot, ClientRateLimiter,
};
pub(crate) use config::max_attempts_from_env;
pub use config::{RetryConfig, RetryMode};
pub use quota::RetryQuota;

use std::sync::Arc;
use std::time::Duration;

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use tower::Layer;
use tower::retry::Policy;

use crate::error::KmsError;
use crate::operation::{Attempt, KmsOperation};
use crate::sign::{Clock, ClockSkew};

/// Service that retries with [`KmsRetryPolicy`] (tower's `Retry`), and hands its
/// [`ClockSkew`] to the signer below through each request's extensions; see the
/// [module docs](self).
#[derive(Debug, Clone)]
pub struct KmsRetry<S> {
    inner: tower::retry::Retry<KmsRetryPolicy, S>,
    skew: ClockSkew,
}

impl<S> KmsRetry<S> {
    /// The inner service.
    pub fn get_ref(&self) -> &S {
        self.inner.get_ref()
    }
    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        self.inner.get_mut()
    }
    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner.into_inner()
    }
}

impl<S, Op> tower::Service<Op> for KmsRetry<S>
where
    Op: KmsOperation,
    S: tower::Service<Op, Response = Op::Output, Error = KmsError> + Clone,
{
    type Response = Op::Output;
    type Error = KmsError;
    type Future = tower::retry::future::ResponseFuture<KmsRetryPolicy, S, Op>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), KmsError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut op: Op) -> Self::Future {
        // Every attempt (the first, and the clones that retries send) carries
        // the skew handle, so a signer below applies what this layer learns.
        if let Some(ext) = op.extensions_mut() {
            ext.insert(self.skew.clone());
        }
        self.inner.call(op)
    }
}

/// Layer that applies [`KmsRetryPolicy`]; see the [module docs](self).
///
/// Clock-skew correction needs no wiring: the layer has its own [`ClockSkew`]
/// (or the one given to [`clock_skew`](Self::clock_skew)), puts it in the
/// extensions of every request it sends, and the [`SigV4`](crate::sign::SigV4)
/// signer below uses a `ClockSkew` found there in preference to its own.
#[derive(Debug, Clone)]
pub struct RetryLayer {
    policy: KmsRetryPolicy,
}

impl RetryLayer {
    /// A layer with its own retry quota and clock-skew handle (judged against
    /// the system clock).
    pub fn new(config: RetryConfig) -> Self {
        Self {
            policy: KmsRetryPolicy::new(config),
        }
    }

    /// Learns the clock skew into `skew`, measured against `clock` (use the
    /// signer's clock when it is not the system clock, e.g. a fixed clock in
    /// tests).
    pub fn clock_skew(mut self, skew: ClockSkew, clock: impl Clock) -> Self {
        self.policy.skew = SkewCorrection {
            skew,
            clock: Arc::new(clock),
        };
        self
    }

    /// The clock-skew handle this layer learns into and hands to the signer.
    pub fn skew(&self) -> &ClockSkew {
        &self.policy.skew.skew
    }

    /// The retry quota shared by every service this layer makes.
    pub fn quota(&self) -> &RetryQuota {
        &self.policy.quota
    }
}

impl<S> Layer<S> for RetryLayer {
    type Service = KmsRetry<S>;
    fn layer(&self, inner: S) -> KmsRetry<S> {
        KmsRetry {
            skew: self.policy.skew.skew.clone(),
            inner: tower::retry::Retry::new(self.policy.clone(), inner),
        }
    }
}

/// Jitter for the backoff: a counter shared by all clones of a policy, hashed with
/// a per-process random key, so every draw (of every call) differs.
#[derive(Debug, Default)]
struct JitterSource {
    state: std::hash::RandomState,
    counter: AtomicU64,
}

impl JitterSource {
    fn next_f64(&self) -> f64 {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let mut h = self.state.build_hasher();
        h.write_u64(n);
        (h.finish() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[derive(Debug, Clone)]
struct SkewCorrection {
    skew: ClockSkew,
    clock: Arc<dyn Clock>,
}

/// The retry policy: classification, backoff, quota and clock-skew correction.
///
/// A fresh copy is used for each call (tower's `Retry` clones it), so the attempt
/// count is per call while the quota and the clock skew are shared.
#[derive(Debug, Clone)]
pub struct KmsRetryPolicy {
    config: Arc<RetryConfig>,
    quota: RetryQuota,
    skew: SkewCorrection,
    attempt: u32,
    extra_attempts: u32,
    held: u32,
    rng: Arc<JitterSource>,
}

impl KmsRetryPolicy {
    /// A policy with its own quota of `config.quota_capacity` tokens.
    pub fn new(config: RetryConfig) -> Self {
        let quota = RetryQuota::new(config.quota_capacity);
        Self::with_quota(config, quota)
    }

    /// A policy drawing on `quota`.
    pub fn with_quota(config: RetryConfig, quota: RetryQuota) -> Self {
        Self {
            config: Arc::new(config),
            quota,
            skew: SkewCorrection {
                skew: ClockSkew::default(),
                clock: Arc::new(crate::sign::SystemClock),
            },
            attempt: 1,
            extra_attempts: 0,
            held: 0,
            rng: Arc::new(JitterSource::default()),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &RetryConfig {
        &self.config
    }

    fn skew_offset(&self, err: &KmsError) -> Option<i64> {
        let sk = &self.skew;
        let e = err.service_error()?;
        let server = e.server_time?;
        let now = sk.clock.now();
        let offset_ms = match server.duration_since(now) {
            Ok(ahead) => i64::try_from(ahead.as_millis()).ok()?,
            Err(behind) => -i64::try_from(behind.duration().as_millis()).ok()?,
        };
        let msg = e.message.as_deref().unwrap_or("");
        let certain = matches!(
            e.code.as_str(),
            "RequestExpired" | "RequestTimeTooSkewed" | "RequestInTheFuture"
        ) || msg.contains("Signature expired")
            || msg.contains("Signature not yet current");
        // What is left after the correction already in force: a client that has
        // learnt its skew and then gets a real signature mismatch must not retry.
        let residual = offset_ms.saturating_sub(sk.skew.offset_millis());
        let plausible = matches!(
            e.code.as_str(),
            "InvalidSignatureException" | "SignatureDoesNotMatch" | "AuthFailure"
        ) && residual.unsigned_abs() > Duration::from_secs(240).as_millis() as u64;
        // A server clock more than a day away is not a skew to learn (a broken or
        // hostile Date header could otherwise push signing times out of range).
        let sane = offset_ms.unsigned_abs() <= Duration::from_secs(86_400).as_millis() as u64;
        (sane && residual != 0 && (certain || plausible)).then_some(offset_ms)
    }

    fn next_attempt<Op: KmsOperation>(&mut self, req: &mut Op) {
        self.attempt += 1;
        if let Some(ext) = req.extensions_mut() {
            ext.insert(Attempt(self.attempt));
        }
    }
}

impl<Op> Policy<Op, Op::Output, KmsError> for KmsRetryPolicy
where
    Op: KmsOperation + Clone,
{
    type Future = tokio::time::Sleep;

    fn retry(
        &mut self,
        req: &mut Op,
        result: &mut Result<Op::Output, KmsError>,
    ) -> Option<Self::Future> {
        let err = match result {
            Ok(_) => {
                let refund = if self.held > 0 {
                    self.held
                } else {
                    self.config.success_refund
                };
                self.quota.release(refund);
                self.held = 0;
                return None;
            }
            Err(e) => e,
        };
        if self.extra_attempts == 0
            && let Some(offset) = self.skew_offset(err)
        {
            self.skew.skew.set_offset_millis(offset);
            self.extra_attempts += 1;
            self.next_attempt(req);
            return Some(tokio::time::sleep(Duration::ZERO));
        }
        if !err.is_retryable() {
            return None;
        }
        if self.attempt - self.extra_attempts >= self.config.max_attempts {
            return None;
        }
        let throttling = err.is_throttling();
        let cost = if throttling {
            self.config.throttling_cost
        } else {
            self.config.transient_cost
        };
        if !self.quota.try_acquire(cost) {
            return None;
        }
        self.held = cost;
        let made = self.attempt - self.extra_attempts;
        let mut delay = self.config.backoff(made, throttling, self.rng.next_f64());
        if self.config.honour_retry_after
            && let Some(ra) = err.service_error().and_then(|e| e.retry_after)
        {
            delay = ra.clamp(delay, delay + Duration::from_secs(5));
        }
        self.next_attempt(req);
        Some(tokio::time::sleep(delay))
    }

    fn clone_request(&mut self, req: &Op) -> Option<Op> {
        Some(req.clone())
    }
}
