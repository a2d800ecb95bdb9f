//! Middleware that records a `tracing` span per operation or per attempt (feature
//! `tracing`, on by default).
//!
//! Each span carries the operation name and, once the call ends, the attempt
//! number, HTTP status, KMS request id, error code and latency. Nothing secret is
//! recorded: no credentials, signatures, ciphertext or plaintext bytes. Without a
//! subscriber the spans cost one callsite check.
//!
//! [`KmsClient`](crate::KmsClient) puts an operation span (`kms.operation`, level
//! INFO) above the retry layer and an attempt span (`kms.attempt`, level DEBUG)
//! below it.
//!
//! ```
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//! use tower_kms::trace::TraceLayer;
//! use tower_kms::{KmsError, ReEncryptRequest, ReEncryptResponse};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let svc = ServiceBuilder::new()
//!     .layer(TraceLayer::operation())
//!     .service(service_fn(|_req: ReEncryptRequest| async {
//!         Ok::<_, KmsError>(ReEncryptResponse::builder().request_id("r-1").build())
//!     }));
//! let req = ReEncryptRequest::builder().ciphertext_blob(vec![1]).destination_key_id("k").build().unwrap();
//! svc.oneshot(req).await.unwrap();
//! # }
//! ```

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use pin_project_lite::pin_project;
use tower::{Layer, Service};
use tracing::Span;
use tracing::field::Empty;

use crate::error::KmsError;
use crate::operation::{Attempt, KmsOperation, OperationOutput};

/// Which span a [`TraceLayer`] records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Operation,
    Attempt,
}

/// Layer that applies [`Trace`]; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct TraceLayer {
    kind: Kind,
}

impl TraceLayer {
    /// A `kms.operation` span (INFO) per call; put it above the retry layer.
    pub fn operation() -> Self {
        Self {
            kind: Kind::Operation,
        }
    }

    /// A `kms.attempt` span (DEBUG) per attempt; put it below the retry layer.
    pub fn attempt() -> Self {
        Self {
            kind: Kind::Attempt,
        }
    }
}

impl<S> Layer<S> for TraceLayer {
    type Service = Trace<S>;
    fn layer(&self, inner: S) -> Trace<S> {
        Trace {
            inner,
            kind: self.kind,
        }
    }
}

/// Service that records a span per call; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct Trace<S> {
    inner: S,
    kind: Kind,
}

impl<S> Trace<S> {
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

impl<S, Op> Service<Op> for Trace<S>
where
    Op: KmsOperation,
    S: Service<Op, Response = Op::Output, Error = KmsError>,
{
    type Response = Op::Output;
    type Error = KmsError;
    type Future = ResponseFuture<Op, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), KmsError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, op: Op) -> Self::Future {
        let span = match self.kind {
            Kind::Operation => tracing::info_span!(
                "kms.operation",
                operation = Op::NAME,
                status = Empty,
                request_id = Empty,
                error_code = Empty,
                error = Empty,
                latency_ms = Empty,
            ),
            Kind::Attempt => {
                let attempt = op
                    .extensions()
                    .and_then(|e| e.get::<Attempt>())
                    .map_or(1, |a| a.0);
                tracing::debug_span!(
                    "kms.attempt",
                    operation = Op::NAME,
                    attempt,
                    status = Empty,
                    request_id = Empty,
                    error_code = Empty,
                    error = Empty,
                    latency_ms = Empty,
                )
            }
        };
        let fut = {
            let _enter = span.enter();
            self.inner.call(op)
        };
        ResponseFuture {
            inner: fut,
            span,
            start: Instant::now(),
            _op: std::marker::PhantomData,
        }
    }
}

pin_project! {
    /// Response future of [`Trace`].
    pub struct ResponseFuture<Op, F> {
        #[pin]
        inner: F,
        span: Span,
        start: Instant,
        _op: std::marker::PhantomData<fn() -> Op>,
    }
}

impl<Op, F> std::fmt::Debug for ResponseFuture<Op, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<Op, F> Future for ResponseFuture<Op, F>
where
    Op: KmsOperation,
    F: Future<Output = Result<Op::Output, KmsError>>,
{
    type Output = Result<Op::Output, KmsError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let res = {
            let _enter = this.span.enter();
            ready!(this.inner.poll(cx))
        };
        let span = &*this.span;
        if !span.is_disabled() {
            span.record("latency_ms", this.start.elapsed().as_secs_f64() * 1000.0);
            match &res {
                Ok(out) => {
                    let meta = out.metadata();
                    if let Some(status) = meta.status {
                        span.record("status", status.as_u16());
                    }
                    if let Some(id) = &meta.request_id {
                        span.record("request_id", id.as_str());
                    }
                }
                Err(e) => {
                    if let Some(status) = e.status() {
                        span.record("status", status.as_u16());
                    }
                    if let Some(id) = e.request_id() {
                        span.record("request_id", id);
                    }
                    if let Some(code) = e.code() {
                        span.record("error_code", code);
                    }
                    span.record("error", tracing::field::display(error_kind(e)));
                }
            }
        }
        Poll::Ready(res)
    }
}

/// A short, secret-free name of the error's kind.
fn error_kind(e: &KmsError) -> &'static str {
    match e {
        KmsError::Validation(_) => "validation",
        KmsError::Credentials(_) => "credentials",
        KmsError::Signing(_) => "signing",
        KmsError::Transport(_) => "transport",
        KmsError::Timeout(_) => "timeout",
        KmsError::UnexpectedResponse(_) => "unexpected_response",
        e if e.is_throttling() => "throttling",
        _ => "service",
    }
}
