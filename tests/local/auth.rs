//! SigV4 verification and protocol-level errors, in-process and over a socket.

use crate::common;

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use common::{Sig, Transport, check_headers, signed};
use http::{HeaderValue, Request};
use http_body::{Body, Frame};
use http_body_util::{BodyExt, Full};
use serde_json::json;
use tower::ServiceExt;
use tower_kms::local::LocalKms;
use tower_kms::{KeySpec, KeyUsageType};

const MISMATCH: &str = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";

async fn auth_cases(t: &Transport) {
    let url = t.url();
    let body = br#"{}"#;

    // Valid.
    let r = t
        .send(signed(&url, "ListKeys", body, &Sig::default()))
        .await;
    check_headers(&r);
    assert_eq!(r.ok()["Truncated"], false);
    let other = t
        .send(signed(&url, "ListKeys", body, &Sig::default()))
        .await;
    assert_ne!(
        r.headers["x-amzn-requestid"],
        other.headers["x-amzn-requestid"]
    );

    // With a session token and with x-amz-content-sha256.
    let sig = Sig {
        session_token: Some("any-session-token".into()),
        content_sha256: true,
        ..Sig::default()
    };
    t.send(signed(&url, "ListKeys", body, &sig)).await.ok();

    // No Authorization.
    let mut req = signed(&url, "ListKeys", body, &Sig::default());
    req.headers_mut().remove("authorization");
    let r = t.send(req).await;
    check_headers(&r);
    r.err(400, "MissingAuthenticationTokenException");

    // Wrong secret.
    let sig = Sig {
        secret: "wrong".into(),
        ..Sig::default()
    };
    let r = t.send(signed(&url, "ListKeys", body, &sig)).await;
    check_headers(&r);
    assert_eq!(r.err(400, "InvalidSignatureException")["message"], MISMATCH);

    // Unknown access key.
    let sig = Sig {
        access_key: "AKIDUNKNOWN".into(),
        ..Sig::default()
    };
    let r = t.send(signed(&url, "ListKeys", body, &sig)).await;
    check_headers(&r);
    assert_eq!(
        r.err(400, "UnrecognizedClientException")["message"],
        "The security token included in the request is invalid."
    );

    // Wrong scope region / service.
    let sig = Sig {
        region: "eu-west-1".into(),
        ..Sig::default()
    };
    let r = t.send(signed(&url, "ListKeys", body, &sig)).await;
    let msg = r.err(400, "InvalidSignatureException")["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        msg.contains("Credential should be scoped") && msg.contains("eu-west-1"),
        "{msg}"
    );
    let sig = Sig {
        service: "s3".into(),
        ..Sig::default()
    };
    let r = t.send(signed(&url, "ListKeys", body, &sig)).await;
    let msg = r.err(400, "InvalidSignatureException")["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(msg.contains("service") && msg.contains("kms"), "{msg}");

    // Body altered after signing (with and without a signed payload hash).
    for content_sha256 in [false, true] {
        let sig = Sig {
            content_sha256,
            ..Sig::default()
        };
        let mut req = signed(&url, "ListKeys", br#"{"Limit":5}"#, &sig);
        *req.body_mut() = Full::new(Bytes::from_static(br#"{"Limit":6}"#));
        let r = t.send(req).await;
        check_headers(&r);
        r.err(400, "InvalidSignatureException");
    }

    // Signed header altered after signing.
    let mut req = signed(&url, "ListKeys", body, &Sig::default());
    req.headers_mut().insert(
        "x-amz-target",
        HeaderValue::from_static("TrentService.ListAliases"),
    );
    let r = t.send(req).await;
    assert_eq!(r.err(400, "InvalidSignatureException")["message"], MISMATCH);
    let mut req = signed(&url, "ListKeys", body, &Sig::default());
    req.headers_mut()
        .insert("x-amz-date", HeaderValue::from_static("20300101T000000Z"));
    t.send(req).await.err(400, "InvalidSignatureException");
    // An unsigned header may be added.
    let mut req = signed(&url, "ListKeys", body, &Sig::default());
    req.headers_mut()
        .insert("x-extra", HeaderValue::from_static("fine"));
    t.send(req).await.ok();

    // Skewed clocks.
    let r = t
        .send(signed(&url, "ListKeys", body, &Sig::skewed(-360)))
        .await;
    check_headers(&r);
    let msg = r.err(400, "InvalidSignatureException")["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(msg.starts_with("Signature expired: "), "{msg}");
    assert!(
        msg.contains(" is now earlier than ") && msg.ends_with(" - 5 min.)"),
        "{msg}"
    );
    let r = t
        .send(signed(&url, "ListKeys", body, &Sig::skewed(360)))
        .await;
    let msg = r.err(400, "InvalidSignatureException")["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(msg.starts_with("Signature not yet current: "), "{msg}");
    assert!(
        msg.contains(" is still later than ") && msg.ends_with(" + 5 min.)"),
        "{msg}"
    );
    t.send(signed(&url, "ListKeys", body, &Sig::skewed(-240)))
        .await
        .ok();
    t.send(signed(&url, "ListKeys", body, &Sig::skewed(240)))
        .await
        .ok();

    // Host must be signed: forge a header naming only x-amz-date.
    let mut req = signed(&url, "ListKeys", body, &Sig::default());
    let auth = req.headers()["authorization"].to_str().unwrap().to_string();
    let start = auth.find("SignedHeaders=").unwrap();
    let end = start + auth[start..].find(',').unwrap();
    let forged = format!("{}SignedHeaders=x-amz-date{}", &auth[..start], &auth[end..]);
    req.headers_mut()
        .insert("authorization", HeaderValue::from_str(&forged).unwrap());
    let r = t.send(req).await;
    assert!(
        r.err(400, "InvalidSignatureException")["message"]
            .as_str()
            .unwrap()
            .contains("Host")
    );

    // The signing date must be signed too: drop x-amz-date from SignedHeaders.
    let r = t
        .send(with_signed_headers(
            signed(&url, "ListKeys", body, &Sig::default()),
            |list| list.replace(";x-amz-date", ""),
        ))
        .await;
    check_headers(&r);
    assert_eq!(
        r.err(400, "InvalidSignatureException")["message"],
        "'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization."
    );

    // The operation must be signed too: a valid signature over a request
    // without X-Amz-Target, which then gets one, could be replayed as any
    // operation on the same body.
    let mut req = signed(&url, "ListKeys", body, &Sig::default());
    req.headers_mut().remove("x-amz-target");
    sign_again(&mut req, body);
    req.headers_mut().insert(
        "x-amz-target",
        HeaderValue::from_static("TrentService.ListKeys"),
    );
    let r = t.send(req).await;
    check_headers(&r);
    assert_eq!(
        r.err(400, "InvalidSignatureException")["message"],
        "'X-Amz-Target' must be a 'SignedHeader' in the AWS Authorization."
    );

    // A signed header whose value is not UTF-8 is refused, not decoded lossily.
    let mut req = signed(&url, "ListKeys", body, &Sig::default());
    req.headers_mut()
        .insert("x-odd", HeaderValue::from_bytes(b"caf\xe9").unwrap());
    let r = t
        .send(with_signed_headers(req, |list| format!("{list};x-odd")))
        .await;
    check_headers(&r);
    assert_eq!(
        r.err(400, "IncompleteSignatureException")["message"],
        "The value of the signed header 'x-odd' is not valid UTF-8."
    );
    // The same value in an unsigned header is fine.
    let mut req = signed(&url, "ListKeys", body, &Sig::default());
    req.headers_mut()
        .insert("x-odd", HeaderValue::from_bytes(b"caf\xe9").unwrap());
    t.send(req).await.ok();

    // Malformed Authorization.
    let mut req = signed(&url, "ListKeys", body, &Sig::default());
    req.headers_mut().insert(
        "authorization",
        HeaderValue::from_static("AWS4-HMAC-SHA256 Credential=test"),
    );
    t.send(req).await.err(400, "IncompleteSignatureException");

    // Protocol errors after authentication.
    t.send(signed(&url, "NoSuchThing", body, &Sig::default()))
        .await
        .err(400, "UnknownOperationException");
    let mut req = signed(&url, "ListKeys", body, &Sig::default());
    req.headers_mut().remove("x-amz-target");
    sign_again(&mut req, body);
    t.send(req).await.err(400, "UnknownOperationException");
    t.send(signed(&url, "ListKeys", b"{not json", &Sig::default()))
        .await
        .err(400, "SerializationException");
    t.send(signed(&url, "ListKeys", b"[1,2]", &Sig::default()))
        .await
        .err(400, "SerializationException");
    t.send(signed(
        &url,
        "ListKeys",
        br#"{"Limit":"ten"}"#,
        &Sig::default(),
    ))
    .await
    .err(400, "SerializationException");
    // Empty body counts as {}.
    t.send(signed(&url, "ListKeys", b"", &Sig::default()))
        .await
        .ok();
    // Wrong content type.
    let mut req = signed(&url, "ListKeys", body, &Sig::default());
    req.headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    sign_again(&mut req, body);
    t.send(req).await.err(400, "UnknownOperationException");
}

/// Rewrites the `SignedHeaders=` list of the request's Authorization header.
fn with_signed_headers(
    mut req: Request<Full<Bytes>>,
    edit: impl FnOnce(&str) -> String,
) -> Request<Full<Bytes>> {
    let auth = req.headers()["authorization"].to_str().unwrap().to_string();
    let start = auth.find("SignedHeaders=").unwrap() + "SignedHeaders=".len();
    let end = start + auth[start..].find(',').unwrap();
    let list = edit(&auth[start..end]);
    assert_ne!(list, auth[start..end], "the edit changed nothing");
    let forged = format!("{}{list}{}", &auth[..start], &auth[end..]);
    req.headers_mut()
        .insert("authorization", HeaderValue::from_str(&forged).unwrap());
    req
}

/// Re-signs after headers were changed.
fn sign_again(req: &mut Request<Full<Bytes>>, body: &[u8]) {
    for h in ["authorization", "x-amz-date", "x-amz-content-sha256"] {
        req.headers_mut().remove(h);
    }
    common::sign_request(req, body, &Sig::default());
}

#[tokio::test]
async fn auth_in_process() {
    let kms = LocalKms::new();
    auth_cases(&Transport::in_process(&kms)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_over_socket() {
    let kms = LocalKms::new();
    let t = Transport::socket(&kms).await;
    auth_cases(&t).await;
    t.shutdown().await;
}

fn fixed_clock(secs: u64) -> Arc<dyn Fn() -> SystemTime + Send + Sync> {
    Arc::new(move || UNIX_EPOCH + Duration::from_secs(secs))
}

/// 2015-08-30T12:46:00Z, the example in the KMS error message.
const T_124600: u64 = 1_440_938_760;

#[tokio::test]
async fn injected_clock_exact_messages() {
    let kms = LocalKms::builder().clock(fixed_clock(T_124600)).build();
    for t in [Transport::in_process(&kms), Transport::socket(&kms).await] {
        let sig = Sig {
            time: UNIX_EPOCH + Duration::from_secs(T_124600 - 600),
            ..Sig::default()
        };
        let r = t.send(signed(&t.url(), "ListKeys", b"{}", &sig)).await;
        assert_eq!(
            r.err(400, "InvalidSignatureException")["message"],
            "Signature expired: 20150830T123600Z is now earlier than 20150830T124100Z (20150830T124600Z - 5 min.)"
        );
        assert_eq!(r.headers["date"], "Sun, 30 Aug 2015 12:46:00 GMT");
        let sig = Sig {
            time: UNIX_EPOCH + Duration::from_secs(T_124600 + 301),
            ..Sig::default()
        };
        let r = t.send(signed(&t.url(), "ListKeys", b"{}", &sig)).await;
        assert_eq!(
            r.err(400, "InvalidSignatureException")["message"],
            "Signature not yet current: 20150830T125101Z is still later than 20150830T125100Z (20150830T124600Z + 5 min.)"
        );
        // Exactly at the edge is fine.
        let sig = Sig {
            time: UNIX_EPOCH + Duration::from_secs(T_124600 - 300),
            ..Sig::default()
        };
        t.send(signed(&t.url(), "ListKeys", b"{}", &sig)).await.ok();
        t.shutdown().await;
    }
}

/// Any injected clock works: the `Date` header is clamped to what HTTP
/// dates can say (years 1970 to 9999) instead of panicking, and a signed
/// request is still judged against the injected time.
#[tokio::test]
async fn date_header_for_clocks_outside_the_http_date_range() {
    let last = UNIX_EPOCH + Duration::from_secs(253_402_300_799);
    for (clock, date) in [
        (last, "Fri, 31 Dec 9999 23:59:59 GMT"),
        (
            last + Duration::from_secs(1),
            "Fri, 31 Dec 9999 23:59:59 GMT",
        ),
        (
            last + Duration::from_secs(1_000_000 * 365 * 86_400),
            "Fri, 31 Dec 9999 23:59:59 GMT",
        ),
        (UNIX_EPOCH, "Thu, 01 Jan 1970 00:00:00 GMT"),
        (
            UNIX_EPOCH - Duration::from_secs(1),
            "Thu, 01 Jan 1970 00:00:00 GMT",
        ),
        (
            UNIX_EPOCH - Duration::from_secs(1_000 * 365 * 86_400),
            "Thu, 01 Jan 1970 00:00:00 GMT",
        ),
    ] {
        let kms = LocalKms::builder().clock(Arc::new(move || clock)).build();
        let t = Transport::in_process(&kms);
        let r = t.call("ListKeys", json!({})).await;
        check_headers(&r);
        r.err(400, "InvalidSignatureException");
        assert_eq!(r.headers["date"], date, "{clock:?}");
    }
}

#[tokio::test]
async fn configured_credentials_replace_default() {
    let kms = LocalKms::builder()
        .credentials("AKIDONE", "secret-one")
        .credentials("AKIDTWO", "secret-two")
        .region("eu-central-1")
        .account_id("444455556666")
        .build();
    assert!(!format!("{kms:?}").contains("secret-one"));
    let t = Transport::in_process(&kms);
    let url = t.url();
    for (ak, sk) in [("AKIDONE", "secret-one"), ("AKIDTWO", "secret-two")] {
        let sig = Sig {
            access_key: ak.into(),
            secret: sk.into(),
            region: "eu-central-1".into(),
            ..Sig::default()
        };
        t.send(signed(&url, "ListKeys", b"{}", &sig)).await.ok();
    }
    let sig = Sig {
        region: "eu-central-1".into(),
        ..Sig::default()
    };
    t.send(signed(&url, "ListKeys", b"{}", &sig))
        .await
        .err(400, "UnrecognizedClientException");
    // us-east-1 scope with a good key is a scope error here.
    let sig = Sig {
        access_key: "AKIDONE".into(),
        secret: "secret-one".into(),
        ..Sig::default()
    };
    t.send(signed(&url, "ListKeys", b"{}", &sig))
        .await
        .err(400, "InvalidSignatureException");
    let arn = kms
        .create_key(KeySpec::SymmetricDefault, KeyUsageType::EncryptDecrypt)
        .unwrap();
    assert!(arn.starts_with("arn:aws:kms:eu-central-1:444455556666:key/"));
}

/// A body that never ends.
struct Endless;

impl Body for Endless {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(&[b' '; 4096])))))
    }
}

#[tokio::test]
async fn body_size_limit() {
    let kms = LocalKms::builder().max_body_bytes(1024).build();
    let t = Transport::in_process(&kms);
    let big = format!(r#"{{"Description":"{}"}}"#, "x".repeat(2000));
    let r = t
        .send(signed(
            &t.url(),
            "CreateKey",
            big.as_bytes(),
            &Sig::default(),
        ))
        .await;
    assert_eq!(r.status, 413);
    assert_eq!(r.code(), "RequestEntityTooLargeException");
    // A streaming body with no length is cut off, never buffered whole.
    let req = Request::post("http://localhost/")
        .header("x-amz-target", "TrentService.ListKeys")
        .body(Endless)
        .unwrap();
    let resp = kms.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), 413);
    // Over a socket too.
    let s = Transport::socket(&kms).await;
    let r = s
        .send(signed(
            &s.url(),
            "CreateKey",
            big.as_bytes(),
            &Sig::default(),
        ))
        .await;
    assert_eq!(r.status, 413);
    // Just under the limit is fine.
    let ok = format!(r#"{{"Description":"{}"}}"#, "x".repeat(900));
    s.send(signed(
        &s.url(),
        "CreateKey",
        ok.as_bytes(),
        &Sig::default(),
    ))
    .await
    .ok();
    s.shutdown().await;
}

/// Deterministic xorshift for fuzzing.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

#[tokio::test]
async fn garbage_never_panics() {
    let kms = LocalKms::new();
    let key = kms
        .create_key(KeySpec::SymmetricDefault, KeyUsageType::EncryptDecrypt)
        .unwrap();
    let t = Transport::in_process(&kms);
    let url = t.url();
    let ops = [
        "CreateKey",
        "DescribeKey",
        "ListKeys",
        "CreateAlias",
        "ListAliases",
        "EnableKey",
        "DisableKey",
        "ScheduleKeyDeletion",
        "CancelKeyDeletion",
        "Encrypt",
        "Decrypt",
        "ReEncrypt",
        "GenerateDataKey",
        "GetPublicKey",
        "CreateGrant",
        "RetireGrant",
    ];
    let values = [
        json!(null),
        json!(true),
        json!(-1),
        json!(1e300),
        json!(""),
        json!("AAAA"),
        json!([]),
        json!({}),
        json!(["a"]),
        json!(key),
        json!("alias/"),
        json!("arn:aws:kms:us-east-1:111122223333:alias/"),
    ];
    let members = [
        "KeyId",
        "CiphertextBlob",
        "Plaintext",
        "DestinationKeyId",
        "SourceKeyId",
        "EncryptionContext",
        "GrantTokens",
        "KeySpec",
        "NumberOfBytes",
        "AliasName",
        "TargetKeyId",
        "DryRunModifiers",
        "PendingWindowInDays",
        "Operations",
    ];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for i in 0..600 {
        let op = ops[i % ops.len()];
        let body = if i % 3 == 0 {
            let n = (rng.next() % 200) as usize;
            rng.bytes(n)
        } else {
            let mut obj = serde_json::Map::new();
            for _ in 0..(rng.next() % 5) {
                let m = members[(rng.next() as usize) % members.len()];
                let v = values[(rng.next() as usize) % values.len()].clone();
                obj.insert(m.to_string(), v);
            }
            serde_json::to_vec(&obj).unwrap()
        };
        let r = t.send(signed(&url, op, &body, &Sig::default())).await;
        assert!(r.status != 500, "{op} {body:?} -> {:?}", r.body);
        if r.status != 200 {
            assert!(!r.code().is_empty(), "{op}: {:?}", r.body);
        }
        check_headers(&r);
    }
}

#[tokio::test]
async fn unsigned_and_odd_requests() {
    let kms = LocalKms::new();
    // GET with no auth.
    let req = Request::get("http://localhost/")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let resp = kms.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), 400);
    assert!(resp.headers().contains_key("date"));
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["__type"], "MissingAuthenticationTokenException");
    // Signed GET.
    let mut req = Request::get("http://localhost/")
        .header("x-amz-target", "TrentService.ListKeys")
        .header("content-type", "application/x-amz-json-1.1")
        .body(Full::new(Bytes::new()))
        .unwrap();
    common::sign_request(&mut req, b"", &Sig::default());
    let resp = kms.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), 400);
}
