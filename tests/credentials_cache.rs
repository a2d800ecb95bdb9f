//! `CachedCredentials` and the client's credentials-cache rule (#10), on paused time.

mod support;

use std::collections::VecDeque;
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials, future};
use bytes::Bytes;
use http_body_util::Full;
use support::*;
use tokio::time::{Instant, sleep};
use tower_kms::sign::{CachedCredentials, CredentialsCache};
use tower_kms::{KmsClient, KmsError};

/// What the scripted provider does on one call.
#[derive(Clone, Debug)]
enum Act {
    /// Credentials `AKID<n>` (n: the call number) expiring `ttl` from now, after `delay`.
    Ok {
        ttl: Option<Duration>,
        delay: Duration,
    },
    /// A provider error "failure <n>" after `delay`.
    Fail { delay: Duration },
    /// Never answers.
    Hang,
}

fn ok(ttl: Option<Duration>) -> Act {
    Act::Ok {
        ttl,
        delay: Duration::ZERO,
    }
}

const HOUR: Duration = Duration::from_secs(3600);

/// A provider that plays a script (the last act repeats) and counts its calls.
#[derive(Clone, Debug)]
struct Script {
    calls: Arc<AtomicUsize>,
    plan: Arc<Mutex<VecDeque<Act>>>,
    fallback: Option<Credentials>,
}

impl Script {
    fn new(plan: impl IntoIterator<Item = Act>) -> Self {
        Self {
            calls: Arc::default(),
            plan: Arc::new(Mutex::new(plan.into_iter().collect())),
            fallback: None,
        }
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

impl ProvideCredentials for Script {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        let act = {
            let mut plan = self.plan.lock().unwrap();
            if plan.len() > 1 {
                plan.pop_front().unwrap()
            } else {
                plan.front().cloned().unwrap()
            }
        };
        future::ProvideCredentials::new(async move {
            match act {
                Act::Ok { ttl, delay } => {
                    if !delay.is_zero() {
                        sleep(delay).await;
                    }
                    let expiry = ttl.map(|t| SystemTime::now() + t);
                    Ok(Credentials::new(
                        format!("AKID{n}"),
                        SECRET,
                        None,
                        expiry,
                        "script",
                    ))
                }
                Act::Fail { delay } => {
                    if !delay.is_zero() {
                        sleep(delay).await;
                    }
                    Err(CredentialsError::provider_error(format!("failure {n}")))
                }
                Act::Hang => std::future::pending().await,
            }
        })
    }

    fn fallback_on_interrupt(&self) -> Option<Credentials> {
        self.fallback.clone()
    }
}

/// Lets spawned refresh tasks run.
async fn settle() {
    for _ in 0..4 {
        tokio::task::yield_now().await;
    }
}

async fn akid(cache: &CachedCredentials) -> String {
    cache
        .provide_credentials()
        .await
        .unwrap()
        .access_key_id()
        .to_owned()
}

/// Loads from `cache` in a task; returns how long it took and the result.
fn spawn_load(
    cache: &CachedCredentials,
) -> tokio::task::JoinHandle<(Duration, Result<Credentials, CredentialsError>)> {
    let cache = cache.clone();
    tokio::spawn(async move {
        let start = Instant::now();
        let result = cache.provide_credentials().await;
        (start.elapsed(), result)
    })
}

fn timed_out_after(result: &Result<Credentials, CredentialsError>) -> Option<Duration> {
    match result {
        Err(CredentialsError::ProviderTimedOut(t)) => Some(t.timeout_duration()),
        _ => None,
    }
}

#[tokio::test(start_paused = true)]
async fn a_hung_provider_times_every_waiter_out_at_the_load_timeout() {
    let script = Script::new([Act::Hang]);
    let cache = CachedCredentials::new(script.clone());
    let first = spawn_load(&cache);
    sleep(Duration::from_secs(2)).await;
    // Later callers, on clones, join the same refresh and its deadline.
    let later: Vec<_> = (0..8).map(|_| spawn_load(&cache.clone())).collect();
    let (waited, result) = first.await.unwrap();
    assert_eq!(waited, Duration::from_secs(5));
    assert_eq!(timed_out_after(&result), Some(Duration::from_secs(5)));
    for task in later {
        let (waited, result) = task.await.unwrap();
        assert_eq!(waited, Duration::from_secs(3));
        assert_eq!(timed_out_after(&result), Some(Duration::from_secs(5)));
    }
    assert_eq!(script.calls(), 1);

    // The next call asks again, and waits no longer than the load timeout.
    let (waited, result) = spawn_load(&cache).await.unwrap();
    assert_eq!(waited, Duration::from_secs(5));
    assert!(timed_out_after(&result).is_some());
    assert_eq!(script.calls(), 2);
}

#[tokio::test(start_paused = true)]
async fn the_load_timeout_is_configurable() {
    let script = Script::new([Act::Hang]);
    let cache = CachedCredentials::new(script.clone()).load_timeout(Duration::from_millis(1500));
    let (waited, result) = spawn_load(&cache).await.unwrap();
    assert_eq!(waited, Duration::from_millis(1500));
    assert_eq!(timed_out_after(&result), Some(Duration::from_millis(1500)));
    let err = result.unwrap_err();
    assert!(err.to_string().contains("timed out"), "{err}");
}

#[tokio::test(start_paused = true)]
async fn a_timed_out_provider_may_answer_with_its_fallback() {
    let mut script = Script::new([Act::Hang]);
    script.fallback = Some(Credentials::new("FALLBACK", SECRET, None, None, "fallback"));
    let cache = CachedCredentials::new(script.clone());
    let (waited, result) = spawn_load(&cache).await.unwrap();
    assert_eq!(waited, Duration::from_secs(5));
    assert_eq!(result.unwrap().access_key_id(), "FALLBACK");
    // Kept like any credentials without an expiry.
    assert_eq!(akid(&cache).await, "FALLBACK");
    assert_eq!(script.calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_failure_goes_to_every_waiter_and_the_next_call_tries_again() {
    let delay = Duration::from_secs(1);
    let script = Script::new([
        Act::Fail { delay },
        Act::Ok {
            ttl: Some(HOUR),
            delay,
        },
    ]);
    let cache = CachedCredentials::new(script.clone());
    let waiters: Vec<_> = (0..4).map(|_| spawn_load(&cache)).collect();
    for task in waiters {
        let (waited, result) = task.await.unwrap();
        assert_eq!(waited, delay);
        let err = result.unwrap_err();
        // Same kind and cause as the provider's error, for each caller.
        assert!(matches!(err, CredentialsError::ProviderError(_)), "{err:?}");
        let cause = std::error::Error::source(&err).unwrap().to_string();
        assert_eq!(cause, "failure 1");
    }
    assert_eq!(script.calls(), 1);
    assert_eq!(akid(&cache).await, "AKID2");
    assert_eq!(akid(&cache).await, "AKID2");
    assert_eq!(script.calls(), 2);
}

#[tokio::test(start_paused = true)]
async fn concurrent_callers_share_one_provider_call() {
    let script = Script::new([Act::Ok {
        ttl: Some(HOUR),
        delay: Duration::from_secs(1),
    }]);
    let cache = CachedCredentials::new(script.clone());
    let tasks: Vec<_> = (0..64).map(|_| spawn_load(&cache.clone())).collect();
    for task in tasks {
        let (waited, result) = task.await.unwrap();
        assert_eq!(waited, Duration::from_secs(1));
        assert_eq!(result.unwrap().access_key_id(), "AKID1");
    }
    assert_eq!(script.calls(), 1);
    // Warm: at once, no provider call.
    let (waited, result) = spawn_load(&cache).await.unwrap();
    assert_eq!(waited, Duration::ZERO);
    assert_eq!(result.unwrap().access_key_id(), "AKID1");
    assert_eq!(script.calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_caller_does_not_cancel_the_shared_refresh() {
    let script = Script::new([Act::Ok {
        ttl: Some(HOUR),
        delay: Duration::from_secs(3),
    }]);
    let cache = CachedCredentials::new(script.clone());
    let starter = spawn_load(&cache);
    sleep(Duration::from_millis(500)).await;
    let joiner = spawn_load(&cache);
    sleep(Duration::from_millis(500)).await;
    starter.abort();
    assert!(starter.await.unwrap_err().is_cancelled());
    let (waited, result) = joiner.await.unwrap();
    assert_eq!(waited, Duration::from_millis(2500));
    assert_eq!(result.unwrap().access_key_id(), "AKID1");
    assert_eq!(script.calls(), 1);

    // Even with every caller gone, the refresh fills the cache.
    let script = Script::new([Act::Ok {
        ttl: Some(HOUR),
        delay: Duration::from_secs(3),
    }]);
    let cache = CachedCredentials::new(script.clone());
    let lone = spawn_load(&cache);
    sleep(Duration::from_secs(1)).await;
    lone.abort();
    sleep(Duration::from_secs(3)).await;
    let (waited, result) = spawn_load(&cache).await.unwrap();
    assert_eq!(waited, Duration::ZERO);
    assert_eq!(result.unwrap().access_key_id(), "AKID1");
    assert_eq!(script.calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn expiring_credentials_are_refreshed_ahead_without_blocking_callers() {
    let script = Script::new([
        ok(Some(HOUR)),
        Act::Ok {
            ttl: Some(HOUR),
            delay: Duration::from_secs(4),
        },
    ]);
    let cache = CachedCredentials::new(script.clone());
    assert_eq!(akid(&cache).await, "AKID1");
    // Just before the refresh window: cached, no call.
    sleep(HOUR - Duration::from_secs(301)).await;
    assert_eq!(akid(&cache).await, "AKID1");
    assert_eq!(script.calls(), 1);
    // Inside it: the old credentials at once, one background refresh (4 s long).
    sleep(Duration::from_secs(2)).await;
    for _ in 0..12 {
        let (waited, result) = spawn_load(&cache).await.unwrap();
        assert_eq!(waited, Duration::ZERO);
        assert_eq!(result.unwrap().access_key_id(), "AKID1");
        sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(script.calls(), 2);
    // The refresh ends 4 s after it started, at +3 s here.
    sleep(Duration::from_millis(1500)).await;
    assert_eq!(akid(&cache).await, "AKID2");
    assert_eq!(script.calls(), 2);
}

#[tokio::test(start_paused = true)]
async fn expired_credentials_are_never_returned() {
    // The refresh never succeeds: the old credentials are used until 10 s before
    // they expire, then callers wait for a refresh (and time out).
    let script = Script::new([ok(Some(HOUR)), Act::Hang]);
    let cache = CachedCredentials::new(script.clone());
    let start = Instant::now();
    assert_eq!(akid(&cache).await, "AKID1");
    sleep(HOUR - Duration::from_secs(299)).await;
    let (waited, result) = spawn_load(&cache).await.unwrap();
    assert_eq!(waited, Duration::ZERO);
    assert_eq!(result.unwrap().access_key_id(), "AKID1");
    settle().await;
    assert_eq!(script.calls(), 2);
    // That refresh times out at +5 s; for 10 s after that the provider rests.
    sleep(Duration::from_secs(6)).await;
    assert_eq!(akid(&cache).await, "AKID1");
    assert_eq!(script.calls(), 2);
    sleep(Duration::from_secs(10)).await;
    assert_eq!(akid(&cache).await, "AKID1");
    settle().await;
    assert_eq!(script.calls(), 3);
    // Just before the 10 s buffer, still AKID1; from there on, never again.
    tokio::time::sleep_until(start + HOUR - Duration::from_secs(11)).await;
    assert_eq!(akid(&cache).await, "AKID1");
    tokio::time::sleep_until(start + HOUR - Duration::from_secs(10)).await;
    for _ in 0..3 {
        let (waited, result) = spawn_load(&cache).await.unwrap();
        assert!(waited <= Duration::from_secs(5), "{waited:?}");
        assert!(timed_out_after(&result).is_some(), "{result:?}");
    }
    sleep(HOUR).await;
    let (_, result) = spawn_load(&cache).await.unwrap();
    assert!(result.is_err());
}

#[tokio::test(start_paused = true)]
async fn a_failed_refresh_ahead_keeps_the_credentials_and_backs_off() {
    let script = Script::new([
        ok(Some(HOUR)),
        Act::Fail {
            delay: Duration::ZERO,
        },
        ok(Some(HOUR)),
    ]);
    let cache = CachedCredentials::new(script.clone());
    assert_eq!(akid(&cache).await, "AKID1");
    sleep(HOUR - Duration::from_secs(200)).await;
    assert_eq!(akid(&cache).await, "AKID1");
    settle().await;
    assert_eq!(script.calls(), 2);
    // Within the back-off: no provider call however many requests.
    for _ in 0..20 {
        assert_eq!(akid(&cache).await, "AKID1");
    }
    sleep(Duration::from_secs(9)).await;
    assert_eq!(akid(&cache).await, "AKID1");
    assert_eq!(script.calls(), 2);
    sleep(Duration::from_secs(1)).await;
    assert_eq!(akid(&cache).await, "AKID1");
    settle().await;
    assert_eq!(akid(&cache).await, "AKID3");
    assert_eq!(script.calls(), 3);
}

#[tokio::test(start_paused = true)]
async fn short_lived_credentials_are_refreshed_after_half_their_lifetime() {
    let minute = Duration::from_secs(60);
    let script = Script::new([ok(Some(minute))]);
    let cache = CachedCredentials::new(script.clone());
    assert_eq!(akid(&cache).await, "AKID1");
    sleep(Duration::from_secs(29)).await;
    assert_eq!(akid(&cache).await, "AKID1");
    assert_eq!(script.calls(), 1);
    sleep(Duration::from_secs(2)).await;
    assert_eq!(akid(&cache).await, "AKID1");
    settle().await;
    assert_eq!(akid(&cache).await, "AKID2");
    assert_eq!(script.calls(), 2);
}

#[tokio::test(start_paused = true)]
async fn credentials_with_under_20_s_left_are_refreshed_ahead_too() {
    // 16 s to live: used for 8 s (half; the 10 s buffer does not fit), and
    // refreshed in the background from half of that on.
    let script = Script::new([ok(Some(Duration::from_secs(16)))]);
    let cache = CachedCredentials::new(script.clone());
    assert_eq!(akid(&cache).await, "AKID1");
    sleep(Duration::from_millis(3900)).await;
    assert_eq!(akid(&cache).await, "AKID1");
    assert_eq!(script.calls(), 1);
    sleep(Duration::from_millis(200)).await;
    let (waited, result) = spawn_load(&cache).await.unwrap();
    assert_eq!(waited, Duration::ZERO, "no caller waits for it");
    assert_eq!(result.unwrap().access_key_id(), "AKID1");
    settle().await;
    assert_eq!(script.calls(), 2);
    assert_eq!(akid(&cache).await, "AKID2");
}

#[tokio::test(start_paused = true)]
async fn a_refresh_window_shorter_than_the_expiry_buffer_still_refreshes_ahead() {
    let script = Script::new([ok(Some(HOUR))]);
    let cache = CachedCredentials::new(script.clone()).refresh_before(Duration::from_secs(5));
    assert_eq!(akid(&cache).await, "AKID1");
    // Used until 10 s before expiry; refreshed from 5 s before that.
    sleep(HOUR - Duration::from_secs(16)).await;
    assert_eq!(akid(&cache).await, "AKID1");
    assert_eq!(script.calls(), 1);
    sleep(Duration::from_secs(2)).await;
    let (waited, result) = spawn_load(&cache).await.unwrap();
    assert_eq!(waited, Duration::ZERO);
    assert_eq!(result.unwrap().access_key_id(), "AKID1");
    settle().await;
    assert_eq!(script.calls(), 2);
}

#[tokio::test(start_paused = true)]
async fn credentials_expired_on_arrival_go_to_their_callers_but_are_not_kept() {
    let script = Script::new([ok(Some(Duration::ZERO))]);
    let cache = CachedCredentials::new(script.clone());
    assert_eq!(akid(&cache).await, "AKID1");
    assert_eq!(akid(&cache).await, "AKID2");
    assert_eq!(script.calls(), 2);
}

#[tokio::test(start_paused = true)]
async fn credentials_without_expiry_are_refreshed_every_15_minutes() {
    let script = Script::new([
        ok(None),
        Act::Fail {
            delay: Duration::ZERO,
        },
        ok(None),
    ]);
    let cache = CachedCredentials::new(script.clone());
    assert_eq!(akid(&cache).await, "AKID1");
    sleep(Duration::from_secs(15 * 60 - 1)).await;
    assert_eq!(akid(&cache).await, "AKID1");
    assert_eq!(script.calls(), 1);
    sleep(Duration::from_secs(1)).await;
    // Due: the old ones at once, a refresh in the background; it fails, the old ones stay.
    assert_eq!(akid(&cache).await, "AKID1");
    settle().await;
    assert_eq!(script.calls(), 2);
    sleep(HOUR).await;
    assert_eq!(akid(&cache).await, "AKID1");
    settle().await;
    assert_eq!(akid(&cache).await, "AKID3");
}

#[test]
fn without_a_runtime_the_refresh_runs_inline() {
    // No Tokio runtime: polled by hand with a no-op waker.
    fn poll_once<F: Future>(fut: F) -> Poll<F::Output> {
        let mut cx = Context::from_waker(Waker::noop());
        pin!(fut).as_mut().poll(&mut cx)
    }
    let script = Script::new([ok(Some(HOUR))]);
    let cache = CachedCredentials::new(script.clone());
    let Poll::Ready(Ok(c)) = poll_once(cache.provide_credentials()) else {
        panic!("a ready provider answers in one poll");
    };
    assert_eq!(c.access_key_id(), "AKID1");
    let Poll::Ready(Ok(c)) = poll_once(cache.provide_credentials()) else {
        panic!("cached");
    };
    assert_eq!(c.access_key_id(), "AKID1");
    assert_eq!(script.calls(), 1);

    // A caller driving a refresh is dropped: the next caller takes over.
    let script = Script::new([Act::Hang, ok(Some(HOUR))]);
    let cache = CachedCredentials::new(script.clone());
    assert!(poll_once(cache.provide_credentials()).is_pending());
    let Poll::Ready(Ok(c)) = poll_once(cache.provide_credentials()) else {
        panic!("the next caller takes over");
    };
    assert_eq!(c.access_key_id(), "AKID2");
}

// The client-level rule: whatever provider is given is cached through the
// client's credentials cache, unless it says no_cache.

fn client(
    provider: impl ProvideCredentials + 'static,
    cache: Option<CredentialsCache>,
) -> (KmsClient, Arc<AtomicUsize>) {
    let requests = Arc::new(AtomicUsize::new(0));
    let mut builder = KmsClient::builder()
        .region("us-east-1")
        .credentials_provider(provider)
        .connector({
            let requests = requests.clone();
            tower::service_fn(move |_req: http::Request<Full<Bytes>>| {
                requests.fetch_add(1, Ordering::SeqCst);
                std::future::ready(Ok::<_, std::convert::Infallible>(json_response(200, "{}")))
            })
        });
    if let Some(cache) = cache {
        builder = builder.credentials_cache(cache);
    }
    (builder.build().unwrap(), requests)
}

#[tokio::test(start_paused = true)]
async fn the_client_caches_any_provider_by_default() {
    for ttl in [Some(HOUR), None] {
        let script = Script::new([ok(ttl)]);
        let (kms, requests) = client(script.clone(), None);
        for _ in 0..3 {
            kms.clone().re_encrypt(minimal_request()).await.unwrap();
        }
        assert_eq!(requests.load(Ordering::SeqCst), 3);
        assert_eq!(script.calls(), 1, "ttl {ttl:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn the_client_asks_every_time_with_no_cache() {
    let script = Script::new([ok(Some(HOUR))]);
    let (kms, requests) = client(script.clone(), Some(CredentialsCache::no_cache()));
    for _ in 0..3 {
        kms.re_encrypt(minimal_request()).await.unwrap();
    }
    assert_eq!(requests.load(Ordering::SeqCst), 3);
    assert_eq!(script.calls(), 3);
}

#[tokio::test(start_paused = true)]
async fn one_cached_credentials_shared_by_two_clients_with_no_cache() {
    let script = Script::new([ok(Some(HOUR))]);
    let shared = CachedCredentials::new(script.clone());
    let (a, _) = client(shared.clone(), Some(CredentialsCache::no_cache()));
    let (b, _) = client(shared, Some(CredentialsCache::no_cache()));
    a.re_encrypt(minimal_request()).await.unwrap();
    b.re_encrypt(minimal_request()).await.unwrap();
    assert_eq!(script.calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_hung_provider_fails_a_client_call_after_the_load_timeout() {
    let script = Script::new([Act::Hang]);
    let (kms, requests) = client(
        script.clone(),
        Some(
            CredentialsCache::lazy()
                .load_timeout(Duration::from_secs(2))
                .into(),
        ),
    );
    let start = Instant::now();
    let err = kms.re_encrypt(minimal_request()).await.unwrap_err();
    assert_eq!(start.elapsed(), Duration::from_secs(2));
    assert!(matches!(err, KmsError::Credentials(_)), "{err:?}");
    let chain = tower_kms::DisplayChain(&err).to_string();
    assert!(chain.contains("timed out"), "{chain}");
    assert_eq!(requests.load(Ordering::SeqCst), 0);
    assert_eq!(script.calls(), 1);

    // The default: 5 s, well inside the 10 s attempt timeout.
    let script = Script::new([Act::Hang]);
    let (kms, _) = client(script, None);
    let start = Instant::now();
    let err = kms.re_encrypt(minimal_request()).await.unwrap_err();
    assert_eq!(start.elapsed(), Duration::from_secs(5));
    assert!(matches!(err, KmsError::Credentials(_)), "{err:?}");
}

#[tokio::test(start_paused = true)]
async fn the_environment_provider_is_cached_by_the_client_like_any_other() {
    // EnvironmentCredentials has no expiry: asked once, then every 15 minutes.
    let script = Script::new([ok(None)]);
    let (kms, _) = client(script.clone(), None);
    kms.re_encrypt(minimal_request()).await.unwrap();
    sleep(Duration::from_secs(60)).await;
    kms.re_encrypt(minimal_request()).await.unwrap();
    assert_eq!(script.calls(), 1);
    sleep(Duration::from_secs(15 * 60)).await;
    kms.re_encrypt(minimal_request()).await.unwrap();
    settle().await;
    assert_eq!(script.calls(), 2);
}
