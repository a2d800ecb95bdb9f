//! Independent AWS Signature Version 4 verification (header-based
//! `AWS4-HMAC-SHA256` only).

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use aws_lc_rs::{constant_time, digest, hmac};
use http::{HeaderMap, Method, Uri};

use super::error::LocalKmsError;
use super::time::{format_amz_date, parse_amz_date};

const ALGORITHM: &str = "AWS4-HMAC-SHA256";
const TERMINATOR: &str = "aws4_request";
/// Allowed distance between the signing time and the server clock.
pub(crate) const MAX_SKEW: Duration = Duration::from_secs(5 * 60);

/// Hex SHA-256.
pub(crate) fn sha256_hex(data: &[u8]) -> String {
    hex::encode(digest::digest(&digest::SHA256, data))
}

fn incomplete(message: impl Into<String>) -> LocalKmsError {
    LocalKmsError::new("IncompleteSignatureException", message)
}

/// The parsed `Authorization` header.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Authorization<'a> {
    pub(crate) access_key_id: &'a str,
    pub(crate) date: &'a str,
    pub(crate) region: &'a str,
    pub(crate) service: &'a str,
    pub(crate) terminator: &'a str,
    pub(crate) signed_headers: &'a str,
    pub(crate) signature: &'a str,
}

/// Parses `AWS4-HMAC-SHA256 Credential=.., SignedHeaders=.., Signature=..`.
pub(crate) fn parse_authorization(value: &str) -> Result<Authorization<'_>, LocalKmsError> {
    let value = value.trim();
    let (alg, rest) = value.split_once([' ', '\t']).unwrap_or((value, ""));
    if alg != ALGORITHM {
        return Err(incomplete(format!(
            "Unsupported AWS 'algorithm': '{alg}'. Only '{ALGORITHM}' is supported."
        )));
    }
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let Some((k, v)) = part.split_once('=') else {
            return Err(incomplete(format!(
                "Authorization header element '{part}' is not a key=value pair."
            )));
        };
        match k.trim() {
            "Credential" => credential = Some(v.trim()),
            "SignedHeaders" => signed_headers = Some(v.trim()),
            "Signature" => signature = Some(v.trim()),
            _ => {}
        }
    }
    let mut missing = String::new();
    for (name, v) in [
        ("Credential", &credential),
        ("Signature", &signature),
        ("SignedHeaders", &signed_headers),
    ] {
        if v.is_none_or(|s| s.is_empty()) {
            missing.push_str(&format!(
                "Authorization header requires '{name}' parameter. "
            ));
        }
    }
    let (Some(credential), Some(signed_headers), Some(signature)) =
        (credential, signed_headers, signature)
    else {
        return Err(incomplete(missing.trim_end().to_string()));
    };
    if !missing.is_empty() {
        return Err(incomplete(missing.trim_end().to_string()));
    }
    let parts: Vec<&str> = credential.split('/').collect();
    let [access_key_id, date, region, service, terminator] = parts[..] else {
        return Err(incomplete(format!(
            "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '{credential}'"
        )));
    };
    Ok(Authorization {
        access_key_id,
        date,
        region,
        service,
        terminator,
        signed_headers,
        signature,
    })
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~')
}

/// RFC 3986 percent-encoding of everything but unreserved characters (and
/// `/` when `keep_slash`).
fn uri_encode(input: &[u8], keep_slash: bool) -> String {
    let mut out = String::with_capacity(input.len());
    for &b in input {
        if is_unreserved(b) || (keep_slash && b == b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn percent_decode(input: &str) -> Vec<u8> {
    let b = input.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let h = b.get(i + 1).and_then(|c| (*c as char).to_digit(16));
            let l = b.get(i + 2).and_then(|c| (*c as char).to_digit(16));
            if let (Some(h), Some(l)) = (h, l) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// RFC 3986 section 5.2.4 dot-segment removal.
fn remove_dot_segments(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').collect();
    let last = segments.len().saturating_sub(1);
    let mut trailing_slash = false;
    for (i, seg) in segments.iter().enumerate() {
        match *seg {
            "." => trailing_slash = i == last,
            ".." => {
                if out.len() > 1 {
                    out.pop();
                }
                trailing_slash = i == last;
            }
            s => {
                out.push(s);
                trailing_slash = false;
            }
        }
    }
    let mut joined = out.join("/");
    if trailing_slash && !joined.ends_with('/') {
        joined.push('/');
    }
    if !joined.starts_with('/') {
        joined.insert(0, '/');
    }
    joined
}

/// Canonical URI: the normalized path, URI-encoded once more (all services
/// but S3 double-encode).
pub(crate) fn canonical_uri(uri: &Uri) -> String {
    let path = uri.path();
    if path.is_empty() || path == "/" {
        return "/".to_string();
    }
    uri_encode(remove_dot_segments(path).as_bytes(), true)
}

/// Canonical query string: decoded then strictly re-encoded pairs, sorted.
pub(crate) fn canonical_query(uri: &Uri) -> String {
    let Some(q) = uri.query() else {
        return String::new();
    };
    let mut pairs: Vec<(String, String)> = q
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (
                uri_encode(&percent_decode(k), false),
                uri_encode(&percent_decode(v), false),
            )
        })
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// A header value trimmed with inner runs of whitespace collapsed.
fn canonical_value(value: &str) -> String {
    value
        .split([' ', '\t'])
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// All values of a header for the canonical request; `host` falls back to
/// the URI authority (requests built in-process may carry no Host header).
///
/// A value that is not valid UTF-8 is an error: decoding it lossily would
/// make different bytes on the wire verify under the same signature.
fn header_values(name: &str, uri: &Uri, headers: &HeaderMap) -> Result<String, LocalKmsError> {
    let mut values = Vec::new();
    for v in headers.get_all(name) {
        let Ok(text) = std::str::from_utf8(v.as_bytes()) else {
            return Err(incomplete(format!(
                "The value of the signed header '{name}' is not valid UTF-8."
            )));
        };
        values.push(canonical_value(text));
    }
    if values.is_empty() && name == "host" {
        return Ok(uri
            .authority()
            .map(|a| a.as_str().to_string())
            .unwrap_or_default());
    }
    Ok(values.join(","))
}

/// The SigV4 canonical request.
///
/// # Errors
/// `IncompleteSignatureException` when a signed header's value is not UTF-8.
pub(crate) fn canonical_request(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    signed_headers: &str,
    payload_hash: &str,
) -> Result<String, LocalKmsError> {
    let mut out = String::new();
    out.push_str(method.as_str());
    out.push('\n');
    out.push_str(&canonical_uri(uri));
    out.push('\n');
    out.push_str(&canonical_query(uri));
    out.push('\n');
    for name in signed_headers.split(';') {
        out.push_str(name);
        out.push(':');
        out.push_str(&header_values(name, uri, headers)?);
        out.push('\n');
    }
    out.push('\n');
    out.push_str(signed_headers);
    out.push('\n');
    out.push_str(payload_hash);
    Ok(out)
}

/// The SigV4 string to sign.
pub(crate) fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
        sha256_hex(canonical_request.as_bytes())
    )
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> hmac::Tag {
    hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data)
}

/// The derived signing key (`kSigning`).
pub(crate) fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> hmac::Key {
    let k_secret = format!("AWS4{secret}");
    let k_date = hmac_sha256(k_secret.as_bytes(), date.as_bytes());
    let k_region = hmac_sha256(k_date.as_ref(), region.as_bytes());
    let k_service = hmac_sha256(k_region.as_ref(), service.as_bytes());
    let k_signing = hmac_sha256(k_service.as_ref(), TERMINATOR.as_bytes());
    hmac::Key::new(hmac::HMAC_SHA256, k_signing.as_ref())
}

/// Hex HMAC-SHA256 of the string to sign.
pub(crate) fn signature(key: &hmac::Key, string_to_sign: &str) -> String {
    hex::encode(hmac::sign(key, string_to_sign.as_bytes()))
}

/// Everything needed to check a request's signature.
#[derive(Debug)]
pub(crate) struct Verifier<'a> {
    pub(crate) credentials: &'a HashMap<String, String>,
    pub(crate) region: &'a str,
    pub(crate) service: &'a str,
    /// Headers (lower-case) a signature must cover, when the request has
    /// them, besides `host` and `x-amz-date`: for KMS `x-amz-target`, which
    /// names the operation, so a captured request cannot be replayed as
    /// another operation on the same body. (A request without it names no
    /// operation and is refused after authentication.)
    pub(crate) must_sign: &'a [&'a str],
    pub(crate) now: SystemTime,
}

/// `x-amz-target` as `X-Amz-Target`, for messages.
fn display_name(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map_or_else(String::new, |c| {
                c.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect::<Vec<_>>()
        .join("-")
}

impl Verifier<'_> {
    /// Verifies the request; returns the access key id on success.
    pub(crate) fn verify(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<String, LocalKmsError> {
        let Some(auth) = headers.get(http::header::AUTHORIZATION) else {
            return Err(LocalKmsError::new(
                "MissingAuthenticationTokenException",
                "Missing Authentication Token",
            ));
        };
        let auth = auth
            .to_str()
            .map_err(|_| incomplete("The Authorization header is not valid ASCII."))?;
        let a = parse_authorization(auth)?;
        let Some(secret) = self.credentials.get(a.access_key_id) else {
            return Err(LocalKmsError::new(
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
            ));
        };

        let Some(amz_date) = headers.get("x-amz-date") else {
            return Err(incomplete(format!(
                "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization={auth}"
            )));
        };
        let amz_date = amz_date.to_str().unwrap_or_default();
        let Some(signed_at) = parse_amz_date(amz_date) else {
            return Err(incomplete(format!(
                "Date must be in ISO-8601 'basic format'. Got '{amz_date}'. See http://en.wikipedia.org/wiki/ISO_8601"
            )));
        };

        // Credential scope.
        if a.date != &amz_date[..8] {
            return Err(LocalKmsError::invalid_signature(format!(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{}', from '{amz_date}'.",
                a.date,
                &amz_date[..8]
            )));
        }
        if a.region != self.region {
            return Err(LocalKmsError::invalid_signature(format!(
                "Credential should be scoped to a valid region, not '{}'. The credential scope region must be '{}'.",
                a.region, self.region
            )));
        }
        if a.service != self.service {
            return Err(LocalKmsError::invalid_signature(format!(
                "Credential should be scoped to correct service: '{}'. ",
                self.service
            )));
        }
        if a.terminator != TERMINATOR {
            return Err(LocalKmsError::invalid_signature(format!(
                "Credential should be scoped with a valid terminator: '{TERMINATOR}', not '{}'. ",
                a.terminator
            )));
        }

        let names: Vec<&str> = a.signed_headers.split(';').collect();
        if names
            .iter()
            .any(|n| n.is_empty() || n.bytes().any(|b| b.is_ascii_uppercase()))
        {
            return Err(incomplete(format!(
                "SignedHeaders must be a ';'-separated list of lower-case header names, got '{}'.",
                a.signed_headers
            )));
        }
        if !names.contains(&"host") {
            return Err(LocalKmsError::invalid_signature(
                "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
            ));
        }
        // The signing time is only trustworthy when it is signed: otherwise a
        // captured request could be replayed with a fresh X-Amz-Date.
        if !names.contains(&"x-amz-date") {
            return Err(LocalKmsError::invalid_signature(
                "'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization.",
            ));
        }
        if let Some(missing) = self
            .must_sign
            .iter()
            .find(|n| headers.contains_key(**n) && !names.contains(n))
        {
            return Err(LocalKmsError::invalid_signature(format!(
                "'{}' must be a 'SignedHeader' in the AWS Authorization.",
                display_name(missing)
            )));
        }

        // Signing time within five minutes of the server clock.
        // (Checked: an injected clock may stand at either end of time.)
        if let Some(earliest) = self.now.checked_sub(MAX_SKEW)
            && signed_at < earliest
        {
            return Err(LocalKmsError::invalid_signature(format!(
                "Signature expired: {amz_date} is now earlier than {} ({} - 5 min.)",
                format_amz_date(earliest),
                format_amz_date(self.now)
            )));
        }
        if let Some(latest) = self.now.checked_add(MAX_SKEW)
            && signed_at > latest
        {
            return Err(LocalKmsError::invalid_signature(format!(
                "Signature not yet current: {amz_date} is still later than {} ({} + 5 min.)",
                format_amz_date(latest),
                format_amz_date(self.now)
            )));
        }

        // Payload hash: the signed x-amz-content-sha256 if present (and it
        // must match the body), else computed.
        let body_hash = sha256_hex(body);
        let payload_hash = match headers.get("x-amz-content-sha256") {
            Some(v) if names.contains(&"x-amz-content-sha256") => {
                let claimed = v.to_str().unwrap_or_default();
                if constant_time::verify_slices_are_equal(
                    claimed.to_ascii_lowercase().as_bytes(),
                    body_hash.as_bytes(),
                )
                .is_err()
                {
                    return Err(LocalKmsError::invalid_signature(
                        "The provided 'x-amz-content-sha256' header does not match what was computed.",
                    ));
                }
                claimed.to_string()
            }
            _ => body_hash,
        };

        let creq = canonical_request(method, uri, headers, a.signed_headers, &payload_hash)?;
        let scope = format!("{}/{}/{}/{TERMINATOR}", a.date, a.region, a.service);
        let sts = string_to_sign(amz_date, &scope, &creq);
        let key = signing_key(secret, a.date, a.region, a.service);
        let provided = a.signature.to_ascii_lowercase();
        let expected = signature(&key, &sts);
        if constant_time::verify_slices_are_equal(expected.as_bytes(), provided.as_bytes()).is_err()
        {
            return Err(LocalKmsError::invalid_signature(
                "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.",
            ));
        }
        Ok(a.access_key_id.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

    fn creds() -> HashMap<String, String> {
        HashMap::from([("AKIDEXAMPLE".to_string(), SECRET.to_string())])
    }

    fn at(s: &str) -> SystemTime {
        parse_amz_date(s).unwrap()
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    /// AWS SigV4 test suite, "get-vanilla".
    #[test]
    fn get_vanilla_vector() {
        let uri: Uri = "/".parse().unwrap();
        let mut h = headers(&[
            ("host", "example.amazonaws.com"),
            ("x-amz-date", "20150830T123600Z"),
        ]);
        let creq =
            canonical_request(&Method::GET, &uri, &h, "host;x-amz-date", &sha256_hex(b"")).unwrap();
        assert_eq!(
            creq,
            "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let sts = string_to_sign(
            "20150830T123600Z",
            "20150830/us-east-1/service/aws4_request",
            &creq,
        );
        assert_eq!(
            sts,
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\nbb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63"
        );
        let sig = signature(
            &signing_key(SECRET, "20150830", "us-east-1", "service"),
            &sts,
        );
        assert_eq!(
            sig,
            "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );

        // The full verifier accepts the published Authorization header.
        h.insert(
            "authorization",
            HeaderValue::from_static(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
            ),
        );
        let c = creds();
        let v = Verifier {
            credentials: &c,
            region: "us-east-1",
            service: "service",
            must_sign: &[],
            now: at("20150830T123900Z"),
        };
        assert_eq!(
            v.verify(&Method::GET, &uri, &h, b"").unwrap(),
            "AKIDEXAMPLE"
        );
        // A different body, method or header breaks it.
        assert_eq!(
            v.verify(&Method::GET, &uri, &h, b"x").unwrap_err().code,
            "InvalidSignatureException"
        );
        assert!(v.verify(&Method::POST, &uri, &h, b"").is_err());
        let mut h2 = h.clone();
        h2.insert("host", HeaderValue::from_static("example2.amazonaws.com"));
        assert!(v.verify(&Method::GET, &uri, &h2, b"").is_err());
        // An unsigned header may change freely.
        let mut h3 = h.clone();
        h3.insert("user-agent", HeaderValue::from_static("whatever"));
        assert!(v.verify(&Method::GET, &uri, &h3, b"").is_ok());
    }

    /// The IAM `ListUsers` example from the AWS General Reference.
    #[test]
    fn iam_list_users_example() {
        let uri: Uri = "https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08"
            .parse()
            .unwrap();
        let mut h = headers(&[
            (
                "content-type",
                "application/x-www-form-urlencoded; charset=utf-8",
            ),
            ("host", "iam.amazonaws.com"),
            ("x-amz-date", "20150830T123600Z"),
        ]);
        let creq = canonical_request(
            &Method::GET,
            &uri,
            &h,
            "content-type;host;x-amz-date",
            &sha256_hex(b""),
        )
        .unwrap();
        assert_eq!(
            sha256_hex(creq.as_bytes()),
            "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59"
        );
        h.insert(
            "authorization",
            HeaderValue::from_static(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7",
            ),
        );
        let c = creds();
        let v = Verifier {
            credentials: &c,
            region: "us-east-1",
            service: "iam",
            must_sign: &[],
            now: at("20150830T123600Z"),
        };
        v.verify(&Method::GET, &uri, &h, b"").unwrap();
        // Query parameter order does not matter; their values do.
        let reordered: Uri = "https://iam.amazonaws.com/?Version=2010-05-08&Action=ListUsers"
            .parse()
            .unwrap();
        v.verify(&Method::GET, &reordered, &h, b"").unwrap();
        let changed: Uri = "https://iam.amazonaws.com/?Action=ListRoles&Version=2010-05-08"
            .parse()
            .unwrap();
        assert!(v.verify(&Method::GET, &changed, &h, b"").is_err());
    }

    fn vanilla_request() -> (Uri, HeaderMap) {
        let uri: Uri = "/".parse().unwrap();
        let h = headers(&[
            ("host", "example.amazonaws.com"),
            ("x-amz-date", "20150830T123600Z"),
            (
                "authorization",
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
            ),
        ]);
        (uri, h)
    }

    #[test]
    fn skew_messages() {
        let (uri, h) = vanilla_request();
        let c = creds();
        let mut v = Verifier {
            credentials: &c,
            region: "us-east-1",
            service: "service",
            must_sign: &[],
            now: at("20150830T124600Z"),
        };
        let e = v.verify(&Method::GET, &uri, &h, b"").unwrap_err();
        assert_eq!(e.code, "InvalidSignatureException");
        assert_eq!(
            e.message,
            "Signature expired: 20150830T123600Z is now earlier than 20150830T124100Z (20150830T124600Z - 5 min.)"
        );
        v.now = at("20150830T122500Z");
        let e = v.verify(&Method::GET, &uri, &h, b"").unwrap_err();
        assert_eq!(
            e.message,
            "Signature not yet current: 20150830T123600Z is still later than 20150830T123000Z (20150830T122500Z + 5 min.)"
        );
        // Exactly five minutes either way is still accepted.
        v.now = at("20150830T124100Z");
        assert!(v.verify(&Method::GET, &uri, &h, b"").is_ok());
        v.now = at("20150830T123100Z");
        assert!(v.verify(&Method::GET, &uri, &h, b"").is_ok());
    }

    #[test]
    fn auth_failures() {
        let (uri, h) = vanilla_request();
        let c = creds();
        let v = Verifier {
            credentials: &c,
            region: "us-east-1",
            service: "service",
            must_sign: &[],
            now: at("20150830T123600Z"),
        };
        let code = |h: &HeaderMap| v.verify(&Method::GET, &uri, h, b"").unwrap_err();

        let mut none = h.clone();
        none.remove("authorization");
        assert_eq!(code(&none).code, "MissingAuthenticationTokenException");

        let set = |value: &str| {
            let mut x = h.clone();
            x.insert("authorization", HeaderValue::from_str(value).unwrap());
            x
        };
        let e = code(&set(
            "AWS4-HMAC-SHA256 Credential=NOPE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=00",
        ));
        assert_eq!(e.code, "UnrecognizedClientException");
        assert_eq!(
            e.message,
            "The security token included in the request is invalid."
        );
        let e = code(&set(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/eu-west-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=00",
        ));
        assert_eq!(e.code, "InvalidSignatureException");
        assert!(e.message.contains("region"), "{}", e.message);
        let e = code(&set(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=00",
        ));
        assert!(e.message.contains("service"), "{}", e.message);
        let e = code(&set(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150831/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=00",
        ));
        assert!(
            e.message.contains("Date in Credential scope"),
            "{}",
            e.message
        );
        let e = code(&set(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=x-amz-date, Signature=00",
        ));
        assert_eq!(e.code, "InvalidSignatureException");
        assert!(e.message.contains("'Host'"));
        let e = code(&set(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf30",
        ));
        assert!(e.message.starts_with("The request signature we calculated"));
        for bad in [
            "AWS4-HMAC-SHA512 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host, Signature=00",
            "AWS4-HMAC-SHA256",
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request",
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1, SignedHeaders=host, Signature=00",
            "AWS4-HMAC-SHA256 garbage",
            "",
        ] {
            assert_eq!(
                code(&set(bad)).code,
                "IncompleteSignatureException",
                "{bad}"
            );
        }
        let mut no_date = h.clone();
        no_date.remove("x-amz-date");
        assert_eq!(code(&no_date).code, "IncompleteSignatureException");
    }

    #[test]
    fn canonicalization_details() {
        let uri: Uri = "/a/./b/../c%20d/".parse().unwrap();
        assert_eq!(canonical_uri(&uri), "/a/c%2520d/");
        let uri: Uri = "/?b=2&a=%41&a=1&c".parse().unwrap();
        assert_eq!(canonical_query(&uri), "a=1&a=A&b=2&c=");
        assert_eq!(canonical_value("  a   b \t c  "), "a b c");
        let h = headers(&[("x-multi", "one"), ("x-multi", " two  three ")]);
        let uri: Uri = "http://example.com:8080/".parse().unwrap();
        assert_eq!(header_values("x-multi", &uri, &h).unwrap(), "one,two three");
        assert_eq!(header_values("host", &uri, &h).unwrap(), "example.com:8080");
        // UTF-8 beyond ASCII is kept as it is.
        let h = headers(&[("x-name", "  caf\u{e9}  ")]);
        assert_eq!(header_values("x-name", &uri, &h).unwrap(), "caf\u{e9}");
        assert_eq!(percent_decode("%zz%4"), b"%zz%4".to_vec());
    }

    /// Signs `headers` by hand for `SignedHeaders=signed` the way a client
    /// that decodes values lossily would, and returns the finished headers.
    fn hand_signed(mut h: HeaderMap, signed: &str, lossy_values: &[(&str, &str)]) -> HeaderMap {
        let uri: Uri = "/".parse().unwrap();
        let mut creq = String::from("GET\n/\n\n");
        for name in signed.split(';') {
            let value = lossy_values
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
                .unwrap_or_else(|| header_values(name, &uri, &h).unwrap());
            creq.push_str(&format!("{name}:{value}\n"));
        }
        creq.push_str(&format!("\n{signed}\n{}", sha256_hex(b"")));
        let sts = string_to_sign(
            "20150830T123600Z",
            "20150830/us-east-1/service/aws4_request",
            &creq,
        );
        let sig = signature(
            &signing_key(SECRET, "20150830", "us-east-1", "service"),
            &sts,
        );
        let auth = format!(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders={signed}, Signature={sig}"
        );
        h.insert("authorization", HeaderValue::from_str(&auth).unwrap());
        h
    }

    fn vanilla_verifier(c: &HashMap<String, String>) -> Verifier<'_> {
        Verifier {
            credentials: c,
            region: "us-east-1",
            service: "service",
            must_sign: &[],
            now: at("20150830T123600Z"),
        }
    }

    #[test]
    fn signing_date_must_be_signed() {
        let c = creds();
        let v = vanilla_verifier(&c);
        let uri: Uri = "/".parse().unwrap();
        let base = headers(&[
            ("host", "example.amazonaws.com"),
            ("x-amz-date", "20150830T123600Z"),
        ]);
        // The hand signer is right: with the date signed it verifies.
        let ok = hand_signed(base.clone(), "host;x-amz-date", &[]);
        assert!(v.verify(&Method::GET, &uri, &ok, b"").is_ok());
        // A correct signature that leaves X-Amz-Date out is refused.
        let unsigned_date = hand_signed(base, "host", &[]);
        let e = v
            .verify(&Method::GET, &uri, &unsigned_date, b"")
            .unwrap_err();
        assert_eq!(e.code, "InvalidSignatureException");
        assert_eq!(
            e.message,
            "'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization."
        );
    }

    #[test]
    fn required_headers_must_be_signed() {
        let c = creds();
        let v = Verifier {
            must_sign: &["x-amz-target"],
            ..vanilla_verifier(&c)
        };
        let uri: Uri = "/".parse().unwrap();
        let base = headers(&[
            ("host", "example.amazonaws.com"),
            ("x-amz-date", "20150830T123600Z"),
            ("x-amz-target", "TrentService.Decrypt"),
        ]);
        let ok = hand_signed(base.clone(), "host;x-amz-date;x-amz-target", &[]);
        assert!(v.verify(&Method::GET, &uri, &ok, b"").is_ok());
        // A correct signature that leaves the operation out is refused: the
        // request could be replayed as any operation.
        let unsigned_target = hand_signed(base, "host;x-amz-date", &[]);
        let e = v
            .verify(&Method::GET, &uri, &unsigned_target, b"")
            .unwrap_err();
        assert_eq!(e.code, "InvalidSignatureException");
        assert_eq!(
            e.message,
            "'X-Amz-Target' must be a 'SignedHeader' in the AWS Authorization."
        );
        assert_eq!(display_name("x-amz-content-sha256"), "X-Amz-Content-Sha256");
    }

    #[test]
    fn signed_header_values_must_be_utf8() {
        let c = creds();
        let v = vanilla_verifier(&c);
        let uri: Uri = "/".parse().unwrap();
        let mut base = headers(&[
            ("host", "example.amazonaws.com"),
            ("x-amz-date", "20150830T123600Z"),
        ]);
        base.insert("x-odd", HeaderValue::from_bytes(b"caf\xe9").unwrap());
        // Signed over the lossy decoding (what the verifier used to compute):
        // refused, not verified against U+FFFD.
        let lossy = hand_signed(
            base.clone(),
            "host;x-amz-date;x-odd",
            &[("x-odd", "caf\u{fffd}")],
        );
        let e = v.verify(&Method::GET, &uri, &lossy, b"").unwrap_err();
        assert_eq!(e.code, "IncompleteSignatureException");
        assert_eq!(
            e.message,
            "The value of the signed header 'x-odd' is not valid UTF-8."
        );
        // The same bytes in an unsigned header do not matter.
        let unsigned = hand_signed(base, "host;x-amz-date", &[]);
        assert!(v.verify(&Method::GET, &uri, &unsigned, b"").is_ok());
    }
}
