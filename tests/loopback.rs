//! End to end over a real 127.0.0.1 socket: the default client (hyper-util
//! connector) against a small hyper server that checks the request.

mod support;

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use support::*;
use tokio::net::TcpListener;
use tower_kms::sign::FixedClock;
use tower_kms::{KmsClient, KmsError, TransportKind};

#[derive(Debug, Clone)]
struct Seen {
    method: String,
    uri: String,
    host: String,
    target: String,
    content_type: String,
    authorization: String,
    body: Bytes,
}

/// Serves `respond` on 127.0.0.1:0; returns the endpoint URL and what it saw.
async fn server(
    respond: fn(&Seen) -> http::Response<Full<Bytes>>,
) -> (String, Arc<Mutex<Vec<Seen>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let log = log.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req: http::Request<Incoming>| {
                    let log = log.clone();
                    async move {
                        let h = |n: &str| {
                            req.headers()
                                .get(n)
                                .map(|v| v.to_str().unwrap().to_owned())
                                .unwrap_or_default()
                        };
                        let mut s = Seen {
                            method: req.method().to_string(),
                            uri: req.uri().to_string(),
                            host: h("host"),
                            target: h("x-amz-target"),
                            content_type: h("content-type"),
                            authorization: h("authorization"),
                            body: Bytes::new(),
                        };
                        s.body = req.into_body().collect().await.unwrap().to_bytes();
                        let resp = respond(&s);
                        log.lock().unwrap().push(s);
                        Ok::<_, Infallible>(resp)
                    }
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    (format!("http://{addr}"), seen)
}

fn client(url: &str) -> KmsClient {
    KmsClient::builder()
        .region("us-east-1")
        .endpoint_url(url)
        .credentials_provider(credentials())
        .clock(FixedClock(fixed_time()))
        .retry_config(
            tower_kms::retry::RetryConfig::standard()
                .with_base(std::time::Duration::from_millis(5)),
        )
        .build()
        .unwrap()
}

#[tokio::test]
async fn reencrypt_round_trip_over_loopback() {
    let (url, seen) = server(|s| {
        if s.target == "TrentService.ReEncrypt" && s.content_type == "application/x-amz-json-1.1" {
            json_response(
                200,
                r#"{"CiphertextBlob":"c2VjcmV0","KeyId":"arn:aws:kms:us-east-1:111122223333:key/new","SourceKeyId":"arn:aws:kms:us-east-1:111122223333:key/old","SourceEncryptionAlgorithm":"SYMMETRIC_DEFAULT","DestinationEncryptionAlgorithm":"SYMMETRIC_DEFAULT"}"#,
            )
        } else {
            json_response(400, r#"{"__type":"UnknownOperationException"}"#)
        }
    })
    .await;
    let kms = client(&url);
    for _ in 0..3 {
        let out = kms.re_encrypt(full_request()).await.unwrap();
        assert_eq!(out.ciphertext_blob.as_deref(), Some(&b"secret"[..]));
        assert_eq!(
            out.key_id.as_deref(),
            Some("arn:aws:kms:us-east-1:111122223333:key/new")
        );
        assert_eq!(
            out.metadata.request_id.as_deref(),
            Some("11111111-2222-3333-4444-555555555555")
        );
    }
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3);
    let port = url.rsplit(':').next().unwrap();
    for s in &seen {
        assert_eq!(s.method, "POST");
        assert_eq!(s.uri, "/");
        assert_eq!(s.host, format!("127.0.0.1:{port}"));
        assert_eq!(s.body, FULL_BODY.as_bytes());
        assert!(s.authorization.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/kms/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target;x-amz-user-agent, Signature="));
    }
}

#[tokio::test]
async fn kms_errors_over_loopback_are_typed() {
    let (url, _) = server(|_| {
        json_response(404, r#"{"__type":"com.amazonaws.kms#NotFoundException","message":"Alias arn:aws:kms:us-east-1:111122223333:alias/new is not found."}"#)
    })
    .await;
    let err = client(&url)
        .re_encrypt(minimal_request())
        .await
        .unwrap_err();
    assert!(matches!(err, KmsError::NotFound(_)), "{err:?}");
    assert_eq!(
        err.request_id(),
        Some("11111111-2222-3333-4444-555555555555")
    );
    assert_eq!(
        err.to_string(),
        "KMS returned NotFoundException: Alias arn:aws:kms:us-east-1:111122223333:alias/new is not found. (HTTP 404, request id 11111111-2222-3333-4444-555555555555)"
    );
}

#[tokio::test]
async fn connection_refused_is_a_connect_error() {
    // Bind then drop: nothing listens on that port any more.
    let port = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = client(&format!("http://127.0.0.1:{port}"))
        .re_encrypt(minimal_request())
        .await
        .unwrap_err();
    match &err {
        KmsError::Transport(t) => assert_eq!(t.kind(), TransportKind::Connect, "{err}"),
        other => panic!("{other:?}"),
    }
    assert!(err.is_retryable());
    assert!(
        err.to_string().starts_with("could not connect to KMS"),
        "{err}"
    );
}

#[tokio::test]
async fn a_connect_timeout_is_a_timeout_kind() {
    // hyper-util reports its connect timeout as a connect error caused by an
    // io::Error of kind TimedOut; a connector that fails that way stands in for it
    // (on loopback a real connect completes before any timeout can fire).
    let timed_out = tower::service_fn(|_uri: http::Uri| {
        std::future::ready(Err::<TokioIo<tokio::net::TcpStream>, _>(
            std::io::Error::new(std::io::ErrorKind::TimedOut, "HTTP connect timeout"),
        ))
    });
    let client = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
        .build::<_, Full<Bytes>>(timed_out);
    let kms = KmsClient::builder()
        .region("us-east-1")
        .endpoint_url("http://127.0.0.1:9")
        .credentials_provider(credentials())
        .connector(client)
        .max_attempts(1)
        .build()
        .unwrap();
    let err = kms.re_encrypt(minimal_request()).await.unwrap_err();
    assert!(
        matches!(&err, KmsError::Timeout(t) if t.kind() == tower_kms::TimeoutKind::Connect),
        "{err:?}"
    );
    assert!(err.to_string().contains("the connect timeout"), "{err}");
    assert!(err.is_retryable());
}
