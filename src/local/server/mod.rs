//! Serving a [`LocalKms`] over a real socket with hyper's HTTP/1.1 server.
//!
//! The user-facing rules (phases, limits, HTTP/1.1 only) are documented on
//! [`ServerConfig`]. An implementation note: hyper has a header-read timeout
//! of its own, but it starts as soon as a connection is ready for a request,
//! so it also counts the idle time before it (see `poll_read_head` and
//! `State::idle` in hyper 1.x's `proto/h1/conn.rs`); alone, it would close
//! every keep-alive connection after the header timeout. So each connection
//! task tracks its phase itself ([`conn::Tracker`]), and hyper's timer (on
//! [`TokioTimer`]) is kept only as a backstop set to idle plus header time,
//! the longest a head can take under these rules.
//!
//! hyper has no write timeout at all: a client that sends requests and never
//! reads the responses leaves hyper waiting on a full socket, with a request
//! in flight (so no idle deadline) forever. The connection's socket
//! ([`conn::Watched`]) therefore notes the first write the kernel refuses and
//! the flush that follows hyper's last buffered byte; between the two the
//! [response write timeout](ServerConfig::response_write_timeout) runs.

use std::fmt;
use std::future::{Future, poll_fn};
use std::net::{Ipv4Addr, SocketAddr};
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use http::HeaderValue;
use http::header::CONNECTION;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::{JoinHandle, JoinSet};

use super::LocalKms;

mod config;
mod conn;

pub use config::ServerConfig;
pub(crate) use conn::BodyTimeout;

use conn::{DeadlineBody, Phase, Registration, Registry, ResponseBody, Tracker, Watched};

/// A running HTTP server for a [`LocalKms`], from [`LocalKms::serve`] or
/// [`LocalKms::serve_with`].
///
/// Dropping it without calling [`shutdown`](Self::shutdown) also stops
/// accepting connections; open ones then finish in the background within the
/// [shutdown grace period](ServerConfig::shutdown_grace).
#[must_use = "dropping the server handle shuts the server down"]
pub struct LocalKmsServer {
    local_addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
    registry: Arc<Registry>,
}

/// A snapshot of a server's connections, from [`LocalKmsServer::stats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerStats {
    /// Connections being served (idle, reading a request head, or busy).
    pub open_connections: usize,
    /// Open connections with no request: no request in flight and no byte of
    /// a next request received.
    pub idle_connections: usize,
    /// Requests whose head was read and whose response is not written yet.
    pub requests_in_flight: usize,
}

impl fmt::Debug for LocalKmsServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalKmsServer")
            .field("local_addr", &self.local_addr)
            .field("stopping", &self.shutdown.is_none())
            .field("stats", &self.stats())
            .finish()
    }
}

impl LocalKmsServer {
    /// The address the listener is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// `http://127.0.0.1:PORT` (the bound address, with an unspecified IP
    /// replaced by loopback) — the endpoint URL to give a KMS client.
    pub fn endpoint_url(&self) -> String {
        let mut addr = self.local_addr;
        if addr.ip().is_unspecified() {
            addr.set_ip(Ipv4Addr::LOCALHOST.into());
        }
        format!("http://{addr}")
    }

    /// The connections open right now.
    pub fn stats(&self) -> ServerStats {
        let c = self.registry.counts();
        ServerStats {
            open_connections: c.open,
            idle_connections: c.idle,
            requests_in_flight: c.busy,
        }
    }

    /// Stops accepting connections, closes idle ones, lets requests in
    /// flight finish for up to the [grace period](ServerConfig::shutdown_grace),
    /// then aborts the connections still open, and returns when every
    /// connection task has ended.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for LocalKmsServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

impl LocalKms {
    /// Serves this KMS over HTTP/1.1 on `listener` from a spawned tokio task,
    /// with the default [`ServerConfig`]: `serve_with(listener,
    /// ServerConfig::default())`.
    ///
    /// Bind the listener to `127.0.0.1:0` for a free loopback port.
    ///
    /// # Panics
    /// When called outside a tokio runtime (like [`tokio::spawn`]).
    pub fn serve(self, listener: TcpListener) -> LocalKmsServer {
        self.serve_with(listener, ServerConfig::default())
    }

    /// Serves this KMS over HTTP/1.1 on `listener` with the limits of
    /// `config` (see [`ServerConfig`] for how they apply, and why HTTP/1.1
    /// only).
    ///
    /// # Panics
    /// When called outside a tokio runtime (like [`tokio::spawn`]).
    pub fn serve_with(self, listener: TcpListener, config: ServerConfig) -> LocalKmsServer {
        let local_addr = listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from((Ipv4Addr::LOCALHOST, 0)));
        let (tx, rx) = oneshot::channel::<()>();
        let registry = Arc::new(Registry::default());
        let task = tokio::spawn(accept_loop(
            self,
            listener,
            config,
            registry.clone(),
            Stop { rx, fired: false },
        ));
        LocalKmsServer {
            local_addr,
            shutdown: Some(tx),
            task: Some(task),
            registry,
        }
    }
}

/// The stop signal: a message or the dropped handle. Safe to poll again
/// after it fired.
struct Stop {
    rx: oneshot::Receiver<()>,
    fired: bool,
}

impl Stop {
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if !self.fired && Pin::new(&mut self.rx).poll(cx).is_ready() {
            self.fired = true;
        }
        if self.fired {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }

    /// Runs `fut` unless the stop signal comes first (`None`).
    async fn or<F: Future>(&mut self, fut: F) -> Option<F::Output> {
        let mut fut = pin!(fut);
        poll_fn(|cx| {
            if self.poll(cx).is_ready() {
                return Poll::Ready(None);
            }
            fut.as_mut().poll(cx).map(Some)
        })
        .await
    }
}

/// Accept errors that concern one connection only (axum's rule as well).
fn is_connection_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset | Interrupted | WouldBlock
    )
}

/// Longest backstop handed to hyper (a hundred years).
const MAX_BACKSTOP: Duration = Duration::from_secs(100 * 365 * 86_400);

/// The per-connection settings copied into each connection task.
#[derive(Debug, Clone, Copy)]
struct Limits {
    header_read_timeout: Duration,
    body_read_timeout: Duration,
    idle_timeout: Duration,
    response_write_timeout: Duration,
}

async fn accept_loop(
    kms: LocalKms,
    listener: TcpListener,
    config: ServerConfig,
    registry: Arc<Registry>,
    mut stop: Stop,
) {
    let limits = Limits {
        header_read_timeout: config.header_read_timeout,
        body_read_timeout: config.body_read_timeout,
        idle_timeout: config.idle_timeout,
        response_write_timeout: config.response_write_timeout,
    };
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .keep_alive(true)
        // A backstop only: see the module documentation.
        // (Absurdly long settings mean none: hyper adds it to `Instant::now()`.)
        .header_read_timeout(
            limits
                .idle_timeout
                .checked_add(limits.header_read_timeout)
                .filter(|d| *d <= MAX_BACKSTOP),
        );
    let builder = Arc::new(builder);
    let mut tasks = JoinSet::new();

    loop {
        while tasks.try_join_next().is_some() {}
        let Some(accepted) = stop.or(listener.accept()).await else {
            break;
        };
        let stream = match accepted {
            Ok((stream, _peer)) => stream,
            Err(e) if is_connection_error(&e) => continue,
            Err(_) => {
                // Out of file descriptors or memory: free the connection idle
                // the longest, if any, and give the system a moment.
                if let Some(idle) = registry.longest_idle() {
                    idle.request_close();
                }
                let pause = tokio::time::sleep(Duration::from_millis(50));
                if stop.or(pause).await.is_none() {
                    break;
                }
                continue;
            }
        };
        if !wait_for_slot(&registry, config.max_connections, &mut stop).await {
            break;
        }
        let _ = stream.set_nodelay(true);
        let (tracker, registration) = registry.register();
        tasks.spawn(serve_connection(
            builder.clone(),
            stream,
            kms.clone(),
            limits,
            tracker,
            registration,
        ));
    }

    drop(listener);
    registry.close_all();
    let drain = async { while tasks.join_next().await.is_some() {} };
    if tokio::time::timeout(config.shutdown_grace, drain)
        .await
        .is_err()
    {
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
    }
}

/// Waits until fewer than `max` connections are open, closing the one idle
/// the longest when there is one. `false` when the server is stopping.
async fn wait_for_slot(registry: &Registry, max: usize, stop: &mut Stop) -> bool {
    loop {
        if registry.len() < max {
            return true;
        }
        // One eviction at a time: a connection already asked to close frees
        // its slot soon, and closing a second one for the same newcomer
        // would drop a client for nothing.
        if !registry.any_closing()
            && let Some(idle) = registry.longest_idle()
        {
            idle.request_close();
        }
        // A connection ending or becoming idle notifies; the permit of a
        // notification sent before this point is kept, so none is lost.
        if stop.or(registry.changed.notified()).await.is_none() {
            return false;
        }
    }
}

async fn serve_connection(
    builder: Arc<http1::Builder>,
    stream: TcpStream,
    kms: LocalKms,
    limits: Limits,
    tracker: Arc<Tracker>,
    registration: Registration,
) {
    let _registration = registration;
    let io = TokioIo::new(Watched::new(stream, tracker.clone()));
    let service_tracker = tracker.clone();
    let service = hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
        service_tracker.on_request();
        let kms = kms.clone();
        let tracker = service_tracker.clone();
        let timed_out = Arc::new(AtomicBool::new(false));
        let req =
            req.map(|body| DeadlineBody::new(body, limits.body_read_timeout, timed_out.clone()));
        async move {
            let Ok(response) = tower::ServiceExt::oneshot(kms, req).await;
            let (mut parts, body) = response.into_parts();
            if timed_out.load(Ordering::SeqCst) {
                // The rest of the body is not read: the connection cannot be
                // reused.
                parts
                    .headers
                    .insert(CONNECTION, HeaderValue::from_static("close"));
            }
            Ok::<_, std::convert::Infallible>(http::Response::from_parts(
                parts,
                ResponseBody::new(body, tracker),
            ))
        }
    });
    let mut conn = pin!(builder.serve_connection(io, service));
    let mut close = pin!(tracker.close_requested());
    let mut closing = false;
    let mut timer = pin!(tokio::time::sleep(Duration::ZERO));
    let mut armed: Option<u64> = None;
    poll_fn(|cx| {
        if !closing && close.as_mut().poll(cx).is_ready() {
            closing = true;
            if tracker.phase() == Phase::Idle {
                return Poll::Ready(());
            }
            // Finish the request in flight (or being read), then close.
            conn.as_mut().graceful_shutdown();
        }
        if conn.as_mut().poll(cx).is_ready() {
            return Poll::Ready(());
        }
        // Every phase change happens inside `conn.poll` above (reads, the
        // service call, the response body drop), so this sees the new one.
        let (generation, deadline) = tracker.deadline(&limits);
        let Some(deadline) = deadline else {
            return Poll::Pending;
        };
        if armed != Some(generation) {
            armed = Some(generation);
            timer.as_mut().reset(deadline);
        }
        if timer.as_mut().poll(cx).is_ready() {
            // Idle too long, too slow with a request head, or not taking
            // the responses: close.
            return Poll::Ready(());
        }
        Poll::Pending
    })
    .await;
}
