//! Request quotas: off by default, a burst gets exactly its quota and the
//! rest KMS's `ThrottlingException`, refill over injected (or paused tokio)
//! time, one shared cryptographic quota and per-operation quotas, and the
//! counts in `LocalKms::stats` and the request hook. In-process and over
//! 127.0.0.1.

use crate::common;

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use common::{Reply, Sig, Transport, check_headers, signed};
use serde_json::{Value, json};
use tower_kms::local::{LocalKms, LocalKmsBuilder, OperationStats, Quota, RequestLog, RequestRate};
use tower_kms::{KeySpec, KeyUsageType};

/// KMS's exact answer to a request over its quota.
const THROTTLED: &str = r#"{"__type":"ThrottlingException","message":"You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls."}"#;

/// A clock the test moves: the real time when it was made, plus (or minus)
/// what the test added. Requests are signed at its time.
#[derive(Clone)]
struct TestClock {
    start: SystemTime,
    offset_nanos: Arc<AtomicI64>,
}

impl TestClock {
    fn new() -> Self {
        Self {
            start: SystemTime::now(),
            offset_nanos: Arc::default(),
        }
    }

    fn now(&self) -> SystemTime {
        let off = self.offset_nanos.load(Ordering::SeqCst);
        let d = Duration::from_nanos(off.unsigned_abs());
        if off >= 0 {
            self.start + d
        } else {
            self.start - d
        }
    }

    fn advance(&self, d: Duration) {
        let nanos = i64::try_from(d.as_nanos()).unwrap();
        self.offset_nanos.fetch_add(nanos, Ordering::SeqCst);
    }

    fn rewind(&self, d: Duration) {
        let nanos = i64::try_from(d.as_nanos()).unwrap();
        self.offset_nanos.fetch_sub(nanos, Ordering::SeqCst);
    }

    fn builder(&self) -> LocalKmsBuilder {
        let this = self.clone();
        LocalKms::builder().clock(Arc::new(move || this.now()))
    }

    fn sig(&self) -> Sig {
        Sig {
            time: self.now(),
            ..Sig::default()
        }
    }
}

fn rate(r: f64) -> RequestRate {
    RequestRate::per_second(r).unwrap()
}

fn op(name: &str) -> Quota {
    Quota::operation(name).unwrap()
}

/// A fresh KMS from `make` behind each transport: in-process, then a socket.
async fn each_transport(make: impl Fn() -> LocalKms) -> Vec<(LocalKms, Transport)> {
    let a = make();
    let b = make();
    let ta = Transport::in_process(&a);
    let tb = Transport::socket(&b).await;
    vec![(a, ta), (b, tb)]
}

/// A signed call at the clock's time.
async fn call(t: &Transport, clock: &TestClock, op: &str, body: Value) -> Reply {
    t.call_with(op, body, &clock.sig()).await
}

/// The body of a cryptographic request for each of the crypto operations
/// served here, against `key` (a symmetric key) and `blob` (its ciphertext).
fn crypto_requests(key: &str, blob: &Value) -> Vec<(&'static str, Value)> {
    vec![
        ("Encrypt", json!({ "KeyId": key, "Plaintext": "aGk=" })),
        (
            "GenerateDataKey",
            json!({ "KeyId": key, "KeySpec": "AES_256" }),
        ),
        ("GenerateRandom", json!({ "NumberOfBytes": 8 })),
        ("Decrypt", json!({ "CiphertextBlob": blob })),
        (
            "ReEncrypt",
            json!({ "CiphertextBlob": blob, "DestinationKeyId": key }),
        ),
        (
            "GenerateDataKeyWithoutPlaintext",
            json!({ "KeyId": key, "KeySpec": "AES_256" }),
        ),
    ]
}

/// A throttled reply: KMS's status, body and headers, dated by `clock`.
#[track_caller]
fn assert_throttled(r: &Reply, clock: &TestClock) {
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert_eq!(std::str::from_utf8(&r.body).unwrap(), THROTTLED);
    check_headers(r);
    assert_eq!(r.headers["date"], httpdate::fmt_http_date(clock.now()));
}

#[tokio::test]
async fn quotas_are_off_by_default() {
    // Time stands still, so any default quota below 500 per second would show.
    let clock = TestClock::new();
    for (kms, t) in each_transport(|| clock.builder().build()).await {
        assert_eq!(kms.quota(Quota::CRYPTOGRAPHIC), None);
        for name in Quota::operation_names() {
            assert_eq!(kms.quota(op(name)), None, "{name}");
        }
        let key = kms
            .create_key(KeySpec::SymmetricDefault, KeyUsageType::EncryptDecrypt)
            .unwrap();
        for i in 0..500 {
            let (op, body) = match i % 4 {
                0 => ("Encrypt", json!({ "KeyId": key, "Plaintext": "aGk=" })),
                1 => ("GenerateRandom", json!({ "NumberOfBytes": 8 })),
                2 => ("DescribeKey", json!({ "KeyId": key })),
                _ => ("ListKeys", json!({})),
            };
            call(&t, &clock, op, body).await.ok();
        }
        let stats = kms.stats();
        assert_eq!((stats.served, stats.throttled), (500, 0));
        for name in ["Encrypt", "GenerateRandom", "DescribeKey", "ListKeys"] {
            assert_eq!(stats.operation(name).served, 125, "{name}");
        }
        assert_eq!(stats.operations.len(), 4);
        t.shutdown().await;
    }
}

#[tokio::test]
async fn a_burst_gets_exactly_the_quota_and_the_rest_kms_throttling_answer() {
    let clock = TestClock::new();
    let make = || {
        clock
            .builder()
            .quota(Quota::CRYPTOGRAPHIC, rate(5.0))
            .build()
    };
    for (kms, t) in each_transport(make).await {
        let key = kms
            .create_key(KeySpec::SymmetricDefault, KeyUsageType::EncryptDecrypt)
            .unwrap();
        let mut served = 0;
        let mut ids = std::collections::HashSet::new();
        for i in 0..12 {
            let (op, body) = if i % 2 == 0 {
                ("Encrypt", json!({ "KeyId": key, "Plaintext": "aGk=" }))
            } else {
                ("GenerateRandom", json!({ "NumberOfBytes": 8 }))
            };
            let r = call(&t, &clock, op, body).await;
            assert!(ids.insert(r.headers["x-amzn-requestid"].clone()));
            if i < 5 {
                r.ok();
                served += 1;
            } else {
                assert_throttled(&r, &clock);
            }
        }
        assert_eq!(served, 5);
        let stats = kms.stats();
        assert_eq!((stats.served, stats.throttled), (5, 7));
        assert_eq!(
            stats.operation("Encrypt"),
            counts(3, 3),
            "served at 0, 2, 4; throttled at 6, 8, 10"
        );
        assert_eq!(stats.operation("GenerateRandom"), counts(2, 4));
        t.shutdown().await;
    }
}

fn counts(served: u64, throttled: u64) -> OperationStats {
    let mut s = OperationStats::default();
    s.served = served;
    s.throttled = throttled;
    s
}

/// Sends `n` GenerateRandom requests at the clock's time; how many were served
/// (the others must be throttled).
async fn burst(t: &Transport, clock: &TestClock, n: usize) -> usize {
    let mut served = 0;
    for _ in 0..n {
        let r = call(t, clock, "GenerateRandom", json!({ "NumberOfBytes": 8 })).await;
        if r.status == 200 {
            served += 1;
        } else {
            assert_throttled(&r, clock);
        }
    }
    served
}

#[tokio::test]
async fn the_quota_refills_over_injected_time() {
    let clock = TestClock::new();
    let make = || {
        clock
            .builder()
            .quota(Quota::CRYPTOGRAPHIC, rate(4.0))
            .build()
    };
    for (kms, t) in each_transport(make).await {
        assert_eq!(burst(&t, &clock, 6).await, 4);
        // 4 per second: one request every 250 ms.
        clock.advance(Duration::from_millis(249));
        assert_eq!(burst(&t, &clock, 1).await, 0);
        clock.advance(Duration::from_millis(1));
        assert_eq!(burst(&t, &clock, 2).await, 1);
        // A long pause fills the bucket to one second's worth, no more.
        clock.advance(Duration::from_secs(10));
        assert_eq!(burst(&t, &clock, 6).await, 4);
        // A clock that goes back refills nothing, and the time is not
        // counted twice when it comes back.
        clock.rewind(Duration::from_secs(60));
        assert_eq!(burst(&t, &clock, 1).await, 0);
        clock.advance(Duration::from_secs(60) + Duration::from_millis(200));
        assert_eq!(burst(&t, &clock, 1).await, 0);
        clock.advance(Duration::from_millis(50));
        assert_eq!(burst(&t, &clock, 2).await, 1);
        let stats = kms.stats();
        assert_eq!((stats.served, stats.throttled), (10, 9));
        t.shutdown().await;
    }
}

#[tokio::test]
async fn fractional_quotas() {
    let clock = TestClock::new();
    // 2.5 per second: a burst of 2, and the half request left plus a fifth
    // of a second's half request make one more.
    let kms = clock
        .builder()
        .quota(Quota::CRYPTOGRAPHIC, rate(2.5))
        .build();
    let t = Transport::in_process(&kms);
    assert_eq!(burst(&t, &clock, 4).await, 2);
    clock.advance(Duration::from_millis(199));
    assert_eq!(burst(&t, &clock, 1).await, 0);
    clock.advance(Duration::from_millis(1));
    assert_eq!(burst(&t, &clock, 2).await, 1);
    // Below one per second a request still gets through, one every 1/rate.
    let kms = clock
        .builder()
        .quota(Quota::CRYPTOGRAPHIC, rate(0.25))
        .build();
    let t = Transport::in_process(&kms);
    assert_eq!(burst(&t, &clock, 3).await, 1);
    clock.advance(Duration::from_millis(3999));
    assert_eq!(burst(&t, &clock, 1).await, 0);
    clock.advance(Duration::from_millis(1));
    assert_eq!(burst(&t, &clock, 2).await, 1);
}

#[tokio::test]
async fn crypto_operations_share_one_quota_and_an_operation_quota_is_its_own() {
    let clock = TestClock::new();
    let make = || {
        clock
            .builder()
            .quota(Quota::CRYPTOGRAPHIC, rate(3.0))
            .quota(op("CreateKey"), rate(2.0))
            .build()
    };
    for (kms, t) in each_transport(make).await {
        let key = kms
            .create_key(KeySpec::SymmetricDefault, KeyUsageType::EncryptDecrypt)
            .unwrap();
        let blob = kms
            .invoke("Encrypt", json!({ "KeyId": key, "Plaintext": "aGk=" }))
            .unwrap()["CiphertextBlob"]
            .clone();
        // Six different crypto operations, one quota of three.
        for (i, (op, body)) in crypto_requests(&key, &blob).into_iter().enumerate() {
            let r = call(&t, &clock, op, body).await;
            if i < 3 {
                r.ok();
            } else {
                assert_throttled(&r, &clock);
            }
        }
        // CreateKey has its own quota, untouched by the crypto one.
        let create = json!({ "KeySpec": "SYMMETRIC_DEFAULT" });
        call(&t, &clock, "CreateKey", create.clone()).await.ok();
        call(&t, &clock, "CreateKey", create.clone()).await.ok();
        assert_throttled(&call(&t, &clock, "CreateKey", create.clone()).await, &clock);
        // Operations without a quota set are never throttled.
        for _ in 0..20 {
            call(&t, &clock, "DescribeKey", json!({ "KeyId": key }))
                .await
                .ok();
            call(&t, &clock, "ListKeys", json!({})).await.ok();
        }
        // One second later each quota has one second's worth again: the
        // throttled CreateKey took nothing from the crypto quota.
        clock.advance(Duration::from_secs(1));
        assert_eq!(burst(&t, &clock, 4).await, 3);
        call(&t, &clock, "CreateKey", create.clone()).await.ok();
        call(&t, &clock, "CreateKey", create.clone()).await.ok();
        assert_throttled(&call(&t, &clock, "CreateKey", create).await, &clock);

        let stats = kms.stats();
        assert_eq!(stats.operation("Encrypt"), counts(1, 0));
        assert_eq!(stats.operation("GenerateDataKey"), counts(1, 0));
        assert_eq!(stats.operation("GenerateRandom"), counts(4, 1));
        assert_eq!(stats.operation("Decrypt"), counts(0, 1));
        assert_eq!(stats.operation("ReEncrypt"), counts(0, 1));
        assert_eq!(
            stats.operation("GenerateDataKeyWithoutPlaintext"),
            counts(0, 1)
        );
        assert_eq!(stats.operation("CreateKey"), counts(4, 2));
        assert_eq!(stats.operation("DescribeKey"), counts(20, 0));
        assert_eq!(stats.operation("ListKeys"), counts(20, 0));
        assert_eq!((stats.served, stats.throttled), (50, 6));
        t.shutdown().await;
    }
}

#[tokio::test]
async fn only_authenticated_requests_for_known_operations_count() {
    let clock = TestClock::new();
    let logs: Arc<Mutex<Vec<RequestLog>>> = Arc::default();
    let seen = logs.clone();
    let make = || {
        let seen = seen.clone();
        clock
            .builder()
            .quota(Quota::CRYPTOGRAPHIC, rate(2.0))
            .on_request(Arc::new(move |log: &RequestLog| {
                seen.lock().unwrap().push(log.clone())
            }))
            .build()
    };
    for (kms, t) in each_transport(make).await {
        logs.lock().unwrap().clear();
        let url = t.url();
        // Unsigned, badly signed, unknown: no quota taken, nothing counted.
        for _ in 0..3 {
            let mut req = signed(&url, "GenerateRandom", b"{}", &clock.sig());
            req.headers_mut().remove("authorization");
            t.send(req)
                .await
                .err(400, "MissingAuthenticationTokenException");
        }
        let wrong = Sig {
            secret: "not-the-secret".into(),
            ..clock.sig()
        };
        t.call_with("GenerateRandom", json!({ "NumberOfBytes": 8 }), &wrong)
            .await
            .err(400, "InvalidSignatureException");
        call(&t, &clock, "NoSuchOperation", json!({}))
            .await
            .err(400, "UnknownOperationException");
        assert_eq!(kms.stats(), Default::default());
        // So the quota is whole: two served, one throttled.
        assert_eq!(burst(&t, &clock, 3).await, 2);
        // A request that fails after the check still took its share.
        clock.advance(Duration::from_millis(500));
        call(&t, &clock, "GenerateRandom", json!({ "NumberOfBytes": 0 }))
            .await
            .err(400, "ValidationException");
        assert_throttled(
            &call(&t, &clock, "GenerateRandom", json!({ "NumberOfBytes": 8 })).await,
            &clock,
        );
        // Set-up methods bypass quotas and counts.
        kms.invoke("GenerateRandom", json!({ "NumberOfBytes": 8 }))
            .unwrap();

        let stats = kms.clone().stats();
        assert_eq!((stats.served, stats.throttled), (3, 2));
        assert_eq!(stats.operation("GenerateRandom"), counts(3, 2));
        assert_eq!(stats.operations.len(), 1);

        let logs = logs.lock().unwrap().clone();
        let summary: Vec<(&str, u16, Option<&str>, bool)> = logs
            .iter()
            .map(|l| {
                (
                    l.operation.as_str(),
                    l.status.as_u16(),
                    l.error_code.as_deref(),
                    l.throttled,
                )
            })
            .collect();
        let missing = (
            "GenerateRandom",
            400,
            Some("MissingAuthenticationTokenException"),
            false,
        );
        let throttled = ("GenerateRandom", 400, Some("ThrottlingException"), true);
        let served = ("GenerateRandom", 200, None, false);
        assert_eq!(
            summary,
            [
                missing,
                missing,
                missing,
                (
                    "GenerateRandom",
                    400,
                    Some("InvalidSignatureException"),
                    false
                ),
                (
                    "NoSuchOperation",
                    400,
                    Some("UnknownOperationException"),
                    false
                ),
                served,
                served,
                throttled,
                ("GenerateRandom", 400, Some("ValidationException"), false),
                throttled,
            ]
        );
        t.shutdown().await;
    }
}

/// Without an injected clock, quotas refill on tokio's clock, which a test
/// pauses and advances.
#[tokio::test(start_paused = true)]
async fn without_an_injected_clock_quotas_follow_paused_tokio_time() {
    let kms = LocalKms::builder()
        .quota(Quota::CRYPTOGRAPHIC, rate(2.0))
        .quota(op("ListKeys"), rate(1.0))
        .build();
    let t = Transport::in_process(&kms);
    let random = || t.call("GenerateRandom", json!({ "NumberOfBytes": 8 }));
    let mut codes = Vec::new();
    for _ in 0..3 {
        codes.push(random().await.status.as_u16());
    }
    assert_eq!(codes, [200, 200, 400]);
    t.call("ListKeys", json!({})).await.ok();
    t.call("ListKeys", json!({}))
        .await
        .err(400, "ThrottlingException");
    tokio::time::advance(Duration::from_millis(499)).await;
    random().await.err(400, "ThrottlingException");
    tokio::time::advance(Duration::from_millis(1)).await;
    random().await.ok();
    random().await.err(400, "ThrottlingException");
    tokio::time::advance(Duration::from_millis(500)).await;
    t.call("ListKeys", json!({})).await.ok();
    let stats = kms.stats();
    assert_eq!((stats.served, stats.throttled), (5, 4));
}

#[tokio::test]
async fn a_quota_can_be_replaced_and_each_kms_has_its_own() {
    let clock = TestClock::new();
    let kms = clock
        .builder()
        .quota(Quota::CRYPTOGRAPHIC, rate(1.0))
        .quota(Quota::CRYPTOGRAPHIC, rate(3.0))
        .build();
    assert_eq!(kms.quota(Quota::CRYPTOGRAPHIC), Some(rate(3.0)));
    let other = clock
        .builder()
        .quota(Quota::CRYPTOGRAPHIC, rate(3.0))
        .build();
    let (t, u) = (Transport::in_process(&kms), Transport::in_process(&other));
    assert_eq!(burst(&t, &clock, 4).await, 3);
    assert_eq!(burst(&u, &clock, 4).await, 3);
    // Clones share the buckets and the counts.
    assert_eq!(
        burst(&Transport::in_process(&kms.clone()), &clock, 1).await,
        0
    );
    assert_eq!(kms.stats().throttled, 2);
}
