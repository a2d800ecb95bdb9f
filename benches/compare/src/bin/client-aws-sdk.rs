//! N ReEncrypt calls at concurrency C through aws-sdk-kms.

use aws_sdk_kms::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_kms::primitives::Blob;
use kms_compare::*;

fn main() {
    let args = Args::parse();
    let conf = aws_sdk_kms::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .credentials_provider(Credentials::new(
            ACCESS_KEY, SECRET_KEY, None, None, "static",
        ))
        .endpoint_url(args.url.clone())
        .build();
    let client = aws_sdk_kms::Client::from_conf(conf);
    let blob = Blob::new(ciphertext());
    run("aws-sdk-kms", &args, move || {
        let call = client
            .re_encrypt()
            .ciphertext_blob(blob.clone())
            .source_key_id(SOURCE_KEY_ID)
            .source_encryption_context(SOURCE_CONTEXT.0, SOURCE_CONTEXT.1)
            .destination_key_id(DESTINATION_KEY_ID)
            .destination_encryption_context(DESTINATION_CONTEXT.0, DESTINATION_CONTEXT.1);
        async move {
            let out = call.send().await.map_err(|e| format!("{e:?}"))?;
            if out.ciphertext_blob().is_none_or(|b| b.as_ref().is_empty()) {
                return Err("no CiphertextBlob".into());
            }
            Ok(())
        }
    });
}
