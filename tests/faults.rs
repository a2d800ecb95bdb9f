//! Fault injection over real loopback sockets: for each scripted failure, the
//! final result kind and the exact number of attempts the server saw.

mod support;

use std::time::{Duration, Instant, SystemTime};

use support::scripted::{Action, serve};
use support::*;
use tower_kms::retry::RetryConfig;
use tower_kms::{KmsClient, KmsError, TimeoutKind, TransportKind};

fn client(url: &str) -> KmsClient {
    KmsClient::builder()
        .region("us-east-1")
        .endpoint_url(url)
        .credentials_provider(credentials())
        .retry_config(
            RetryConfig::standard()
                .with_base(Duration::from_millis(5))
                .with_throttling_base(Duration::from_millis(5)),
        )
        .attempt_timeout(Some(Duration::from_millis(300)))
        .operation_timeout(Some(Duration::from_secs(5)))
        .build()
        .unwrap()
}

async fn run(script: Vec<Action>) -> (Result<tower_kms::ReEncryptResponse, KmsError>, usize) {
    let server = serve(script).await;
    let res = client(&server.url).re_encrypt(minimal_request()).await;
    (res, server.requests())
}

#[tokio::test]
async fn transient_server_errors_are_retried_up_to_three_attempts() {
    let (res, n) = run(vec![Action::error(500, "KMSInternalException")]).await;
    assert!(matches!(res, Err(KmsError::KmsInternal(_))), "{res:?}");
    assert_eq!(n, 3);

    let (res, n) = run(vec![
        Action::error(503, "DependencyTimeoutException"),
        Action::ok(),
    ])
    .await;
    assert!(res.is_ok(), "{res:?}");
    assert_eq!(n, 2);

    let (res, n) = run(vec![
        Action::error(500, "KeyUnavailableException"),
        Action::error(502, "BadGateway"),
        Action::ok(),
    ])
    .await;
    assert!(res.is_ok(), "{res:?}");
    assert_eq!(n, 3);

    let html = Action::Respond {
        status: 504,
        headers: vec![],
        body: b"<html>Gateway Timeout</html>".to_vec(),
    };
    let (res, n) = run(vec![html]).await;
    assert!(
        matches!(&res, Err(KmsError::UnexpectedResponse(u)) if u.status == 504),
        "{res:?}"
    );
    assert_eq!(n, 3);
}

#[tokio::test]
async fn request_timeouts_are_retried_as_the_sdks_do() {
    // The codes botocore and smithy-rs retry whatever the status.
    for code in ["RequestTimeoutException", "RequestTimeout"] {
        let (res, n) = run(vec![Action::error(400, code), Action::ok()]).await;
        assert!(res.is_ok(), "{code}: {res:?}");
        assert_eq!(n, 2, "{code}");
    }
    // A bare 408 (a proxy's, without a KMS error body) too.
    let bare = Action::Respond {
        status: 408,
        headers: vec![],
        body: b"<html>Request Timeout</html>".to_vec(),
    };
    let (res, n) = run(vec![bare, Action::ok()]).await;
    assert!(res.is_ok(), "{res:?}");
    assert_eq!(n, 2);
}

#[tokio::test]
async fn throttling_is_retried() {
    let (res, n) = run(vec![
        Action::error(400, "ThrottlingException"),
        Action::error(400, "ThrottlingException"),
        Action::ok(),
    ])
    .await;
    assert!(res.is_ok(), "{res:?}");
    assert_eq!(n, 3);
    let (res, n) = run(vec![Action::json(429, "{}")]).await;
    assert!(res.as_ref().is_err_and(KmsError::is_throttling), "{res:?}");
    assert_eq!(n, 3);
}

#[tokio::test]
async fn non_retryable_exceptions_are_final_after_one_attempt() {
    type Check = fn(&KmsError) -> bool;
    let cases: [(u16, &str, Check); 11] = [
        (400, "IncorrectKeyException", |e| {
            matches!(e, KmsError::IncorrectKey(_))
        }),
        (400, "InvalidCiphertextException", |e| {
            matches!(e, KmsError::InvalidCiphertext(_))
        }),
        (404, "NotFoundException", |e| {
            matches!(e, KmsError::NotFound(_))
        }),
        (409, "DisabledException", |e| {
            matches!(e, KmsError::Disabled(_))
        }),
        (400, "InvalidKeyUsageException", |e| {
            matches!(e, KmsError::InvalidKeyUsage(_))
        }),
        (409, "KMSInvalidStateException", |e| {
            matches!(e, KmsError::KmsInvalidState(_))
        }),
        (400, "InvalidGrantTokenException", |e| {
            matches!(e, KmsError::InvalidGrantToken(_))
        }),
        (412, "DryRunOperationException", |e| {
            matches!(e, KmsError::DryRunOperation(_))
        }),
        (400, "AccessDeniedException", |e| {
            matches!(e, KmsError::AccessDenied(_))
        }),
        (400, "UnrecognizedClientException", |e| {
            matches!(e, KmsError::UnrecognizedClient(_))
        }),
        (400, "ValidationException", |e| {
            matches!(e, KmsError::Unknown(_))
        }),
    ];
    for (status, code, check) in cases {
        let (res, n) = run(vec![Action::error(status, code)]).await;
        let err = res.unwrap_err();
        assert!(check(&err), "{code}: {err:?}");
        assert_eq!(err.code(), Some(code));
        assert_eq!(n, 1, "{code} was retried");
    }
}

#[tokio::test]
async fn broken_connections_are_retried() {
    for broken in [
        Action::Reset,
        Action::Close,
        Action::ResetMidHead,
        Action::CloseMidBody,
    ] {
        let (res, n) = run(vec![broken.clone(), Action::ok()]).await;
        assert!(res.is_ok(), "{broken:?}: {res:?}");
        assert_eq!(n, 2, "{broken:?}");
    }
    // Always broken: the last error is a transport error, after three attempts.
    let (res, n) = run(vec![Action::Reset]).await;
    assert!(matches!(&res, Err(KmsError::Transport(_))), "{res:?}");
    assert_eq!(n, 3);
    let (res, n) = run(vec![Action::CloseMidBody]).await;
    assert!(
        matches!(&res, Err(KmsError::Transport(t)) if t.kind() == TransportKind::Body),
        "{res:?}"
    );
    assert_eq!(n, 3);
}

#[tokio::test]
async fn stalls_hit_the_attempt_timeout_then_the_retry_limit() {
    for stall in [Action::StallBeforeHeaders, Action::StallMidBody] {
        let start = Instant::now();
        let (res, n) = run(vec![stall.clone()]).await;
        let elapsed = start.elapsed();
        assert!(
            matches!(&res, Err(KmsError::Timeout(t)) if t.kind() == TimeoutKind::Attempt),
            "{stall:?}: {res:?}"
        );
        assert_eq!(n, 3, "{stall:?}");
        // Three attempts of 300 ms each: an attempt timeout never fires early, and
        // the call ends (the generous upper bound only catches a hang, never load).
        assert!(
            elapsed >= Duration::from_millis(900) && elapsed < Duration::from_secs(60),
            "{elapsed:?}"
        );
    }
}

#[tokio::test]
async fn the_operation_timeout_bounds_everything() {
    let server = serve(vec![Action::StallMidBody]).await;
    let kms = KmsClient::builder()
        .region("us-east-1")
        .endpoint_url(&server.url)
        .credentials_provider(credentials())
        .attempt_timeout(None)
        .operation_timeout(Some(Duration::from_millis(400)))
        .build()
        .unwrap();
    let start = Instant::now();
    let err = kms.re_encrypt(minimal_request()).await.unwrap_err();
    assert!(
        matches!(&err, KmsError::Timeout(t) if t.kind() == TimeoutKind::Operation),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("operation timeout (400 ms)"),
        "{err}"
    );
    // A stall that nothing bounded would hang; the generous bound only catches that.
    assert!(start.elapsed() < Duration::from_secs(60));
    assert_eq!(server.requests(), 1);
}

#[tokio::test]
async fn bad_success_bodies_are_not_retried() {
    for body in [
        "garbage",
        r#"{"CiphertextBlob":"AA"#,
        r#"{"CiphertextBlob":"%%%"}"#,
    ] {
        let (res, n) = run(vec![Action::json(200, body)]).await;
        assert!(
            matches!(&res, Err(KmsError::UnexpectedResponse(_))),
            "{body}: {res:?}"
        );
        assert_eq!(n, 1);
    }
}

#[tokio::test]
async fn oversized_bodies_are_an_error_not_an_allocation() {
    let big = Action::Respond {
        status: 200,
        headers: vec![],
        body: vec![b' '; 2 * 1024 * 1024],
    };
    let (res, n) = run(vec![big]).await;
    let err = res.unwrap_err();
    assert!(
        err.to_string()
            .contains("larger than the limit of 1048576 bytes"),
        "{err}"
    );
    assert_eq!(n, 1);
}

#[tokio::test]
async fn clock_skew_is_learnt_from_the_date_header_and_retried_once() {
    // The server's clock is 20 minutes ahead of ours.
    let server_time = SystemTime::now() + Duration::from_secs(20 * 60);
    let date = httpdate::fmt_http_date(server_time);
    let skewed = Action::json(
        400,
        r#"{"__type":"InvalidSignatureException","message":"Signature not yet current: 20261129T100000Z is still later than 20261129T102500Z (20261129T102000Z + 5 min.)"}"#,
    )
    .with_header("date", &date);
    let server = serve(vec![skewed.clone(), Action::ok()]).await;
    let kms = client(&server.url);
    kms.re_encrypt(minimal_request()).await.unwrap();
    assert_eq!(server.requests(), 2);
    let offset = kms.clock_skew().offset_millis();
    assert!(
        (offset - 20 * 60 * 1000).abs() < 5_000,
        "offset {offset} ms"
    );
    let heads = server.heads.lock().unwrap().clone();
    let date_of = |h: &str| {
        h.lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("x-amz-date:")
                    .map(|v| v.trim().to_owned())
            })
            .unwrap()
    };
    assert!(date_of(&heads[1]) > date_of(&heads[0]), "{heads:?}");

    // It retries once only: a server that keeps rejecting gets two requests.
    let server = serve(vec![skewed]).await;
    let err = client(&server.url)
        .re_encrypt(minimal_request())
        .await
        .unwrap_err();
    assert!(matches!(err, KmsError::InvalidSignature(_)), "{err:?}");
    assert_eq!(server.requests(), 2);
}

#[tokio::test]
async fn storm_against_an_always_failing_server_drains_the_quota_then_fails_fast() {
    let server = serve(vec![Action::error(503, "ServiceUnavailable")]).await;
    let kms = KmsClient::builder()
        .region("us-east-1")
        .endpoint_url(&server.url)
        .credentials_provider(credentials())
        .retry_config(RetryConfig::standard().with_base(Duration::from_millis(1)))
        .build()
        .unwrap();
    let wave = |kms: KmsClient| async move {
        let calls: Vec<_> = (0..100)
            .map(|_| {
                let kms = kms.clone();
                tokio::spawn(async move { kms.re_encrypt(minimal_request()).await })
            })
            .collect();
        for c in calls {
            assert!(c.await.unwrap().is_err());
        }
    };
    wave(kms.clone()).await;
    let first = server.requests();
    wave(kms.clone()).await;
    let second = server.requests() - first;
    println!(
        "storm: attempts per call while the quota lasts {:.2}, after it drained {:.2}; quota left {}",
        first as f64 / 100.0,
        second as f64 / 100.0,
        kms.retry_quota().available()
    );
    // 500 tokens at 10 per retry pay for exactly 50 retries.
    assert_eq!(first, 150);
    assert_eq!(second, 100);
    assert_eq!(kms.retry_quota().available(), 0);
}
