//! The response future of [`JsonProtocol`](super::JsonProtocol).

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http_body_util::combinators::Collect;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use pin_project_lite::pin_project;

use crate::error::{BoxError, KmsError, TransportError, TransportKind, UnexpectedResponse};
use crate::operation::KmsOperation;

use super::decode::{decode_response, request_id};

pin_project! {
    #[project = StateProj]
    enum State<F, B>
    where
        B: http_body::Body,
        B::Error: Into<BoxError>,
    {
        Failed { err: Option<KmsError> },
        Calling { #[pin] fut: F },
        Reading { #[pin] collect: Collect<Limited<B>>, parts: Option<http::response::Parts> },
    }
}

pin_project! {
    /// Response future of [`JsonProtocol`](super::JsonProtocol): waits for the
    /// response head, reads the body up to the limit, and decodes it.
    pub struct ResponseFuture<Op, F, B>
    where
        B: http_body::Body,
        B::Error: Into<BoxError>,
    {
        #[pin]
        state: State<F, B>,
        body_limit: usize,
        _op: PhantomData<fn() -> Op>,
    }
}

impl<Op, F, B> std::fmt::Debug for ResponseFuture<Op, F, B>
where
    B: http_body::Body,
    B::Error: Into<BoxError>,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<Op, F, B> ResponseFuture<Op, F, B>
where
    B: http_body::Body,
    B::Error: Into<BoxError>,
{
    pub(super) fn calling(fut: F, body_limit: usize) -> Self {
        Self {
            state: State::Calling { fut },
            body_limit,
            _op: PhantomData,
        }
    }
    pub(super) fn failed(err: KmsError) -> Self {
        Self {
            state: State::Failed { err: Some(err) },
            body_limit: 0,
            _op: PhantomData,
        }
    }
}

impl<Op, F, B, E> Future for ResponseFuture<Op, F, B>
where
    Op: KmsOperation,
    F: Future<Output = Result<http::Response<B>, E>>,
    E: Into<BoxError>,
    B: http_body::Body,
    B::Error: Into<BoxError>,
{
    type Output = Result<Op::Output, KmsError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::Failed { err } => {
                    return Poll::Ready(Err(err.take().unwrap_or_else(|| {
                        KmsError::Transport(TransportError::new(
                            TransportKind::Other,
                            "response future polled after completion",
                        ))
                    })));
                }
                StateProj::Calling { fut } => {
                    let resp = ready!(fut.poll(cx)).map_err(|e| KmsError::from_box(e.into()))?;
                    let (parts, body) = resp.into_parts();
                    let collect = Limited::new(body, *this.body_limit).collect();
                    this.state.set(State::Reading {
                        collect,
                        parts: Some(parts),
                    });
                }
                StateProj::Reading { collect, parts } => {
                    let res = ready!(collect.poll(cx));
                    let Some(parts) = parts.take() else {
                        return Poll::Ready(Err(KmsError::Transport(TransportError::new(
                            TransportKind::Other,
                            "response future polled after completion",
                        ))));
                    };
                    let body = match res {
                        Ok(collected) => collected.to_bytes(),
                        Err(e) if e.is::<LengthLimitError>() => {
                            return Poll::Ready(Err(KmsError::UnexpectedResponse(
                                UnexpectedResponse::new(
                                    parts.status,
                                    request_id(&parts.headers),
                                    format!(
                                        "the response body is larger than the limit of {} bytes",
                                        this.body_limit
                                    ),
                                    b"",
                                ),
                            )));
                        }
                        Err(e) => {
                            return Poll::Ready(Err(KmsError::Transport(TransportError::new(
                                TransportKind::Body,
                                e,
                            ))));
                        }
                    };
                    return Poll::Ready(decode_response::<Op>(parts.status, &parts.headers, &body));
                }
            }
        }
    }
}
