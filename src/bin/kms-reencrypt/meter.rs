//! Counting HTTP attempts, and the ones KMS throttled, at the connector.
//!
//! The connector sits below the client's retry layer, so it sees every attempt
//! once (retries included) whatever the retry mode: the adaptive limiter's own
//! counts exist only in adaptive mode. A throttling answer is recognised by
//! decoding small error bodies with the library's own `decode_error`, so the
//! tool and the client agree on what throttling is.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use http::StatusCode;
use http::header::CONTENT_LENGTH;
use http_body_util::{BodyExt as _, Full};
use tower::Service;
use tower_kms::BoxError;
use tower_kms::client::{BoxConnector, HttpBody};
use tower_kms::protocol::decode_error;

/// Error bodies larger than this (by `Content-Length`) are passed on unread and
/// not classified; a KMS error body is a few hundred bytes.
const PEEK_LIMIT: u64 = 64 * 1024;

/// Attempts sent and attempts answered with throttling, over the whole run.
#[derive(Debug, Default)]
pub(crate) struct Attempts {
    pub(crate) sent: AtomicU64,
    pub(crate) throttled: AtomicU64,
}

impl Attempts {
    /// (throttled, sent).
    pub(crate) fn get(&self) -> (u64, u64) {
        (
            self.throttled.load(Ordering::Relaxed),
            self.sent.load(Ordering::Relaxed),
        )
    }
}

/// A connector that counts into [`Attempts`].
#[derive(Clone)]
pub(crate) struct Metered {
    inner: BoxConnector,
    counts: Arc<Attempts>,
}

impl Metered {
    pub(crate) fn new(inner: BoxConnector, counts: Arc<Attempts>) -> Self {
        Self { inner, counts }
    }
}

impl std::fmt::Debug for Metered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metered")
            .field("counts", &self.counts)
            .finish_non_exhaustive()
    }
}

type ResponseFuture =
    Pin<Box<dyn Future<Output = Result<http::Response<HttpBody>, BoxError>> + Send>>;

impl Service<http::Request<Full<Bytes>>> for Metered {
    type Response = http::Response<HttpBody>;
    type Error = BoxError;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<Full<Bytes>>) -> ResponseFuture {
        self.counts.sent.fetch_add(1, Ordering::Relaxed);
        // Called right after poll_ready on this very service: no clone needed.
        let fut = self.inner.call(req);
        let counts = self.counts.clone();
        Box::pin(async move {
            let resp = fut.await?;
            let status = resp.status();
            if status == StatusCode::TOO_MANY_REQUESTS {
                counts.throttled.fetch_add(1, Ordering::Relaxed);
                return Ok(resp);
            }
            let small = resp
                .headers()
                .get(CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok())
                .is_some_and(|n| n <= PEEK_LIMIT);
            if !status.is_client_error() || !small {
                return Ok(resp);
            }
            let (parts, body) = resp.into_parts();
            let bytes = body.collect().await?.to_bytes();
            if decode_error(parts.status, &parts.headers, &bytes).is_throttling() {
                counts.throttled.fetch_add(1, Ordering::Relaxed);
            }
            let body = Full::new(bytes)
                .map_err(|never| match never {})
                .boxed_unsync();
            Ok(http::Response::from_parts(parts, body))
        })
    }
}
