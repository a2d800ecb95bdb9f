//! Micro-benchmarks of tower-kms's per-call work (issue #5): encode + validate,
//! SigV4 signing, response decode, error decode, and the whole default stack over
//! an in-memory connector (no sockets).
//!
//! `cargo bench --bench micro` (add `-- --quick` for a short run). The end-to-end
//! comparison with aws-sdk-kms lives in `benches/compare.sh`.

use std::convert::Infallible;
use std::hint::black_box;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use http::{HeaderMap, HeaderValue, StatusCode};
use http_body_util::Full;
use tower_kms::{KmsClient, ReEncryptRequest};

const SOURCE_KEY_ID: &str =
    "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const DESTINATION_KEY_ID: &str =
    "arn:aws:kms:us-east-1:111122223333:key/0987dcba-09fe-87dc-65ba-ab0987654321";

/// The request every benchmark uses: the same one as `benches/compare`.
fn request() -> ReEncryptRequest {
    let blob: Vec<u8> = (0..184u32)
        .map(|i| (i.wrapping_mul(37).wrapping_add(11)) as u8)
        .collect();
    ReEncryptRequest::builder()
        .ciphertext_blob(blob)
        .source_key_id(SOURCE_KEY_ID)
        .source_encryption_context("app", "billing")
        .destination_key_id(DESTINATION_KEY_ID)
        .destination_encryption_context("purpose", "backup")
        .build()
        .expect("valid request")
}

/// A realistic ReEncrypt response body (252 characters of base64 ciphertext).
fn response_body() -> Bytes {
    use base64::Engine;
    let blob: Vec<u8> = (0..188u32).map(|i| (i * 7 + 3) as u8).collect();
    let b64 = base64::engine::general_purpose::STANDARD.encode(blob);
    Bytes::from(format!(
        concat!(
            r#"{{"CiphertextBlob":"{}","DestinationEncryptionAlgorithm":"SYMMETRIC_DEFAULT","#,
            r#""DestinationKeyMaterialId":"a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90","#,
            r#""KeyId":"{}","SourceEncryptionAlgorithm":"SYMMETRIC_DEFAULT","SourceKeyId":"{}"}}"#
        ),
        b64, DESTINATION_KEY_ID, SOURCE_KEY_ID
    ))
}

fn response_headers() -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        "x-amzn-requestid",
        HeaderValue::from_static("0c7e5d1e-6b57-4d59-9a4b-2f1e3c6b7a81"),
    );
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-amz-json-1.1"),
    );
    h
}

fn credentials() -> Credentials {
    Credentials::new(
        "AKIDEXAMPLE",
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        None,
        None,
        "static",
    )
}

fn encode(c: &mut Criterion) {
    let req = request();
    c.bench_function("encode_request (validate + JSON)", |b| {
        b.iter(|| tower_kms::protocol::encode_request(black_box(&req)).expect("encode"))
    });
}

fn sign(c: &mut Criterion) {
    let mut template = tower_kms::protocol::encode_request(&request()).expect("encode");
    *template.uri_mut() = "https://kms.us-east-1.amazonaws.com/".parse().unwrap();
    template.headers_mut().insert(
        http::header::HOST,
        HeaderValue::from_static("kms.us-east-1.amazonaws.com"),
    );
    let creds = credentials();
    let time = SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_225_600);
    c.bench_function("sign_request (SigV4)", |b| {
        b.iter_batched_ref(
            || {
                let mut r = http::Request::new(template.body().clone());
                *r.method_mut() = template.method().clone();
                *r.uri_mut() = template.uri().clone();
                *r.headers_mut() = template.headers().clone();
                r
            },
            |r| {
                tower_kms::sign::sign_request(r, &creds, "us-east-1", "kms", black_box(time))
                    .expect("sign")
            },
            criterion::BatchSize::SmallInput,
        )
    });
}

fn decode(c: &mut Criterion) {
    let body = response_body();
    let headers = response_headers();
    c.bench_function("decode_response (ReEncrypt, 200)", |b| {
        b.iter(|| {
            tower_kms::protocol::decode_response::<ReEncryptRequest>(
                StatusCode::OK,
                &headers,
                black_box(&body),
            )
            .expect("decode")
        })
    });
    let err = Bytes::from_static(
        br#"{"__type":"NotFoundException","message":"Key 'arn:aws:kms:us-east-1:111122223333:key/0987dcba-09fe-87dc-65ba-ab0987654321' does not exist"}"#,
    );
    c.bench_function("decode_error (NotFoundException, 400)", |b| {
        b.iter(|| {
            tower_kms::protocol::decode_error(StatusCode::BAD_REQUEST, &headers, black_box(&err))
        })
    });
}

fn whole_stack(c: &mut Criterion) {
    let body = response_body();
    let connector = tower::service_fn(move |_req: http::Request<Full<Bytes>>| {
        let body = body.clone();
        async move {
            let mut resp = http::Response::new(Full::new(body));
            *resp.headers_mut() = response_headers();
            Ok::<_, Infallible>(resp)
        }
    });
    let client = KmsClient::builder()
        .region("us-east-1")
        .credentials_provider(credentials())
        .connector(connector)
        .build()
        .expect("client");
    let req = request();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    c.bench_function("KmsClient::re_encrypt (in-memory connector)", |b| {
        b.to_async(&rt).iter(|| async {
            client
                .re_encrypt(black_box(req.clone()))
                .await
                .expect("re_encrypt")
        })
    });
}

criterion_group!(benches, encode, sign, decode, whole_stack);
criterion_main!(benches);
