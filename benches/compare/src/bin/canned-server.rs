//! Answers every request with one fixed, realistic KMS ReEncrypt response, as fast
//! as it can (multi-thread runtime, HTTP/1.1 keep-alive). Signatures are not checked.
//!
//! `canned-server [PORT]`: PORT 0 (the default) picks a free port; the port is
//! printed as `PORT <n>` on stdout.

use std::convert::Infallible;

use base64::Engine;
use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

fn body() -> Bytes {
    // 188 bytes of ciphertext: 252 characters of base64.
    let blob: Vec<u8> = (0..188u32).map(|i| (i * 7 + 3) as u8).collect();
    let b64 = base64::engine::general_purpose::STANDARD.encode(blob);
    Bytes::from(format!(
        concat!(
            r#"{{"CiphertextBlob":"{}","#,
            r#""DestinationEncryptionAlgorithm":"SYMMETRIC_DEFAULT","#,
            r#""DestinationKeyMaterialId":"a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90","#,
            r#""KeyId":"{}","#,
            r#""SourceEncryptionAlgorithm":"SYMMETRIC_DEFAULT","#,
            r#""SourceKeyId":"{}"}}"#
        ),
        b64,
        kms_compare::DESTINATION_KEY_ID,
        kms_compare::SOURCE_KEY_ID
    ))
}

fn main() {
    let port: u16 = std::env::args()
        .nth(1)
        .map_or(0, |p| p.parse().expect("port"));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind");
        let port = listener.local_addr().unwrap().port();
        {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            writeln!(out, "PORT {port}").unwrap();
            out.flush().unwrap();
        }
        let body = body();
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let body = body.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |_req: hyper::Request<hyper::body::Incoming>| {
                    let body = body.clone();
                    async move {
                        Ok::<_, Infallible>(
                            hyper::Response::builder()
                                .header("x-amzn-RequestId", "0c7e5d1e-6b57-4d59-9a4b-2f1e3c6b7a81")
                                .header("content-type", "application/x-amz-json-1.1")
                                .header("content-length", body.len())
                                .body(Full::new(body))
                                .unwrap(),
                        )
                    }
                });
                let _ = http1::Builder::new()
                    .keep_alive(true)
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
}
