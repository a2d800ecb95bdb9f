//! The README's worked example of testing grant tokens, run as written. The
//! test also checks that the README still shows exactly this code, so the two
//! cannot drift apart.
#![cfg(feature = "local")]

// README: begin
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use serde_json::json;
use tower_kms::local::{IdentityPolicy, LocalKms, Principal};
use tower_kms::{Credentials, KeySpec, KeyUsageType, KmsClient, KmsError, ReEncryptRequest};
// README: end

#[rustfmt::skip]
#[tokio::test]
async fn the_readme_grant_token_example_runs() -> Result<(), Box<dyn std::error::Error>> {
    // README: begin
    // The code under test runs as a session of role `app`, whose identity policy
    // allows nothing useful here: only grants let it use the keys.
    let session = Principal::from_arn("arn:aws:sts::111122223333:assumed-role/app/test")?;
    let role = Principal::from_arn("arn:aws:iam::111122223333:role/app")?;
    let now = Arc::new(Mutex::new(SystemTime::now()));
    let clock = now.clone();
    let local = LocalKms::builder()
        .clock(Arc::new(move || *clock.lock().unwrap())) // tests move this clock, not the wall's
        .credentials_for("AKIDAPP", "app-secret", session)
        .identity_policy(&role, IdentityPolicy::from_json(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"kms:DescribeKey","Resource":"*"}}"#,
        )?)
        .build();

    // Set-up, without HTTP or authorization: two keys, a ciphertext, two grants to the role.
    let old = local.create_key(KeySpec::SymmetricDefault, KeyUsageType::EncryptDecrypt)?;
    let new = local.create_key(KeySpec::SymmetricDefault, KeyUsageType::EncryptDecrypt)?;
    let out = local.invoke("Encrypt", json!({ "KeyId": old, "Plaintext": "aGVsbG8=" }))?;
    let blob = base64::engine::general_purpose::STANDARD.decode(out["CiphertextBlob"].as_str().unwrap())?;
    let grant = |key: &str, operation: &str| {
        local
            .invoke("CreateGrant", json!({ "KeyId": key, "GranteePrincipal": role.arn(), "Operations": [operation] }))
            .map(|g| g["GrantToken"].as_str().unwrap().to_string())
    };
    let (from, to) = (grant(&old, "ReEncryptFrom")?, grant(&new, "ReEncryptTo")?);

    // The client under test, with the local KMS as its connector.
    let kms = KmsClient::builder()
        .region("us-east-1")
        .credentials_provider(Credentials::new("AKIDAPP", "app-secret", None, None, "test"))
        .connector(local.clone())
        .build()?;
    let reencrypt = |tokens: &[&str]| {
        let mut req = ReEncryptRequest::builder()
            .ciphertext_blob(blob.clone())
            .destination_key_id(&new);
        for t in tokens {
            req = req.grant_token(*t);
        }
        req.build()
    };

    // Forgetting the grant tokens fails, as it can in production: new grants take
    // time to propagate.
    match kms.re_encrypt(reencrypt(&[])?).await {
        Err(KmsError::AccessDenied(e)) => assert_eq!(
            e.message.as_deref(),
            Some(format!(
                "User: arn:aws:sts::111122223333:assumed-role/app/test is not authorized to perform: \
                 kms:ReEncryptFrom on resource: {old} because no identity-based policy allows the \
                 kms:ReEncryptFrom action"
            ).as_str())
        ),
        other => panic!("{other:?}"),
    }
    // With the tokens the grants work at once.
    let out = kms.re_encrypt(reencrypt(&[&from, &to])?).await?;
    assert_eq!(out.key_id.as_deref(), Some(new.as_str()));
    // Once they have propagated, no token is needed.
    *now.lock().unwrap() += Duration::from_secs(5);
    kms.re_encrypt(reencrypt(&[])?).await?;
    // README: end
    Ok(())
}

/// The README's code block: the `use` lines above, then the test's body
/// without its indentation.
#[test]
fn the_readme_shows_this_code() {
    let this = include_str!("readme_grant_tokens.rs");
    let mut parts = this.split("// README: ").skip(1);
    let mut take = || {
        let begin = parts.next().expect("a begin marker");
        parts.next().expect("an end marker");
        begin
            .strip_prefix("begin")
            .expect("begin, then end")
            .trim_matches(['\n', ' '])
    };
    let (uses, body) = (take(), take());
    let body: Vec<&str> = body
        .lines()
        .map(|l| l.strip_prefix("    ").unwrap_or(l))
        .collect();
    let expected = format!("{uses}\n\n{}", body.join("\n"));
    let readme = include_str!("../README.md");
    let start = readme
        .find("**Testing that your code passes its grant tokens**")
        .expect("the README's grant token section");
    let block = &readme[start..];
    let block = &block[block.find("```rust\n").expect("a rust block") + "```rust\n".len()..];
    let block = block[..block.find("\n```\n").expect("the block's end")].trim_end();
    assert_eq!(
        block, expected,
        "README.md and tests/readme_grant_tokens.rs differ"
    );
}
