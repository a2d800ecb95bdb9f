//! N ReEncrypt calls at concurrency C through tower-kms's default client.
//!
//! `TOWER_KMS_LEAN=1` turns off retries and both timeouts, to measure what those
//! layers cost (not used by `compare.sh`).

use aws_credential_types::Credentials;
use kms_compare::*;
use tower_kms::{KmsClient, ReEncryptRequest};

fn main() {
    let args = Args::parse();
    let mut builder = KmsClient::builder();
    if std::env::var_os("TOWER_KMS_LEAN").is_some_and(|v| v == "1") {
        builder = builder
            .max_attempts(1)
            .attempt_timeout(None)
            .operation_timeout(None);
    }
    let client = builder
        .region(REGION)
        .endpoint_url(args.url.clone())
        .credentials_provider(Credentials::new(
            ACCESS_KEY, SECRET_KEY, None, None, "static",
        ))
        .build()
        .expect("client");
    let req = ReEncryptRequest::builder()
        .ciphertext_blob(ciphertext())
        .source_key_id(SOURCE_KEY_ID)
        .source_encryption_context(SOURCE_CONTEXT.0, SOURCE_CONTEXT.1)
        .destination_key_id(DESTINATION_KEY_ID)
        .destination_encryption_context(DESTINATION_CONTEXT.0, DESTINATION_CONTEXT.1)
        .build()
        .expect("request");
    run("tower-kms", &args, move || {
        let client = client.clone();
        let req = req.clone();
        async move {
            let out = client.re_encrypt(req).await.map_err(|e| e.to_string())?;
            if out.ciphertext_blob.is_none_or(|b| b.is_empty()) {
                return Err("no CiphertextBlob".into());
            }
            Ok(())
        }
    });
}
