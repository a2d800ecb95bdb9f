//! Shared helpers: SigV4-signed requests (aws-sigv4) and two transports.
#![allow(dead_code, clippy::large_enum_variant)]

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    PayloadChecksumKind, SignableBody, SignableRequest, SigningSettings, sign,
};
use aws_sigv4::sign::v4;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use tower::ServiceExt;
use tower_kms::local::{LocalKms, LocalKmsServer};

pub fn b64(data: &[u8]) -> String {
    STANDARD.encode(data)
}

pub fn unb64(v: &Value) -> Vec<u8> {
    STANDARD
        .decode(v.as_str().expect("base64 string"))
        .expect("valid base64")
}

/// How to sign a request.
#[derive(Clone, Debug)]
pub struct Sig {
    pub access_key: String,
    pub secret: String,
    pub region: String,
    pub service: String,
    pub time: SystemTime,
    pub session_token: Option<String>,
    pub content_sha256: bool,
}

impl Default for Sig {
    fn default() -> Self {
        Self {
            access_key: "test".into(),
            secret: "test".into(),
            region: "us-east-1".into(),
            service: "kms".into(),
            time: SystemTime::now(),
            session_token: None,
            content_sha256: false,
        }
    }
}

impl Sig {
    pub fn skewed(secs: i64) -> Self {
        let now = SystemTime::now();
        let time = if secs >= 0 {
            now + Duration::from_secs(secs as u64)
        } else {
            now - Duration::from_secs(secs.unsigned_abs())
        };
        Self {
            time,
            ..Self::default()
        }
    }
}

/// A signed awsJson1.1 request for `op` to `uri`.
pub fn signed(uri: &str, op: &str, body: &[u8], sig: &Sig) -> Request<Full<Bytes>> {
    let mut req = Request::post(uri)
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amz-target", format!("TrentService.{op}"))
        .body(Full::new(Bytes::copy_from_slice(body)))
        .unwrap();
    sign_request(&mut req, body, sig);
    req
}

/// Signs `req` (whose body is `body`) in place.
pub fn sign_request<B>(req: &mut Request<B>, body: &[u8], sig: &Sig) {
    let identity = Credentials::new(
        &sig.access_key,
        &sig.secret,
        sig.session_token.clone(),
        None,
        "tests",
    )
    .into();
    let mut settings = SigningSettings::default();
    if sig.content_sha256 {
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    }
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(&sig.region)
        .name(&sig.service)
        .time(sig.time)
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let uri = req.uri().to_string();
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap().to_string()))
        .collect();
    let signable = SignableRequest::new(
        req.method().as_str(),
        &uri,
        headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        SignableBody::Bytes(body),
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    instructions.apply_to_request_http1x(req);
}

/// A response, fully read.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("bad JSON {e}: {:?}", self.body))
    }

    /// The `__type` of an error reply.
    pub fn code(&self) -> String {
        self.json()["__type"].as_str().unwrap_or("").to_string()
    }

    #[track_caller]
    pub fn ok(&self) -> Value {
        assert_eq!(self.status, 200, "unexpected error: {:?}", self.body);
        self.json()
    }

    #[track_caller]
    pub fn err(&self, status: u16, code: &str) -> Value {
        assert_eq!(
            (self.status.as_u16(), self.code().as_str()),
            (status, code),
            "body: {:?}",
            self.body
        );
        self.json()
    }
}

/// Every reply carries the protocol headers; errors a `Date` too.
#[track_caller]
pub fn check_headers(r: &Reply) {
    assert_eq!(r.headers["content-type"], "application/x-amz-json-1.1");
    let id = r.headers["x-amzn-requestid"].to_str().unwrap();
    let b = id.as_bytes();
    assert_eq!(id.len(), 36, "{id}");
    assert_eq!(b[14], b'4', "{id}");
    assert!(matches!(b[19], b'8' | b'9' | b'a' | b'b'), "{id}");
    for (i, c) in id.chars().enumerate() {
        if [8, 13, 18, 23].contains(&i) {
            assert_eq!(c, '-');
        } else {
            assert!(c.is_ascii_hexdigit() && !c.is_ascii_uppercase(), "{id}");
        }
    }
    assert_eq!(
        r.headers["content-length"].to_str().unwrap(),
        r.body.len().to_string()
    );
    if r.status != 200 {
        let date = r.headers["date"].to_str().unwrap();
        assert!(date.ends_with(" GMT") && date.len() == 29, "{date}");
    }
}

/// In-process service or a real loopback socket.
pub enum Transport {
    InProcess(LocalKms),
    Socket {
        server: LocalKmsServer,
        client: Client<HttpConnector, Full<Bytes>>,
    },
}

impl Transport {
    pub fn in_process(kms: &LocalKms) -> Self {
        Self::InProcess(kms.clone())
    }

    pub async fn socket(kms: &LocalKms) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = kms.clone().serve(listener);
        let client = Client::builder(TokioExecutor::new()).build_http();
        Self::Socket { server, client }
    }

    pub fn url(&self) -> String {
        match self {
            Self::InProcess(_) => "http://kms.us-east-1.amazonaws.com/".to_string(),
            Self::Socket { server, .. } => format!("{}/", server.endpoint_url()),
        }
    }

    pub async fn send(&self, req: Request<Full<Bytes>>) -> Reply {
        let (status, headers, body) = match self {
            Self::InProcess(kms) => {
                let resp = kms.clone().oneshot(req).await.unwrap();
                let (parts, body) = resp.into_parts();
                (
                    parts.status,
                    parts.headers,
                    body.collect().await.unwrap().to_bytes(),
                )
            }
            Self::Socket { client, .. } => {
                let resp = client.request(req).await.unwrap();
                let (parts, body) = resp.into_parts();
                (
                    parts.status,
                    parts.headers,
                    body.collect().await.unwrap().to_bytes(),
                )
            }
        };
        Reply {
            status,
            headers,
            body,
        }
    }

    /// A correctly signed call.
    pub async fn call(&self, op: &str, body: Value) -> Reply {
        self.call_with(op, body, &Sig::default()).await
    }

    pub async fn call_with(&self, op: &str, body: Value, sig: &Sig) -> Reply {
        let bytes = serde_json::to_vec(&body).unwrap();
        self.send(signed(&self.url(), op, &bytes, sig)).await
    }

    pub async fn shutdown(self) {
        if let Self::Socket { server, .. } = self {
            server.shutdown().await;
        }
    }
}

/// A directory of its own under the system's temporary directory, removed
/// when dropped.
pub struct TempDir(std::path::PathBuf);

impl TempDir {
    pub fn new(name: &str) -> Self {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("tower-kms-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    pub fn path(&self) -> &std::path::Path {
        &self.0
    }

    pub fn join(&self, name: &str) -> std::path::PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Whether a test that needs python3 with `modules` (e.g. `"botocore"`) can
/// run: `true` when it can; else prints why it is skipped and returns `false`,
/// or panics when `TOWER_KMS_REQUIRE_PYTHON` is set (CI installs the packages
/// and sets it, so a cross-check never passes by not running).
pub async fn python_has(modules: &str) -> bool {
    let out = tokio::process::Command::new("python3")
        .args(["-c", &format!("import {modules}")])
        .stdin(std::process::Stdio::null())
        .output()
        .await;
    let reason = match out {
        Ok(out) if out.status.success() => return true,
        Ok(out) => format!(
            "python3 cannot import {modules}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ),
        Err(e) => format!("python3 could not run: {e}"),
    };
    if std::env::var_os("TOWER_KMS_REQUIRE_PYTHON").is_some() {
        panic!("{reason} (TOWER_KMS_REQUIRE_PYTHON is set)");
    }
    println!(
        "skipped: {reason} (pip install {} to run it)",
        modules.replace(',', "")
    );
    false
}
