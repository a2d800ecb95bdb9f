//! 200 parallel ReEncrypts with distinct plaintexts: none lost or crossed.

use crate::common;

use std::sync::Arc;

use common::{Transport, b64, unb64};
use serde_json::json;
use tower_kms::local::LocalKms;
use tower_kms::{KeySpec, KeyUsageType};

const N: usize = 200;

fn plaintext(i: usize) -> Vec<u8> {
    format!("plaintext number {i:03} / {}", "x".repeat(i % 37)).into_bytes()
}

async fn run(t: Arc<Transport>, kms: &LocalKms) {
    let src = kms
        .create_key(KeySpec::SymmetricDefault, KeyUsageType::EncryptDecrypt)
        .unwrap();
    let dst = kms
        .create_key(KeySpec::SymmetricDefault, KeyUsageType::EncryptDecrypt)
        .unwrap();
    let blobs: Vec<String> = (0..N)
        .map(|i| {
            kms.invoke(
                "Encrypt",
                json!({
                    "KeyId": src,
                    "Plaintext": b64(&plaintext(i)),
                    "EncryptionContext": { "i": i.to_string() },
                }),
            )
            .unwrap()["CiphertextBlob"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();

    let mut tasks = Vec::with_capacity(N);
    for (i, blob) in blobs.into_iter().enumerate() {
        let t = t.clone();
        let dst = dst.clone();
        tasks.push(tokio::spawn(async move {
            let out = t
                .call(
                    "ReEncrypt",
                    json!({
                        "CiphertextBlob": blob,
                        "SourceEncryptionContext": { "i": i.to_string() },
                        "DestinationKeyId": dst,
                        "DestinationEncryptionContext": { "j": i.to_string() },
                    }),
                )
                .await
                .ok();
            (i, out)
        }));
    }
    let mut seen = [false; N];
    for task in tasks {
        let (i, out) = task.await.unwrap();
        assert_eq!(out["KeyId"], dst.as_str());
        assert_eq!(out["SourceKeyId"], src.as_str());
        let d = kms
            .invoke(
                "Decrypt",
                json!({
                    "CiphertextBlob": out["CiphertextBlob"],
                    "EncryptionContext": { "j": i.to_string() },
                }),
            )
            .unwrap();
        assert_eq!(unb64(&d["Plaintext"]), plaintext(i), "task {i}");
        assert!(!seen[i]);
        seen[i] = true;
    }
    assert!(seen.iter().all(|s| *s));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_reencrypt_in_process() {
    let kms = LocalKms::new();
    run(Arc::new(Transport::in_process(&kms)), &kms).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_reencrypt_over_socket() {
    let kms = LocalKms::new();
    let t = Arc::new(Transport::socket(&kms).await);
    run(t.clone(), &kms).await;
    if let Ok(t) = Arc::try_unwrap(t) {
        t.shutdown().await;
    }
}
