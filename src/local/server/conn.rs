//! One connection: what it is doing (idle, reading a head, busy), the
//! deadline of that phase, the body deadline, the write deadline (response
//! bytes the client does not take), and the registry of open connections the
//! accept loop uses for the cap and for shutdown.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::Full;
use pin_project_lite::pin_project;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;
use tokio::time::{Instant, Sleep};

use super::Limits;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What a connection is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// No request: just accepted, or its last response was handed to hyper.
    Idle,
    /// Bytes of a request arrived; its head is not complete yet.
    Head,
    /// A request is in flight (body, processing, response).
    Busy,
}

#[derive(Debug)]
struct PhaseState {
    phase: Phase,
    since: Instant,
    /// Since when response bytes are waiting for the client to take them:
    /// set when the socket first refuses a write, cleared once everything
    /// buffered was written (the flush after it).
    stalled_since: Option<Instant>,
    /// Bumped on every change, so the connection task knows to re-arm.
    generation: u64,
}

/// The state of one connection, shared by its task, its IO, its service
/// and the registry.
pub(super) struct Tracker {
    state: Mutex<PhaseState>,
    close_requested: AtomicBool,
    close: Notify,
    /// The registry's "a slot may be free" notification.
    changed: Arc<Notify>,
}

impl fmt::Debug for Tracker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tracker")
            .field("state", &*lock(&self.state))
            .field("close_requested", &self.close_requested)
            .finish_non_exhaustive()
    }
}

impl Tracker {
    pub(super) fn phase(&self) -> Phase {
        lock(&self.state).phase
    }

    fn set(&self, phase: Phase) {
        let mut s = lock(&self.state);
        s.phase = phase;
        s.since = Instant::now();
        s.generation = s.generation.wrapping_add(1);
    }

    /// Bytes were read from the socket.
    fn on_read(&self) {
        let mut s = lock(&self.state);
        if s.phase == Phase::Idle {
            s.phase = Phase::Head;
            s.since = Instant::now();
            s.generation = s.generation.wrapping_add(1);
        }
    }

    /// The socket refused a write (its send buffer is full). The first
    /// refusal since the last complete flush starts the write deadline.
    fn on_write_blocked(&self) {
        let mut s = lock(&self.state);
        if s.stalled_since.is_none() {
            s.stalled_since = Some(Instant::now());
            s.generation = s.generation.wrapping_add(1);
        }
    }

    /// Everything buffered was written and flushed.
    fn on_flushed(&self) {
        let mut s = lock(&self.state);
        if s.stalled_since.take().is_some() {
            s.generation = s.generation.wrapping_add(1);
        }
    }

    /// A request head was parsed and handed to the service.
    pub(super) fn on_request(&self) {
        self.set(Phase::Busy);
    }

    /// The response was handed over and its body dropped.
    fn on_response_done(&self) {
        self.set(Phase::Idle);
        self.changed.notify_one();
    }

    /// The generation and the earliest deadline of the connection: the one
    /// of the current phase and, while response bytes wait for the client,
    /// the write deadline (`None`: no deadline, a request is in flight and
    /// its response is not stuck, or the deadlines are out of range).
    pub(super) fn deadline(&self, limits: &Limits) -> (u64, Option<Instant>) {
        let s = lock(&self.state);
        let phase = match s.phase {
            Phase::Idle => s.since.checked_add(limits.idle_timeout),
            Phase::Head => s.since.checked_add(limits.header_read_timeout),
            Phase::Busy => None,
        };
        let write = s
            .stalled_since
            .and_then(|t| t.checked_add(limits.response_write_timeout));
        let deadline = match (phase, write) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        (s.generation, deadline)
    }

    /// Asks the connection task to close: at once when idle, after the
    /// request in flight otherwise.
    pub(super) fn request_close(&self) {
        if !self.close_requested.swap(true, Ordering::SeqCst) {
            self.close.notify_one();
        }
    }

    /// Resolves once [`request_close`](Self::request_close) was called.
    pub(super) async fn close_requested(&self) {
        self.close.notified().await;
    }
}

/// Counts of the open connections by phase.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Counts {
    pub(super) open: usize,
    pub(super) idle: usize,
    pub(super) busy: usize,
}

/// The open connections.
#[derive(Debug, Default)]
pub(super) struct Registry {
    conns: Mutex<HashMap<u64, Arc<Tracker>>>,
    next_id: AtomicU64,
    /// Notified when a connection ends or becomes idle.
    pub(super) changed: Arc<Notify>,
}

impl Registry {
    /// Registers a new (idle) connection; it is removed when the guard drops.
    pub(super) fn register(self: &Arc<Self>) -> (Arc<Tracker>, Registration) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let tracker = Arc::new(Tracker {
            state: Mutex::new(PhaseState {
                phase: Phase::Idle,
                since: Instant::now(),
                stalled_since: None,
                generation: 0,
            }),
            close_requested: AtomicBool::new(false),
            close: Notify::new(),
            changed: self.changed.clone(),
        });
        lock(&self.conns).insert(id, tracker.clone());
        (
            tracker,
            Registration {
                registry: self.clone(),
                id,
            },
        )
    }

    pub(super) fn len(&self) -> usize {
        lock(&self.conns).len()
    }

    /// The connection idle the longest that was not already asked to close.
    pub(super) fn longest_idle(&self) -> Option<Arc<Tracker>> {
        let conns = lock(&self.conns);
        conns
            .values()
            .filter(|t| !t.close_requested.load(Ordering::SeqCst))
            .filter_map(|t| {
                let s = lock(&t.state);
                (s.phase == Phase::Idle).then_some((s.since, t))
            })
            .min_by_key(|(since, _)| *since)
            .map(|(_, t)| t.clone())
    }

    /// Whether a connection was asked to close and has not ended yet.
    pub(super) fn any_closing(&self) -> bool {
        lock(&self.conns)
            .values()
            .any(|t| t.close_requested.load(Ordering::SeqCst))
    }

    /// Asks every open connection to close.
    pub(super) fn close_all(&self) {
        for t in lock(&self.conns).values() {
            t.request_close();
        }
    }

    pub(super) fn counts(&self) -> Counts {
        let conns = lock(&self.conns);
        let mut c = Counts {
            open: conns.len(),
            ..Counts::default()
        };
        for t in conns.values() {
            match t.phase() {
                Phase::Idle => c.idle += 1,
                Phase::Busy => c.busy += 1,
                Phase::Head => {}
            }
        }
        c
    }
}

/// Removes its connection from the registry when dropped (the connection
/// task ended or was aborted).
#[derive(Debug)]
pub(super) struct Registration {
    registry: Arc<Registry>,
    id: u64,
}

impl Drop for Registration {
    fn drop(&mut self) {
        lock(&self.registry.conns).remove(&self.id);
        self.registry.changed.notify_one();
    }
}

pin_project! {
    /// A socket that tells its tracker when request bytes arrive, when the
    /// client stops taking response bytes, and when it has taken them all.
    #[derive(Debug)]
    pub(super) struct Watched<T> {
        #[pin]
        inner: T,
        tracker: Arc<Tracker>,
    }
}

impl<T> Watched<T> {
    pub(super) fn new(inner: T, tracker: Arc<Tracker>) -> Self {
        Self { inner, tracker }
    }
}

impl<T: AsyncRead> AsyncRead for Watched<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.project();
        let before = buf.filled().len();
        let polled = this.inner.poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.tracker.on_read();
        }
        polled
    }
}

impl<T: AsyncWrite> AsyncWrite for Watched<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.project();
        let polled = this.inner.poll_write(cx, buf);
        if polled.is_pending() {
            this.tracker.on_write_blocked();
        }
        polled
    }

    // hyper flushes the socket once its write buffer is empty: every
    // response byte was taken.
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.project();
        let polled = this.inner.poll_flush(cx);
        if matches!(polled, Poll::Ready(Ok(()))) {
            this.tracker.on_flushed();
        }
        polled
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.project();
        let polled = this.inner.poll_write_vectored(cx, bufs);
        if polled.is_pending() {
            this.tracker.on_write_blocked();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// The marker error of a request body that missed its deadline; the
/// handler turns it into `408 RequestTimeoutException`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BodyTimeout(pub(crate) Duration);

impl fmt::Display for BodyTimeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "request body not received within {} ms",
            self.0.as_millis()
        )
    }
}

impl std::error::Error for BodyTimeout {}

pin_project! {
    /// A request body with one deadline for all of it.
    pub(super) struct DeadlineBody<B> {
        #[pin]
        inner: B,
        #[pin]
        sleep: Option<Sleep>,
        timeout: Duration,
        timed_out: Arc<AtomicBool>,
    }
}

impl<B> DeadlineBody<B> {
    /// `timed_out` is set when the deadline fires.
    pub(super) fn new(inner: B, timeout: Duration, timed_out: Arc<AtomicBool>) -> Self {
        let sleep = Instant::now()
            .checked_add(timeout)
            .map(tokio::time::sleep_until);
        Self {
            inner,
            sleep,
            timeout,
            timed_out,
        }
    }
}

impl<B> Body for DeadlineBody<B>
where
    B: Body,
    B::Error: Into<BoxError>,
{
    type Data = B::Data;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        if let Poll::Ready(frame) = this.inner.poll_frame(cx) {
            return Poll::Ready(frame.map(|r| r.map_err(Into::into)));
        }
        if let Some(sleep) = this.sleep.as_pin_mut()
            && sleep.poll(cx).is_ready()
        {
            this.timed_out.store(true, Ordering::SeqCst);
            return Poll::Ready(Some(Err(Box::new(BodyTimeout(*this.timeout)))));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

pin_project! {
    /// A response body that marks its connection idle when hyper drops it
    /// (after writing it, or when the connection ends).
    pub(super) struct ResponseBody {
        #[pin]
        inner: Full<Bytes>,
        done: DoneOnDrop,
    }
}

impl ResponseBody {
    pub(super) fn new(inner: Full<Bytes>, tracker: Arc<Tracker>) -> Self {
        Self {
            inner,
            done: DoneOnDrop(tracker),
        }
    }
}

struct DoneOnDrop(Arc<Tracker>);

impl Drop for DoneOnDrop {
    fn drop(&mut self) {
        self.0.on_response_done();
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        self.project().inner.poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[test]
    fn phases_and_longest_idle() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        rt.block_on(async {
            let registry = Arc::new(Registry::default());
            let (a, ra) = registry.register();
            tokio::time::advance(Duration::from_secs(1)).await;
            let (b, _rb) = registry.register();
            assert_eq!(
                registry.counts(),
                Counts {
                    open: 2,
                    idle: 2,
                    busy: 0
                }
            );
            // The older idle one goes first; a busy one never.
            assert!(Arc::ptr_eq(&registry.longest_idle().unwrap(), &a));
            a.on_read();
            assert_eq!(a.phase(), Phase::Head);
            assert!(Arc::ptr_eq(&registry.longest_idle().unwrap(), &b));
            a.on_request();
            b.on_read();
            b.on_request();
            assert!(registry.longest_idle().is_none());
            assert_eq!(registry.counts().busy, 2);
            let limits = Limits {
                idle_timeout: Duration::from_secs(5),
                header_read_timeout: Duration::from_secs(2),
                body_read_timeout: Duration::from_secs(2),
                response_write_timeout: Duration::from_secs(3),
            };
            let (g0, d0) = a.deadline(&limits);
            assert_eq!(d0, None);
            // A stuck response has a deadline even while busy; only the
            // first refusal starts it, a complete flush ends it.
            a.on_write_blocked();
            let (gs, ds) = a.deadline(&limits);
            assert_ne!(g0, gs);
            assert_eq!(ds, Some(Instant::now() + Duration::from_secs(3)));
            tokio::time::advance(Duration::from_secs(1)).await;
            a.on_write_blocked();
            assert_eq!(a.deadline(&limits), (gs, ds));
            a.on_flushed();
            let (gf, df) = a.deadline(&limits);
            assert_ne!(gs, gf);
            assert_eq!(df, None);
            a.on_response_done();
            let (g1, d1) = a.deadline(&limits);
            assert_ne!(gf, g1);
            assert_eq!(d1, Some(Instant::now() + Duration::from_secs(5)));
            // Idle but stuck: the earlier of the two.
            a.on_write_blocked();
            assert_eq!(
                a.deadline(&limits).1,
                Some(Instant::now() + Duration::from_secs(3))
            );
            a.on_flushed();
            // Asked to close: no longer a candidate.
            a.request_close();
            assert!(registry.longest_idle().is_none());
            // Out-of-range deadlines are no deadline, not a panic.
            let never = Limits {
                idle_timeout: Duration::MAX,
                header_read_timeout: Duration::MAX,
                body_read_timeout: Duration::MAX,
                response_write_timeout: Duration::MAX,
            };
            a.on_write_blocked();
            assert_eq!(a.deadline(&never).1, None);
            drop(ra);
            assert_eq!(registry.len(), 1);
        });
    }

    #[tokio::test(start_paused = true)]
    async fn body_deadline_is_total() {
        // A body that never ends: one byte a second. The deadline is for the
        // whole body, so the steady trickle does not extend it.
        struct Drip(tokio::time::Interval);
        impl Body for Drip {
            type Data = Bytes;
            type Error = BoxError;
            fn poll_frame(
                mut self: Pin<&mut Self>,
                cx: &mut Context<'_>,
            ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
                self.0
                    .poll_tick(cx)
                    .map(|_| Some(Ok(Frame::data(Bytes::from_static(b"x")))))
            }
        }
        let flag = Arc::new(AtomicBool::new(false));
        let drip = Drip(tokio::time::interval(Duration::from_secs(1)));
        let deadline = DeadlineBody::new(drip, Duration::from_millis(3500), flag.clone());
        let start = Instant::now();
        let err = deadline.collect().await.unwrap_err();
        assert_eq!(start.elapsed(), Duration::from_millis(3500));
        assert!(err.downcast_ref::<BodyTimeout>().is_some(), "{err}");
        assert_eq!(err.to_string(), "request body not received within 3500 ms");
        assert!(flag.load(Ordering::SeqCst));

        // A body in time is passed through.
        let flag = Arc::new(AtomicBool::new(false));
        let ok = DeadlineBody::new(
            Full::new(Bytes::from_static(b"{}")),
            Duration::ZERO,
            flag.clone(),
        );
        assert_eq!(ok.collect().await.unwrap().to_bytes(), "{}");
        assert!(!flag.load(Ordering::SeqCst));
        // An out-of-range timeout means none.
        let inf = DeadlineBody::new(Full::new(Bytes::from_static(b"{}")), Duration::MAX, flag);
        assert_eq!(inf.collect().await.unwrap().to_bytes(), "{}");
    }
}
