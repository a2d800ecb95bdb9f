//! The adaptive retry mode through the client, with paused time: the rate after
//! throttles, recovery, and a burst against a quota paced instead of throttled.

mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use support::*;
use tokio::time::Instant;
use tower_kms::retry::RetryConfig;
use tower_kms::{KmsClient, KmsError, ReEncryptRequest};

const THROTTLED: &str = r#"{"__type":"ThrottlingException","message":"You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls."}"#;

fn request() -> ReEncryptRequest {
    minimal_request()
}

/// A KMS stand-in that answers after `latency` and allows `rate` requests per
/// second (a token bucket holding one second's worth), throttling the rest as
/// KMS does.
#[derive(Clone)]
struct QuotaKms {
    rate: f64,
    latency: Duration,
    bucket: Arc<Mutex<(f64, Instant)>>,
    attempts: Arc<AtomicU64>,
    throttled: Arc<AtomicU64>,
}

impl QuotaKms {
    fn new(rate: f64, latency: Duration) -> Self {
        Self {
            rate,
            latency,
            bucket: Arc::new(Mutex::new((rate, Instant::now()))),
            attempts: Arc::default(),
            throttled: Arc::default(),
        }
    }

    fn admit(&self) -> bool {
        let mut b = self.bucket.lock().unwrap();
        let now = Instant::now();
        b.0 = (b.0 + (now - b.1).as_secs_f64() * self.rate).min(self.rate);
        b.1 = now;
        if b.0 >= 1.0 {
            b.0 -= 1.0;
            true
        } else {
            false
        }
    }

    fn client(&self, retry: RetryConfig) -> KmsClient {
        let kms = self.clone();
        let connector = tower::service_fn(move |_req: http::Request<Full<Bytes>>| {
            let kms = kms.clone();
            async move {
                kms.attempts.fetch_add(1, Ordering::SeqCst);
                let ok = kms.admit();
                tokio::time::sleep(kms.latency).await;
                if ok {
                    Ok::<_, std::convert::Infallible>(json_response(
                        200,
                        r#"{"CiphertextBlob":"AAEC","KeyId":"k"}"#,
                    ))
                } else {
                    kms.throttled.fetch_add(1, Ordering::SeqCst);
                    Ok(json_response(400, THROTTLED))
                }
            }
        });
        KmsClient::builder()
            .region("us-east-1")
            .credentials_provider(credentials())
            .retry_config(retry)
            .connector(connector)
            .build()
            .unwrap()
    }
}

/// A client whose connector answers from a script (`true` = throttle; popped
/// from the end, success when empty).
fn scripted(throttle: Arc<Mutex<Vec<bool>>>) -> KmsClient {
    scripted_logged(throttle, Arc::new(Mutex::new(Vec::new())))
}

#[tokio::test]
async fn standard_mode_has_no_limiter_and_adaptive_mode_one_shared_by_clones() {
    let kms = QuotaKms::new(100.0, Duration::ZERO);
    assert!(kms.client(RetryConfig::standard()).rate_limiter().is_none());
    let adaptive = kms.client(RetryConfig::adaptive());
    let clone = adaptive.clone();
    let snap = adaptive.rate_limiter().unwrap().snapshot();
    assert_eq!(snap.fill_rate, None, "unlimited before the first throttle");
    clone.re_encrypt(request()).await.unwrap();
    // The clone's call was measured by the same limiter.
    assert!(adaptive.rate_limiter().unwrap().snapshot().responses >= 1);
    assert_eq!(
        RetryConfig::from_env_with(|k| (k == "AWS_RETRY_MODE").then(|| "adaptive".into()))
            .unwrap()
            .mode(),
        tower_kms::retry::RetryMode::Adaptive
    );
}

#[tokio::test(start_paused = true)]
async fn each_throttle_of_a_new_congestion_event_cuts_the_rate_by_30_percent() {
    let script = Arc::new(Mutex::new(Vec::new()));
    let kms = scripted(script.clone());
    let limiter = kms.rate_limiter().unwrap().clone();
    // 20 calls per second for two seconds: the measured rate settles near 20.
    for _ in 0..40 {
        kms.re_encrypt(request()).await.unwrap();
        tokio::time::advance(Duration::from_millis(50)).await;
    }
    let before = limiter.snapshot();
    assert_eq!(before.fill_rate, None);
    assert!((before.measured_rate - 20.0).abs() < 1.0, "{before:?}");
    script.lock().unwrap().push(true);
    let err = kms.re_encrypt(request()).await.unwrap_err();
    assert!(matches!(err, KmsError::Throttling(_)), "{err:?}");
    let first = limiter.snapshot();
    let rate = first.fill_rate.expect("enforced after the first throttle");
    assert!(
        (rate - 0.7 * first.measured_rate).abs() < 1e-9,
        "{rate} vs {first:?}"
    );
    assert_eq!((first.throttles, first.decreases), (1, 1));
    // Each later throttle of a request sent after the last cut cuts again.
    let mut expected = rate;
    for n in 2..=4 {
        tokio::time::advance(Duration::from_millis(10)).await;
        script.lock().unwrap().push(true);
        kms.re_encrypt(request()).await.unwrap_err();
        let s = limiter.snapshot();
        expected = (expected * 0.7).max(0.5);
        let got = s.fill_rate.unwrap();
        assert!(
            (got - expected).abs() < 1e-9,
            "after {n}: {got} != {expected}"
        );
        assert_eq!(s.decreases, n);
    }
}

#[tokio::test(start_paused = true)]
async fn throttles_of_requests_sent_before_the_cut_count_once() {
    // Requests in flight when the first throttle lands belong to the same
    // congestion event: they are counted, but do not cut the rate again.
    let kms = QuotaKms::new(10.0, Duration::from_millis(100));
    let client = kms.client(RetryConfig::adaptive().with_max_attempts(1));
    let limiter = client.rate_limiter().unwrap().clone();
    let calls: Vec<_> = (0..30)
        .map(|_| {
            let c = client.clone();
            tokio::spawn(async move { c.re_encrypt(request()).await })
        })
        .collect();
    for c in calls {
        let _ = c.await.unwrap();
    }
    let s = limiter.snapshot();
    assert_eq!(s.throttles, 20, "{s:?}");
    assert_eq!(s.decreases, 1, "one congestion event: {s:?}");
}

#[tokio::test(start_paused = true)]
async fn the_rate_recovers_along_the_cubic_after_a_throttle() {
    let script = Arc::new(Mutex::new(Vec::new()));
    let kms = scripted(script.clone());
    let limiter = kms.rate_limiter().unwrap().clone();
    // 20 calls per second, then one throttle.
    for _ in 0..40 {
        kms.re_encrypt(request()).await.unwrap();
        tokio::time::advance(Duration::from_millis(50)).await;
    }
    script.lock().unwrap().push(true);
    kms.re_encrypt(request()).await.unwrap_err();
    let cut = limiter.snapshot();
    let w_max = cut.fill_rate.unwrap() / 0.7;
    // K = (W_max * 0.3 / 0.4)^(1/3): back at W_max after K seconds, above after.
    let k = (w_max * 0.3 / 0.4).powf(1.0 / 3.0);
    let start = Instant::now();
    let mut rates = Vec::new();
    // Keep calling as fast as the limiter lets us (each call waits for its token).
    while Instant::now() - start < Duration::from_secs_f64(k + 1.0) {
        kms.re_encrypt(request()).await.unwrap();
        rates.push((
            (Instant::now() - start).as_secs_f64(),
            limiter.snapshot().fill_rate.unwrap(),
        ));
    }
    assert!(
        rates.windows(2).all(|w| w[1].1 >= w[0].1 - 1e-9),
        "the rate only grows while no throttle comes: {rates:?}"
    );
    let at_k = rates
        .iter()
        .find(|(t, _)| *t >= k)
        .map(|(_, r)| *r)
        .unwrap();
    assert!(at_k > 0.9 * w_max, "{at_k} at K={k}, W_max={w_max}");
    assert!(rates.last().unwrap().1 > cut.fill_rate.unwrap());
}

/// Runs `calls` ReEncrypts, at most `in_flight` at once (as a caller with a
/// concurrency limit does), against a 100/s quota; returns (ok, attempts,
/// throttled attempts, seconds taken).
async fn burst(retry: RetryConfig, calls: usize, in_flight: usize) -> (usize, u64, u64, f64) {
    let kms = QuotaKms::new(100.0, Duration::from_millis(20));
    let client = kms.client(retry);
    let slots = Arc::new(tokio::sync::Semaphore::new(in_flight));
    let start = Instant::now();
    let tasks: Vec<_> = (0..calls)
        .map(|_| {
            let (c, slots) = (client.clone(), slots.clone());
            tokio::spawn(async move {
                let _slot = slots.acquire_owned().await.unwrap();
                c.re_encrypt(request()).await
            })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        if t.await.unwrap().is_ok() {
            ok += 1;
        }
    }
    (
        ok,
        kms.attempts.load(Ordering::SeqCst),
        kms.throttled.load(Ordering::SeqCst),
        (Instant::now() - start).as_secs_f64(),
    )
}

#[tokio::test(start_paused = true)]
async fn a_burst_of_500_calls_against_100_per_second_is_paced_not_throttled() {
    let (std_ok, std_attempts, std_throttled, std_secs) =
        burst(RetryConfig::standard(), 500, 50).await;
    let (ok, attempts, throttled, secs) = burst(RetryConfig::adaptive(), 500, 50).await;
    println!(
        "standard: {std_ok} ok, {std_throttled}/{std_attempts} attempts throttled, {std_secs:.1} s; \
         adaptive: {ok} ok, {throttled}/{attempts} attempts throttled, {secs:.1} s"
    );
    // Standard mode sends as fast as its 50 slots allow and retries on a
    // timer: most attempts are throttled, and calls fail once their attempts
    // (or the retry quota) are spent.
    assert!(std_throttled * 10 >= std_attempts * 4, "standard");
    assert!(std_ok <= 450, "standard");
    // Adaptive mode: after the first throttles the limiter paces every attempt
    // near the quota, so (almost) every call succeeds, few attempts are
    // throttled, and the whole burst takes not much more than the 4 s that 500
    // calls need at 100/s after the first second's burst. With about 10 % of
    // attempts throttled, a call throttled on all three of its attempts happens
    // about once per run (random jitter decides), so the bound is 1 %; standard
    // mode loses about a third.
    assert!(ok >= 495, "adaptive: {ok} of 500 calls succeed");
    assert!(
        throttled * 5 < attempts,
        "adaptive: at most a fifth of the attempts throttled, {throttled} of {attempts}"
    );
    assert!(secs < 8.0, "adaptive: {secs} s");
}

/// Like [`scripted`], also logging when each attempt reaches the connector.
fn scripted_logged(throttle: Arc<Mutex<Vec<bool>>>, log: Arc<Mutex<Vec<Instant>>>) -> KmsClient {
    let connector = tower::service_fn(move |_req: http::Request<Full<Bytes>>| {
        let throttle = throttle.clone();
        log.lock().unwrap().push(Instant::now());
        async move {
            let t = throttle.lock().unwrap().pop().unwrap_or(false);
            Ok::<_, std::convert::Infallible>(if t {
                json_response(400, THROTTLED)
            } else {
                json_response(200, r#"{"CiphertextBlob":"AAEC"}"#)
            })
        }
    });
    KmsClient::builder()
        .region("us-east-1")
        .credentials_provider(credentials())
        .retry_config(RetryConfig::adaptive().with_max_attempts(1))
        .connector(connector)
        .build()
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_call_dropped_while_waiting_does_not_let_the_calls_ahead_go_early() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let kms = scripted_logged(Arc::new(Mutex::new(vec![true])), log.clone());
    let limiter = kms.rate_limiter().unwrap().clone();
    kms.re_encrypt(request()).await.unwrap_err();
    let rate = limiter.snapshot().fill_rate.expect("throttled: enforced");
    let cut = Instant::now();
    // Three calls queue for tokens, 1/rate apart; the second is cancelled.
    let spawn = |kms: &KmsClient| {
        let kms = kms.clone();
        tokio::spawn(async move { kms.re_encrypt(request()).await })
    };
    let a = spawn(&kms);
    tokio::task::yield_now().await;
    let b = spawn(&kms);
    tokio::task::yield_now().await;
    let c = spawn(&kms);
    tokio::time::sleep(Duration::from_millis(60)).await;
    assert_eq!(limiter.snapshot().delayed_attempts, 3);
    b.abort();
    assert!(b.await.unwrap_err().is_cancelled());
    a.await.unwrap().unwrap();
    c.await.unwrap().unwrap();
    let log = log.lock().unwrap();
    let sent: Vec<f64> = log[1..].iter().map(|t| (*t - cut).as_secs_f64()).collect();
    assert_eq!(sent.len(), 2, "the cancelled call never reached KMS");
    let slot = 1.0 / rate;
    assert!(
        sent[0] >= slot - 1e-6,
        "the first waited its turn: {sent:?}, slot {slot}"
    );
    assert!(
        sent[1] >= 2.0 * slot - 1e-6,
        "the third took the cancelled one's place: {sent:?}"
    );
    assert!(
        sent[1] <= 3.0 * slot + 1e-6,
        "and no later than its own: {sent:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_client_first_used_long_after_it_was_built_measures_from_its_first_use() {
    // 50 quick successes, then a throttle, 100 s after the client was built:
    // the rate measured so far (not 51 responses over 100 s) is cut.
    let mut script = vec![true];
    script.extend([false; 50]);
    let kms = scripted(Arc::new(Mutex::new(script)));
    let limiter = kms.rate_limiter().unwrap().clone();
    tokio::time::advance(Duration::from_secs(100)).await;
    for _ in 0..50 {
        kms.re_encrypt(request()).await.unwrap();
    }
    kms.re_encrypt(request()).await.unwrap_err();
    let rate = limiter.snapshot().fill_rate.unwrap();
    assert!(rate > 100.0, "{rate} rps after the throttle");
}

#[tokio::test(start_paused = true)]
async fn a_throttle_after_an_idle_spell_cuts_from_the_rate_before_it() {
    let script = Arc::new(Mutex::new(Vec::new()));
    let kms = scripted(script.clone());
    let limiter = kms.rate_limiter().unwrap().clone();
    for _ in 0..40 {
        kms.re_encrypt(request()).await.unwrap();
        tokio::time::advance(Duration::from_millis(50)).await;
    }
    let before = limiter.snapshot().measured_rate;
    tokio::time::advance(Duration::from_secs(60)).await;
    script.lock().unwrap().push(true);
    kms.re_encrypt(request()).await.unwrap_err();
    let rate = limiter.snapshot().fill_rate.unwrap();
    assert!(
        (rate - 0.7 * before).abs() < 0.05 * before,
        "{rate} rps after the throttle, {before} rps before the spell"
    );
}
