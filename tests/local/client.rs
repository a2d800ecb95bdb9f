//! The crate's own client against a local KMS that authorizes: a denied
//! ReEncrypt is `KmsError::AccessDenied` with KMS's message, and grant tokens
//! (per request or for every request of a client) make a new grant usable
//! before it propagates.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;
use tower_kms::retry::RetryConfig;
use tower_kms::{KmsClient, KmsError, ReEncryptRequest};

use crate::world::{NOTHING, Setup, World, denied};

const SESSION: &str = "arn:aws:sts::111122223333:assumed-role/app/worker-1";
const ROLE: &str = "arn:aws:iam::111122223333:role/app";

fn client(w: &World, grant_tokens: Vec<String>) -> KmsClient {
    KmsClient::builder()
        .region("us-east-1")
        .endpoint_url(w.endpoint())
        .credentials_provider(w.credentials("app"))
        .retry_config(RetryConfig::standard().with_base(Duration::from_millis(5)))
        .grant_tokens(grant_tokens)
        .build()
        .unwrap()
}

#[tokio::test]
async fn reencrypt_with_grant_tokens_through_the_client() {
    // The role's identity policy (shared by its sessions) allows nothing.
    let w = Setup::new()
        .principal("app", SESSION)
        .identity(ROLE, NOTHING)
        .build()
        .await;
    let (src, dst) = (w.key(), w.key());
    let blob = STANDARD
        .decode(w.blob(&src, json!({ "app": "x" })))
        .unwrap();
    let kms = client(&w, Vec::new());
    let request = |tokens: &[&str]| {
        let mut b = ReEncryptRequest::builder()
            .ciphertext_blob(blob.clone())
            .source_key_id(&src)
            .source_encryption_context("app", "x")
            .destination_key_id(&dst);
        for t in tokens {
            b = b.grant_token(*t);
        }
        b.build().unwrap()
    };

    // Denied: KMS's message, through the client's error.
    let err = kms.re_encrypt(request(&[])).await.unwrap_err();
    let KmsError::AccessDenied(e) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(
        e.message.as_deref(),
        Some(denied(SESSION, "kms:ReEncryptFrom", &src, "identity").as_str())
    );
    assert_eq!(e.status, 400);

    // Grants to the role cover its sessions.
    let (_, from) = w
        .grant(json!({ "KeyId": src, "GranteePrincipal": ROLE, "Operations": ["ReEncryptFrom"] }))
        .await;
    let (_, to) = w
        .grant(json!({ "KeyId": dst, "GranteePrincipal": ROLE, "Operations": ["ReEncryptTo"] }))
        .await;
    // Only the source grant's token: ReEncryptTo is denied.
    let err = kms.re_encrypt(request(&[&from])).await.unwrap_err();
    assert_eq!(
        err.message(),
        Some(denied(SESSION, "kms:ReEncryptTo", &dst, "identity").as_str())
    );
    // Both tokens, per request.
    let out = kms.re_encrypt(request(&[&from, &to])).await.unwrap();
    assert_eq!(out.key_id.as_deref(), Some(dst.as_str()));
    assert_eq!(out.source_key_id.as_deref(), Some(src.as_str()));
    // Both tokens on every request of a client (the grant-token layer).
    let with_tokens = client(&w, vec![from.clone(), to.clone()]);
    with_tokens.re_encrypt(request(&[])).await.unwrap();
    // DryRun is authorized first.
    let mut dry = request(&[]).into_builder().dry_run(true).build().unwrap();
    assert!(matches!(
        kms.re_encrypt(dry.clone()).await,
        Err(KmsError::AccessDenied(_))
    ));
    dry.grant_tokens_mut().extend([from.clone(), to.clone()]);
    assert!(matches!(
        kms.re_encrypt(dry).await,
        Err(KmsError::DryRunOperation(_))
    ));
    // Once the grants have propagated, no token is needed.
    w.clock.advance(Duration::from_secs(5));
    kms.re_encrypt(request(&[])).await.unwrap();
}
