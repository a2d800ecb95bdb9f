//! The cached fast signer and aws-sigv4's general signer agree byte for byte.

mod support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use bytes::Bytes;
use proptest::prelude::*;
use support::*;
use tower_kms::sign::{RequestSigner, sign_request};

fn request(host: &str, target: &str, body: Vec<u8>) -> http::Request<Bytes> {
    http::Request::post(format!("https://{host}/"))
        .header("content-type", "application/x-amz-json-1.1")
        .header("host", host)
        .header("x-amz-target", target)
        .body(Bytes::from(body))
        .unwrap()
}

fn signed_headers(req: &http::Request<Bytes>) -> Vec<(String, String)> {
    let mut v: Vec<_> = req
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap().to_owned()))
        .collect();
    v.sort();
    v
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn fast_and_general_signatures_are_identical(
        region in "[a-z]{2}-[a-z]{4,9}-[1-9]",
        host in "[a-z0-9.-]{1,40}(:[0-9]{1,5})?",
        target in "TrentService\\.[A-Za-z]{1,20}",
        body in proptest::collection::vec(any::<u8>(), 0..512),
        secs in 0u64..4_102_444_800,
        token in proptest::option::of("[A-Za-z0-9+/=]{1,300}"),
        akid in "[A-Z0-9]{16,20}",
        secret in "[A-Za-z0-9+/]{40}",
    ) {
        let creds = Credentials::new(akid, secret, token, None, "prop");
        let time = UNIX_EPOCH + Duration::from_secs(secs);
        let signer = RequestSigner::new(region.clone(), "kms");
        let mut fast = request(&host, &target, body.clone());
        signer.sign(&mut fast, &creds, time).unwrap();
        // Twice: the second time the cached key is used.
        let mut fast2 = request(&host, &target, body.clone());
        signer.sign(&mut fast2, &creds, time).unwrap();
        let mut general = request(&host, &target, body);
        sign_request(&mut general, &creds, &region, "kms", time).unwrap();
        prop_assert_eq!(signed_headers(&fast), signed_headers(&general));
        prop_assert_eq!(signed_headers(&fast2), signed_headers(&general));
    }
}

#[test]
fn golden_signature_through_the_fast_path() {
    let signer = RequestSigner::new("us-east-1", "kms");
    let mut req = request(
        "kms.us-east-1.amazonaws.com",
        "TrentService.ReEncrypt",
        MINIMAL_BODY.as_bytes().to_vec(),
    );
    signer
        .sign(&mut req, &session_credentials(), fixed_time())
        .unwrap();
    assert_eq!(
        req.headers()["authorization"],
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/kms/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target, Signature=696d7aa2cde8c5d7ce145858383ebd2a6b2d04d7c11a6b157d3759d1dd8b5301"
    );
}

#[test]
fn the_key_cache_follows_day_and_credentials() {
    let signer = RequestSigner::new("us-east-1", "kms");
    let sign = |creds: &Credentials, time: SystemTime| {
        let mut a = request("h", "TrentService.ReEncrypt", b"{}".to_vec());
        signer.sign(&mut a, creds, time).unwrap();
        let mut b = request("h", "TrentService.ReEncrypt", b"{}".to_vec());
        sign_request(&mut b, creds, "us-east-1", "kms", time).unwrap();
        assert_eq!(signed_headers(&a), signed_headers(&b));
    };
    let t = fixed_time();
    sign(&credentials(), t);
    sign(&credentials(), t + Duration::from_secs(86_400)); // next day
    sign(
        &Credentials::new(AKID, "another-secret", None, None, "x"),
        t,
    ); // rotated secret
    sign(&Credentials::new("AKIDOTHER", SECRET, None, None, "x"), t);
    sign(&credentials(), t);
}

#[test]
fn unusual_requests_fall_back_to_the_general_signer() {
    let signer = RequestSigner::new("us-east-1", "kms");
    let creds = credentials();
    let variants: Vec<http::Request<Bytes>> = vec![
        http::Request::post("https://h/prefix/")
            .header("host", "h")
            .body(Bytes::new())
            .unwrap(),
        http::Request::get("https://h/")
            .header("host", "h")
            .body(Bytes::new())
            .unwrap(),
        {
            let mut r = request("h", "TrentService.ReEncrypt", b"{}".to_vec());
            r.headers_mut().insert("x-custom", "a  b".parse().unwrap());
            r
        },
        {
            let mut r = request("h", "TrentService.ReEncrypt", b"{}".to_vec());
            r.headers_mut()
                .insert("x-amz-target", " padded ".parse().unwrap());
            r
        },
    ];
    for req in variants {
        let mut a = req.clone();
        signer.sign(&mut a, &creds, fixed_time()).unwrap();
        let mut b = req;
        sign_request(&mut b, &creds, "us-east-1", "kms", fixed_time()).unwrap();
        assert_eq!(signed_headers(&a), signed_headers(&b));
    }
}
