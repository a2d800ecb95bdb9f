//! Middleware that speaks awsJson1.1: it turns a typed KMS operation into an
//! `http::Request<Bytes>` and the `http::Response` back into the operation's
//! output or a [`KmsError`].
//!
//! The layer is written once for every [`KmsOperation`]. It validates the input
//! before anything is sent, and reads response bodies with a size limit.
//!
//! ```
//! use bytes::Bytes;
//! use http_body_util::Full;
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//! use tower_kms::{protocol::JsonProtocolLayer, ReEncryptRequest};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), tower_kms::KmsError> {
//! // Any `Service<http::Request<Bytes>>` can sit below: here a closure that
//! // answers like KMS would.
//! let http = service_fn(|req: http::Request<Bytes>| async move {
//!     assert_eq!(req.headers()["x-amz-target"], "TrentService.ReEncrypt");
//!     let body = r#"{"CiphertextBlob":"AQID","KeyId":"arn:aws:kms:us-east-1:111122223333:key/k"}"#;
//!     Ok::<_, std::convert::Infallible>(http::Response::new(Full::new(Bytes::from(body))))
//! });
//! let kms = ServiceBuilder::new().layer(JsonProtocolLayer::new()).service(http);
//!
//! let req = ReEncryptRequest::builder()
//!     .ciphertext_blob(vec![7; 16])
//!     .destination_key_id("alias/new")
//!     .build()?;
//! let resp = kms.oneshot(req).await?;
//! assert_eq!(resp.ciphertext_blob().map(|b| &b[..]), Some(&[1, 2, 3][..]));
//! # Ok(())
//! # }
//! ```

mod decode;
mod future;

pub use crate::model::DecodeError;
pub use decode::{
    MAX_CODE_CHARS, MAX_MESSAGE_CHARS, decode_error, decode_response, sanitize_error_code,
};
pub use future::ResponseFuture;

use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderValue};
use http::{Method, Request};
use tower::{Layer, Service};

use crate::error::{BoxError, KmsError};
use crate::operation::{Attempt, KmsOperation};

/// The awsJson1.1 content type.
pub const CONTENT_TYPE_AWS_JSON_1_1: &str = "application/x-amz-json-1.1";

/// The default limit on a response body, in bytes. KMS responses are a few KiB at most.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// Encodes `op` as an awsJson1.1 request for path `/` (the endpoint layer sets the
/// full URI), after validating it.
pub fn encode_request<Op: KmsOperation>(op: &Op) -> Result<Request<Bytes>, KmsError> {
    let ext = op.extensions().filter(|e| !e.is_empty()).cloned();
    encode(op, ext)
}

/// [`encode_request`] with the operation's extensions given (moved out of an
/// operation the caller owns, rather than copied).
fn encode<Op: KmsOperation>(
    op: &Op,
    ext: Option<http::Extensions>,
) -> Result<Request<Bytes>, KmsError> {
    op.validate()?;
    let body = op.to_json();
    // Checked at compile time: an operation with an invalid target does not build.
    let target = const { HeaderValue::from_static(Op::TARGET) };
    let mut req = Request::new(Bytes::from(body));
    *req.method_mut() = Method::POST;
    if let Some(ext) = ext {
        *req.extensions_mut() = ext;
    }
    if req.extensions().get::<Attempt>().is_none() {
        req.extensions_mut().insert(Attempt(1));
    }
    let h = req.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static(CONTENT_TYPE_AWS_JSON_1_1),
    );
    h.insert("x-amz-target", target);
    Ok(req)
}

/// Layer that applies [`JsonProtocol`].
#[derive(Debug, Clone)]
pub struct JsonProtocolLayer {
    body_limit: usize,
}

impl JsonProtocolLayer {
    /// A layer with the default body limit ([`DEFAULT_BODY_LIMIT`]).
    pub fn new() -> Self {
        Self {
            body_limit: DEFAULT_BODY_LIMIT,
        }
    }

    /// Sets the largest response body read, in bytes; a larger one is an error.
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }
}

impl Default for JsonProtocolLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl<S> Layer<S> for JsonProtocolLayer {
    type Service = JsonProtocol<S>;
    fn layer(&self, inner: S) -> JsonProtocol<S> {
        JsonProtocol {
            inner,
            body_limit: self.body_limit,
        }
    }
}

/// Service that encodes KMS operations as awsJson1.1 HTTP requests and decodes
/// the responses; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct JsonProtocol<S> {
    inner: S,
    body_limit: usize,
}

impl<S> JsonProtocol<S> {
    /// Wraps `inner` with the default body limit.
    pub fn new(inner: S) -> Self {
        JsonProtocolLayer::new().layer(inner)
    }
    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }
    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, Op, B> Service<Op> for JsonProtocol<S>
where
    Op: KmsOperation,
    S: Service<Request<Bytes>, Response = http::Response<B>>,
    S::Error: Into<BoxError>,
    B: http_body::Body,
    B::Error: Into<BoxError>,
{
    type Response = Op::Output;
    type Error = KmsError;
    type Future = ResponseFuture<Op, S::Future, B>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), KmsError>> {
        self.inner
            .poll_ready(cx)
            .map_err(|e| KmsError::from_box(e.into()))
    }

    fn call(&mut self, mut op: Op) -> Self::Future {
        // This attempt's operation is dropped once encoded: its extensions move
        // to the request instead of being copied.
        let ext = op.extensions_mut().map(std::mem::take);
        match encode(&op, ext) {
            Ok(req) => ResponseFuture::calling(self.inner.call(req), self.body_limit),
            Err(e) => ResponseFuture::failed(e),
        }
    }
}
