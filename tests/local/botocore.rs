//! botocore (Python) against a local KMS that authorizes, when botocore is
//! installed: tests/python/botocore_authz.py. Skipped, with the reason
//! printed, when `python3 -c 'import botocore'` fails (a failure instead when
//! `TOWER_KMS_REQUIRE_PYTHON` is set, as in CI).

use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::SystemTime;

use serde_json::json;
use tower_kms::local::{IdentityPolicy, LocalKms, Principal};
use tower_kms::{KeySpec, KeyUsageType};

use crate::world::{NOTHING, denied};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn botocore_sees_access_denied_and_uses_grant_tokens() {
    if !crate::common::python_has("botocore").await {
        return;
    }
    const APP: &str = "arn:aws:iam::111122223333:user/app";
    let app = Principal::from_arn(APP).unwrap();
    // The clock stands still: grants never propagate, so only tokens help.
    let frozen = SystemTime::now();
    let kms = LocalKms::builder()
        .clock(Arc::new(move || frozen))
        .credentials("test", "test")
        .credentials_for("AKIDAPP", "app-secret", app.clone())
        .identity_policy(&app, IdentityPolicy::from_json(NOTHING).unwrap())
        .build();
    let sym = || {
        kms.create_key(KeySpec::SymmetricDefault, KeyUsageType::EncryptDecrypt)
            .unwrap()
    };
    let (src, dst) = (sym(), sym());
    let blob = kms
        .invoke("Encrypt", json!({ "KeyId": src, "Plaintext": "c2VjcmV0" }))
        .unwrap()["CiphertextBlob"]
        .as_str()
        .unwrap()
        .to_string();
    let server = kms
        .clone()
        .serve(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/botocore_authz.py");
    let out = tokio::process::Command::new("python3")
        .arg(&script)
        .env("KMS_ENDPOINT", server.endpoint_url())
        .env("APP_AKID", "AKIDAPP")
        .env("APP_SECRET", "app-secret")
        .env("APP_ARN", APP)
        .env("SRC", &src)
        .env("DST", &dst)
        .env("BLOB", &blob)
        .env(
            "DENIED_MESSAGE",
            denied(APP, "kms:ReEncryptFrom", &src, "identity"),
        )
        // No ambient AWS configuration for the script.
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env_remove("AWS_PROFILE")
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap();
    server.shutdown().await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("denied ReEncrypt: AccessDeniedException"),
        "{stdout}"
    );
    assert!(stdout.trim_end().ends_with("ok"), "{stdout}");
}
