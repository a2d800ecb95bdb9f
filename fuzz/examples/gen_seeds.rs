//! Writes the seed corpus: `cargo run --example gen_seeds` (from fuzz/) writes
//! seeds/decode_response/* and seeds/decode_error/* in the input format of src/lib.rs.

use std::path::Path;

use tower_kms_fuzz::{Input, RawHeader};

fn h(name: &str, value: &str) -> RawHeader {
    RawHeader {
        name: name.as_bytes().to_vec(),
        value: value.as_bytes().to_vec(),
    }
}

fn seeds() -> Vec<(&'static str, Input)> {
    let rid = || h("x-amzn-requestid", "1b4e9c2a-6b43-4d8e-9f57-3c1f0e2a9d10");
    let json = || h("content-type", "application/x-amz-json-1.1");
    let date = || h("date", "Sat, 29 Nov 2025 09:51:00 GMT");
    let blob = "AQICAHhZc2FtcGxlY2lwaGVydGV4dGJsb2Jmb3JmdXp6aW5nAAAAfjB8BgkqhkiG9w0BBwagbzBtAgEAMGgGCSqGSIb3DQEHATAeBglghkgBZQMEAS4wEQQM";
    let arn = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    vec![
        (
            "not_found_namespaced",
            Input {
                status: 400,
                headers: vec![rid(), json(), date()],
                body: br#"{"__type":"com.amazonaws.kms#NotFoundException","message":"x"}"#.to_vec(),
            },
        ),
        (
            "html_500",
            Input {
                status: 500,
                headers: vec![h("content-type", "text/html; charset=utf-8")],
                body: b"<!DOCTYPE html>\n<html><head><title>500 Internal Server Error</title></head>\n<body><h1>Internal Server Error</h1><p>The server encountered an internal error and was unable to complete your request.</p></body></html>\n".to_vec(),
            },
        ),
        (
            "xml_403",
            Input {
                status: 403,
                headers: vec![h("content-type", "application/xml"), rid()],
                body: b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code><Message>Access Denied</Message><RequestId>4442587FB7D0A2F9</RequestId></Error>".to_vec(),
            },
        ),
        (
            "reencrypt_success",
            Input {
                status: 200,
                headers: vec![rid(), json()],
                body: format!(
                    r#"{{"CiphertextBlob":"{blob}","KeyId":"{arn}","SourceKeyId":"{arn}","SourceEncryptionAlgorithm":"SYMMETRIC_DEFAULT","DestinationEncryptionAlgorithm":"SYMMETRIC_DEFAULT"}}"#
                )
                .into_bytes(),
            },
        ),
        (
            "decrypt_success",
            Input {
                status: 200,
                headers: vec![rid(), json()],
                body: format!(
                    r#"{{"KeyId":"{arn}","Plaintext":"dG9wIHNlY3JldA==","EncryptionAlgorithm":"SYMMETRIC_DEFAULT"}}"#
                )
                .into_bytes(),
            },
        ),
        (
            "encrypt_success",
            Input {
                status: 200,
                headers: vec![rid(), json()],
                body: format!(
                    r#"{{"CiphertextBlob":"{blob}","KeyId":"{arn}","EncryptionAlgorithm":"SYMMETRIC_DEFAULT"}}"#
                )
                .into_bytes(),
            },
        ),
        (
            "empty_success",
            Input {
                status: 200,
                headers: vec![rid()],
                body: b"  \n".to_vec(),
            },
        ),
        (
            "errortype_header_with_url",
            Input {
                status: 400,
                headers: vec![
                    h("x-amzn-errortype", "IncorrectKeyException:http://internal.amazon.com/coral/com.amazon.kms/"),
                    rid(),
                    json(),
                ],
                body: br#"{"Message":"The key ID in the request does not identify a CMK that can perform this operation."}"#.to_vec(),
            },
        ),
        (
            "throttling_retry_after",
            Input {
                status: 429,
                headers: vec![h("x-amz-retry-after", "1500"), date(), rid(), json()],
                body: br#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#.to_vec(),
            },
        ),
        (
            "code_error_message",
            Input {
                status: 409,
                headers: vec![json()],
                body: br#"{"code":"DisabledException","__type":"Other","errorMessage":"arn:aws:kms:us-east-1:111122223333:key/x is disabled."}"#.to_vec(),
            },
        ),
        (
            "nested_type_only",
            Input {
                status: 400,
                headers: vec![json(), h("X-Custom-Header", "v")],
                body: br#"{"Details":{"__type":"NotFoundException"},"message":null}"#.to_vec(),
            },
        ),
        (
            "signature_expired",
            Input {
                status: 400,
                headers: vec![date(), rid(), json()],
                body: br#"{"__type":"InvalidSignatureException","message":"Signature expired: 20251129T092000Z is now earlier than 20251129T094600Z (20251129T095100Z - 5 min.)"}"#.to_vec(),
            },
        ),
        (
            "gateway_503_text",
            Input {
                status: 503,
                headers: vec![h("content-type", "text/plain")],
                body: b"Service Unavailable\r\n\x00\x01\xff\xfe".to_vec(),
            },
        ),
    ]
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds");
    for target in ["decode_response", "decode_error"] {
        let dir = root.join(target);
        std::fs::create_dir_all(&dir).unwrap();
        for (name, input) in seeds() {
            let bytes = input.encode();
            // The format round-trips.
            assert_eq!(Input::parse(&bytes).encode(), bytes);
            std::fs::write(dir.join(format!("seed-{name}")), bytes).unwrap();
        }
        println!("wrote {}", dir.display());
    }
}
