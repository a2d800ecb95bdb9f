//! Credential providers and the clock used for signing.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, error::CredentialsError, future};

/// Reads credentials from `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and the
/// optional `AWS_SESSION_TOKEN` each time they are asked for.
///
/// For profiles, SSO, web identity, ECS or IMDS, use a provider from `aws-config`
/// instead: any [`ProvideCredentials`] plugs in.
#[derive(Debug, Clone, Default)]
pub struct EnvironmentCredentials {
    _priv: (),
}

impl EnvironmentCredentials {
    /// A provider reading the process environment.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads credentials through `get` (a stand-in for the environment, e.g. in tests).
    pub fn load_with(
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<Credentials, CredentialsError> {
        let non_empty = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        let akid = non_empty("AWS_ACCESS_KEY_ID").ok_or_else(|| {
            CredentialsError::not_loaded("AWS_ACCESS_KEY_ID is not set in the environment")
        })?;
        let secret = non_empty("AWS_SECRET_ACCESS_KEY").ok_or_else(|| {
            CredentialsError::not_loaded("AWS_SECRET_ACCESS_KEY is not set in the environment")
        })?;
        let token = non_empty("AWS_SESSION_TOKEN").map(|t| t.trim().to_owned());
        Ok(Credentials::new(
            akid.trim(),
            secret.trim(),
            token,
            None,
            "Environment",
        ))
    }
}

impl ProvideCredentials for EnvironmentCredentials {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::ready(Self::load_with(|k| std::env::var(k).ok()))
    }
}

/// Caches the credentials of another provider until shortly before they expire,
/// so an expensive provider (SSO, web identity, ECS, IMDS) is not called per
/// request. Concurrent callers share one refresh.
///
/// ```
/// use aws_credential_types::Credentials;
/// use tower_kms::sign::CachedCredentials;
/// let cached = CachedCredentials::new(Credentials::new("AKID", "SECRET", None, None, "static"));
/// # let _ = cached;
/// ```
#[derive(Debug, Clone)]
pub struct CachedCredentials {
    inner: aws_credential_types::provider::SharedCredentialsProvider,
    cached: Arc<tokio::sync::Mutex<Option<Cached>>>,
    refresh_before: Duration,
}

/// Cached credentials and when to refresh them (`None`: they do not expire).
type Cached = (Credentials, Option<SystemTime>);

impl CachedCredentials {
    /// Caches `provider`'s credentials, refreshing them 5 minutes before they expire.
    pub fn new(provider: impl ProvideCredentials + 'static) -> Self {
        Self::from_shared(aws_credential_types::provider::SharedCredentialsProvider::new(provider))
    }

    /// Like [`new`](Self::new) for an already shared provider.
    pub fn from_shared(
        provider: aws_credential_types::provider::SharedCredentialsProvider,
    ) -> Self {
        Self {
            inner: provider,
            cached: Arc::new(tokio::sync::Mutex::new(None)),
            refresh_before: Duration::from_secs(300),
        }
    }

    async fn load(&self) -> aws_credential_types::provider::Result {
        let mut slot = self.cached.lock().await;
        let now = SystemTime::now();
        if let Some((c, refresh_at)) = slot.as_ref()
            && refresh_at.is_none_or(|at| now < at)
        {
            return Ok(c.clone());
        }
        let creds = self.inner.provide_credentials().await?;
        // Refresh `refresh_before` ahead of expiry; credentials that arrive with less
        // time than that left are kept for half of what they have, so a provider
        // that hands out short-lived credentials is not called on every request.
        let refresh_at = creds.expiry().map(|exp| match exp.duration_since(now) {
            Ok(left) if left > self.refresh_before => exp - self.refresh_before,
            Ok(left) => now + left / 2,
            Err(_) => now,
        });
        *slot = Some((creds.clone(), refresh_at));
        Ok(creds)
    }
}

impl ProvideCredentials for CachedCredentials {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(self.load())
    }
}

/// A source of the current time for signing.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// The current time.
    fn now(&self) -> SystemTime;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock that always returns the same instant (for golden tests).
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub SystemTime);

impl Clock for FixedClock {
    fn now(&self) -> SystemTime {
        self.0
    }
}

/// The offset between the server's clock and ours, shared by all clones of a
/// signer and applied to every signature it makes.
#[derive(Debug, Clone, Default)]
pub struct ClockSkew(Arc<AtomicI64>);

impl ClockSkew {
    /// The current offset in milliseconds (positive: the server is ahead).
    pub fn offset_millis(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }

    /// Sets the offset in milliseconds (positive: the server is ahead).
    pub fn set_offset_millis(&self, millis: i64) {
        self.0.store(millis, Ordering::Relaxed)
    }

    /// Applies the offset to `t`.
    pub fn apply(&self, t: SystemTime) -> SystemTime {
        let off = self.offset_millis();
        if off >= 0 {
            t + Duration::from_millis(off as u64)
        } else {
            t.checked_sub(Duration::from_millis(off.unsigned_abs()))
                .unwrap_or(t)
        }
    }
}
