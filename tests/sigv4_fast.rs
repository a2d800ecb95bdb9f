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

/// The request with the user-agent layer's headers (either may be absent).
fn with_user_agent(
    mut req: http::Request<Bytes>,
    ua: &Option<String>,
    amz_ua: &Option<String>,
) -> http::Request<Bytes> {
    if let Some(v) = ua {
        req.headers_mut().insert("user-agent", v.parse().unwrap());
    }
    if let Some(v) = amz_ua {
        req.headers_mut()
            .insert("x-amz-user-agent", v.parse().unwrap());
    }
    req
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

    #[test]
    fn fast_and_general_signatures_are_identical_with_user_agents(
        target in "TrentService\\.[A-Za-z]{1,20}",
        body in proptest::collection::vec(any::<u8>(), 0..256),
        secs in 0u64..4_102_444_800,
        token in proptest::option::of("[A-Za-z0-9+/=]{1,100}"),
        ua in proptest::option::of("[a-z]{1,9}/[0-9.]{1,8}( [a-z#/.0-9_-]{1,20}){0,4}"),
        amz_ua in proptest::option::of("[a-z]{1,9}/[0-9.]{1,8}( [a-z#/.0-9_-]{1,20}){0,6}( app/[A-Za-z0-9_-]{1,50})?"),
    ) {
        let creds = Credentials::new(AKID, SECRET, token, None, "prop");
        let time = UNIX_EPOCH + Duration::from_secs(secs);
        let host = "kms.eu-west-1.amazonaws.com";
        let signer = RequestSigner::new("eu-west-1", "kms");
        let mut fast = with_user_agent(request(host, &target, body.clone()), &ua, &amz_ua);
        signer.sign(&mut fast, &creds, time).unwrap();
        let mut general = with_user_agent(request(host, &target, body), &ua, &amz_ua);
        sign_request(&mut general, &creds, "eu-west-1", "kms", time).unwrap();
        prop_assert_eq!(signed_headers(&fast), signed_headers(&general));
    }
}

#[test]
fn golden_user_agent_signature_through_the_fast_path() {
    // botocore's signature (tests/golden/botocore_sign.py), through the fast path.
    let ua = tower_kms::user_agent::UserAgent::for_tests()
        .with_app_name("golden-app")
        .unwrap();
    let signer = RequestSigner::new("us-east-1", "kms");
    let mut req = request(
        "kms.us-east-1.amazonaws.com",
        "TrentService.ReEncrypt",
        MINIMAL_BODY.as_bytes().to_vec(),
    );
    req.headers_mut()
        .insert("user-agent", ua.user_agent().clone());
    req.headers_mut()
        .insert("x-amz-user-agent", ua.x_amz_user_agent().clone());
    signer
        .sign(&mut req, &session_credentials(), fixed_time())
        .unwrap();
    assert_eq!(
        req.headers()["authorization"],
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/kms/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target;x-amz-user-agent, Signature=107666b44fcd985bd6fee30530fcd23dd01218dcd7a84d275f90ee53bcc5e5ce"
    );
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
