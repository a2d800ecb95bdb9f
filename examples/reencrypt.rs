//! `aws kms re-encrypt`, with tower-kms.
//!
//! ```text
//! cargo run --example reencrypt -- --destination-key-id ID [--source-key-id ID]
//!     (--ciphertext-base64 B64 | --ciphertext-file PATH)
//!     [--source-context K=V]... [--destination-context K=V]...
//!     [--source-algorithm ALG] [--destination-algorithm ALG]
//!     [--grant-token T]... [--dry-run] [--ignore-ciphertext]
//!     [--max-attempts N] [--attempt-timeout-ms MS] [--operation-timeout-ms MS]
//! ```
//!
//! `--max-attempts` defaults to `AWS_MAX_ATTEMPTS` or 3; the timeouts default to
//! the client's (10 s per attempt, 30 s per operation); `0` disables a timeout.
//!
//! Region, endpoint and credentials come from the standard environment variables
//! (`AWS_REGION`, `AWS_ENDPOINT_URL_KMS`, `AWS_ACCESS_KEY_ID`, ...). On success it
//! prints one JSON object with the KMS response members; on failure one line on
//! stderr with the error code, message and request id, and exits 1 (2 for bad
//! arguments).
//!
//! With no arguments and no endpoint configured it runs a demo against an
//! in-process local KMS served on 127.0.0.1 (no AWS account, no network).

use std::process::ExitCode;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use tower_kms::{
    DryRunModifierType, EncryptionAlgorithmSpec, KmsClient, KmsError, ReEncryptRequest,
    ReEncryptResponse,
};

const USAGE: &str = "usage: reencrypt --destination-key-id ID [--source-key-id ID] \
(--ciphertext-base64 B64 | --ciphertext-file PATH) [--source-context K=V]... \
[--destination-context K=V]... [--source-algorithm ALG] [--destination-algorithm ALG] \
[--grant-token T]... [--dry-run] [--ignore-ciphertext] \
[--max-attempts N] [--attempt-timeout-ms MS] [--operation-timeout-ms MS]";

/// Client settings from the command line.
#[derive(Default)]
struct Settings {
    max_attempts: Option<u32>,
    attempt_timeout: Option<Option<Duration>>,
    operation_timeout: Option<Option<Duration>>,
}

fn millis(flag: &str, v: &str) -> Result<Option<Duration>, String> {
    let ms: u64 = v
        .parse()
        .map_err(|_| format!("{flag} takes milliseconds, got {v:?}"))?;
    Ok((ms > 0).then(|| Duration::from_millis(ms)))
}

fn parse_args(args: &[String]) -> Result<(ReEncryptRequest, Settings), String> {
    let mut b = ReEncryptRequest::builder();
    let mut settings = Settings::default();
    let mut it = args.iter();
    let mut blob: Option<Vec<u8>> = None;
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        let pair = |v: String| -> Result<(String, String), String> {
            v.split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .ok_or_else(|| format!("{flag} takes KEY=VALUE, got {v:?}"))
        };
        let alg = |v: String| -> Result<EncryptionAlgorithmSpec, String> {
            let a = EncryptionAlgorithmSpec::from(v.as_str());
            if let EncryptionAlgorithmSpec::Unknown(_) = a {
                return Err(format!(
                    "{flag}: unknown algorithm {v:?} (known: {})",
                    EncryptionAlgorithmSpec::values().join(", ")
                ));
            }
            Ok(a)
        };
        b = match flag.as_str() {
            "--destination-key-id" => b.destination_key_id(value()?),
            "--source-key-id" => b.source_key_id(value()?),
            "--ciphertext-base64" => {
                let v = value()?;
                blob = Some(
                    STANDARD
                        .decode(v.trim())
                        .map_err(|e| format!("--ciphertext-base64: not base64: {e}"))?,
                );
                b
            }
            "--ciphertext-file" => {
                let path = value()?;
                blob = Some(
                    std::fs::read(&path).map_err(|e| format!("--ciphertext-file {path}: {e}"))?,
                );
                b
            }
            "--source-context" => {
                let (k, v) = pair(value()?)?;
                b.source_encryption_context(k, v)
            }
            "--destination-context" => {
                let (k, v) = pair(value()?)?;
                b.destination_encryption_context(k, v)
            }
            "--source-algorithm" => b.source_encryption_algorithm(alg(value()?)?),
            "--destination-algorithm" => b.destination_encryption_algorithm(alg(value()?)?),
            "--grant-token" => b.grant_token(value()?),
            "--dry-run" => b.dry_run(true),
            "--ignore-ciphertext" => b.dry_run_modifier(DryRunModifierType::IgnoreCiphertext),
            "--max-attempts" => {
                let v = value()?;
                let n: u32 = v.parse().ok().filter(|n| *n >= 1).ok_or_else(|| {
                    format!("--max-attempts takes a whole number of at least 1, got {v:?}")
                })?;
                settings.max_attempts = Some(n);
                b
            }
            "--attempt-timeout-ms" => {
                settings.attempt_timeout = Some(millis(flag, &value()?)?);
                b
            }
            "--operation-timeout-ms" => {
                settings.operation_timeout = Some(millis(flag, &value()?)?);
                b
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        };
    }
    if let Some(blob) = blob {
        b = b.ciphertext_blob(blob);
    }
    Ok((b.build().map_err(|e| e.to_string())?, settings))
}

/// The response as `aws kms re-encrypt` prints it.
fn to_json(out: &ReEncryptResponse) -> serde_json::Value {
    let mut m = serde_json::Map::new();
    if let Some(b) = &out.ciphertext_blob {
        m.insert("CiphertextBlob".into(), STANDARD.encode(b).into());
    }
    let mut put = |k: &str, v: Option<String>| {
        if let Some(v) = v {
            m.insert(k.into(), v.into());
        }
    };
    put("SourceKeyId", out.source_key_id.clone());
    put("KeyId", out.key_id.clone());
    put(
        "SourceEncryptionAlgorithm",
        out.source_encryption_algorithm
            .as_ref()
            .map(|a| a.to_string()),
    );
    put(
        "DestinationEncryptionAlgorithm",
        out.destination_encryption_algorithm
            .as_ref()
            .map(|a| a.to_string()),
    );
    put("SourceKeyMaterialId", out.source_key_material_id.clone());
    put(
        "DestinationKeyMaterialId",
        out.destination_key_material_id.clone(),
    );
    serde_json::Value::Object(m)
}

/// One line naming the error code, the message and the request id.
fn error_line(e: &KmsError) -> String {
    match e.code() {
        Some(code) => format!(
            "{code}: {} (request id {})",
            e.message().unwrap_or("no message"),
            e.request_id().unwrap_or("none")
        ),
        None => {
            let kind = match e {
                KmsError::Validation(_) => "ValidationError",
                KmsError::Credentials(_) => "CredentialsError",
                KmsError::Transport(_) => "TransportError",
                KmsError::Timeout(_) => "TimeoutError",
                KmsError::UnexpectedResponse(_) => "UnexpectedResponse",
                _ => "Error",
            };
            let chain = tower_kms::DisplayChain(e);
            match e.request_id() {
                Some(id) => format!("{kind}: {chain} (request id {id})"),
                None => format!("{kind}: {chain}"),
            }
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let endpoint_configured = ["AWS_ENDPOINT_URL_KMS", "AWS_ENDPOINT_URL"]
        .iter()
        .any(|k| std::env::var_os(k).is_some_and(|v| !v.is_empty()));
    if args.is_empty() && !endpoint_configured {
        return demo::run().await;
    }
    let (req, settings) = match parse_args(&args) {
        Ok(r) => r,
        Err(msg) => {
            if !msg.is_empty() {
                eprintln!("error: {msg}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let mut builder = KmsClient::builder().env();
    if let Some(n) = settings.max_attempts {
        builder = builder.max_attempts(n);
    }
    if let Some(t) = settings.attempt_timeout {
        builder = builder.attempt_timeout(t);
    }
    if let Some(t) = settings.operation_timeout {
        builder = builder.operation_timeout(t);
    }
    let kms = match builder.build() {
        Ok(k) => k,
        Err(e) => {
            eprintln!("ConfigError: {e}");
            return ExitCode::from(2);
        }
    };
    match kms.re_encrypt(req).await {
        Ok(out) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&to_json(&out)).expect("JSON of strings")
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{}", error_line(&e));
            ExitCode::FAILURE
        }
    }
}

mod demo {
    //! The demo: the full client stack against an in-process local KMS on 127.0.0.1.

    use super::*;
    use tower_kms::local::{DEFAULT_ACCESS_KEY_ID, DEFAULT_SECRET_ACCESS_KEY, LocalKms};
    use tower_kms::{CreateKeyRequest, DecryptRequest, EncryptRequest};

    pub(super) async fn run() -> ExitCode {
        match steps().await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("demo failed: {}", tower_kms::DisplayChain(&*e));
                ExitCode::FAILURE
            }
        }
    }

    async fn steps() -> Result<(), Box<dyn std::error::Error>> {
        println!(
            "No arguments and no AWS_ENDPOINT_URL_KMS: running the demo against the embedded local KMS."
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let local = LocalKms::new();
        let region = local.region().to_owned();
        let server = local.serve(listener);
        println!(
            "1. local KMS listening on {} (region {region})",
            server.endpoint_url()
        );

        let creds = aws_credential_types::Credentials::new(
            DEFAULT_ACCESS_KEY_ID,
            DEFAULT_SECRET_ACCESS_KEY,
            None,
            None,
            "local-kms-demo",
        );
        let kms = KmsClient::builder()
            .region(region)
            .endpoint_url(server.endpoint_url())
            .credentials_provider(creds)
            .build()?;

        let old_key = kms
            .send(
                CreateKeyRequest::builder()
                    .description("demo: old key")
                    .build()?,
            )
            .await?;
        let new_key = kms
            .send(
                CreateKeyRequest::builder()
                    .description("demo: new key")
                    .build()?,
            )
            .await?;
        let arn = |r: &tower_kms::CreateKeyResponse| {
            r.key_metadata
                .as_ref()
                .and_then(|m| m.arn.clone())
                .unwrap_or_default()
        };
        let (old_arn, new_arn) = (arn(&old_key), arn(&new_key));
        println!("2. created two symmetric keys:\n   old {old_arn}\n   new {new_arn}");

        let secret = b"account 12345: balance 100.00".to_vec();
        let encrypted = kms
            .send(
                EncryptRequest::builder()
                    .key_id(old_arn.clone())
                    .plaintext(secret.clone())
                    .encryption_context("app", "billing")
                    .build()?,
            )
            .await?;
        let blob = encrypted
            .ciphertext_blob
            .clone()
            .ok_or("Encrypt returned no ciphertext")?;
        println!(
            "3. encrypted {} bytes under the old key with context app=billing: {} byte blob",
            secret.len(),
            blob.len()
        );

        let req = ReEncryptRequest::builder()
            .ciphertext_blob(blob.clone())
            .source_key_id(old_arn.clone())
            .source_encryption_context("app", "billing")
            .destination_key_id(new_arn.clone())
            .destination_encryption_context("app", "billing")
            .destination_encryption_context("rotated", "2026-11")
            .build()?;
        let out = kms.re_encrypt(req).await?;
        println!(
            "4. ReEncrypt (request id {}):",
            out.metadata.request_id.as_deref().unwrap_or("-")
        );
        println!("{}", serde_json::to_string_pretty(&to_json(&out))?);
        let new_blob = out
            .ciphertext_blob
            .clone()
            .ok_or("ReEncrypt returned no ciphertext")?;

        let decrypted = kms
            .send(
                DecryptRequest::builder()
                    .ciphertext_blob(new_blob.clone())
                    .encryption_context("app", "billing")
                    .encryption_context("rotated", "2026-11")
                    .build()?,
            )
            .await?;
        let plain = decrypted
            .plaintext
            .as_ref()
            .ok_or("Decrypt returned no plaintext")?;
        if plain.expose() != secret.as_slice()
            || decrypted.key_id.as_deref() != Some(new_arn.as_str())
        {
            return Err("the round trip did not give back the plaintext under the new key".into());
        }
        println!(
            "5. decrypted the new blob with the new context: same {} bytes, under the new key",
            plain.len()
        );

        let wrong_context = kms
            .send(
                DecryptRequest::builder()
                    .ciphertext_blob(new_blob)
                    .encryption_context("app", "billing")
                    .build()?,
            )
            .await;
        match wrong_context {
            Err(e @ KmsError::InvalidCiphertext(_)) => println!(
                "6. with the old context it fails as KMS does: {}",
                error_line(&e)
            ),
            other => {
                return Err(format!("expected InvalidCiphertextException, got {other:?}").into());
            }
        }
        let wrong_source = ReEncryptRequest::builder()
            .ciphertext_blob(blob)
            .source_key_id(new_arn)
            .source_encryption_context("app", "billing")
            .destination_key_id(old_arn)
            .build()?;
        match kms.re_encrypt(wrong_source).await {
            Err(e @ KmsError::IncorrectKey(_)) => println!(
                "7. naming the wrong SourceKeyId fails too: {}",
                error_line(&e)
            ),
            other => return Err(format!("expected IncorrectKeyException, got {other:?}").into()),
        }
        server.shutdown().await;
        println!(
            "8. done: local KMS stopped. Point the example at real KMS with AWS_REGION and arguments (--help)."
        );
        Ok(())
    }
}
