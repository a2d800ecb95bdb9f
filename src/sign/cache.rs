//! Caching credentials so that no call stalls on the provider: [`CachedCredentials`],
//! and [`CredentialsCache`], the rule a [`KmsClient`](crate::KmsClient) caches by.

use std::error::Error as _;
use std::fmt;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider, future};
use tokio::sync::watch;
use tokio::time::Instant;

/// How long one refresh may take by default before callers get a timeout error:
/// 5 seconds, as the AWS SDKs' identity cache.
pub const DEFAULT_LOAD_TIMEOUT: Duration = Duration::from_secs(5);

/// How long before expiry credentials are refreshed in the background by default:
/// 5 minutes.
pub const DEFAULT_REFRESH_BEFORE: Duration = Duration::from_secs(300);

/// Credentials are not handed out this close to their expiry (the AWS SDKs' buffer).
const EXPIRY_BUFFER: Duration = Duration::from_secs(10);

/// After a failed refresh while the cached credentials are still usable, the
/// provider is not asked again before this has passed.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(10);

/// Credentials without an expiry are asked for again (in the background) this often.
const NO_EXPIRY_REFRESH: Duration = Duration::from_secs(15 * 60);

/// Caches the credentials of another provider so that no call stalls on it: an
/// expensive or fragile provider (SSO, web identity, ECS, IMDS) is asked once,
/// again in the background shortly before the credentials expire, and never by
/// more than one caller at a time.
///
/// Clones share the cache. A [`KmsClient`](crate::KmsClient) already caches the
/// provider it is given (see [`CredentialsCache`]); to share one
/// `CachedCredentials` between several clients or layers, give it to each with
/// [`CredentialsCache::no_cache`] so it is not cached twice:
///
/// ```
/// use std::time::Duration;
/// use aws_credential_types::Credentials;
/// use tower_kms::KmsClient;
/// use tower_kms::sign::{CachedCredentials, CredentialsCache, SigV4Layer};
///
/// # fn main() -> Result<(), tower_kms::ConfigError> {
/// # let provider = Credentials::new("AKID", "SECRET", None, None, "example");
/// // `provider`: any ProvideCredentials, e.g. one of aws-config's.
/// let creds = CachedCredentials::new(provider)
///     .load_timeout(Duration::from_secs(2))
///     .refresh_before(Duration::from_secs(600));
///
/// let kms = KmsClient::builder()
///     .region("eu-west-1")
///     .credentials_provider(creds.clone())
///     .credentials_cache(CredentialsCache::no_cache())
///     .build()?;
/// let signer = SigV4Layer::new(creds, "eu-west-1"); // the same cache
/// # let _ = (kms, signer);
/// # Ok(())
/// # }
/// ```
///
/// # Rules
///
/// - **Warm calls take no async lock.** While the cached credentials are good, a
///   call reads them under a `std::sync::RwLock` (a few nanoseconds, never held
///   across an `.await`) and returns at once.
/// - **One refresh at a time.** When credentials are needed, one call to the
///   provider runs; every concurrent caller, on every clone, waits for that one
///   and receives its result: the credentials, the provider's error, or a timeout.
/// - **A load timeout** (default [5 s](DEFAULT_LOAD_TIMEOUT), as the AWS SDKs'
///   identity cache) bounds each refresh. When it passes, the provider's
///   [`fallback_on_interrupt`](ProvideCredentials::fallback_on_interrupt)
///   credentials are used if it has any; otherwise every waiting caller gets
///   [`CredentialsError::ProviderTimedOut`]. No caller waits longer than the
///   load timeout for one refresh.
/// - **Cancelled callers cancel nothing.** Inside a Tokio runtime the refresh
///   runs in a task of its own, so it carries on for the others (and fills the
///   cache) when the caller that started it is dropped, e.g. by a timeout.
/// - **Refresh ahead of expiry.** From [`refresh_before`](Self::refresh_before)
///   (default [5 minutes](DEFAULT_REFRESH_BEFORE)) before the credentials expire,
///   the first caller starts a refresh in the background and every caller keeps
///   getting the current credentials at once. Credentials that arrive with less
///   time left than that are refreshed ahead once half of what they had is gone.
///   A window that would open only when the credentials stop being used (see
///   the next point: `refresh_before` of 10 s or less, or credentials with under
///   20 s to live) opens that long, or half their usable time if less, before
///   that instead.
/// - **Expired credentials are never handed out.** Credentials stop being used
///   10 seconds before they expire (the AWS SDKs' buffer; half their lifetime if
///   they arrived with less than 20 s left), judged by both the monotonic clock and
///   the system clock, so a machine waking from sleep does not use stale ones.
///   Credentials that arrive already expired are given to the callers of that
///   refresh (the provider's answer) but not kept.
/// - **Credentials without an expiry** (static keys, the environment) are kept
///   for as long as the cache lives, and asked for again in the background every
///   15 minutes, so a rotated key is picked up; a failure there keeps the old ones.
///
/// # After a failed refresh
///
/// - If the cached credentials are still usable (a refresh ahead of expiry
///   failed or timed out), callers keep getting them, and the provider is not
///   asked again for 10 seconds, so a failing provider is not called once per
///   request. Once they are no longer usable, the next caller starts a new
///   refresh at once.
/// - If there are no usable credentials, the error goes to every caller that
///   was waiting for that refresh, and the next caller starts a new refresh.
///
/// # Without a Tokio runtime
///
/// Under another executor (or `futures::executor::block_on`) no task can be
/// spawned and there is no timer: the refresh runs inside the calling future, the
/// load timeout is not applied, and a refresh ahead of expiry is made by the first
/// caller that notices (it waits for it, and gets the old credentials if it fails;
/// the others get the old ones at once). If that caller is dropped, the next one
/// takes over. Inside a runtime, the runtime needs its timer (`enable_time`, on in
/// `#[tokio::main]` and `#[tokio::test]`).
#[derive(Clone)]
pub struct CachedCredentials {
    shared: Arc<Shared>,
}

impl fmt::Debug for CachedCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedCredentials")
            .field("provider", &self.shared.provider)
            .field("load_timeout", &self.shared.settings.load_timeout)
            .field("refresh_before", &self.shared.settings.refresh_before)
            .finish_non_exhaustive()
    }
}

impl CachedCredentials {
    /// Caches `provider`'s credentials with the defaults: a load timeout of 5 s and
    /// a refresh 5 minutes before expiry.
    pub fn new(provider: impl ProvideCredentials + 'static) -> Self {
        Self::from_shared(SharedCredentialsProvider::new(provider))
    }

    /// Like [`new`](Self::new) for an already shared provider.
    pub fn from_shared(provider: SharedCredentialsProvider) -> Self {
        Self::with_settings(provider, LazyCredentialsCache::default())
    }

    fn with_settings(provider: SharedCredentialsProvider, settings: LazyCredentialsCache) -> Self {
        Self {
            shared: Arc::new(Shared {
                provider,
                settings,
                state: RwLock::default(),
            }),
        }
    }

    /// Sets how long one refresh may take before callers get
    /// [`CredentialsError::ProviderTimedOut`] (default 5 s). A configuration
    /// step: the cache returned starts empty, and clones taken before keep
    /// their own cache and setting.
    pub fn load_timeout(self, timeout: Duration) -> Self {
        let settings = self.shared.settings.load_timeout(timeout);
        Self::with_settings(self.shared.provider.clone(), settings)
    }

    /// Sets how long before expiry the credentials are refreshed in the
    /// background (default 5 minutes; a value under the 10 s expiry buffer counts
    /// from where use ends instead; `Duration::ZERO` turns refresh-ahead off, so
    /// callers wait for a refresh once the credentials are 10 s from expiry). A
    /// configuration step, as [`load_timeout`](Self::load_timeout).
    pub fn refresh_before(self, before: Duration) -> Self {
        let settings = self.shared.settings.refresh_before(before);
        Self::with_settings(self.shared.provider.clone(), settings)
    }

    async fn load(&self) -> Result<Credentials, CredentialsError> {
        loop {
            match self.shared.step() {
                Step::Done(c) => return Ok(c),
                Step::Wait(mut wait) => match wait.result().await {
                    Some(outcome) => return unshare(outcome),
                    // The caller driving it was dropped: take over.
                    None if !wait.spawned => continue,
                    None => return Err(CredentialsError::provider_error(RefreshLost)),
                },
                Step::Drive(driver, fallback) => {
                    let outcome = driver.run(false).await;
                    return match (outcome, fallback) {
                        (Ok(c), _) => Ok(c),
                        (Err(e), Some(_)) => self.shared.usable().ok_or_else(|| unshare_err(&e)),
                        (Err(e), None) => Err(unshare_err(&e)),
                    };
                }
            }
        }
    }
}

impl ProvideCredentials for CachedCredentials {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(self.load())
    }

    fn fallback_on_interrupt(&self) -> Option<Credentials> {
        self.shared.usable()
    }
}

struct Shared {
    provider: SharedCredentialsProvider,
    settings: LazyCredentialsCache,
    state: RwLock<State>,
}

#[derive(Default)]
struct State {
    entry: Option<Entry>,
    refresh: Option<Refresh>,
    /// Set after a failed refresh while the entry was still usable: no new refresh
    /// is started for a usable entry before this instant.
    retry_at: Option<Instant>,
    next_id: u64,
}

impl State {
    fn backing_off(&self, now: Instant) -> bool {
        self.retry_at.is_some_and(|at| now < at)
    }
}

/// What a refresh ended with, shared by everyone who waited for it.
type Outcome = Result<Credentials, Arc<CredentialsError>>;

/// A refresh in flight.
struct Refresh {
    id: u64,
    rx: watch::Receiver<Option<Outcome>>,
    /// Running in a task of its own (inside a Tokio runtime), as opposed to inside
    /// a caller's future.
    spawned: bool,
    started: Instant,
}

/// Cached credentials and when to refresh and to stop using them, measured on the
/// monotonic clock (Tokio's, so paused time in tests moves them) from `loaded`.
struct Entry {
    credentials: Credentials,
    loaded: Instant,
    refresh_after: Duration,
    /// `None`: usable for as long as the cache lives.
    usable_for: Option<Duration>,
    /// Not used within this much of `expiry` by the system clock either.
    buffer: Duration,
}

#[derive(Debug, PartialEq, Eq)]
enum Freshness {
    Fresh,
    /// Still usable, but a refresh is due.
    Stale,
    Unusable,
}

impl Entry {
    fn new(
        credentials: Credentials,
        now: Instant,
        wall: SystemTime,
        refresh_before: Duration,
    ) -> Self {
        let (refresh_after, usable_for, buffer) = match credentials.expiry() {
            None => (NO_EXPIRY_REFRESH, None, Duration::ZERO),
            Some(expiry) => {
                let lifetime = expiry.duration_since(wall).unwrap_or(Duration::ZERO);
                let window = if lifetime > refresh_before {
                    refresh_before
                } else {
                    lifetime / 2
                };
                let buffer = EXPIRY_BUFFER.min(lifetime / 2);
                let usable = lifetime - buffer;
                // A window that would open only once use has ended (one no
                // longer than the buffer, or short-lived credentials) is moved
                // before that end, so refresh-ahead still happens.
                let refresh_after = if lifetime - window < usable {
                    lifetime - window
                } else {
                    usable - window.min(usable / 2)
                };
                (refresh_after, Some(usable), buffer)
            }
        };
        Self {
            credentials,
            loaded: now,
            refresh_after,
            usable_for,
            buffer,
        }
    }

    fn freshness(&self, now: Instant, wall: SystemTime) -> Freshness {
        let elapsed = now.saturating_duration_since(self.loaded);
        if let Some(usable_for) = self.usable_for {
            let by_wall_clock = self
                .credentials
                .expiry()
                .and_then(|exp| exp.duration_since(wall).ok())
                .is_some_and(|left| left > self.buffer);
            if elapsed >= usable_for || !by_wall_clock {
                return Freshness::Unusable;
            }
        }
        if elapsed >= self.refresh_after {
            Freshness::Stale
        } else {
            Freshness::Fresh
        }
    }
}

/// What a caller does next.
enum Step {
    /// Use these credentials.
    Done(Credentials),
    /// Wait for a refresh started by someone else (or by this caller in a task).
    Wait(Waiter),
    /// Run this refresh in the calling future (no runtime); the credentials are
    /// the still-usable ones to fall back on.
    Drive(Driver, Option<Credentials>),
}

impl Shared {
    fn read(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }

    fn usable(&self) -> Option<Credentials> {
        let (now, wall) = (Instant::now(), SystemTime::now());
        let st = self.read();
        st.entry
            .as_ref()
            .filter(|e| e.freshness(now, wall) != Freshness::Unusable)
            .map(|e| e.credentials.clone())
    }

    fn step(self: &Arc<Self>) -> Step {
        let (now, wall) = (Instant::now(), SystemTime::now());
        // The warm path: a read lock, no allocation, no await.
        {
            let st = self.read();
            if let Some(e) = &st.entry {
                match e.freshness(now, wall) {
                    Freshness::Fresh => return Step::Done(e.credentials.clone()),
                    Freshness::Stale if st.refresh.is_some() || st.backing_off(now) => {
                        return Step::Done(e.credentials.clone());
                    }
                    _ => {}
                }
            }
        }
        let mut st = self.write();
        // Everything may have changed between the two locks: decide again.
        let usable = match st.entry.as_ref().map(|e| (e.freshness(now, wall), e)) {
            Some((Freshness::Fresh, e)) => return Step::Done(e.credentials.clone()),
            Some((Freshness::Stale, e)) => Some(e.credentials.clone()),
            _ => None,
        };
        if let Some(r) = &st.refresh {
            return match usable {
                Some(c) => Step::Done(c),
                None => Step::Wait(Waiter {
                    rx: r.rx.clone(),
                    spawned: r.spawned,
                    deadline: r
                        .started
                        .checked_add(self.settings.load_timeout)
                        .map(|at| (at, self.settings.load_timeout)),
                }),
            };
        }
        if let Some(c) = usable.as_ref().filter(|_| st.backing_off(now)) {
            return Step::Done(c.clone());
        }
        let id = st.next_id;
        st.next_id = st.next_id.wrapping_add(1);
        let (tx, rx) = watch::channel(None);
        let runtime = tokio::runtime::Handle::try_current().ok();
        st.refresh = Some(Refresh {
            id,
            rx: rx.clone(),
            spawned: runtime.is_some(),
            started: now,
        });
        drop(st);
        let driver = Driver {
            shared: self.clone(),
            id,
            tx,
        };
        match runtime {
            Some(rt) => {
                // Detached: it finishes (and fills the cache) even if every caller
                // is gone; it ends by the load timeout at the latest.
                drop(rt.spawn(async move {
                    let _ = driver.run(true).await;
                }));
                match usable {
                    Some(c) => Step::Done(c),
                    None => Step::Wait(Waiter {
                        rx,
                        spawned: true,
                        deadline: None,
                    }),
                }
            }
            None => Step::Drive(driver, usable),
        }
    }

    /// Records the end of refresh `id` and says what its waiters get.
    fn finish(&self, id: u64, result: Result<Credentials, CredentialsError>) -> Outcome {
        let (now, wall) = (Instant::now(), SystemTime::now());
        let mut st = self.write();
        if st.refresh.as_ref().is_some_and(|r| r.id == id) {
            st.refresh = None;
        }
        let old_usable = st
            .entry
            .as_ref()
            .is_some_and(|e| e.freshness(now, wall) != Freshness::Unusable);
        match result {
            Ok(credentials) => {
                let entry =
                    Entry::new(credentials.clone(), now, wall, self.settings.refresh_before);
                if entry.freshness(now, wall) != Freshness::Unusable {
                    st.entry = Some(entry);
                    st.retry_at = None;
                } else if old_usable {
                    // Already expired on arrival: its callers get it, the cache keeps
                    // the old credentials, and the provider gets a rest.
                    st.retry_at = now.checked_add(RETRY_AFTER_FAILURE);
                }
                Ok(credentials)
            }
            Err(e) => {
                if old_usable {
                    st.retry_at = now.checked_add(RETRY_AFTER_FAILURE);
                }
                Err(Arc::new(e))
            }
        }
    }
}

/// One refresh: asks the provider, records the result and tells the waiters. If
/// it is dropped before that (a cancelled caller without a runtime, a panicking
/// provider, a runtime shutting down), the refresh is forgotten so the next
/// caller starts another, and the waiters are woken.
struct Driver {
    shared: Arc<Shared>,
    id: u64,
    tx: watch::Sender<Option<Outcome>>,
}

impl Driver {
    async fn run(self, timed: bool) -> Outcome {
        let provider = &self.shared.provider;
        let result = if timed {
            let timeout = self.shared.settings.load_timeout;
            match tokio::time::timeout(timeout, provider.provide_credentials()).await {
                Ok(result) => result,
                // Through `as_ref`: `SharedCredentialsProvider` itself does not
                // forward `fallback_on_interrupt`.
                Err(_elapsed) => provider
                    .as_ref()
                    .fallback_on_interrupt()
                    .ok_or_else(|| CredentialsError::provider_timed_out(timeout)),
            }
        } else {
            provider.provide_credentials().await
        };
        let outcome = self.shared.finish(self.id, result);
        self.tx.send_replace(Some(outcome.clone()));
        outcome
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let mut st = self.shared.write();
        if st.refresh.as_ref().is_some_and(|r| r.id == self.id) {
            st.refresh = None;
        }
    }
}

struct Waiter {
    rx: watch::Receiver<Option<Outcome>>,
    spawned: bool,
    /// For a refresh driven inside another caller's future: when to stop waiting
    /// for it (only enforced inside a runtime, which has the timer).
    deadline: Option<(Instant, Duration)>,
}

impl Waiter {
    /// The refresh's outcome, or `None` if it ended without one.
    async fn result(&mut self) -> Option<Outcome> {
        let wait = async {
            let value = self.rx.wait_for(Option::is_some).await.ok()?;
            value.clone()
        };
        match self.deadline {
            Some((deadline, timeout))
                if !self.spawned && tokio::runtime::Handle::try_current().is_ok() =>
            {
                tokio::time::timeout_at(deadline, wait)
                    .await
                    .unwrap_or_else(|_| {
                        Some(Err(Arc::new(CredentialsError::provider_timed_out(timeout))))
                    })
            }
            _ => wait.await,
        }
    }
}

fn unshare(outcome: Outcome) -> Result<Credentials, CredentialsError> {
    outcome.map_err(|e| unshare_err(&e))
}

/// An error of the same kind, message and cause chain for each caller.
fn unshare_err(e: &Arc<CredentialsError>) -> CredentialsError {
    let cause = SharedCause(e.clone());
    match &**e {
        CredentialsError::ProviderTimedOut(t) => {
            CredentialsError::provider_timed_out(t.timeout_duration())
        }
        CredentialsError::CredentialsNotLoaded(_) if e.source().is_none() => {
            CredentialsError::not_loaded_no_source()
        }
        CredentialsError::CredentialsNotLoaded(_) => CredentialsError::not_loaded(cause),
        CredentialsError::InvalidConfiguration(_) => CredentialsError::invalid_configuration(cause),
        CredentialsError::ProviderError(_) => CredentialsError::provider_error(cause),
        _ => CredentialsError::unhandled(cause),
    }
}

/// The cause of a shared error: shows and chains as the original's cause.
struct SharedCause(Arc<CredentialsError>);

impl fmt::Display for SharedCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.source() {
            Some(cause) => fmt::Display::fmt(cause, f),
            None => fmt::Display::fmt(&*self.0, f),
        }
    }
}

impl fmt::Debug for SharedCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.source() {
            Some(cause) => fmt::Debug::fmt(cause, f),
            None => fmt::Debug::fmt(&*self.0, f),
        }
    }
}

impl std::error::Error for SharedCause {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source().and_then(|cause| cause.source())
    }
}

/// A refresh task ended without a result.
#[derive(Debug)]
struct RefreshLost;

impl fmt::Display for RefreshLost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "the credentials refresh ended without a result (the provider panicked, \
             or the Tokio runtime shut down or has no timer)",
        )
    }
}

impl std::error::Error for RefreshLost {}

/// How a [`KmsClient`](crate::KmsClient) caches the credentials it signs with:
/// the counterpart of the AWS SDKs' identity cache (`IdentityCache::lazy()` /
/// `IdentityCache::no_cache()`).
///
/// The rule: **the client caches whatever provider it signs with** (given to
/// [`credentials_provider`](crate::KmsClientBuilder::credentials_provider), taken
/// from an `SdkConfig`, or the default [`EnvironmentCredentials`](super::EnvironmentCredentials))
/// through its credentials cache, set with
/// [`credentials_cache`](crate::KmsClientBuilder::credentials_cache):
///
/// - [`CredentialsCache::lazy()`] (the default): a [`CachedCredentials`] around
///   the provider, shared by all clones of the client.
/// - [`CredentialsCache::no_cache()`]: the provider is asked on every attempt.
///   Use it when the provider caches already, e.g. your own [`CachedCredentials`]
///   shared with other clients, so it is not cached twice.
///
/// With `KmsClientBuilder::sdk_config` (feature
/// `aws-config`), the `SdkConfig`'s identity cache is the client's credentials
/// cache unless one is set in code; see that method for how it is driven.
///
/// ```
/// use std::time::Duration;
/// use tower_kms::KmsClient;
/// use tower_kms::sign::CredentialsCache;
///
/// # fn main() -> Result<(), tower_kms::ConfigError> {
/// let kms = KmsClient::builder()
///     .region("eu-west-1")
///     .credentials_cache(CredentialsCache::lazy().load_timeout(Duration::from_secs(2)))
///     .build()?;
/// # let _ = kms;
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
#[doc(alias = "IdentityCache")]
pub struct CredentialsCache {
    kind: CacheKind,
}

#[derive(Clone, Debug)]
enum CacheKind {
    Lazy(LazyCredentialsCache),
    NoCache,
    #[cfg(feature = "aws-config")]
    Sdk(super::identity_cache::SdkIdentityCache),
}

impl Default for CredentialsCache {
    fn default() -> Self {
        LazyCredentialsCache::default().into()
    }
}

impl CredentialsCache {
    /// A lazy cache ([`CachedCredentials`]): credentials are loaded at the first
    /// call, shared, and refreshed ahead of expiry. Configure it with the setters
    /// of [`LazyCredentialsCache`].
    pub fn lazy() -> LazyCredentialsCache {
        LazyCredentialsCache::default()
    }

    /// No cache: the provider is asked for credentials on every attempt.
    pub fn no_cache() -> Self {
        Self {
            kind: CacheKind::NoCache,
        }
    }

    #[cfg(feature = "aws-config")]
    pub(crate) fn sdk(cache: super::identity_cache::SdkIdentityCache) -> Self {
        Self {
            kind: CacheKind::Sdk(cache),
        }
    }

    /// `provider`, cached as this setting says.
    pub(crate) fn wrap(
        &self,
        provider: SharedCredentialsProvider,
    ) -> Result<SharedCredentialsProvider, crate::ConfigError> {
        Ok(match &self.kind {
            CacheKind::Lazy(settings) => SharedCredentialsProvider::new(
                CachedCredentials::with_settings(provider, *settings),
            ),
            CacheKind::NoCache => provider,
            #[cfg(feature = "aws-config")]
            CacheKind::Sdk(cache) => SharedCredentialsProvider::new(cache.wrap(provider)?),
        })
    }
}

/// The settings of a lazy [`CredentialsCache`] (see [`CachedCredentials`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LazyCredentialsCache {
    load_timeout: Duration,
    refresh_before: Duration,
}

impl Default for LazyCredentialsCache {
    fn default() -> Self {
        Self {
            load_timeout: DEFAULT_LOAD_TIMEOUT,
            refresh_before: DEFAULT_REFRESH_BEFORE,
        }
    }
}

impl LazyCredentialsCache {
    /// Sets how long one refresh may take before callers get a timeout error
    /// (default 5 s).
    pub fn load_timeout(mut self, timeout: Duration) -> Self {
        self.load_timeout = timeout;
        self
    }

    /// Sets how long before expiry credentials are refreshed in the background
    /// (default 5 minutes).
    pub fn refresh_before(mut self, before: Duration) -> Self {
        self.refresh_before = before;
        self
    }
}

impl From<LazyCredentialsCache> for CredentialsCache {
    fn from(settings: LazyCredentialsCache) -> Self {
        Self {
            kind: CacheKind::Lazy(settings),
        }
    }
}
