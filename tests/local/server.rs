//! The socket server: request log hook, graceful shutdown.

use crate::common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Sig, Transport, signed};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower_kms::local::{LocalKms, RequestLog};

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
    let kms = LocalKms::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = kms.serve(listener);
    let addr = server.local_addr();
    assert_eq!(server.endpoint_url(), format!("http://{addr}"));

    // A signed request whose body arrives in two halves around the shutdown.
    let body = br#"{"Limit": 10}"#;
    let req = signed(&server.endpoint_url(), "ListKeys", body, &Sig::default());
    let mut head = format!(
        "POST / HTTP/1.1\r\nhost: {addr}\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (k, v) in req.headers() {
        head.push_str(&format!("{k}: {}\r\n", v.to_str().unwrap()));
    }
    head.push_str("\r\n");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&body[..5]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;

    let shutdown = tokio::spawn(server.shutdown());
    tokio::time::sleep(Duration::from_millis(100)).await;
    // No new connections are accepted once shutdown started.
    assert!(tokio::net::TcpStream::connect(addr).await.is_err() || !shutdown.is_finished());
    stream.write_all(&body[5..]).await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut response))
        .await
        .expect("response in time")
        .unwrap();
    let text = String::from_utf8_lossy(&response);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.contains("\"Keys\":[]"), "{text}");
    tokio::time::timeout(Duration::from_secs(5), shutdown)
        .await
        .expect("shutdown in time")
        .unwrap();
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn dropping_the_handle_stops_the_server() {
    let kms = LocalKms::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = kms.serve(listener).local_addr();
    // The accept loop sees the dropped sender and closes the listener.
    let mut closed = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        if tokio::net::TcpStream::connect(addr).await.is_err() {
            closed = true;
            break;
        }
    }
    assert!(closed);
}
