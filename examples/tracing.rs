//! The client's `tracing` spans, printed by `tracing-subscriber`, against an
//! in-process local KMS whose first answer is a transient failure (so a retry
//! shows up as a second attempt span).
//!
//! ```text
//! cargo run --example tracing
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use http_body_util::Full;
use tower::ServiceExt;
use tower_kms::local::LocalKms;
use tower_kms::{EncryptRequest, KmsClient, ReEncryptRequest};
use tower_kms::{KeySpec, KeyUsageType};
use tracing_subscriber::fmt::format::FmtSpan;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "tower_kms=debug".into()),
        )
        .with_span_events(FmtSpan::CLOSE)
        .init();

    let local = LocalKms::new();
    let key = local.create_key(KeySpec::SymmetricDefault, KeyUsageType::EncryptDecrypt)?;
    // The connector fails the first ReEncrypt with a 500, then forwards to the local KMS.
    let failed_once = Arc::new(AtomicBool::new(false));
    let connector = tower::service_fn(move |req: http::Request<Full<Bytes>>| {
        let local = local.clone();
        let failed_once = failed_once.clone();
        async move {
            let reencrypt = req.headers()["x-amz-target"] == "TrentService.ReEncrypt";
            if reencrypt && !failed_once.swap(true, Ordering::SeqCst) {
                let body = r#"{"__type":"KMSInternalException","message":"injected"}"#;
                return Ok(http::Response::builder()
                    .status(500)
                    .header("x-amzn-requestid", "injected-failure")
                    .body(Full::new(Bytes::from(body)))
                    .expect("valid response"));
            }
            local.oneshot(req).await
        }
    });
    let kms = KmsClient::builder()
        .region("us-east-1")
        .credentials_provider(aws_credential_types::Credentials::new(
            "test", "test", None, None, "local",
        ))
        .connector(connector)
        .build()?;
    let blob = kms
        .send(
            EncryptRequest::builder()
                .key_id(key.clone())
                .plaintext(b"traced")
                .build()?,
        )
        .await?;
    let req = ReEncryptRequest::builder()
        .ciphertext_blob(blob.ciphertext_blob.ok_or("no blob")?)
        .destination_key_id(key)
        .build()?;
    kms.re_encrypt(req).await?;
    Ok(())
}
