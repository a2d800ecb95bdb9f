//! Errors print their cause once: each layer's `Display` is one phrase and the
//! cause comes from `source()`, so chain printers (anyhow's `{:#}`, tracing's
//! error fields, `DisplayChain`) never repeat a message.

mod support;

use std::time::{Duration, UNIX_EPOCH};

use support::*;
use tokio::net::TcpListener;
use tower_kms::error::DisplayChain;
use tower_kms::sign::FixedClock;
use tower_kms::{KmsClient, KmsError, TimeoutKind, TransportKind};

/// The messages of `err` and its causes, as anyhow prints them with `{:#}`.
fn anyhow_chain(err: KmsError) -> (String, Vec<String>) {
    let any = anyhow::Error::from(err);
    let mut parts = Vec::new();
    for cause in any.chain() {
        parts.push(cause.to_string());
    }
    (format!("{any:#}"), parts)
}

/// No message of the chain repeats (or contains) the message of a cause below it.
fn assert_each_cause_once(parts: &[String]) {
    for (i, upper) in parts.iter().enumerate() {
        for lower in &parts[i + 1..] {
            assert!(
                !upper.contains(lower.as_str()),
                "{upper:?} repeats its cause {lower:?} (chain {parts:?})"
            );
        }
    }
}

#[tokio::test]
async fn connect_error_prints_each_cause_once() {
    let port = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let kms = KmsClient::builder()
        .region("us-east-1")
        .endpoint_url(format!("http://127.0.0.1:{port}"))
        .credentials_provider(credentials())
        .max_attempts(1)
        .build()
        .unwrap();
    let err = kms.re_encrypt(minimal_request()).await.unwrap_err();
    assert!(
        matches!(&err, KmsError::Transport(t) if t.kind() == TransportKind::Connect),
        "{err:?}"
    );
    assert_eq!(err.to_string(), "could not connect to KMS");
    let ours = DisplayChain(&err).to_string();
    let (text, parts) = anyhow_chain(err);
    assert_eq!(text, ours);
    assert!(parts.len() >= 3, "{parts:?}");
    assert!(text.starts_with("could not connect to KMS: "), "{text}");
    assert!(text.contains("Connection refused"), "{text}");
    assert_eq!(text.matches("Connection refused").count(), 1, "{text}");
    assert_each_cause_once(&parts);
}

#[tokio::test]
async fn credentials_error_prints_each_cause_once() {
    let kms = KmsClient::builder()
        .region("us-east-1")
        .credentials_provider(tower_kms::sign::EnvironmentCredentials::new())
        .connector(tower::service_fn(|_req: http::Request<_>| async {
            Err::<http::Response<http_body_util::Full<bytes::Bytes>>, _>(std::io::Error::other(
                "the connector must not be called",
            ))
        }))
        .build()
        .unwrap();
    if std::env::var_os("AWS_ACCESS_KEY_ID").is_some() {
        return; // only meaningful when the test environment has no AWS keys
    }
    let err = kms.re_encrypt(minimal_request()).await.unwrap_err();
    assert!(matches!(err, KmsError::Credentials(_)), "{err:?}");
    assert_eq!(err.to_string(), "could not load AWS credentials");
    let (text, parts) = anyhow_chain(err);
    assert_eq!(text.matches("AWS_ACCESS_KEY_ID").count(), 1, "{text}");
    assert_each_cause_once(&parts);
}

#[tokio::test]
async fn signing_error_prints_each_cause_once() {
    // A clock past the year 9999 cannot be signed for.
    let far = UNIX_EPOCH + Duration::from_secs(253_402_300_800 + 86_400);
    let kms = KmsClient::builder()
        .region("us-east-1")
        .credentials_provider(credentials())
        .clock(FixedClock(far))
        .connector(tower::service_fn(|_req: http::Request<_>| async {
            Err::<http::Response<http_body_util::Full<bytes::Bytes>>, _>(std::io::Error::other(
                "the connector must not be called",
            ))
        }))
        .build()
        .unwrap();
    let err = kms.re_encrypt(minimal_request()).await.unwrap_err();
    assert!(matches!(err, KmsError::Signing(_)), "{err:?}");
    assert_eq!(err.to_string(), "could not sign the request");
    let (text, parts) = anyhow_chain(err);
    assert_eq!(text.matches("9999").count(), 1, "{text}");
    assert_each_cause_once(&parts);
}

#[test]
fn service_and_timeout_errors_have_no_hidden_cause() {
    let e = KmsError::from_service_error(
        tower_kms::ServiceError::new("NotFoundException", http::StatusCode::BAD_REQUEST)
            .with_message("Key 'x' does not exist"),
    );
    let (text, parts) = anyhow_chain(e);
    assert_eq!(parts.len(), 1, "{parts:?}");
    assert_eq!(text.matches("does not exist").count(), 1);

    let t = KmsError::Timeout(tower_kms::TimeoutError::new(
        TimeoutKind::Attempt,
        Some(Duration::from_millis(250)),
    ));
    let (text, parts) = anyhow_chain(t);
    assert_eq!(parts.len(), 1);
    assert_eq!(
        text,
        "KMS did not answer before the attempt timeout (250 ms)"
    );
}

#[test]
fn towers_own_elapsed_is_an_unclassified_timeout() {
    let err = KmsError::from_box(Box::new(tower::timeout::error::Elapsed::new()));
    match &err {
        KmsError::Timeout(t) => {
            assert_eq!(t.kind(), TimeoutKind::Unclassified);
            assert_eq!(t.after(), None);
        }
        other => panic!("{other:?}"),
    }
    assert!(err.is_retryable());
    assert_eq!(
        err.to_string(),
        "KMS did not answer before a timeout set outside this crate"
    );
}
