//! A small axum service that holds a `KmsClient` in its state and exposes
//! `POST /reencrypt` (JSON in, JSON out, KMS errors mapped to HTTP statuses).
//!
//! ```text
//! cargo run --example axum                     # against an embedded local KMS
//! AWS_REGION=eu-west-1 cargo run --example axum -- --real    # against AWS KMS
//! curl -s localhost:3000/reencrypt -H 'content-type: application/json' \
//!   -d '{"ciphertext":"...","destinationKeyId":"alias/new"}'
//! ```
//!
//! Request: `{"ciphertext": base64, "destinationKeyId": str, "sourceKeyId"?: str,
//! "sourceContext"?: {..}, "destinationContext"?: {..}}`. Response:
//! `{"ciphertext": base64, "keyId": str, "sourceKeyId": str}` or
//! `{"error": code, "message": str, "requestId"?: str}` with the status from
//! [`status_for`].

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use tower_kms::{KeySpec, KeyUsageType, KmsClient, KmsError, ReEncryptRequest};

/// The JSON body of `POST /reencrypt`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReEncryptBody {
    ciphertext: String,
    destination_key_id: String,
    source_key_id: Option<String>,
    source_context: Option<BTreeMap<String, String>>,
    destination_context: Option<BTreeMap<String, String>>,
}

/// A successful answer.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReEncrypted {
    ciphertext: String,
    key_id: Option<String>,
    source_key_id: Option<String>,
}

/// An error answer.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiError {
    error: String,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<String>,
}

/// The HTTP status this service answers for a KMS error.
pub fn status_for(e: &KmsError) -> StatusCode {
    match e {
        KmsError::Validation(_) => StatusCode::BAD_REQUEST,
        KmsError::NotFound(_) => StatusCode::NOT_FOUND,
        KmsError::IncorrectKey(_)
        | KmsError::InvalidCiphertext(_)
        | KmsError::InvalidKeyUsage(_) => StatusCode::UNPROCESSABLE_ENTITY,
        KmsError::Disabled(_) | KmsError::KmsInvalidState(_) => StatusCode::CONFLICT,
        KmsError::AccessDenied(_) | KmsError::InvalidGrantToken(_) => StatusCode::FORBIDDEN,
        KmsError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
        e if e.is_throttling() => StatusCode::SERVICE_UNAVAILABLE,
        // Our own credentials or KMS being down: not the caller's fault.
        _ => StatusCode::BAD_GATEWAY,
    }
}

fn api_error(
    status: StatusCode,
    error: &str,
    message: String,
    request_id: Option<String>,
) -> Response {
    (
        status,
        Json(ApiError {
            error: error.to_owned(),
            message,
            request_id,
        }),
    )
        .into_response()
}

async fn reencrypt(State(kms): State<KmsClient>, Json(body): Json<ReEncryptBody>) -> Response {
    let blob = match STANDARD.decode(body.ciphertext.as_bytes()) {
        Ok(b) => b,
        Err(e) => {
            return api_error(
                StatusCode::BAD_REQUEST,
                "InvalidInput",
                format!("ciphertext is not base64: {e}"),
                None,
            );
        }
    };
    let req = ReEncryptRequest::builder()
        .ciphertext_blob(blob)
        .destination_key_id(body.destination_key_id)
        .set_source_key_id(body.source_key_id)
        .set_source_encryption_context(body.source_context)
        .set_destination_encryption_context(body.destination_context)
        .build();
    let req = match req {
        Ok(r) => r,
        Err(e) => {
            return api_error(
                StatusCode::BAD_REQUEST,
                "ValidationError",
                e.to_string(),
                None,
            );
        }
    };
    match kms.re_encrypt(req).await {
        Ok(out) => Json(ReEncrypted {
            ciphertext: out
                .ciphertext_blob
                .map(|b| STANDARD.encode(b))
                .unwrap_or_default(),
            key_id: out.key_id,
            source_key_id: out.source_key_id,
        })
        .into_response(),
        Err(e) => {
            let code = e.code().unwrap_or("KmsClientError").to_owned();
            let message = e
                .message()
                .map(str::to_owned)
                .unwrap_or_else(|| e.to_string());
            api_error(
                status_for(&e),
                &code,
                message,
                e.request_id().map(str::to_owned),
            )
        }
    }
}

/// The router, with the client in its state.
pub fn app(kms: KmsClient) -> Router {
    Router::new()
        .route("/reencrypt", post(reencrypt))
        .with_state(kms)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let real = std::env::args().any(|a| a == "--real");
    let (kms, _local) = if real {
        (KmsClient::from_env()?, None)
    } else {
        let local = tower_kms::local::LocalKms::new();
        let key = local.create_key(KeySpec::SymmetricDefault, KeyUsageType::EncryptDecrypt)?;
        let blob = local.invoke(
            "Encrypt",
            serde_json::json!({"KeyId": key, "Plaintext": "aGVsbG8="}),
        )?;
        println!(
            "local KMS key {key}; try ciphertext {}",
            blob["CiphertextBlob"]
        );
        let kms = KmsClient::builder()
            .region("us-east-1")
            .credentials_provider(aws_credential_types::Credentials::new(
                "test", "test", None, None, "local",
            ))
            .connector(local.clone())
            .build()?;
        (kms, Some(local))
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app(kms)).await?;
    Ok(())
}
