//! Serving a [`LocalKms`] over a real socket with hyper.

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::LocalKms;

/// How long [`LocalKmsServer::shutdown`] waits for open connections.
const GRACE_PERIOD: Duration = Duration::from_secs(10);

/// A running HTTP server for a [`LocalKms`], from [`LocalKms::serve`].
///
/// Dropping it without calling [`shutdown`](Self::shutdown) also stops
/// accepting connections (and lets open ones finish in the background).
#[derive(Debug)]
#[must_use = "dropping the server handle shuts the server down"]
pub struct LocalKmsServer {
    local_addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
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

    /// Stops accepting connections, lets in-flight requests finish (up to
    /// ten seconds), and waits for the server task to end.
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
    /// Serves this KMS over HTTP/1.1 on `listener` from a spawned tokio task.
    ///
    /// Bind the listener to `127.0.0.1:0` for a free loopback port.
    ///
    /// # Panics
    /// When called outside a tokio runtime (like [`tokio::spawn`]).
    pub fn serve(self, listener: TcpListener) -> LocalKmsServer {
        let local_addr = listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from((Ipv4Addr::LOCALHOST, 0)));
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(accept_loop(self, listener, rx));
        LocalKmsServer {
            local_addr,
            shutdown: Some(tx),
            task: Some(task),
        }
    }
}

async fn accept_loop(kms: LocalKms, listener: TcpListener, mut stop: oneshot::Receiver<()>) {
    let builder = auto::Builder::new(TokioExecutor::new());
    let graceful = GracefulShutdown::new();
    loop {
        // A hand-written select (tokio's `macros` feature is not required).
        let event = std::future::poll_fn(|cx| {
            if Pin::new(&mut stop).poll(cx).is_ready() {
                return Poll::Ready(None);
            }
            listener.poll_accept(cx).map(Some)
        })
        .await;
        let stream = match event {
            None => break,
            Some(Ok((stream, _peer))) => stream,
            Some(Err(_)) => {
                // e.g. too many open files: back off briefly.
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let kms = kms.clone();
        let service = hyper::service::service_fn(move |req| {
            let kms = kms.clone();
            async move { tower::ServiceExt::oneshot(kms, req).await }
        });
        let conn = builder.serve_connection(TokioIo::new(stream), service);
        let conn = graceful.watch(conn.into_owned());
        tokio::spawn(async move {
            let _ = conn.await;
        });
    }
    drop(listener);
    let _ = tokio::time::timeout(GRACE_PERIOD, graceful.shutdown()).await;
}
