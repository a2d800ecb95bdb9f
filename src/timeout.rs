//! Middleware that puts a deadline on a KMS call: per attempt (below the retry
//! layer) or per operation (above it, over all attempts and backoffs).
//!
//! Both wrap tower's [`Timeout`] and turn its `Elapsed`
//! into [`KmsError::Timeout`] saying which deadline fired. The deadline covers the
//! whole exchange, including reading the response body, so a server that stalls
//! before the headers or in the middle of the body cannot hang a call.
//!
//! Order matters: the first layer sees the request first, so a timeout *above*
//! the retry layer bounds the whole operation and one *below* it bounds each attempt.
//!
//! ```
//! use std::time::Duration;
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//! use tower_kms::timeout::{AttemptTimeoutLayer, OperationTimeoutLayer};
//! use tower_kms::{KmsError, TimeoutKind};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! tokio::time::pause();
//! let stalled = service_fn(|_: ()| std::future::pending::<Result<(), KmsError>>());
//! let svc = ServiceBuilder::new()
//!     .layer(OperationTimeoutLayer::new(Duration::from_secs(30)))
//!     // .layer(retry) would go here
//!     .layer(AttemptTimeoutLayer::new(Duration::from_secs(5)))
//!     .service(stalled);
//! let err = svc.oneshot(()).await.unwrap_err();
//! assert!(matches!(err, KmsError::Timeout(ref t) if t.kind() == TimeoutKind::Attempt));
//! # }
//! ```

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use pin_project_lite::pin_project;
use tower::timeout::Timeout;
use tower::timeout::error::Elapsed;
use tower::{Layer, Service};

use crate::error::{BoxError, KmsError, TimeoutError, TimeoutKind};

/// The default deadline of one attempt.
pub const DEFAULT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// The default deadline of a whole operation, over all attempts and backoffs.
pub const DEFAULT_OPERATION_TIMEOUT: Duration = Duration::from_secs(30);

/// Layer that bounds each attempt; put it below the retry layer.
#[derive(Debug, Clone)]
pub struct AttemptTimeoutLayer {
    after: Option<Duration>,
}

impl AttemptTimeoutLayer {
    /// Each attempt fails with [`TimeoutKind::Attempt`] after `after`.
    pub fn new(after: Duration) -> Self {
        Self { after: Some(after) }
    }
    /// No deadline when `after` is `None`.
    pub fn optional(after: Option<Duration>) -> Self {
        Self { after }
    }
}

/// Layer that bounds the whole operation; put it above the retry layer.
#[derive(Debug, Clone)]
pub struct OperationTimeoutLayer {
    after: Option<Duration>,
}

impl OperationTimeoutLayer {
    /// The operation fails with [`TimeoutKind::Operation`] after `after`.
    pub fn new(after: Duration) -> Self {
        Self { after: Some(after) }
    }
    /// No deadline when `after` is `None`.
    pub fn optional(after: Option<Duration>) -> Self {
        Self { after }
    }
}

impl<S> Layer<S> for AttemptTimeoutLayer {
    type Service = KmsTimeout<S>;
    fn layer(&self, inner: S) -> KmsTimeout<S> {
        KmsTimeout::new(inner, self.after, TimeoutKind::Attempt)
    }
}

impl<S> Layer<S> for OperationTimeoutLayer {
    type Service = KmsTimeout<S>;
    fn layer(&self, inner: S) -> KmsTimeout<S> {
        KmsTimeout::new(inner, self.after, TimeoutKind::Operation)
    }
}

/// Service that fails a call with [`KmsError::Timeout`] when its deadline passes;
/// see the [module docs](self).
#[derive(Debug, Clone)]
pub struct KmsTimeout<S> {
    inner: Inner<S>,
    after: Option<Duration>,
    kind: TimeoutKind,
}

#[derive(Debug, Clone)]
enum Inner<S> {
    Timed(Timeout<S>),
    Plain(S),
}

impl<S> KmsTimeout<S> {
    /// Wraps `inner` with a deadline of `kind` (none when `after` is `None`).
    pub fn new(inner: S, after: Option<Duration>, kind: TimeoutKind) -> Self {
        let inner = match after {
            Some(d) => Inner::Timed(Timeout::new(inner, d)),
            None => Inner::Plain(inner),
        };
        Self { inner, after, kind }
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        match &self.inner {
            Inner::Timed(t) => t.get_ref(),
            Inner::Plain(s) => s,
        }
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        match &mut self.inner {
            Inner::Timed(t) => t.get_mut(),
            Inner::Plain(s) => s,
        }
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        match self.inner {
            Inner::Timed(t) => t.into_inner(),
            Inner::Plain(s) => s,
        }
    }
}

impl<S, Req> Service<Req> for KmsTimeout<S>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
{
    type Response = S::Response;
    type Error = KmsError;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), KmsError>> {
        match &mut self.inner {
            Inner::Timed(t) => t.poll_ready(cx).map_err(KmsError::from_box),
            Inner::Plain(s) => s.poll_ready(cx).map_err(|e| KmsError::from_box(e.into())),
        }
    }

    fn call(&mut self, req: Req) -> Self::Future {
        let state = match &mut self.inner {
            Inner::Timed(t) => State::Timed { fut: t.call(req) },
            Inner::Plain(s) => State::Plain { fut: s.call(req) },
        };
        ResponseFuture {
            state,
            after: self.after,
            kind: self.kind,
        }
    }
}

pin_project! {
    #[project = StateProj]
    #[derive(Debug)]
    enum State<F> {
        Timed { #[pin] fut: tower::timeout::future::ResponseFuture<F> },
        Plain { #[pin] fut: F },
    }
}

pin_project! {
    /// Response future of [`KmsTimeout`].
    #[derive(Debug)]
    pub struct ResponseFuture<F> {
        #[pin]
        state: State<F>,
        after: Option<Duration>,
        kind: TimeoutKind,
    }
}

impl<F, T, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<T, E>>,
    E: Into<BoxError>,
{
    type Output = Result<T, KmsError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let res: Result<T, BoxError> = match this.state.project() {
            StateProj::Timed { fut } => ready!(fut.poll(cx)),
            StateProj::Plain { fut } => ready!(fut.poll(cx)).map_err(Into::into),
        };
        Poll::Ready(res.map_err(|e| {
            if e.is::<Elapsed>() {
                KmsError::Timeout(TimeoutError::new(*this.kind, *this.after))
            } else {
                KmsError::from_box(e)
            }
        }))
    }
}
