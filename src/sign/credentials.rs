//! The environment credential provider and the clock used for signing.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, error::CredentialsError, future};

/// Reads credentials from `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and the
/// optional `AWS_SESSION_TOKEN` each time they are asked for.
///
/// A [`KmsClient`](crate::KmsClient) caches this provider like any other (see
/// [`CredentialsCache`](super::CredentialsCache)): it reads the environment at the
/// first call and again in the background every 15 minutes (the credentials carry
/// no expiry). To read it on every attempt, build the client with
/// [`CredentialsCache::no_cache()`](super::CredentialsCache::no_cache).
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
