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
//! [`status_for`]. `GET /stats` shows what the audit layer counted.
//!
//! ## Your own layers around the client, kept in axum state
//!
//! The client is a `tower::Service<ReEncryptRequest>` with `Error = KmsError`,
//! so the application's own middleware wraps it with `ServiceBuilder` (here a
//! concurrency limit shared by every handler, and a small audit layer of our
//! own, [`AuditLayer`]). Boxing the result in a `BoxCloneSyncService` gives a
//! type that is `Clone + Send + Sync` and can be *named* in the state struct
//! ([`Kms`]). Each handler clones it out of the state and calls `oneshot`, which
//! waits for readiness (the concurrency limit) before calling.
//!
//! Keep every layer's error `KmsError` (tower's `ConcurrencyLimit` passes the
//! inner error through) so the boxed type needs no `map_err`; closures in
//! `map_err` are where rustc's "implementation of FnOnce is not general enough"
//! usually comes from. To bound a whole call, use the crate's
//! `ServiceBuilderExt::kms_operation_timeout` (errors stay `KmsError`) rather
//! than `tower::timeout` (errors become `BoxError`).

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use tower::limit::ConcurrencyLimitLayer;
use tower::util::BoxCloneSyncService;
use tower::{Layer, Service, ServiceBuilder, ServiceExt};
use tower_kms::{KeySpec, KeyUsageType, KmsClient, KmsError, ReEncryptRequest, ReEncryptResponse};

/// The KMS service in the router state: the client behind this application's
/// own layers, boxed to one nameable `Clone + Send + Sync` type.
pub type Kms = BoxCloneSyncService<ReEncryptRequest, ReEncryptResponse, KmsError>;

/// The router state.
#[derive(Clone)]
pub struct AppState {
    kms: Kms,
    stats: Stats,
}

/// Calls at most this many ReEncrypts at once over all handlers.
pub const MAX_CONCURRENT_KMS_CALLS: usize = 32;

/// Counters of the audit layer.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    calls: Arc<AtomicU64>,
    failures: Arc<AtomicU64>,
}

/// A small layer of our own: counts calls and failures (a stand-in for audit
/// logging or metrics).
#[derive(Debug, Clone)]
pub struct AuditLayer {
    stats: Stats,
}

impl<S> Layer<S> for AuditLayer {
    type Service = Audit<S>;
    fn layer(&self, inner: S) -> Audit<S> {
        Audit {
            inner,
            stats: self.stats.clone(),
        }
    }
}

/// The service of [`AuditLayer`].
#[derive(Debug, Clone)]
pub struct Audit<S> {
    inner: S,
    stats: Stats,
}

impl<S> Service<ReEncryptRequest> for Audit<S>
where
    S: Service<ReEncryptRequest, Response = ReEncryptResponse, Error = KmsError>,
    S::Future: Send + 'static,
{
    type Response = ReEncryptResponse;
    type Error = KmsError;
    type Future = Pin<Box<dyn Future<Output = Result<ReEncryptResponse, KmsError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), KmsError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: ReEncryptRequest) -> Self::Future {
        self.stats.calls.fetch_add(1, Ordering::Relaxed);
        let failures = self.stats.failures.clone();
        let fut = self.inner.call(req);
        Box::pin(async move {
            let out = fut.await;
            if out.is_err() {
                failures.fetch_add(1, Ordering::Relaxed);
            }
            out
        })
    }
}

/// The state: `client` wrapped in this application's layers.
pub fn state(client: KmsClient) -> AppState {
    let stats = Stats::default();
    let kms = ServiceBuilder::new()
        // The first layer sees the request first: count every call, even one
        // that then waits for a slot.
        .layer(AuditLayer {
            stats: stats.clone(),
        })
        .layer(ConcurrencyLimitLayer::new(MAX_CONCURRENT_KMS_CALLS))
        .service(client);
    AppState {
        kms: BoxCloneSyncService::new(kms),
        stats,
    }
}

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

async fn stats(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "calls": state.stats.calls.load(Ordering::Relaxed),
        "failures": state.stats.failures.load(Ordering::Relaxed),
    }))
}

async fn reencrypt(State(state): State<AppState>, Json(body): Json<ReEncryptBody>) -> Response {
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
    // A clone of the shared stack; oneshot waits for a concurrency slot first.
    match state.kms.oneshot(req).await {
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

/// The router, with the client (behind this application's layers) in its state.
pub fn app(kms: KmsClient) -> Router {
    Router::new()
        .route("/reencrypt", post(reencrypt))
        .route("/stats", get(stats))
        .with_state(state(kms))
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
            .credentials_provider(tower_kms::Credentials::new(
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
