//! A scripted HTTP/1.1 server on 127.0.0.1 for fault injection: each request it
//! reads takes the next action of the script (the last one repeats).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Debug, Clone)]
pub enum Action {
    /// A complete response with this status, extra headers and body.
    Respond {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// Reset the connection (RST) without answering.
    Reset,
    /// Close the connection (FIN) without answering.
    Close,
    /// Send part of the status line, then reset.
    ResetMidHead,
    /// Never answer (until the client gives up).
    StallBeforeHeaders,
    /// Send the headers and part of the body, then stall.
    StallMidBody,
    /// Send the headers and part of the body, then close.
    CloseMidBody,
}

impl Action {
    pub fn json(status: u16, body: &str) -> Self {
        Action::Respond {
            status,
            headers: vec![],
            body: body.as_bytes().to_vec(),
        }
    }
    pub fn error(status: u16, code: &str) -> Self {
        Self::json(
            status,
            &format!(r#"{{"__type":"{code}","message":"scripted {code}"}}"#),
        )
    }
    pub fn ok() -> Self {
        Self::json(
            200,
            r#"{"CiphertextBlob":"AAEC","KeyId":"arn:aws:kms:us-east-1:111122223333:key/k"}"#,
        )
    }
    pub fn with_header(self, name: &str, value: &str) -> Self {
        match self {
            Action::Respond {
                status,
                mut headers,
                body,
            } => {
                headers.push((name.into(), value.into()));
                Action::Respond {
                    status,
                    headers,
                    body,
                }
            }
            other => other,
        }
    }
}

#[derive(Clone)]
pub struct Scripted {
    pub url: String,
    requests: Arc<AtomicUsize>,
    /// The raw request heads, in order.
    pub heads: Arc<Mutex<Vec<String>>>,
}

impl Scripted {
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

pub async fn serve(script: Vec<Action>) -> Scripted {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let script = Arc::new(Mutex::new(VecDeque::from(script)));
    let requests = Arc::new(AtomicUsize::new(0));
    let heads = Arc::new(Mutex::new(Vec::new()));
    let (r, h) = (requests.clone(), heads.clone());
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(connection(stream, script.clone(), r.clone(), h.clone()));
        }
    });
    Scripted {
        url,
        requests,
        heads,
    }
}

fn next(script: &Mutex<VecDeque<Action>>) -> Action {
    let mut s = script.lock().unwrap();
    if s.len() > 1 {
        s.pop_front().unwrap()
    } else {
        s.front().cloned().unwrap_or_else(Action::ok)
    }
}

async fn read_request(stream: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let len: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap_or(0))
        })
        .unwrap_or(0);
    while buf.len() < head_end + len {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Some(head)
}

async fn connection(
    mut stream: TcpStream,
    script: Arc<Mutex<VecDeque<Action>>>,
    requests: Arc<AtomicUsize>,
    heads: Arc<Mutex<Vec<String>>>,
) {
    while let Some(head) = read_request(&mut stream).await {
        heads.lock().unwrap().push(head);
        requests.fetch_add(1, Ordering::SeqCst);
        match next(&script) {
            Action::Respond {
                status,
                headers,
                body,
            } => {
                let mut out = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/x-amz-json-1.1\r\nx-amzn-requestid: scripted-{}\r\ncontent-length: {}\r\n",
                    requests.load(Ordering::SeqCst),
                    body.len()
                );
                for (k, v) in headers {
                    out.push_str(&format!("{k}: {v}\r\n"));
                }
                out.push_str("\r\n");
                let mut bytes = out.into_bytes();
                bytes.extend_from_slice(&body);
                if stream.write_all(&bytes).await.is_err() {
                    return;
                }
            }
            Action::Reset => {
                // SO_LINGER 0 makes the close a reset; it does not block with a zero linger.
                #[allow(deprecated)]
                let _ = stream.set_linger(Some(Duration::ZERO));
                return;
            }
            Action::Close => {
                let _ = stream.shutdown().await;
                return;
            }
            Action::ResetMidHead => {
                let _ = stream.write_all(b"HTTP/1.1 20").await;
                #[allow(deprecated)]
                let _ = stream.set_linger(Some(Duration::ZERO));
                return;
            }
            Action::StallBeforeHeaders => {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                return;
            }
            action @ (Action::StallMidBody | Action::CloseMidBody) => {
                let _ = stream
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.1\r\ncontent-length: 100\r\n\r\n{\"CiphertextBlob\":\"AA")
                    .await;
                let _ = stream.flush().await;
                if matches!(action, Action::StallMidBody) {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                }
                return;
            }
        }
    }
}
