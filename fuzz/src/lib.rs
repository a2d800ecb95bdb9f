//! Shared input format and invariants of the tower-kms fuzz targets.
//!
//! A fuzz input is a small binary format that is easy to mutate and to write by
//! hand (see `examples/gen_seeds.rs`):
//!
//! ```text
//! status      2 bytes, u16 little-endian; the status is 100 + (v % 500), so 100..=599
//! count       1 byte; the number of headers is count % 9 (0..=8)
//! header * n  selector (1 byte), [name_len (1 byte), name], value_len (1 byte), value
//!             selector % 8: 0 x-amzn-errortype, 1 x-amzn-requestid, 2 date,
//!             3 x-amz-retry-after, 4 content-type, 5 X-Amzn-ErrorType (mixed case),
//!             6 and 7: an arbitrary name given by name_len + name
//! body        the rest of the input
//! ```
//!
//! A truncated input is read as far as it goes. Header names and values that
//! `http` rejects are skipped, as a server's bytes would be rejected by hyper.

use arbitrary::{Arbitrary, Unstructured};
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use tower_kms::protocol::sanitize_error_code;
use tower_kms::{KmsError, UnexpectedResponse};

/// The header names the decoder looks at, plus a mixed-case spelling.
pub const KNOWN_HEADERS: [&str; 6] = [
    "x-amzn-errortype",
    "x-amzn-requestid",
    "date",
    "x-amz-retry-after",
    "content-type",
    "X-Amzn-ErrorType",
];

/// The longest `Display` of an error that the strict invariant accepts.
pub const DISPLAY_BOUND: usize = 4096;

/// Fixed text around the code, message and request id in a `Display` (generous).
const DISPLAY_OVERHEAD: usize = 512;

/// One header of an input, as raw bytes.
#[derive(Debug, Clone)]
pub struct RawHeader {
    pub name: Vec<u8>,
    pub value: Vec<u8>,
}

/// A decoded fuzz input.
#[derive(Debug, Clone)]
pub struct Input {
    pub status: u16,
    pub headers: Vec<RawHeader>,
    pub body: Vec<u8>,
}

struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }
    fn take(&mut self, n: usize) -> &'a [u8] {
        let (a, b) = self.0.split_at(n.min(self.0.len()));
        self.0 = b;
        a
    }
}

impl Input {
    /// Reads an input in the format above; never fails.
    pub fn parse(data: &[u8]) -> Self {
        let mut c = Cursor(data);
        let raw_status = u16::from_le_bytes([c.byte(), c.byte()]);
        let status = 100 + raw_status % 500;
        let count = c.byte() % 9;
        let mut headers = Vec::new();
        for _ in 0..count {
            if c.0.is_empty() {
                break;
            }
            let sel = (c.byte() % 8) as usize;
            let name = if sel < KNOWN_HEADERS.len() {
                KNOWN_HEADERS[sel].as_bytes().to_vec()
            } else {
                let n = c.byte() as usize;
                c.take(n).to_vec()
            };
            let n = c.byte() as usize;
            let value = c.take(n).to_vec();
            headers.push(RawHeader { name, value });
        }
        Input {
            status,
            headers,
            body: c.0.to_vec(),
        }
    }

    /// Writes an input in the format above (the inverse of [`Input::parse`] for
    /// inputs with at most 8 headers and fields under 256 bytes).
    pub fn encode(&self) -> Vec<u8> {
        assert!((100..=599).contains(&self.status) && self.headers.len() <= 8);
        let mut out = Vec::new();
        out.extend_from_slice(&(self.status - 100).to_le_bytes());
        out.push(self.headers.len() as u8);
        for h in &self.headers {
            match KNOWN_HEADERS.iter().position(|k| k.as_bytes() == h.name) {
                Some(sel) => out.push(sel as u8),
                None => {
                    out.push(6);
                    out.push(u8::try_from(h.name.len()).expect("name under 256 bytes"));
                    out.extend_from_slice(&h.name);
                }
            }
            out.push(u8::try_from(h.value.len()).expect("value under 256 bytes"));
            out.extend_from_slice(&h.value);
        }
        out.extend_from_slice(&self.body);
        out
    }

    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.status).expect("100..=599 is a valid status")
    }

    /// The headers `http` accepts (appended, so repeated names keep every value).
    pub fn header_map(&self) -> HeaderMap {
        let mut map = HeaderMap::new();
        for h in &self.headers {
            let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(&h.name),
                HeaderValue::from_bytes(&h.value),
            ) else {
                continue;
            };
            map.append(name, value);
        }
        map
    }

    pub fn body_bytes(&self) -> Bytes {
        Bytes::copy_from_slice(&self.body)
    }
}

impl<'a> Arbitrary<'a> for Input {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let n = u.len();
        Ok(Input::parse(u.bytes(n)?))
    }
}

fn header_str<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The awsJson1.1 rule, written independently: keep what is before the first `:`,
/// then what is after the first `#`, then trim.
pub fn reference_sanitize(raw: &str) -> &str {
    let s = raw.find(':').map_or(raw, |i| &raw[..i]);
    let s = s.find('#').map_or(s, |i| &s[i + 1..]);
    s.trim()
}

/// Invariants of `sanitize_error_code` on any string.
pub fn check_sanitize(raw: &str) {
    let out = sanitize_error_code(raw);
    // A substring of the input, by address (not merely equal text found somewhere).
    let start = (out.as_ptr() as usize).wrapping_sub(raw.as_ptr() as usize);
    assert!(
        start <= raw.len() && start + out.len() <= raw.len(),
        "sanitize_error_code({raw:?}) = {out:?} is not a slice of its input"
    );
    assert!(!out.contains(':'), "sanitize_error_code({raw:?}) = {out:?} has ':'");
    assert_eq!(out, out.trim(), "sanitize_error_code({raw:?}) is not trimmed");
    assert_eq!(out, reference_sanitize(raw), "sanitize_error_code({raw:?})");
    #[cfg(feature = "strict-hash")]
    assert!(!out.contains('#'), "sanitize_error_code({raw:?}) = {out:?} has '#'");
}

/// Invariants of any error decoded from a response with `status` and `headers`.
/// `from_success` is true when the error comes from a 2xx response whose body could
/// not be decoded (that body may hold key material: nothing of it may be kept).
pub fn check_error(err: &KmsError, status: StatusCode, headers: &HeaderMap, from_success: bool) {
    let shown = err.to_string();
    let _ = format!("{err:?}");
    let _ = (
        err.is_retryable(),
        err.is_throttling(),
        err.is_transient(),
        err.is_timeout(),
        err.code(),
        err.message(),
    );
    let shown_len = shown.chars().count();
    assert_eq!(err.status(), Some(status));
    let request_id = header_str(headers, "x-amzn-requestid");
    assert_eq!(err.request_id(), request_id);
    match err {
        KmsError::UnexpectedResponse(u) => {
            let n = u.snippet.chars().count();
            assert!(
                n <= UnexpectedResponse::SNIPPET_LEN + 1,
                "snippet of {n} chars: {:?}",
                u.snippet
            );
            assert!(
                !u.snippet.chars().any(char::is_control),
                "control character in the snippet {:?}",
                u.snippet
            );
            if from_success {
                assert!(u.snippet.is_empty(), "a 2xx body leaked into an error: {u:?}");
            }
            // Bounded whatever the body: the request id is the only unbounded part,
            // and a header value is at most 255 bytes in this input format.
            assert!(shown_len < DISPLAY_BOUND, "Display of {shown_len} chars");
        }
        _ => {
            assert!(!from_success, "a 2xx response gave a service error: {err:?}");
            let se = err.service_error().expect("a decoded error is a service error");
            assert!(!se.code.is_empty(), "empty error code: {err:?}");
            assert!(!se.code.contains(':'), "':' in the code: {err:?}");
            assert_eq!(se.code, se.code.trim(), "untrimmed code: {err:?}");
            #[cfg(feature = "strict-hash")]
            assert!(!se.code.contains('#'), "'#' in the code: {err:?}");
            // The header's code wins when it is usable.
            if let Some(h) = header_str(headers, "x-amzn-errortype") {
                let h = sanitize_error_code(h);
                if !h.is_empty() {
                    assert_eq!(se.code, h, "the x-amzn-ErrorType code was not used");
                }
            }
            let parts = se.code.chars().count()
                + se.message.as_deref().map_or(0, |m| m.chars().count())
                + se.request_id.as_deref().map_or(0, |m| m.chars().count());
            assert!(
                shown_len <= DISPLAY_OVERHEAD + parts,
                "Display of {shown_len} chars for {parts} chars of content"
            );
            #[cfg(feature = "strict-len")]
            assert!(
                shown_len < DISPLAY_BOUND,
                "Display of {shown_len} chars (code {} chars, message {} chars)",
                se.code.chars().count(),
                se.message.as_deref().map_or(0, |m| m.chars().count())
            );
        }
    }
}
