//! Paginators: the pages of a `List*` operation (or `DescribeCustomKeyStores`)
//! as a [`Stream`], each page a separate call through the whole service (so
//! retries, timeouts and tracing apply per page), following `NextMarker` while
//! `Truncated` is true. `Limit`, if set on the request, is sent with every page
//! (it is the page size; KMS may return fewer).
//!
//! ```
//! use tower::service_fn;
//! use tower_kms::model::{KeyListEntry, ListKeysRequest, ListKeysResponse};
//! use tower_kms::paginate::Paginator;
//! use tower_kms::KmsError;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), KmsError> {
//! // A stand-in for KMS with two pages.
//! let kms = service_fn(|req: ListKeysRequest| async move {
//!     Ok::<_, KmsError>(match req.marker() {
//!         None => ListKeysResponse::builder()
//!             .key(KeyListEntry::builder().key_id("k1").build())
//!             .truncated(true)
//!             .next_marker("m1")
//!             .build(),
//!         Some(_) => ListKeysResponse::builder().key(KeyListEntry::builder().key_id("k2").build()).build(),
//!     })
//! });
//! let req = ListKeysRequest::builder().limit(100).build()?;
//! let mut items = std::pin::pin!(Paginator::new(kms, req).items());
//! let mut ids = Vec::new();
//! while let Some(key) = items.as_mut().next().await {
//!     ids.push(key?.key_id.unwrap_or_default());
//! }
//! assert_eq!(ids, ["k1", "k2"]);
//! # Ok(())
//! # }
//! ```

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use futures_core::Stream;
use pin_project_lite::pin_project;
use tower::Service;
use tower::util::{Oneshot, ServiceExt};

use crate::error::KmsError;
use crate::operation::KmsOperation;

/// An operation whose output comes in pages (implemented for the generated
/// `List*` requests and `DescribeCustomKeyStoresRequest`).
pub trait Paginated: KmsOperation {
    /// One item of a page (e.g. `KeyListEntry`).
    type Item;
    /// Sets `Marker`, the position to continue from.
    fn set_marker(&mut self, marker: Option<String>);
    /// `NextMarker` of a page.
    fn next_marker(out: &Self::Output) -> Option<&str>;
    /// `Truncated` of a page: whether more pages follow.
    fn more(out: &Self::Output) -> bool;
    /// The items of a page.
    fn items(out: Self::Output) -> Vec<Self::Item>;
}

pin_project! {
    /// A stream of the pages of a [`Paginated`] operation; see the [module docs](self).
    pub struct Paginator<S, Op>
    where
        S: Service<Op>,
    {
        svc: S,
        next: Option<Op>,
        last_marker: Option<String>,
        #[pin]
        call: Option<Oneshot<S, Op>>,
    }
}

impl<S: Service<Op>, Op> fmt::Debug for Paginator<S, Op> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Paginator")
            .field("done", &(self.next.is_none() && self.call.is_none()))
            .finish_non_exhaustive()
    }
}

impl<S, Op> Paginator<S, Op>
where
    Op: Paginated,
    S: Service<Op, Response = Op::Output, Error = KmsError> + Clone,
{
    /// The pages of `first` (and of the requests that follow it) through `svc`.
    pub fn new(svc: S, first: Op) -> Self {
        Self {
            svc,
            next: Some(first),
            last_marker: None,
            call: None,
        }
    }

    /// The items of every page, one by one.
    pub fn items(self) -> Items<S, Op> {
        Items {
            pages: self,
            buffered: VecDeque::new(),
        }
    }

    /// The next page (the [`Stream`] without a stream library).
    pub async fn next(mut self: Pin<&mut Self>) -> Option<Result<Op::Output, KmsError>> {
        std::future::poll_fn(|cx| self.as_mut().poll_next(cx)).await
    }
}

impl<S, Op> Items<S, Op>
where
    Op: Paginated,
    S: Service<Op, Response = Op::Output, Error = KmsError> + Clone,
{
    /// The next item (the [`Stream`] without a stream library).
    pub async fn next(mut self: Pin<&mut Self>) -> Option<Result<Op::Item, KmsError>> {
        std::future::poll_fn(|cx| self.as_mut().poll_next(cx)).await
    }
}

impl<S, Op> Stream for Paginator<S, Op>
where
    Op: Paginated,
    S: Service<Op, Response = Op::Output, Error = KmsError> + Clone,
{
    type Item = Result<Op::Output, KmsError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut this = self.project();
        if this.call.is_none() {
            let Some(op) = this.next.take() else {
                return Poll::Ready(None);
            };
            this.call.set(Some(this.svc.clone().oneshot(op.clone())));
            // Keep the request to continue from.
            *this.next = Some(op);
        }
        let Some(fut) = this.call.as_mut().as_pin_mut() else {
            return Poll::Ready(None);
        };
        let res = ready!(fut.poll(cx));
        this.call.set(None);
        let mut op = this.next.take();
        match res {
            Err(e) => Poll::Ready(Some(Err(e))),
            Ok(page) => {
                let marker = Op::next_marker(&page).map(str::to_owned);
                // Stop at the last page, and at a page that would repeat the
                // previous request (no marker, or the same marker again).
                if Op::more(&page) && marker.is_some() && marker != *this.last_marker {
                    if let Some(op) = op.as_mut() {
                        op.set_marker(marker.clone());
                    }
                    *this.last_marker = marker;
                    *this.next = op;
                }
                Poll::Ready(Some(Ok(page)))
            }
        }
    }
}

pin_project! {
    /// A stream of the items of every page of a [`Paginator`].
    pub struct Items<S, Op>
    where
        Op: Paginated,
        S: Service<Op>,
    {
        #[pin]
        pages: Paginator<S, Op>,
        buffered: VecDeque<Op::Item>,
    }
}

impl<S: Service<Op>, Op: Paginated> fmt::Debug for Items<S, Op> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Items")
            .field("buffered", &self.buffered.len())
            .finish_non_exhaustive()
    }
}

impl<S, Op> Stream for Items<S, Op>
where
    Op: Paginated,
    S: Service<Op, Response = Op::Output, Error = KmsError> + Clone,
{
    type Item = Result<Op::Item, KmsError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut this = self.project();
        loop {
            if let Some(item) = this.buffered.pop_front() {
                return Poll::Ready(Some(Ok(item)));
            }
            match ready!(this.pages.as_mut().poll_next(cx)) {
                None => return Poll::Ready(None),
                Some(Err(e)) => return Poll::Ready(Some(Err(e))),
                Some(Ok(page)) => this.buffered.extend(Op::items(page)),
            }
        }
    }
}
