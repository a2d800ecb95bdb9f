//! Spans per operation and per attempt carry the documented fields and no secrets.
#![cfg(feature = "tracing")]

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::Full;
use support::*;
use tower_kms::KmsClient;
use tower_kms::retry::RetryConfig;
use tower_test::mock;
use tracing_subscriber::fmt::format::FmtSpan;

#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn operation_and_attempt_spans() {
    let buf = Buf::default();
    let writer = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_span_events(FmtSpan::CLOSE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let (svc, mut handle) = mock::pair::<http::Request<Full<Bytes>>, http::Response<Full<Bytes>>>();
    let kms = KmsClient::builder()
        .region("us-east-1")
        .credentials_provider(session_credentials())
        .retry_config(RetryConfig::standard())
        .connector(svc)
        .build()
        .unwrap();
    let server = tokio::spawn(async move {
        let (_r, send) = handle.next_request().await.unwrap();
        send.send_response(json_response(
            500,
            r#"{"__type":"KMSInternalException","message":"boom"}"#,
        ));
        let (_r, send) = handle.next_request().await.unwrap();
        send.send_response(json_response(
            200,
            r#"{"CiphertextBlob":"c2VjcmV0YmxvYg==","KeyId":"k"}"#,
        ));
    });
    kms.re_encrypt(full_request()).await.unwrap();
    server.await.unwrap();

    let out = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    println!("{out}");
    let lines: Vec<&str> = out.lines().collect();
    let attempt1 = lines
        .iter()
        .find(|l| l.contains("kms.attempt") && l.contains("attempt=1"))
        .expect("attempt 1 span");
    assert!(attempt1.contains("status=500"), "{attempt1}");
    assert!(
        attempt1.contains(r#"error_code="KMSInternalException""#),
        "{attempt1}"
    );
    assert!(
        attempt1.contains(r#"request_id="11111111-2222-3333-4444-555555555555""#),
        "{attempt1}"
    );
    let attempt2 = lines
        .iter()
        .find(|l| l.contains("kms.attempt") && l.contains("attempt=2"))
        .expect("attempt 2 span");
    assert!(attempt2.contains("status=200"), "{attempt2}");
    let op = lines
        .iter()
        .find(|l| l.contains(" INFO kms.operation") && l.contains("close"))
        .expect("operation span");
    assert!(op.contains(r#"operation="ReEncrypt""#), "{op}");
    assert!(
        op.contains("status=200") && op.contains("latency_ms="),
        "{op}"
    );
    // Nothing secret: credentials, token, signature, ciphertext bytes.
    for secret in [
        SECRET,
        TOKEN,
        "Signature=",
        "c2VjcmV0YmxvYg",
        "AQIDIGNpcGhlcnRleHQ",
    ] {
        assert!(!out.contains(secret), "{secret} leaked into traces");
    }
}
