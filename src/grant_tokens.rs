//! Middleware that adds grant tokens to every KMS request that takes them.
//!
//! A grant token lets a caller use a permission from a grant that has not yet
//! reached eventual consistency. The tokens come from a static list or from a
//! closure called per request (the value-or-closure pattern of tower-http's
//! `MakeHeaderValue`); they are merged with the request's own tokens without
//! duplicates. KMS accepts at most 10: a merge that would exceed that fails with
//! [`KmsError::Validation`] before anything is sent; nothing is silently dropped.
//!
//! ```
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//! use tower_kms::grant_tokens::GrantTokenLayer;
//! use tower_kms::{KmsError, ReEncryptRequest, ReEncryptResponse};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let svc = ServiceBuilder::new()
//!     .layer(GrantTokenLayer::new(vec!["token-from-CreateGrant".to_owned()]))
//!     .service(service_fn(|req: ReEncryptRequest| async move {
//!         assert_eq!(req.grant_tokens(), ["mine", "token-from-CreateGrant"]);
//!         Ok::<_, KmsError>(ReEncryptResponse::default())
//!     }));
//! let req = ReEncryptRequest::builder()
//!     .ciphertext_blob(vec![1])
//!     .destination_key_id("alias/new")
//!     .grant_token("mine")
//!     .build()
//!     .unwrap();
//! svc.oneshot(req).await.unwrap();
//! # }
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;
use tower::{Layer, Service};

use crate::error::{KmsError, ValidationError};
use crate::operation::KmsOperation;

/// Most grant tokens one KMS request may carry.
pub const MAX_GRANT_TOKENS: usize = 10;

/// A source of grant tokens: a static list or a closure.
pub trait MakeGrantTokens: Send + Sync + 'static {
    /// The tokens to add to the next request.
    fn grant_tokens(&self) -> Vec<String>;
}

impl MakeGrantTokens for Vec<String> {
    fn grant_tokens(&self) -> Vec<String> {
        self.clone()
    }
}

impl<T: MakeGrantTokens + ?Sized> MakeGrantTokens for Arc<T> {
    fn grant_tokens(&self) -> Vec<String> {
        (**self).grant_tokens()
    }
}

/// Grant tokens from a closure, called for every request.
#[derive(Clone)]
pub struct FromFn<F>(F);

impl<F> fmt::Debug for FromFn<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FromFn(..)")
    }
}

impl<F> MakeGrantTokens for FromFn<F>
where
    F: Fn() -> Vec<String> + Send + Sync + 'static,
{
    fn grant_tokens(&self) -> Vec<String> {
        (self.0)()
    }
}

/// A type-erased, shareable [`MakeGrantTokens`].
pub type SharedGrantTokens = Arc<dyn MakeGrantTokens>;

/// Layer that applies [`GrantTokens`]; see the [module docs](self).
#[derive(Clone)]
pub struct GrantTokenLayer<M> {
    make: M,
}

impl<M> fmt::Debug for GrantTokenLayer<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GrantTokenLayer").finish_non_exhaustive()
    }
}

impl GrantTokenLayer<Vec<String>> {
    /// Adds the same tokens to every request.
    pub fn new(tokens: Vec<String>) -> Self {
        Self { make: tokens }
    }
}

impl<F> GrantTokenLayer<FromFn<F>>
where
    F: Fn() -> Vec<String> + Send + Sync + 'static,
{
    /// Adds the tokens `f` returns, calling it for every request.
    pub fn from_fn(f: F) -> Self {
        Self { make: FromFn(f) }
    }
}

impl<M: MakeGrantTokens> GrantTokenLayer<M> {
    /// Adds the tokens `make` gives.
    pub fn from_source(make: M) -> Self {
        Self { make }
    }
}

impl<S, M: Clone> Layer<S> for GrantTokenLayer<M> {
    type Service = GrantTokens<S, M>;
    fn layer(&self, inner: S) -> GrantTokens<S, M> {
        GrantTokens {
            inner,
            make: self.make.clone(),
        }
    }
}

/// Service that merges grant tokens into each request; see the [module docs](self).
#[derive(Clone)]
pub struct GrantTokens<S, M> {
    inner: S,
    make: M,
}

impl<S: fmt::Debug, M> fmt::Debug for GrantTokens<S, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GrantTokens")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<S, M> GrantTokens<S, M> {
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

/// Merges `extra` into `tokens` without duplicates; fails past [`MAX_GRANT_TOKENS`].
pub fn merge_grant_tokens(
    operation: &'static str,
    tokens: &mut Vec<String>,
    extra: Vec<String>,
) -> Result<(), ValidationError> {
    for t in extra {
        if !tokens.contains(&t) {
            tokens.push(t);
        }
    }
    if tokens.len() > MAX_GRANT_TOKENS {
        return Err(ValidationError::new(
            operation,
            "GrantTokens",
            format!(
                "may hold at most {MAX_GRANT_TOKENS} tokens (got {} after adding the grant-token layer's)",
                tokens.len()
            ),
        ));
    }
    Ok(())
}

impl<S, M, Op> Service<Op> for GrantTokens<S, M>
where
    Op: KmsOperation,
    S: Service<Op>,
    S::Error: From<KmsError>,
    M: MakeGrantTokens,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut op: Op) -> Self::Future {
        if let Some(tokens) = op.grant_tokens_mut() {
            let extra = self.make.grant_tokens();
            if !extra.is_empty()
                && let Err(e) = merge_grant_tokens(Op::NAME, tokens, extra)
            {
                return ResponseFuture {
                    state: State::Failed {
                        err: Some(KmsError::Validation(e).into()),
                    },
                };
            }
        }
        ResponseFuture {
            state: State::Inner {
                fut: self.inner.call(op),
            },
        }
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F, E> {
        Inner { #[pin] fut: F },
        Failed { err: Option<E> },
    }
}

pin_project! {
    /// Response future of [`GrantTokens`].
    pub struct ResponseFuture<F, E> {
        #[pin]
        state: State<F, E>,
    }
}

impl<F, E> fmt::Debug for ResponseFuture<F, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<F, T, E> Future for ResponseFuture<F, E>
where
    F: Future<Output = Result<T, E>>,
    E: From<KmsError>,
{
    type Output = Result<T, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Inner { fut } => fut.poll(cx),
            StateProj::Failed { err } => Poll::Ready(Err(err.take().unwrap_or_else(|| {
                KmsError::Validation(ValidationError::new(
                    "?",
                    "GrantTokens",
                    "future polled after completion",
                ))
                .into()
            }))),
        }
    }
}
