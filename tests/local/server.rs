//! The socket server: request log hook, hostile clients (slow heads, slow
//! bodies, idle and piled-up connections, clients that never read), the
//! connection cap, HTTP/1.1 only, and shutdown.
//!
//! Timeouts under test are short and configured per test; every wait for
//! something to happen is bounded by [`GENEROUS`], and lower bounds are
//! measured from a point the server cannot have seen earlier, so neither
//! side can flake on a loaded machine.

use crate::common;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Sig, Transport, signed};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tower_kms::local::{LocalKms, LocalKmsServer, RequestLog, ServerConfig};

/// The bound on any wait for something that should happen promptly.
const GENEROUS: Duration = Duration::from_secs(30);

async fn serve(config: ServerConfig) -> LocalKmsServer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    LocalKms::new().serve_with(listener, config)
}

/// A signed HTTP/1.1 request head for `op` whose body is `body`.
fn head(addr: SocketAddr, op: &str, body: &[u8]) -> String {
    let req = signed(&format!("http://{addr}"), op, body, &Sig::default());
    let mut head = format!(
        "POST / HTTP/1.1\r\nhost: {addr}\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (k, v) in req.headers() {
        head.push_str(&format!("{k}: {}\r\n", v.to_str().unwrap()));
    }
    head.push_str("\r\n");
    head
}

/// A whole signed ListKeys request.
fn list_keys(addr: SocketAddr) -> Vec<u8> {
    let mut r = head(addr, "ListKeys", b"{}").into_bytes();
    r.extend_from_slice(b"{}");
    r
}

/// Reads one response (head and `content-length` body) as text.
async fn read_response(stream: &mut TcpStream) -> String {
    let read = async {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                let len: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .map(|v| v.trim().parse().unwrap())
                    .unwrap_or(0);
                if buf.len() >= end + 4 + len {
                    return String::from_utf8_lossy(&buf[..end + 4 + len]).into_owned();
                }
            }
            let n = stream.read(&mut chunk).await.unwrap();
            assert!(
                n > 0,
                "closed mid-response: {:?}",
                String::from_utf8_lossy(&buf)
            );
            buf.extend_from_slice(&chunk[..n]);
        }
    };
    tokio::time::timeout(GENEROUS, read)
        .await
        .expect("a response in time")
}

/// Waits until the server closes `stream` (EOF or reset) and returns what
/// it sent before.
async fn closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let wait = async {
        let mut chunk = [0u8; 4096];
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&chunk[..n]),
            }
        }
    };
    tokio::time::timeout(GENEROUS, wait)
        .await
        .expect("the server closes the connection in time");
    got
}

/// Polls `cond` until it holds (at most [`GENEROUS`]).
async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + GENEROUS;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Polls until connecting to `addr` is refused (at most [`GENEROUS`]).
async fn refused(addr: SocketAddr) {
    let deadline = Instant::now() + GENEROUS;
    while TcpStream::connect(addr).await.is_ok() {
        assert!(Instant::now() < deadline, "{addr} still accepts");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Asserts that `fut` is still pending after `window`. A server that is
/// slow only makes this pass more surely, so it cannot flake.
async fn still_pending<F: Future>(fut: F, window: Duration) {
    assert!(
        tokio::time::timeout(window, fut).await.is_err(),
        "finished early"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_log_hook_sees_every_request() {
    let logs: Arc<Mutex<Vec<RequestLog>>> = Arc::default();
    let sink = logs.clone();
    let kms = LocalKms::builder()
        .on_request(Arc::new(move |log: &RequestLog| {
            sink.lock().unwrap().push(log.clone())
        }))
        .build();
    let t = Transport::socket(&kms).await;
    let ok = t.call("ListKeys", json!({})).await;
    let bad = t
        .call("DescribeKey", json!({ "KeyId": "alias/none" }))
        .await;
    let unauth = t
        .call_with(
            "ListKeys",
            json!({}),
            &Sig {
                secret: "nope".into(),
                ..Sig::default()
            },
        )
        .await;
    t.shutdown().await;
    let logs = logs.lock().unwrap();
    assert_eq!(logs.len(), 3);
    assert_eq!(logs[0].operation, "ListKeys");
    assert_eq!(logs[0].status, 200);
    assert_eq!(logs[0].error_code, None);
    assert_eq!(logs[0].request_id, ok.headers["x-amzn-requestid"]);
    assert_eq!(logs[1].operation, "DescribeKey");
    assert_eq!(logs[1].status, 404);
    assert_eq!(logs[1].error_code.as_deref(), Some("NotFoundException"));
    assert_eq!(logs[1].request_id, bad.headers["x-amzn-requestid"]);
    assert_eq!(
        logs[2].error_code.as_deref(),
        Some("InvalidSignatureException")
    );
    assert_eq!(logs[2].request_id, unauth.headers["x-amzn-requestid"]);
    assert!(logs.iter().all(|l| l.elapsed < Duration::from_secs(10)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_finishes_in_flight_requests() {
    let server = serve(ServerConfig::new()).await;
    let addr = server.local_addr();
    assert_eq!(server.endpoint_url(), format!("http://{addr}"));

    // A signed request whose body arrives in two halves around the shutdown.
    let body = br#"{"Limit": 10}"#;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(head(addr, "ListKeys", body).as_bytes())
        .await
        .unwrap();
    stream.write_all(&body[..5]).await.unwrap();
    eventually("the request in flight", || {
        server.stats().requests_in_flight == 1
    })
    .await;

    let shutdown = tokio::spawn(server.shutdown());
    // No new connection is accepted once shutdown started, while the
    // request in flight still holds the shutdown open.
    refused(addr).await;
    assert!(!shutdown.is_finished());

    stream.write_all(&body[5..]).await.unwrap();
    let response = read_response(&mut stream).await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("\"Keys\":[]"), "{response}");
    // Then the connection is closed rather than kept alive.
    assert!(closed(&mut stream).await.is_empty());
    tokio::time::timeout(GENEROUS, shutdown)
        .await
        .expect("shutdown in time")
        .unwrap();
    assert!(TcpStream::connect(addr).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_handle_stops_the_server() {
    let server = serve(ServerConfig::new()).await;
    let addr = server.local_addr();
    let mut idle = TcpStream::connect(addr).await.unwrap();
    eventually("the connection", || server.stats().open_connections == 1).await;
    let debug = format!("{server:?}");
    assert!(
        debug.starts_with("LocalKmsServer") && debug.contains("open_connections: 1"),
        "{debug}"
    );
    drop(server);
    // The accept loop sees the dropped sender, closes the listener and the
    // idle connection.
    refused(addr).await;
    assert!(closed(&mut idle).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_header_client_is_cut_off_while_others_are_served() {
    let header_timeout = Duration::from_secs(2);
    let server = serve(
        ServerConfig::new()
            .header_read_timeout(header_timeout)
            .idle_timeout(Duration::from_secs(600)),
    )
    .await;
    let addr = server.local_addr();

    // A client that sends its head one byte a second.
    let request = list_keys(addr);
    let request_len = request.len();
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut rd, mut wr) = stream.into_split();
    let (first_tx, first_rx) = oneshot::channel::<Instant>();
    let slow = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut first = Some(first_tx);
        let mut sent = 0;
        for b in &request {
            tick.tick().await;
            // Before the write: the server's timer starts when it reads it.
            let at = Instant::now();
            if wr.write_all(std::slice::from_ref(b)).await.is_err() {
                break;
            }
            sent += 1;
            if let Some(tx) = first.take() {
                let _ = tx.send(at);
            }
        }
        sent
    });
    let first_byte_at = first_rx.await.unwrap();

    // Meanwhile a normal client is served.
    let mut normal = TcpStream::connect(addr).await.unwrap();
    normal.write_all(&list_keys(addr)).await.unwrap();
    let response = read_response(&mut normal).await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");

    // The slow one is cut off, with no response, after the header timeout
    // and long before it could finish its head or reach the idle timeout.
    let mut got = Vec::new();
    let wait = rd.read_to_end(&mut got);
    let _ = tokio::time::timeout(GENEROUS, wait)
        .await
        .expect("cut off in time");
    let cut_after = first_byte_at.elapsed();
    assert!(got.is_empty(), "{:?}", String::from_utf8_lossy(&got));
    assert!(cut_after >= header_timeout, "{cut_after:?}");
    // Its writes then fail: it never got to send the whole head.
    let sent = tokio::time::timeout(GENEROUS, slow)
        .await
        .expect("the slow writer notices")
        .unwrap();
    assert!(sent < request_len, "{sent} of {request_len}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_body_gets_408_and_the_connection_closes() {
    let body_timeout = Duration::from_secs(1);
    let server = serve(ServerConfig::new().body_read_timeout(body_timeout)).await;
    let addr = server.local_addr();
    let body = br#"{"Limit": 10}"#;
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut rd, mut wr) = stream.into_split();
    // Taken before the head is sent: the server's deadline starts once it has
    // read the head, which a busy machine may do before this task runs on.
    let head_sent_at = Instant::now();
    wr.write_all(head(addr, "ListKeys", body).as_bytes())
        .await
        .unwrap();
    // One byte every 400 ms: each gap is well under the timeout, so only a
    // deadline for the whole body (13 bytes, about 5 s) can fire.
    let trickle = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(400));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        for b in body {
            tick.tick().await;
            if wr.write_all(std::slice::from_ref(b)).await.is_err() {
                break;
            }
        }
        wr
    });
    let mut response = Vec::new();
    tokio::time::timeout(GENEROUS, rd.read_to_end(&mut response))
        .await
        .expect("answered and closed in time")
        .unwrap();
    let elapsed = head_sent_at.elapsed();
    let text = String::from_utf8_lossy(&response);
    assert!(
        text.starts_with("HTTP/1.1 408 Request Timeout\r\n"),
        "{text}"
    );
    let lower = text.to_ascii_lowercase();
    assert!(lower.contains("\r\nconnection: close\r\n"), "{text}");
    assert!(
        lower.contains("\r\ncontent-type: application/x-amz-json-1.1\r\n"),
        "{text}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&text[text.find("\r\n\r\n").unwrap() + 4..]).unwrap();
    assert_eq!(json["__type"], "RequestTimeoutException");
    assert_eq!(
        json["message"],
        "The request body was not received within 1000 ms."
    );
    assert!(elapsed >= body_timeout, "{elapsed:?}");
    trickle.abort();
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    // The header timeout is shorter than the idle one and must not cut an
    // idle connection: it only runs once a request has started.
    let idle_timeout = Duration::from_millis(1500);
    let server = serve(
        ServerConfig::new()
            .idle_timeout(idle_timeout)
            .header_read_timeout(Duration::from_millis(200)),
    )
    .await;
    let addr = server.local_addr();

    // A keep-alive connection after one request.
    // Each instant is taken before what starts the server's timer, never
    // after: a busy machine may run the server between the two.
    let mut used = TcpStream::connect(addr).await.unwrap();
    let request_sent_at = Instant::now();
    used.write_all(&list_keys(addr)).await.unwrap();
    let response = read_response(&mut used).await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    // A connection that never sends anything.
    let connected_at = Instant::now();
    let mut silent = TcpStream::connect(addr).await.unwrap();

    assert!(closed(&mut used).await.is_empty());
    let used_for = request_sent_at.elapsed();
    assert!(closed(&mut silent).await.is_empty());
    let silent_for = connected_at.elapsed();
    assert!(used_for >= idle_timeout, "{used_for:?}");
    assert!(silent_for >= idle_timeout, "{silent_for:?}");
    // The server's count follows the close it made (its bookkeeping may run
    // just after the client sees the end of the stream).
    eventually("no open connection", || {
        server.stats().open_connections == 0
    })
    .await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_that_never_reads_is_closed_after_the_write_timeout() {
    let write_timeout = Duration::from_secs(1);
    let server = serve(
        ServerConfig::new()
            .response_write_timeout(write_timeout)
            // Far away, so only the write deadline can close it.
            .idle_timeout(Duration::from_secs(600))
            .header_read_timeout(Duration::from_secs(600))
            .body_read_timeout(Duration::from_secs(600)),
    )
    .await;
    let addr = server.local_addr();

    // A client that pipelines requests and never reads a response (a small
    // receive buffer so the socket fills soon).
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let hostile = socket.connect(addr).await.unwrap();
    let connected_at = Instant::now();
    let (rd, mut wr) = hostile.into_split();
    let request = list_keys(addr);
    let writer = tokio::spawn(async move {
        let mut sent = 0u64;
        while wr.write_all(&request).await.is_ok() {
            sent += 1;
        }
        (sent, Instant::now())
    });

    // Meanwhile another client is served.
    let mut normal = TcpStream::connect(addr).await.unwrap();
    normal.write_all(&list_keys(addr)).await.unwrap();
    let response = read_response(&mut normal).await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");

    // The server stops reading once it cannot write, so the client's writes
    // block; after the write deadline the server closes the connection and
    // the writes fail.
    let (sent, failed_at) = tokio::time::timeout(GENEROUS, writer)
        .await
        .expect("the connection is closed in time")
        .unwrap();
    assert!(sent > 0);
    assert!(
        failed_at.duration_since(connected_at) >= write_timeout,
        "{:?}",
        failed_at.duration_since(connected_at)
    );
    drop(rd);
    eventually("only the normal connection left", || {
        server.stats().open_connections == 1
    })
    .await;
    // The normal client is still served on its connection.
    normal.write_all(&list_keys(addr)).await.unwrap();
    let response = read_response(&mut normal).await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_cap_the_longest_idle_connection_makes_room() {
    let server = serve(ServerConfig::new().max_connections(4)).await;
    let addr = server.local_addr();
    let mut conns = Vec::new();
    for n in 1..=4 {
        conns.push(TcpStream::connect(addr).await.unwrap());
        eventually("the connection", || server.stats().open_connections == n).await;
    }
    // Connection 0 is used again, so 1 becomes the one idle the longest.
    conns[0].write_all(&list_keys(addr)).await.unwrap();
    assert!(
        read_response(&mut conns[0])
            .await
            .starts_with("HTTP/1.1 200")
    );

    // A new client is served at once...
    let mut new = TcpStream::connect(addr).await.unwrap();
    new.write_all(&list_keys(addr)).await.unwrap();
    assert!(read_response(&mut new).await.starts_with("HTTP/1.1 200"));
    // ...because connection 1 was closed for it, and only that one.
    assert!(closed(&mut conns[1]).await.is_empty());
    eventually("four connections", || server.stats().open_connections == 4).await;
    // The next one makes room by closing connection 2.
    let mut newer = TcpStream::connect(addr).await.unwrap();
    newer.write_all(&list_keys(addr)).await.unwrap();
    assert!(read_response(&mut newer).await.starts_with("HTTP/1.1 200"));
    assert!(closed(&mut conns[2]).await.is_empty());
    let s = server.stats();
    assert!(s.open_connections <= 4, "{s:?}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_cap_with_none_idle_new_clients_wait_for_a_slot() {
    let server = serve(ServerConfig::new().max_connections(2)).await;
    let addr = server.local_addr();
    // Two connections in the middle of a request head: not idle.
    let mut busy = Vec::new();
    for _ in 0..2 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"POST / HTTP/1.1\r\n").await.unwrap();
        busy.push(s);
    }
    eventually("two connections reading a head", || {
        let s = server.stats();
        s.open_connections == 2 && s.idle_connections == 0
    })
    .await;

    // A third client's request is not served while both are busy...
    let mut waiting = TcpStream::connect(addr).await.unwrap();
    waiting.write_all(&list_keys(addr)).await.unwrap();
    let mut byte = [0u8; 1];
    still_pending(waiting.peek(&mut byte), Duration::from_millis(500)).await;
    assert_eq!(server.stats().open_connections, 2);
    // ...and is as soon as one of them goes away.
    drop(busy.pop());
    let response = read_response(&mut waiting).await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    // (A head in progress would hold the shutdown for its grace period.)
    drop(busy);
    server.shutdown().await;
}

async fn idle_flood(server: &LocalKmsServer, n: usize) -> Vec<TcpStream> {
    let mut idle = Vec::with_capacity(n);
    for _ in 0..n {
        idle.push(TcpStream::connect(server.local_addr()).await.unwrap());
    }
    idle
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_idle_connections_do_not_lock_out_a_client_default_cap() {
    let server = serve(ServerConfig::new()).await;
    let _idle = idle_flood(&server, 1000).await;
    eventually("a thousand connections", || {
        server.stats().open_connections == 1000
    })
    .await;
    let addr = server.local_addr();
    let mut client = TcpStream::connect(addr).await.unwrap();
    client.write_all(&list_keys(addr)).await.unwrap();
    assert!(read_response(&mut client).await.starts_with("HTTP/1.1 200"));
    // Under the default cap nothing had to be closed.
    assert_eq!(server.stats().open_connections, 1001);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_idle_connections_do_not_lock_out_a_client_small_cap() {
    let server = serve(ServerConfig::new().max_connections(64)).await;
    let mut idle = idle_flood(&server, 1000).await;
    let addr = server.local_addr();
    let mut client = TcpStream::connect(addr).await.unwrap();
    client.write_all(&list_keys(addr)).await.unwrap();
    assert!(read_response(&mut client).await.starts_with("HTTP/1.1 200"));
    let s = server.stats();
    assert!(s.open_connections <= 64, "{s:?}");
    // The oldest idle connections made room.
    assert!(closed(&mut idle[0]).await.is_empty());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_aborts_a_connection_that_never_finishes_after_the_grace() {
    let grace = Duration::from_millis(500);
    let server = serve(ServerConfig::new().shutdown_grace(grace)).await;
    let addr = server.local_addr();
    // A request whose body never comes (the body deadline is the default
    // 60 s, far beyond this test).
    let mut stuck = TcpStream::connect(addr).await.unwrap();
    let body = [b' '; 100];
    stuck
        .write_all(head(addr, "ListKeys", &body).as_bytes())
        .await
        .unwrap();
    eventually("the request in flight", || {
        server.stats().requests_in_flight == 1
    })
    .await;

    let started = Instant::now();
    tokio::time::timeout(GENEROUS, server.shutdown())
        .await
        .expect("shutdown returns after the grace period");
    let took = started.elapsed();
    assert!(took >= grace, "{took:?}");
    // The stuck connection was aborted, without a response.
    assert!(closed(&mut stuck).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cleartext_http2_is_not_served() {
    let server = serve(ServerConfig::new()).await;
    let mut stream = TcpStream::connect(server.local_addr()).await.unwrap();
    stream
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .await
        .unwrap();
    // An HTTP/2 server would answer with a SETTINGS frame; this one closes
    // (or answers in HTTP/1.1).
    let got = closed(&mut stream).await;
    assert!(
        got.is_empty() || got.starts_with(b"HTTP/1.1 "),
        "{:?}",
        String::from_utf8_lossy(&got)
    );
    server.shutdown().await;
}
