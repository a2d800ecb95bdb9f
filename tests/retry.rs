//! The retry policy, backoff and grant tokens over tower-test mocks, with paused time.

mod support;

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use proptest::prelude::*;
use support::*;
use tokio::time::Instant;
use tower_kms::retry::{RetryConfig, RetryMode};
use tower_kms::{Attempt, KmsClient, KmsError, ReEncryptRequest};
use tower_test::mock;

type Handle = mock::Handle<http::Request<Full<Bytes>>, http::Response<Full<Bytes>>>;

fn client_with(config: RetryConfig) -> (KmsClient, Handle) {
    let (svc, handle) = mock::pair::<http::Request<Full<Bytes>>, http::Response<Full<Bytes>>>();
    let kms = KmsClient::builder()
        .region("us-east-1")
        .credentials_provider(credentials())
        .retry_config(config)
        .connector(svc)
        .build()
        .unwrap();
    (kms, handle)
}

/// A clock that moves one second forward each time it is read, so two signatures
/// can only share an `X-Amz-Date` if the second attempt was not signed again.
#[derive(Debug, Default)]
struct SteppingClock(std::sync::atomic::AtomicU64);

impl tower_kms::sign::Clock for SteppingClock {
    fn now(&self) -> std::time::SystemTime {
        let n = self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        fixed_time() + Duration::from_secs(n)
    }
}

fn header(req: &http::Request<Full<Bytes>>, name: &str) -> String {
    req.headers()[name].to_str().unwrap().to_owned()
}

#[tokio::test(start_paused = true)]
async fn attempts_are_numbered_resigned_and_backed_off() {
    let (svc, mut handle) = mock::pair::<http::Request<Full<Bytes>>, http::Response<Full<Bytes>>>();
    let kms = KmsClient::builder()
        .region("us-east-1")
        .credentials_provider(credentials())
        .clock(SteppingClock::default())
        .connector(svc)
        .build()
        .unwrap();
    let call = tokio::spawn(async move { kms.re_encrypt(minimal_request()).await });
    let mut seen = Vec::new();
    let mut times = Vec::new();
    let mut dates = Vec::new();
    let mut signatures = Vec::new();
    for i in 0..3 {
        let (req, send) = handle.next_request().await.unwrap();
        seen.push(*req.extensions().get::<Attempt>().unwrap());
        times.push(Instant::now());
        dates.push(header(&req, "x-amz-date"));
        let auth = header(&req, "authorization");
        signatures.push(auth.rsplit("Signature=").next().unwrap().to_owned());
        if i < 2 {
            send.send_response(json_response(500, r#"{"__type":"KMSInternalException"}"#));
        } else {
            send.send_response(json_response(200, "{}"));
        }
    }
    call.await.unwrap().unwrap();
    assert_eq!(seen, [Attempt(1), Attempt(2), Attempt(3)]);
    // Each attempt is signed afresh: a new X-Amz-Date and a new signature.
    for i in 1..3 {
        assert_ne!(dates[i], dates[i - 1], "attempt {} reused the date", i + 1);
        assert_ne!(
            signatures[i],
            signatures[i - 1],
            "attempt {} reused the signature",
            i + 1
        );
        assert!(dates[i] > dates[i - 1], "{dates:?}");
    }
    // Full jitter: at most base * 2^(n-1) (1 s, then 2 s).
    assert!(times[1] - times[0] <= Duration::from_secs(1));
    assert!(times[2] - times[1] <= Duration::from_secs(2));
}

#[tokio::test(start_paused = true)]
async fn max_attempts_is_configurable_and_one_means_no_retry() {
    for attempts in [1u32, 2, 5] {
        let (kms, mut handle) = client_with(RetryConfig::standard().with_max_attempts(attempts));
        let call = tokio::spawn(async move { kms.re_encrypt(minimal_request()).await });
        for _ in 0..attempts {
            let (_req, send) = handle.next_request().await.unwrap();
            send.send_response(json_response(
                503,
                r#"{"__type":"DependencyTimeoutException"}"#,
            ));
        }
        let err = call.await.unwrap().unwrap_err();
        assert!(matches!(err, KmsError::DependencyTimeout(_)), "{err:?}");
        handle.allow(1);
        assert!(
            !matches!(
                tokio::time::timeout(Duration::from_secs(60), handle.next_request()).await,
                Ok(Some(_))
            ),
            "an extra attempt"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn the_2026_revision_honours_retry_after_and_uses_a_50ms_base() {
    let cfg = RetryConfig::standard_2026();
    assert_eq!(cfg.mode(), RetryMode::Standard2026);
    let (kms, mut handle) = client_with(cfg);
    let call = tokio::spawn(async move { kms.re_encrypt(minimal_request()).await });
    let (_r, send) = handle.next_request().await.unwrap();
    let t0 = Instant::now();
    let mut resp = json_response(503, r#"{"__type":"KMSInternalException"}"#);
    resp.headers_mut()
        .insert("x-amz-retry-after", "3000".parse().unwrap());
    send.send_response(resp);
    let (_r, send) = handle.next_request().await.unwrap();
    let waited = Instant::now() - t0;
    assert!(
        waited >= Duration::from_millis(3000) && waited <= Duration::from_millis(3050),
        "{waited:?}"
    );
    // Without the header the base is 50 ms.
    let t1 = Instant::now();
    send.send_response(json_response(500, r#"{"__type":"KMSInternalException"}"#));
    let (_r, send) = handle.next_request().await.unwrap();
    assert!(Instant::now() - t1 <= Duration::from_millis(100));
    send.send_response(json_response(200, "{}"));
    call.await.unwrap().unwrap();
}

#[tokio::test(start_paused = true)]
async fn quota_is_refunded_on_success() {
    let (kms, mut handle) = client_with(RetryConfig::standard());
    let quota = kms.retry_quota().clone();
    let call = tokio::spawn(async move { kms.re_encrypt(minimal_request()).await });
    let (_r, send) = handle.next_request().await.unwrap();
    send.send_response(json_response(500, r#"{"__type":"KMSInternalException"}"#));
    let (_r, send) = handle.next_request().await.unwrap();
    assert_eq!(quota.available(), 490);
    send.send_response(json_response(200, "{}"));
    call.await.unwrap().unwrap();
    assert_eq!(quota.available(), 500);
}

#[test]
fn env_retry_configuration() {
    assert_eq!(
        RetryConfig::from_env_with(env(&[])).unwrap(),
        RetryConfig::standard()
    );
    assert_eq!(
        RetryConfig::from_env_with(env(&[("AWS_MAX_ATTEMPTS", "7")]))
            .unwrap()
            .max_attempts(),
        7
    );
    assert_eq!(
        RetryConfig::from_env_with(env(&[
            ("AWS_NEW_RETRIES_2026", "true"),
            ("AWS_RETRY_MODE", "Standard")
        ]))
        .unwrap(),
        RetryConfig::standard_2026()
    );
    assert!(RetryConfig::from_env_with(env(&[("AWS_RETRY_MODE", "adaptive")])).is_ok());
    for bad in [
        ("AWS_MAX_ATTEMPTS", "0"),
        ("AWS_MAX_ATTEMPTS", "three"),
        ("AWS_MAX_ATTEMPTS", "-1"),
        ("AWS_RETRY_MODE", "legacy"),
    ] {
        let pairs: &'static [(&'static str, &'static str)] = Box::leak(Box::new([bad]));
        let err = RetryConfig::from_env_with(env(pairs)).unwrap_err();
        assert!(err.to_string().contains(bad.0), "{err}");
        // The client builder reports it too.
        let err = KmsClient::builder()
            .region("us-east-1")
            .env_with(env(pairs))
            .build()
            .unwrap_err();
        assert!(err.to_string().contains(bad.0), "{err}");
    }
}

proptest! {
    #[test]
    fn backoff_stays_within_full_jitter_bounds(attempts in 1u32..200, jitter in 0.0f64..1.0,
                                               base_ms in 1u64..5000, cap_ms in 1u64..60_000, throttling in any::<bool>()) {
        let cfg = RetryConfig::standard()
            .with_base(Duration::from_millis(base_ms))
            .with_throttling_base(Duration::from_millis(base_ms * 2))
            .with_max_backoff(Duration::from_millis(cap_ms));
        let d = cfg.backoff(attempts, throttling, jitter);
        let base = if throttling { base_ms * 2 } else { base_ms } as f64 / 1000.0;
        let ceiling = (base * 2f64.powi((attempts - 1).min(62) as i32)).min(cap_ms as f64 / 1000.0);
        prop_assert!(d.as_secs_f64() <= ceiling + 1e-9);
        prop_assert!((d.as_secs_f64() - ceiling * jitter).abs() < 1e-6);
    }

    #[test]
    fn backoff_never_panics(attempts in any::<u32>(), jitter in any::<f64>()) {
        let d = RetryConfig::standard().backoff(attempts, false, jitter);
        prop_assert!(d <= Duration::from_secs(20));
    }
}

#[tokio::test]
async fn grant_tokens_from_the_client_are_merged_without_duplicates() {
    let (svc, mut handle) = mock::pair::<http::Request<Full<Bytes>>, http::Response<Full<Bytes>>>();
    let kms = KmsClient::builder()
        .region("us-east-1")
        .credentials_provider(credentials())
        .grant_tokens(vec!["shared".into(), "mine".into()])
        .connector(svc)
        .build()
        .unwrap();
    let req = ReEncryptRequest::builder()
        .ciphertext_blob(vec![1])
        .destination_key_id("k")
        .grant_token("mine")
        .build()
        .unwrap();
    let k = kms.clone();
    let call = tokio::spawn(async move { k.re_encrypt(req).await });
    let (req, send) = handle.next_request().await.unwrap();
    let body = body_bytes(req.into_body()).await;
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["GrantTokens"], serde_json::json!(["mine", "shared"]));
    send.send_response(json_response(200, "{}"));
    call.await.unwrap().unwrap();

    // Ten of the request's own plus two from the client: a validation error, nothing sent.
    let req = ReEncryptRequest::builder()
        .ciphertext_blob(vec![1])
        .destination_key_id("k")
        .set_grant_tokens((0..10).map(|i| format!("t{i}")).collect())
        .build()
        .unwrap();
    let err = kms.re_encrypt(req).await.unwrap_err();
    assert!(
        matches!(&err, KmsError::Validation(v) if v.field() == "GrantTokens"),
        "{err:?}"
    );
    handle.allow(1);
    assert!(!matches!(
        tokio::time::timeout(Duration::from_millis(50), handle.next_request()).await,
        Ok(Some(_))
    ));
}

#[tokio::test]
async fn grant_tokens_from_a_closure_are_fetched_per_request() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};
    use tower::{ServiceBuilder, ServiceExt};
    use tower_kms::grant_tokens::GrantTokenLayer;
    let n = Arc::new(AtomicU32::new(0));
    let counter = n.clone();
    let svc = ServiceBuilder::new()
        .layer(GrantTokenLayer::from_fn(move || {
            vec![format!("token-{}", counter.fetch_add(1, Ordering::SeqCst))]
        }))
        .service(tower::service_fn(|req: ReEncryptRequest| async move {
            Ok::<_, KmsError>(req.grant_tokens().to_vec())
        }));
    assert_eq!(
        svc.clone().oneshot(minimal_request()).await.unwrap(),
        ["token-0"]
    );
    assert_eq!(svc.oneshot(minimal_request()).await.unwrap(), ["token-1"]);
}

#[tokio::test(start_paused = true)]
async fn backoffs_across_calls_are_spread_over_the_full_jitter_range() {
    // Calls that fail at the same moment must not back off in lockstep: over many
    // calls, the first backoff (full jitter over [0, 1 s)) covers the whole range.
    // Tested by its distribution, not by two draws differing: with 200 uniform
    // draws, an empty tenth of the range has a probability of about 7e-10.
    const CALLS: usize = 200;
    let (kms, mut handle) = client_with(RetryConfig::standard().with_quota_capacity(100_000));
    let mut waits = Vec::with_capacity(CALLS);
    for _ in 0..CALLS {
        let k = kms.clone();
        let call = tokio::spawn(async move { k.re_encrypt(minimal_request()).await });
        let (_r, send) = handle.next_request().await.unwrap();
        let t = Instant::now();
        send.send_response(json_response(500, r#"{"__type":"KMSInternalException"}"#));
        let (_r, send) = handle.next_request().await.unwrap();
        waits.push((Instant::now() - t).as_secs_f64());
        send.send_response(json_response(200, "{}"));
        call.await.unwrap().unwrap();
    }
    assert!(waits.iter().all(|w| (0.0..=1.0).contains(w)), "{waits:?}");
    let mut tenths = [0usize; 10];
    for w in &waits {
        tenths[((w * 10.0) as usize).min(9)] += 1;
    }
    assert!(tenths.iter().all(|&n| n > 0), "uneven spread: {tenths:?}");
    let mean = waits.iter().sum::<f64>() / CALLS as f64;
    // The mean of 200 uniform draws has a standard deviation of 0.02 s.
    assert!((mean - 0.5).abs() < 0.15, "mean backoff {mean}");
}

#[tokio::test(start_paused = true)]
async fn an_absurd_server_date_is_not_learnt() {
    let (kms, mut handle) = client_with(RetryConfig::standard().with_max_attempts(1));
    let call = {
        let k = kms.clone();
        tokio::spawn(async move { k.re_encrypt(minimal_request()).await })
    };
    let (_r, send) = handle.next_request().await.unwrap();
    let mut resp = json_response(
        400,
        r#"{"__type":"InvalidSignatureException","message":"Signature expired: x"}"#,
    );
    resp.headers_mut()
        .insert("date", "Fri, 31 Dec 9999 23:59:59 GMT".parse().unwrap());
    send.send_response(resp);
    let err = call.await.unwrap().unwrap_err();
    assert!(matches!(err, KmsError::InvalidSignature(_)), "{err:?}");
    assert_eq!(kms.clock_skew().offset_millis(), 0);
}
