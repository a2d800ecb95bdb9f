//! Helpers shared by the integration tests.
#![allow(dead_code, unreachable_pub)]

pub mod scripted;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use tower_kms::ReEncryptRequest;

pub const AKID: &str = "AKIDEXAMPLE";
pub const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
pub const TOKEN: &str = "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI";

/// 2015-08-30T12:36:00Z, the time of AWS's SigV4 test suite.
pub fn fixed_time() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_440_938_160)
}

pub fn credentials() -> Credentials {
    Credentials::new(AKID, SECRET, None, None, "static")
}

pub fn session_credentials() -> Credentials {
    Credentials::new(AKID, SECRET, Some(TOKEN.to_owned()), None, "static")
}

pub const DEST_ARN: &str =
    "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

/// A request with every member set.
pub fn full_request() -> ReEncryptRequest {
    ReEncryptRequest::builder()
        .ciphertext_blob(Bytes::from_static(b"\x01\x02\x03 ciphertext"))
        .source_encryption_context("purpose", "backup")
        .source_key_id("alias/ExampleAlias")
        .destination_key_id(DEST_ARN)
        .destination_encryption_context("tenant", "acme")
        .destination_encryption_context("purpose", "rotation")
        .source_encryption_algorithm(tower_kms::EncryptionAlgorithmSpec::SymmetricDefault)
        .destination_encryption_algorithm(tower_kms::EncryptionAlgorithmSpec::SymmetricDefault)
        .grant_token("GrantToken1")
        .grant_token("GrantToken2")
        .dry_run(true)
        .dry_run_modifier(tower_kms::DryRunModifierType::IgnoreCiphertext)
        .build()
        .expect("valid request")
}

/// A request with only the required members.
pub fn minimal_request() -> ReEncryptRequest {
    ReEncryptRequest::builder()
        .ciphertext_blob(Bytes::from_static(b"\x01\x02\x03 ciphertext"))
        .destination_key_id("alias/new")
        .build()
        .expect("valid request")
}

pub const FULL_BODY: &str = concat!(
    r#"{"CiphertextBlob":"AQIDIGNpcGhlcnRleHQ=","#,
    r#""DestinationEncryptionAlgorithm":"SYMMETRIC_DEFAULT","#,
    r#""DestinationEncryptionContext":{"purpose":"rotation","tenant":"acme"},"#,
    r#""DestinationKeyId":"arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab","#,
    r#""DryRun":true,"DryRunModifiers":["IGNORE_CIPHERTEXT"],"#,
    r#""GrantTokens":["GrantToken1","GrantToken2"],"#,
    r#""SourceEncryptionAlgorithm":"SYMMETRIC_DEFAULT","#,
    r#""SourceEncryptionContext":{"purpose":"backup"},"#,
    r#""SourceKeyId":"alias/ExampleAlias"}"#
);

pub const MINIMAL_BODY: &str =
    r#"{"CiphertextBlob":"AQIDIGNpcGhlcnRleHQ=","DestinationKeyId":"alias/new"}"#;

pub async fn body_bytes(body: Full<Bytes>) -> Bytes {
    body.collect().await.expect("infallible").to_bytes()
}

/// A KMS-shaped JSON response.
pub fn json_response(status: u16, body: &str) -> http::Response<Full<Bytes>> {
    http::Response::builder()
        .status(status)
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amzn-RequestId", "11111111-2222-3333-4444-555555555555")
        .body(Full::new(Bytes::copy_from_slice(body.as_bytes())))
        .unwrap()
}

/// A stand-in for the environment: `get(name)` over fixed pairs.
pub fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
    move |k: &str| {
        pairs
            .iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| (*v).to_owned())
    }
}
