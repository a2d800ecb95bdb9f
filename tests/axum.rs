//! The axum example over real HTTP on 127.0.0.1, with the local KMS behind it.

#[allow(dead_code)]
#[path = "../examples/axum.rs"]
mod example;

use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use tower_kms::KmsClient;
use tower_kms::local::{LocalKms, LocalKmsServer};
use tower_kms::{KeySpec, KeyUsageType};

async fn post(url: &str, body: Value) -> (u16, Value) {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<bytes::Bytes>>();
    let req = http::Request::post(url)
        .header("content-type", "application/json")
        .body(Full::new(bytes::Bytes::from(body.to_string())))
        .unwrap();
    let resp = client.request(req).await.unwrap();
    let status = resp.status().as_u16();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn reencrypt_endpoint_over_http() {
    let local = LocalKms::new();
    let kms_server: LocalKmsServer = local
        .clone()
        .serve(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap());
    let kms = KmsClient::builder()
        .region("us-east-1")
        .endpoint_url(kms_server.endpoint_url())
        .credentials_provider(aws_credential_types::Credentials::new(
            "test", "test", None, None, "t",
        ))
        .build()
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/reencrypt", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, example::app(kms)).await.unwrap() });

    let a = local
        .create_key(KeySpec::SymmetricDefault, KeyUsageType::EncryptDecrypt)
        .unwrap();
    let b = local
        .create_key(KeySpec::SymmetricDefault, KeyUsageType::EncryptDecrypt)
        .unwrap();
    let enc = local
        .invoke(
            "Encrypt",
            json!({"KeyId": a, "Plaintext": "aGVsbG8=", "EncryptionContext": {"t": "1"}}),
        )
        .unwrap();
    let blob = enc["CiphertextBlob"].as_str().unwrap();

    let (status, body) = post(
        &url,
        json!({"ciphertext": blob, "destinationKeyId": b, "sourceContext": {"t": "1"}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["keyId"], b.as_str());
    assert_eq!(body["sourceKeyId"], a.as_str());
    let back = local
        .invoke("Decrypt", json!({"CiphertextBlob": body["ciphertext"]}))
        .unwrap();
    assert_eq!(back["Plaintext"], "aGVsbG8=");

    let cases = [
        (
            json!({"ciphertext": blob, "destinationKeyId": "alias/nope", "sourceContext": {"t": "1"}}),
            404,
            "NotFoundException",
        ),
        (
            json!({"ciphertext": blob, "destinationKeyId": b}),
            422,
            "InvalidCiphertextException",
        ),
        (
            json!({"ciphertext": blob, "destinationKeyId": b, "sourceKeyId": b, "sourceContext": {"t": "1"}}),
            422,
            "IncorrectKeyException",
        ),
        (
            json!({"ciphertext": "%%%", "destinationKeyId": b}),
            400,
            "InvalidInput",
        ),
        (
            json!({"ciphertext": "", "destinationKeyId": b}),
            400,
            "ValidationError",
        ),
    ];
    for (req, want_status, want_code) in cases {
        let (status, body) = post(&url, req.clone()).await;
        assert_eq!(status, want_status, "{req} -> {body}");
        assert_eq!(body["error"], want_code, "{req} -> {body}");
    }
    local.disable_key(&b).unwrap();
    let (status, body) = post(
        &url,
        json!({"ciphertext": blob, "destinationKeyId": b, "sourceContext": {"t": "1"}}),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (409, Some("DisabledException")),
        "{body}"
    );
    assert!(body["requestId"].is_string());
    // The application's own audit layer saw every call that reached the client
    // (the two bad inputs were refused before it).
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<bytes::Bytes>>();
    let stats_url = url.replace("/reencrypt", "/stats");
    let resp = client.get(stats_url.parse().unwrap()).await.unwrap();
    let stats: Value =
        serde_json::from_slice(&resp.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(stats, json!({"calls": 5, "failures": 4}), "{stats}");
    kms_server.shutdown().await;
}

#[tokio::test]
async fn the_concurrency_limit_is_shared_by_all_handlers() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tower::ServiceExt;

    // A connector that records how many calls are in flight at once.
    let local = LocalKms::new();
    let key = local
        .create_key(
            tower_kms::KeySpec::SymmetricDefault,
            tower_kms::KeyUsageType::EncryptDecrypt,
        )
        .unwrap();
    let blob = local
        .invoke("Encrypt", json!({"KeyId": key, "Plaintext": "aGVsbG8="}))
        .unwrap()["CiphertextBlob"]
        .as_str()
        .unwrap()
        .to_owned();
    let (now, peak) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (n, p) = (now.clone(), peak.clone());
    let connector = tower::service_fn(move |req: http::Request<Full<bytes::Bytes>>| {
        let (local, n, p) = (local.clone(), n.clone(), p.clone());
        async move {
            let in_flight = n.fetch_add(1, Ordering::SeqCst) + 1;
            p.fetch_max(in_flight, Ordering::SeqCst);
            tokio::task::yield_now().await;
            let out = local.oneshot(req).await;
            n.fetch_sub(1, Ordering::SeqCst);
            out
        }
    });
    let kms = KmsClient::builder()
        .region("us-east-1")
        .credentials_provider(tower_kms::Credentials::new("test", "test", None, None, "t"))
        .connector(connector)
        .build()
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/reencrypt", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, example::app(kms)).await.unwrap() });
    let calls = (0..100).map(|_| {
        let url = url.clone();
        let body = json!({"ciphertext": blob, "destinationKeyId": key});
        tokio::spawn(async move { post(&url, body).await })
    });
    for call in calls.collect::<Vec<_>>() {
        let (status, body) = call.await.unwrap();
        assert_eq!(status, 200, "{body}");
    }
    let peak = peak.load(Ordering::SeqCst);
    assert!(
        (1..=example::MAX_CONCURRENT_KMS_CALLS).contains(&peak),
        "{peak} calls in flight at once"
    );
}
