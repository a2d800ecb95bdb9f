//! Decoding table: real-world success and error shapes, and arbitrary bytes.

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode};
use proptest::prelude::*;
use tower_kms::protocol::decode_response;
use tower_kms::{EncryptionAlgorithmSpec, KmsError, ReEncryptRequest};

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.insert(*k, HeaderValue::from_str(v).unwrap());
    }
    h
}

fn decode(
    status: u16,
    pairs: &[(&'static str, &str)],
    body: &str,
) -> Result<tower_kms::ReEncryptResponse, KmsError> {
    decode_response::<ReEncryptRequest>(
        StatusCode::from_u16(status).unwrap(),
        &headers(pairs),
        &Bytes::copy_from_slice(body.as_bytes()),
    )
}

#[test]
fn success_shapes() {
    let full = r#"{"CiphertextBlob":"AQIDBA==","KeyId":"arn:aws:kms:us-east-1:111122223333:key/dest",
        "SourceKeyId":"arn:aws:kms:us-east-1:111122223333:key/src",
        "SourceEncryptionAlgorithm":"SYMMETRIC_DEFAULT","DestinationEncryptionAlgorithm":"RSAES_OAEP_SHA_256",
        "SourceKeyMaterialId":"aa11","DestinationKeyMaterialId":"bb22","SomeFutureMember":{"x":[1,2]}}"#;
    // Content-Type does not matter for a success body.
    let out = decode(
        200,
        &[
            ("content-type", "text/plain"),
            ("X-Amzn-RequestId", "rid-1"),
        ],
        full,
    )
    .unwrap();
    assert_eq!(out.ciphertext_blob.as_deref(), Some(&[1u8, 2, 3, 4][..]));
    assert_eq!(
        out.key_id.as_deref(),
        Some("arn:aws:kms:us-east-1:111122223333:key/dest")
    );
    assert_eq!(
        out.source_key_id.as_deref(),
        Some("arn:aws:kms:us-east-1:111122223333:key/src")
    );
    assert_eq!(
        out.source_encryption_algorithm,
        Some(EncryptionAlgorithmSpec::SymmetricDefault)
    );
    assert_eq!(
        out.destination_encryption_algorithm,
        Some(EncryptionAlgorithmSpec::RsaesOaepSha256)
    );
    assert_eq!(out.source_key_material_id.as_deref(), Some("aa11"));
    assert_eq!(out.destination_key_material_id.as_deref(), Some("bb22"));
    assert_eq!(out.metadata.request_id.as_deref(), Some("rid-1"));

    // Empty body, null members, unknown enum values.
    assert_eq!(decode(200, &[], "").unwrap().key_id, None);
    let out = decode(
        200,
        &[],
        r#"{"KeyId":null,"DestinationEncryptionAlgorithm":"ML_KEM_768"}"#,
    )
    .unwrap();
    assert_eq!(
        out.destination_encryption_algorithm,
        Some(EncryptionAlgorithmSpec::Unknown("ML_KEM_768".into()))
    );
}

#[test]
fn undecodable_success_bodies_are_typed_errors_without_body_snippets() {
    for body in [
        "not json",
        r#"{"CiphertextBlob":"***"}"#,
        r#"{"CiphertextBlob":5}"#,
        "[1,2]",
        "{\"KeyId\":",
    ] {
        let err = decode(200, &[("x-amzn-requestid", "r")], body).unwrap_err();
        match &err {
            KmsError::UnexpectedResponse(u) => {
                assert_eq!(u.status, StatusCode::OK);
                assert!(u.snippet.is_empty(), "a success body may be secret: {u:?}");
                assert_eq!(u.request_id.as_deref(), Some("r"));
            }
            other => panic!("{body}: {other:?}"),
        }
    }
}

struct Case {
    status: u16,
    headers: &'static [(&'static str, &'static str)],
    body: &'static str,
    code: &'static str,
    message: Option<&'static str>,
    check: fn(&KmsError) -> bool,
}

#[test]
fn error_shapes() {
    let cases = [
        // The shape KMS sends: __type with a namespace, message.
        Case {
            status: 404,
            headers: &[],
            body: r#"{"__type":"com.amazonaws.kms#NotFoundException","message":"Key 'arn:x' does not exist"}"#,
            code: "NotFoundException",
            message: Some("Key 'arn:x' does not exist"),
            check: |e| matches!(e, KmsError::NotFound(_)),
        },
        // Plain __type, Message with a capital M.
        Case {
            status: 400,
            headers: &[],
            body: r#"{"__type":"IncorrectKeyException","Message":"wrong key"}"#,
            code: "IncorrectKeyException",
            message: Some("wrong key"),
            check: |e| matches!(e, KmsError::IncorrectKey(_)),
        },
        // The header wins over the body.
        Case {
            status: 400,
            headers: &[(
                "x-amzn-ErrorType",
                "InvalidCiphertextException:http://internal.amazon.com/coral/com.amazon.coral.service/",
            )],
            body: r#"{"__type":"SomethingElse","message":"m"}"#,
            code: "InvalidCiphertextException",
            message: Some("m"),
            check: |e| matches!(e, KmsError::InvalidCiphertext(_)),
        },
        // code before __type.
        Case {
            status: 409,
            headers: &[],
            body: r#"{"code":"DisabledException","__type":"Other","errorMessage":"disabled"}"#,
            code: "DisabledException",
            message: Some("disabled"),
            check: |e| matches!(e, KmsError::Disabled(_)),
        },
        // A nested __type is ignored.
        Case {
            status: 400,
            headers: &[],
            body: r#"{"Details":{"__type":"NotFoundException"},"__type":"InvalidGrantTokenException"}"#,
            code: "InvalidGrantTokenException",
            message: None,
            check: |e| matches!(e, KmsError::InvalidGrantToken(_)),
        },
        Case {
            status: 400,
            headers: &[],
            body: r#"{"Details":{"__type":"NotFoundException"}}"#,
            code: "",
            message: None,
            check: |e| matches!(e, KmsError::UnexpectedResponse(_)),
        },
        Case {
            status: 412,
            headers: &[],
            body: r#"{"__type":"DryRunOperationException","message":"The request would have succeeded, but the DryRun option is set."}"#,
            code: "DryRunOperationException",
            message: Some("The request would have succeeded, but the DryRun option is set."),
            check: |e| matches!(e, KmsError::DryRunOperation(_)),
        },
        Case {
            status: 400,
            headers: &[],
            body: r#"{"__type":"InvalidKeyUsageException"}"#,
            code: "InvalidKeyUsageException",
            message: None,
            check: |e| matches!(e, KmsError::InvalidKeyUsage(_)),
        },
        Case {
            status: 409,
            headers: &[],
            body: r#"{"__type":"KMSInvalidStateException","message":"pending deletion"}"#,
            code: "KMSInvalidStateException",
            message: Some("pending deletion"),
            check: |e| matches!(e, KmsError::KmsInvalidState(_)),
        },
        Case {
            status: 500,
            headers: &[],
            body: r#"{"__type":"KMSInternalException"}"#,
            code: "KMSInternalException",
            message: None,
            check: |e| matches!(e, KmsError::KmsInternal(_)) && e.is_retryable(),
        },
        Case {
            status: 500,
            headers: &[],
            body: r#"{"__type":"KeyUnavailableException"}"#,
            code: "KeyUnavailableException",
            message: None,
            check: |e| matches!(e, KmsError::KeyUnavailable(_)) && e.is_retryable(),
        },
        Case {
            status: 503,
            headers: &[],
            body: r#"{"__type":"DependencyTimeoutException"}"#,
            code: "DependencyTimeoutException",
            message: None,
            check: |e| matches!(e, KmsError::DependencyTimeout(_)) && e.is_retryable(),
        },
        Case {
            status: 400,
            headers: &[],
            body: r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#,
            code: "ThrottlingException",
            message: Some("Rate exceeded"),
            check: |e| matches!(e, KmsError::Throttling(_)) && e.is_throttling(),
        },
        Case {
            status: 400,
            headers: &[],
            body: r#"{"__type":"AccessDeniedException","Message":"User: arn:aws:iam::1:user/x is not authorized"}"#,
            code: "AccessDeniedException",
            message: Some("User: arn:aws:iam::1:user/x is not authorized"),
            check: |e| matches!(e, KmsError::AccessDenied(_)) && !e.is_retryable(),
        },
        Case {
            status: 400,
            headers: &[],
            body: r#"{"__type":"InvalidSignatureException","message":"Signature expired: 20150830T123600Z is now earlier than 20150830T124100Z (20150830T124600Z - 5 min.)"}"#,
            code: "InvalidSignatureException",
            message: Some(
                "Signature expired: 20150830T123600Z is now earlier than 20150830T124100Z (20150830T124600Z - 5 min.)",
            ),
            check: |e| matches!(e, KmsError::InvalidSignature(_)),
        },
        Case {
            status: 400,
            headers: &[],
            body: r#"{"__type":"UnrecognizedClientException","message":"The security token included in the request is invalid."}"#,
            code: "UnrecognizedClientException",
            message: Some("The security token included in the request is invalid."),
            check: |e| matches!(e, KmsError::UnrecognizedClient(_)),
        },
        Case {
            status: 400,
            headers: &[],
            body: r#"{"__type":"ExpiredTokenException","message":"expired"}"#,
            code: "ExpiredTokenException",
            message: Some("expired"),
            check: |e| matches!(e, KmsError::ExpiredToken(_)),
        },
        Case {
            status: 403,
            headers: &[],
            body: r#"{"__type":"MissingAuthenticationTokenException","message":"Missing Authentication Token"}"#,
            code: "MissingAuthenticationTokenException",
            message: Some("Missing Authentication Token"),
            check: |e| matches!(e, KmsError::Authentication(_)),
        },
        Case {
            status: 400,
            headers: &[],
            body: r#"{"__type":"com.amazonaws.kms#SomeNewException","message":"new"}"#,
            code: "SomeNewException",
            message: Some("new"),
            check: |e| matches!(e, KmsError::Unknown(_)) && !e.is_retryable(),
        },
        // Only a header and a non-JSON body.
        Case {
            status: 400,
            headers: &[("x-amzn-errortype", "ValidationException")],
            body: "<html>oops</html>",
            code: "ValidationException",
            message: None,
            check: |e| matches!(e, KmsError::Unknown(_)),
        },
        // Throttling by status alone.
        Case {
            status: 429,
            headers: &[],
            body: r#"{"__type":"SlowDownPlease"}"#,
            code: "SlowDownPlease",
            message: None,
            check: |e| matches!(e, KmsError::Throttling(_)),
        },
        // A non-string message is ignored, not an error.
        Case {
            status: 404,
            headers: &[],
            body: r#"{"__type":"NotFoundException","message":{"nested":true}}"#,
            code: "NotFoundException",
            message: None,
            check: |e| matches!(e, KmsError::NotFound(_)),
        },
    ];
    for c in cases {
        let err = decode(
            c.status,
            &[&[("x-amzn-requestid", "req-42")], c.headers].concat(),
            c.body,
        )
        .unwrap_err();
        assert!((c.check)(&err), "{}: {err:?}", c.body);
        if !c.code.is_empty() {
            assert_eq!(err.code(), Some(c.code), "{}", c.body);
            assert_eq!(err.message(), c.message, "{}", c.body);
        }
        assert_eq!(err.request_id(), Some("req-42"), "{}", c.body);
        assert_eq!(
            err.status().map(|s| s.as_u16()),
            Some(c.status),
            "{}",
            c.body
        );
        let text = err.to_string();
        assert!(text.contains("req-42") && !text.is_empty(), "{text}");
    }
}

#[test]
fn non_json_error_pages_keep_status_and_a_short_snippet() {
    let html = format!(
        "<html><head><title>500 Internal Server Error</title></head><body>{}</body></html>",
        "x".repeat(5000)
    );
    let err = decode(500, &[], &html).unwrap_err();
    let KmsError::UnexpectedResponse(u) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(u.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        u.snippet
            .starts_with("<html><head><title>500 Internal Server Error")
    );
    assert!(u.snippet.chars().count() <= tower_kms::UnexpectedResponse::SNIPPET_LEN + 1);
    assert!(err.is_retryable(), "a 500 page is transient");

    let xml = r#"<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>"#;
    let err = decode(403, &[("x-amzn-RequestId", "proxy-1")], xml).unwrap_err();
    let KmsError::UnexpectedResponse(u) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(u.status, StatusCode::FORBIDDEN);
    assert!(u.snippet.contains("<Code>AccessDenied</Code>"));
    assert!(!err.is_retryable());
    assert!(err.to_string().contains("HTTP 403"), "{err}");
}

#[test]
fn long_codes_and_messages_are_cut() {
    let body = format!(
        r#"{{"__type":"NotFoundException","message":"{}"}}"#,
        "A".repeat(5000)
    );
    let err = decode(400, &[], &body).unwrap_err();
    assert_eq!(
        err.message().unwrap().chars().count(),
        tower_kms::protocol::MAX_MESSAGE_CHARS + 1
    );
    assert!(err.to_string().chars().count() < 1200);
    let body = format!(r#"{{"__type":"{}"}}"#, "X".repeat(500));
    let err = decode(400, &[], &body).unwrap_err();
    assert_eq!(
        err.code().unwrap().chars().count(),
        tower_kms::protocol::MAX_CODE_CHARS + 1
    );
    // The spec's rule: what follows the first '#'.
    assert_eq!(tower_kms::protocol::sanitize_error_code("a#b#C"), "b#C");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]
    #[test]
    fn never_panics_on_arbitrary_responses(status in 100u16..600, body in proptest::collection::vec(any::<u8>(), 0..300),
                                           hdr in proptest::option::of("[ -~]{0,40}")) {
        let mut h = HeaderMap::new();
        if let Some(v) = hdr.and_then(|v| HeaderValue::from_str(&v).ok()) {
            h.insert("x-amzn-errortype", v);
        }
        let status = StatusCode::from_u16(status).unwrap();
        let res = decode_response::<ReEncryptRequest>(status, &h, &Bytes::from(body));
        if !status.is_success() { prop_assert!(res.is_err()); }
        if let Err(e) = res { let _ = e.to_string(); }
    }

    #[test]
    fn never_panics_on_nested_outputs(body in proptest::collection::vec(any::<u8>(), 0..300),
                                      json in r#"\{"(KeyMetadata|Grants|Aliases)":[\[\{"\]\}0-9.e:,KeyIdCrationDt\\u-]{0,60}"#) {
        for b in [body, json.into_bytes()] {
            let b = Bytes::from(b);
            let _ = decode_response::<tower_kms::DescribeKeyRequest>(StatusCode::OK, &HeaderMap::new(), &b);
            let _ = decode_response::<tower_kms::model::ListGrantsRequest>(StatusCode::OK, &HeaderMap::new(), &b);
            let _ = decode_response::<tower_kms::model::ListAliasesRequest>(StatusCode::OK, &HeaderMap::new(), &b);
        }
    }

    #[test]
    fn never_panics_on_json_like_error_bodies(
        code in "[A-Za-z#:.]{0,30}", msg in "[ -~]{0,30}", nested in any::<bool>()) {
        let body = if nested {
            format!(r#"{{"x":{{"__type":"{code}"}},"message":"{msg}"}}"#)
        } else {
            format!(r#"{{"__type":"{code}","message":"{msg}"}}"#)
        };
        let res = decode_response::<ReEncryptRequest>(StatusCode::BAD_REQUEST, &HeaderMap::new(), &Bytes::from(body));
        prop_assert!(res.is_err());
    }
}
