//! The least any SigV4 client must do per call: a bare hyper-util pooled HTTP/1.1
//! client, a pre-encoded JSON body, a fresh SigV4 signature (aws-sigv4) per call,
//! and reading the whole response body. No typed request, no decoding, no retry.

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use kms_compare::*;
use tower_kms::ReEncryptRequest;

fn main() {
    let args = Args::parse();
    // The exact body tower-kms sends, encoded once, up front.
    let req = ReEncryptRequest::builder()
        .ciphertext_blob(ciphertext())
        .source_key_id(SOURCE_KEY_ID)
        .source_encryption_context(SOURCE_CONTEXT.0, SOURCE_CONTEXT.1)
        .destination_key_id(DESTINATION_KEY_ID)
        .destination_encryption_context(DESTINATION_CONTEXT.0, DESTINATION_CONTEXT.1)
        .build()
        .expect("request");
    let body: Bytes = tower_kms::protocol::encode_request(&req)
        .expect("encode")
        .into_body();
    let uri: http::Uri = args.url.parse().expect("url");
    let host = uri.authority().expect("host").to_string();
    let uri_str = uri.to_string();
    let identity: Identity = Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "static").into();
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http(); // http1 only: no http2 feature
    run("floor", &args, move || {
        let client = client.clone();
        let body = body.clone();
        let identity = identity.clone();
        let host = host.clone();
        let uri_str = uri_str.clone();
        async move {
            let params = v4::SigningParams::builder()
                .identity(&identity)
                .region(REGION)
                .name("kms")
                .time(SystemTime::now())
                .settings(SigningSettings::default())
                .build()
                .map_err(|e| e.to_string())?
                .into();
            let headers = [
                ("host", host.as_str()),
                ("content-type", "application/x-amz-json-1.1"),
                ("x-amz-target", "TrentService.ReEncrypt"),
            ];
            let signable = SignableRequest::new(
                "POST",
                &uri_str,
                headers.into_iter(),
                SignableBody::Bytes(&body),
            )
            .map_err(|e| e.to_string())?;
            let (instructions, _) = sign(signable, &params)
                .map_err(|e| e.to_string())?
                .into_parts();
            let mut req = http::Request::post(&uri_str);
            for (k, v) in headers {
                req = req.header(k, v);
            }
            let mut req = req.body(Full::new(body)).map_err(|e| e.to_string())?;
            instructions.apply_to_request_http1x(&mut req);
            let resp = client.request(req).await.map_err(|e| e.to_string())?;
            let status = resp.status();
            let bytes = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| e.to_string())?
                .to_bytes();
            if !status.is_success() || bytes.is_empty() {
                return Err(format!("status {status}"));
            }
            Ok(())
        }
    });
}
