//! botocore, an independent client, and Python's `cryptography`, an
//! independent implementation, against the local KMS's data plane on
//! 127.0.0.1 (`botocore_dataplane.py` beside this file). Skipped, with the
//! reason printed, where `python3` cannot import both.

use std::process::Output;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::process::Command;
use tower_kms::local::LocalKms;

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/local/botocore_dataplane.py"
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn botocore_and_cryptography_check_the_data_plane() {
    if !crate::common::python_has("botocore, cryptography").await {
        return;
    }
    let kms = LocalKms::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = kms.clone().serve(listener);
    let out = python3(&[SCRIPT, &server.endpoint_url()]).await.unwrap();
    server.shutdown().await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "botocore_dataplane.py failed\nstdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: Value = serde_json::from_str(stdout.trim()).unwrap();
    println!("botocore {}", seen["botocore"]);

    // What botocore saw is the server's state.
    let key = seen["key_id"].as_str().unwrap();
    let tags = kms
        .invoke("ListResourceTags", json!({ "KeyId": key }))
        .unwrap();
    assert_eq!(
        tags["Tags"],
        json!([{ "TagKey": "env", "TagValue": "test" }])
    );
    if seen.get("last_usage").is_some() {
        let usage = kms
            .invoke("GetKeyLastUsage", json!({ "KeyId": key }))
            .unwrap();
        let last = &usage["KeyLastUsage"];
        assert_eq!(last["KmsRequestId"], seen["last_request_id"]);
        let at = last["Timestamp"].as_f64().unwrap();
        let parsed = seen["last_usage"].as_f64().unwrap();
        assert!((at - parsed).abs() < 0.001, "{at} vs {parsed}");
    } else {
        println!("this botocore has no GetKeyLastUsage");
    }
}
