//! [`ServerConfig`]: the limits of the socket server.

use std::time::Duration;

/// Limits of the HTTP/1.1 server started by
/// [`LocalKms::serve_with`](crate::local::LocalKms::serve_with).
///
/// The defaults are far above what a test suite or an SDK does, so they are
/// never noticed by well-behaved clients, and low enough that a client that
/// stalls, or a pile of abandoned keep-alive connections, cannot hold the
/// server for long:
///
/// | setting | default | what it bounds |
/// | --- | --- | --- |
/// | [`header_read_timeout`](Self::header_read_timeout) | 30 s | first byte of a request to the end of its head |
/// | [`body_read_timeout`](Self::body_read_timeout) | 60 s | end of the head to the end of the body |
/// | [`idle_timeout`](Self::idle_timeout) | 120 s | a connection with no request: after accept or after a response |
/// | [`response_write_timeout`](Self::response_write_timeout) | 30 s | response bytes the client does not take |
/// | [`max_connections`](Self::max_connections) | 4096 | connections served at once |
/// | [`shutdown_grace`](Self::shutdown_grace) | 10 s | [`shutdown`](crate::local::LocalKmsServer::shutdown) waiting for open requests |
///
/// Why these values:
///
/// * 30 s for a request head is hyper's own default; a KMS request head is
///   under 2 KiB and arrives in one packet from any real client.
/// * 60 s for a body (at most 64 KiB by default, see
///   [`LocalKmsBuilder::max_body_bytes`](crate::local::LocalKmsBuilder::max_body_bytes))
///   is nginx's `client_body_timeout`, but counted for the whole body rather
///   than between two reads, so a client trickling one byte at a time cannot
///   stretch it.
/// * 120 s idle is above the 90 s after which clients drop an idle pooled
///   connection themselves: hyper-util's pool (the AWS SDK for Rust builds
///   on it), this crate's connector
///   ([`DEFAULT_POOL_IDLE_TIMEOUT`](crate::connector::DEFAULT_POOL_IDLE_TIMEOUT))
///   and Go's `net/http` transport. With them the client always closes
///   first, so a new request never races the server's close.
/// * 30 s for the client to take a response it stopped reading: a KMS
///   response is at most a few hundred KiB (a full `ListKeys` page), which
///   any live client reads in far less, while a client that pipelines
///   requests and never reads would otherwise hold its connection, and the
///   task serving it, for ever.
/// * 4096 connections is more than a parallel test suite opens and, at a few
///   tens of KiB per idle connection, a bounded amount of memory. At the cap
///   an idle connection is closed to make room (see
///   [`max_connections`](Self::max_connections)), so idle connections never
///   lock new clients out.
/// * 10 s of grace is what the server always allowed before this setting.
///
/// # How the limits apply
///
/// The server knows what each connection is doing:
///
/// * **idle** — no request: just accepted, or its last response written.
///   Closed after [`idle_timeout`](Self::idle_timeout), and the first to be
///   closed at the [connection cap](Self::max_connections);
/// * **reading a head** — from the first byte of a request to the end of its
///   head. Dropped without a response after
///   [`header_read_timeout`](Self::header_read_timeout);
/// * **busy** — a request is in flight. Its body must arrive within
///   [`body_read_timeout`](Self::body_read_timeout), or the request is
///   answered `408` and the connection closed. Processing has no deadline
///   of its own.
///
/// In every phase, once the socket refuses a response byte (the client does
/// not read, and the kernel's buffers are full), everything the server has to
/// write must be taken within
/// [`response_write_timeout`](Self::response_write_timeout), counted from
/// that first refusal (a total, so a client reading a byte at a time cannot
/// stretch it); otherwise the connection is closed, dropping the unwritten
/// responses.
///
/// # HTTP/1.1 only
///
/// KMS clients — the AWS SDKs, the AWS CLI and this crate's connector —
/// speak HTTP/1.1 to a KMS endpoint; none uses cleartext HTTP/2 (h2c), so
/// the server does not serve it (one protocol fewer to bound against hostile
/// clients). An HTTP/2 preface is refused like any malformed request: the
/// connection is closed.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use tower_kms::local::{LocalKms, ServerConfig};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let config = ServerConfig::new()
///     .header_read_timeout(Duration::from_secs(5))
///     .idle_timeout(Duration::from_secs(30))
///     .max_connections(256);
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
/// let server = LocalKms::new().serve_with(listener, config);
/// server.shutdown().await;
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct ServerConfig {
    pub(super) header_read_timeout: Duration,
    pub(super) body_read_timeout: Duration,
    pub(super) idle_timeout: Duration,
    pub(super) response_write_timeout: Duration,
    pub(super) max_connections: usize,
    pub(super) shutdown_grace: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            header_read_timeout: Self::DEFAULT_HEADER_READ_TIMEOUT,
            body_read_timeout: Self::DEFAULT_BODY_READ_TIMEOUT,
            idle_timeout: Self::DEFAULT_IDLE_TIMEOUT,
            response_write_timeout: Self::DEFAULT_RESPONSE_WRITE_TIMEOUT,
            max_connections: Self::DEFAULT_MAX_CONNECTIONS,
            shutdown_grace: Self::DEFAULT_SHUTDOWN_GRACE,
        }
    }
}

impl ServerConfig {
    /// Default [`header_read_timeout`](Self::header_read_timeout): 30 s.
    pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
    /// Default [`body_read_timeout`](Self::body_read_timeout): 60 s.
    pub const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(60);
    /// Default [`idle_timeout`](Self::idle_timeout): 120 s.
    pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(120);
    /// Default [`response_write_timeout`](Self::response_write_timeout): 30 s.
    pub const DEFAULT_RESPONSE_WRITE_TIMEOUT: Duration = Duration::from_secs(30);
    /// Default [`max_connections`](Self::max_connections): 4096.
    pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;
    /// Default [`shutdown_grace`](Self::shutdown_grace): 10 s.
    pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

    /// The defaults (see the [type documentation](Self)).
    pub fn new() -> Self {
        Self::default()
    }

    /// How long a client may take from the first byte of a request to the
    /// end of its head (request line and headers). A client that is slower
    /// is disconnected without a response, as hyper does.
    ///
    /// The time before the first byte is the [idle
    /// time](Self::idle_timeout), not part of this one.
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.header_read_timeout = timeout;
        self
    }

    /// How long a client may take to send the whole request body, counted
    /// from the end of the head (a total, not a limit between two reads).
    ///
    /// When it runs out the request is answered with `408 Request Timeout`
    /// and a KMS-style error body (`__type` `RequestTimeoutException`), and
    /// the connection is closed.
    pub fn body_read_timeout(mut self, timeout: Duration) -> Self {
        self.body_read_timeout = timeout;
        self
    }

    /// How long a connection may stay open with no request on it: after it
    /// is accepted, and after each response, until the first byte of the next
    /// request. Then the server closes it.
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// How long response bytes may wait for a client that does not read
    /// them, counted from the first write the socket refuses until all that
    /// the server has buffered for the connection was written. Then the
    /// connection is closed, with its unwritten responses.
    ///
    /// A client reading its responses normally never reaches this deadline:
    /// the socket only refuses a write once the kernel's buffers on both
    /// sides are full.
    pub fn response_write_timeout(mut self, timeout: Duration) -> Self {
        self.response_write_timeout = timeout;
        self
    }

    /// The most connections served at once (at least 1).
    ///
    /// When a new connection arrives at the cap, the connection that has been
    /// idle the longest (no request in flight and no byte of a next request
    /// received) is closed to make room, as nginx reuses keep-alive
    /// connections. When none is idle, the server stops accepting until a
    /// connection ends or becomes idle: it holds the one connection it has
    /// accepted, and later ones wait in the kernel's listen backlog
    /// (backpressure). So at most `max_connections + 1` sockets are open.
    ///
    /// When accepting fails for lack of file descriptors or memory, the
    /// longest-idle connection is closed too.
    pub fn max_connections(mut self, max: usize) -> Self {
        self.max_connections = max.max(1);
        self
    }

    /// How long [`LocalKmsServer::shutdown`](crate::local::LocalKmsServer::shutdown)
    /// (or dropping the handle) lets open requests finish before the
    /// remaining connections are aborted.
    pub fn shutdown_grace(mut self, grace: Duration) -> Self {
        self.shutdown_grace = grace;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_setters() {
        let d = ServerConfig::new();
        assert_eq!(d, ServerConfig::default());
        assert_eq!(d.header_read_timeout, Duration::from_secs(30));
        assert_eq!(d.body_read_timeout, Duration::from_secs(60));
        assert_eq!(d.idle_timeout, Duration::from_secs(120));
        assert_eq!(d.response_write_timeout, Duration::from_secs(30));
        assert_eq!(d.max_connections, 4096);
        assert_eq!(d.shutdown_grace, Duration::from_secs(10));
        let c = ServerConfig::new()
            .header_read_timeout(Duration::from_millis(1))
            .body_read_timeout(Duration::from_millis(2))
            .idle_timeout(Duration::from_millis(3))
            .response_write_timeout(Duration::from_millis(4))
            .max_connections(0)
            .shutdown_grace(Duration::MAX);
        assert_eq!(c.header_read_timeout, Duration::from_millis(1));
        assert_eq!(c.body_read_timeout, Duration::from_millis(2));
        assert_eq!(c.idle_timeout, Duration::from_millis(3));
        assert_eq!(c.response_write_timeout, Duration::from_millis(4));
        assert_eq!(c.max_connections, 1);
        assert_eq!(c.shutdown_grace, Duration::MAX);
    }
}
