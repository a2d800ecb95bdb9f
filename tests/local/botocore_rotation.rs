//! botocore, an independent client, against the local KMS on 127.0.0.1:
//! a rotated key's old ciphertext re-encrypts to the current key material
//! (`botocore_rotation.py` beside this file). Skipped, with the reason
//! printed, where `python3` cannot import botocore.

use std::process::Output;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::process::Command;
use tower_kms::local::LocalKms;

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/local/botocore_rotation.py"
);

/// `python3 args...` with no AWS settings or proxies from the environment.
async fn python3(args: &[&str]) -> std::io::Result<Output> {
    let mut cmd = Command::new("python3");
    cmd.args(args);
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy().to_string();
        let upper = name.to_ascii_uppercase();
        if upper.starts_with("AWS_") || upper.ends_with("_PROXY") {
            cmd.env_remove(&name);
        }
    }
    cmd.env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("NO_PROXY", "127.0.0.1")
        .kill_on_drop(true);
    match tokio::time::timeout(Duration::from_secs(120), cmd.output()).await {
        Ok(out) => out,
        Err(_) => Err(std::io::Error::other("python3 ran for over 120 s")),
    }
}

#[tokio::test]
async fn botocore_re_encrypts_a_rotated_keys_old_blob_to_the_current_material() {
    if !crate::common::python_has("botocore").await {
        return;
    }
    let kms = LocalKms::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = kms.clone().serve(listener);
    let out = python3(&[SCRIPT, &server.endpoint_url()]).await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "botocore_rotation.py failed\nstdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: Value = serde_json::from_str(stdout.trim()).unwrap();
    println!("botocore {}", seen["botocore"]);

    // What botocore saw is the server's state.
    let key = seen["key_id"].as_str().unwrap();
    let d = kms.invoke("DescribeKey", json!({ "KeyId": key })).unwrap();
    assert_eq!(d["KeyMetadata"]["CurrentKeyMaterialId"], seen["current"]);
    assert_eq!(seen["source"], seen["first"]);
    assert_eq!(seen["destination"], seen["current"]);
    assert_ne!(seen["first"], seen["current"]);
    let all = kms
        .invoke(
            "ListKeyRotations",
            json!({ "KeyId": key, "IncludeKeyMaterial": "ALL_KEY_MATERIAL" }),
        )
        .unwrap();
    let ids: Vec<&Value> = all["Rotations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["KeyMaterialId"])
        .collect();
    assert_eq!(ids, [&seen["first"], &seen["current"]]);
    let status = kms
        .invoke("GetKeyRotationStatus", json!({ "KeyId": key }))
        .unwrap();
    // The same instant, up to the microseconds Python's datetime keeps.
    let next = status["NextRotationDate"].as_f64().unwrap();
    let parsed = seen["next_rotation"].as_f64().unwrap();
    assert!((next - parsed).abs() < 0.001, "{next} vs {parsed}");
    server.shutdown().await;
}
