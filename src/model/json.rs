//! The awsJson1.1 body codec the generated operations use: a writer that emits
//! exactly what `serde_json` emitted for the same members (sorted keys, the same
//! string escapes), and a pull reader for response bodies.
//!
//! Both are plain, non-generic code: one copy serves all 56 operations, so the
//! crate's build does not grow with the number of shapes the way derived
//! (de)serializers do. Neither panics on any input.

use std::borrow::Cow;
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use zeroize::Zeroize;

use super::secret::{Plaintext, SecretString};

/// Deepest nesting the reader follows (KMS responses nest four levels at most).
const MAX_DEPTH: u32 = 64;

/// Writes one JSON object.
#[derive(Debug)]
pub(crate) struct JsonWriter {
    buf: Vec<u8>,
}

impl JsonWriter {
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        Self {
            buf: Vec::with_capacity(capacity),
        }
    }

    pub(crate) fn finish(self) -> Vec<u8> {
        self.buf
    }

    fn comma(&mut self) {
        if !matches!(self.buf.last(), None | Some(b'{') | Some(b'[') | Some(b':')) {
            self.buf.push(b',');
        }
    }

    pub(crate) fn begin_object(&mut self) {
        self.comma();
        self.buf.push(b'{');
    }

    pub(crate) fn end_object(&mut self) {
        self.buf.push(b'}');
    }

    pub(crate) fn begin_array(&mut self) {
        self.comma();
        self.buf.push(b'[');
    }

    pub(crate) fn end_array(&mut self) {
        self.buf.push(b']');
    }

    /// Writes `"name":`; the value follows.
    pub(crate) fn key(&mut self, name: &str) {
        self.comma();
        self.escaped(name);
        self.buf.push(b':');
    }

    pub(crate) fn string(&mut self, s: &str) {
        self.comma();
        self.escaped(s);
    }

    pub(crate) fn bool(&mut self, b: bool) {
        self.comma();
        self.buf
            .extend_from_slice(if b { b"true" } else { b"false" });
    }

    pub(crate) fn int(&mut self, i: i32) {
        self.comma();
        self.buf.extend_from_slice(i.to_string().as_bytes());
    }

    /// A timestamp as awsJson1.1 sends it: seconds since the epoch, with
    /// milliseconds when there are any.
    pub(crate) fn timestamp(&mut self, t: SystemTime) {
        self.comma();
        let (neg, d) = match t.duration_since(UNIX_EPOCH) {
            Ok(d) => (false, d),
            Err(e) => (true, e.duration()),
        };
        if neg {
            self.buf.push(b'-');
        }
        self.buf
            .extend_from_slice(d.as_secs().to_string().as_bytes());
        let ms = d.subsec_millis();
        if ms != 0 {
            let frac = format!(".{ms:03}");
            self.buf
                .extend_from_slice(frac.trim_end_matches('0').as_bytes());
        }
    }

    /// A blob, as standard padded base64.
    pub(crate) fn blob(&mut self, b: &[u8]) {
        self.comma();
        self.buf.push(b'"');
        let start = self.buf.len();
        self.buf.resize(start + b.len().div_ceil(3) * 4, 0);
        // The buffer was sized for the encoding just above, so this cannot fail.
        let n = STANDARD
            .encode_slice(b, &mut self.buf[start..])
            .unwrap_or(0);
        self.buf.truncate(start + n);
        self.buf.push(b'"');
    }

    /// A secret string; no copy of it is left behind but the output.
    pub(crate) fn secret_string(&mut self, s: &SecretString) {
        self.string(s.expose());
    }

    /// The escapes `serde_json` writes: `\"`, `\\`, the short forms of
    /// backspace, tab, newline, form feed and carriage return, `\u00XX` for the
    /// other control characters; everything else as is.
    fn escaped(&mut self, s: &str) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        self.buf.push(b'"');
        let bytes = s.as_bytes();
        let mut start = 0;
        for (i, &b) in bytes.iter().enumerate() {
            let esc: &[u8] = match b {
                b'"' => b"\\\"",
                b'\\' => b"\\\\",
                0x08 => b"\\b",
                0x09 => b"\\t",
                0x0a => b"\\n",
                0x0c => b"\\f",
                0x0d => b"\\r",
                0x00..=0x1f => &[],
                _ => continue,
            };
            self.buf.extend_from_slice(&bytes[start..i]);
            if esc.is_empty() {
                self.buf.extend_from_slice(b"\\u00");
                self.buf.push(HEX[(b >> 4) as usize]);
                self.buf.push(HEX[(b & 0xf) as usize]);
            } else {
                self.buf.extend_from_slice(esc);
            }
            start = i + 1;
        }
        self.buf.extend_from_slice(&bytes[start..]);
        self.buf.push(b'"');
    }
}

/// A response body that is not what the operation's output should be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    reason: Cow<'static, str>,
    offset: usize,
}

impl DecodeError {
    /// A decoding error for `reason` at byte `offset` of the body.
    pub fn new(reason: impl Into<Cow<'static, str>>, offset: usize) -> Self {
        Self {
            reason: reason.into(),
            offset,
        }
    }

    /// What was wrong.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// The byte offset in the body where it was found.
    pub fn offset(&self) -> usize {
        self.offset
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.reason, self.offset)
    }
}

impl std::error::Error for DecodeError {}

/// A pull reader over one JSON document.
#[derive(Debug)]
pub(crate) struct JsonReader<'a> {
    b: &'a [u8],
    pos: usize,
    depth: u32,
}

type R<T> = Result<T, DecodeError>;

impl<'a> JsonReader<'a> {
    pub(crate) fn new(b: &'a [u8]) -> Self {
        Self {
            b,
            pos: 0,
            depth: 0,
        }
    }

    fn err<T>(&self, reason: &'static str) -> R<T> {
        Err(DecodeError::new(reason, self.pos))
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.b.get(self.pos) {
            self.pos += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.b.get(self.pos).copied()
    }

    fn literal(&mut self, word: &'static [u8]) -> R<()> {
        if self.b[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(())
        } else {
            self.err("invalid literal")
        }
    }

    /// `true` for `null` (consumed), `false` otherwise.
    fn null(&mut self) -> R<bool> {
        if self.peek() == Some(b'n') {
            self.literal(b"null")?;
            return Ok(true);
        }
        Ok(false)
    }

    /// Checks that nothing but whitespace follows the document.
    pub(crate) fn end(&mut self) -> R<()> {
        match self.peek() {
            None => Ok(()),
            Some(_) => self.err("trailing characters"),
        }
    }

    /// Enters an object: `Ok(false)` for `null`.
    pub(crate) fn begin_object(&mut self) -> R<bool> {
        if self.null()? {
            return Ok(false);
        }
        if self.peek() != Some(b'{') {
            return self.err("expected an object");
        }
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return self.err("nested too deeply");
        }
        self.pos += 1;
        Ok(true)
    }

    /// The next member name of the object entered last, or `None` at its end.
    pub(crate) fn next_key(&mut self) -> R<Option<Cow<'a, str>>> {
        let first = self.prev_significant() == Some(b'{');
        match self.peek() {
            Some(b'}') if first || !matches!(self.prev_significant(), Some(b',')) => {
                self.pos += 1;
                self.depth = self.depth.saturating_sub(1);
                return Ok(None);
            }
            Some(b',') if !first => {
                self.pos += 1;
                if self.peek() != Some(b'"') {
                    return self.err("expected a member name");
                }
            }
            Some(b'"') if first => {}
            Some(_) => return self.err("expected `,` or `}`"),
            None => return self.err("unexpected end of input"),
        }
        let key = self.raw_string()?;
        if self.peek() != Some(b':') {
            return self.err("expected `:`");
        }
        self.pos += 1;
        Ok(Some(key))
    }

    /// Enters an array: `Ok(false)` for `null`.
    pub(crate) fn begin_array(&mut self) -> R<bool> {
        if self.null()? {
            return Ok(false);
        }
        if self.peek() != Some(b'[') {
            return self.err("expected an array");
        }
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return self.err("nested too deeply");
        }
        self.pos += 1;
        Ok(true)
    }

    /// Whether another item of the array entered last follows.
    pub(crate) fn next_item(&mut self) -> R<bool> {
        match self.peek() {
            Some(b']') => {
                self.pos += 1;
                self.depth = self.depth.saturating_sub(1);
                Ok(false)
            }
            Some(b',') => {
                let first = matches!(self.prev_significant(), Some(b'['));
                if first {
                    return self.err("expected a value");
                }
                self.pos += 1;
                Ok(true)
            }
            Some(_) if matches!(self.prev_significant(), Some(b'[')) => Ok(true),
            Some(_) => self.err("expected `,` or `]`"),
            None => self.err("unexpected end of input"),
        }
    }

    fn prev_significant(&self) -> Option<u8> {
        self.b[..self.pos]
            .iter()
            .rev()
            .find(|c| !matches!(c, b' ' | b'\t' | b'\n' | b'\r'))
            .copied()
    }

    /// Reads a string, escapes resolved.
    fn raw_string(&mut self) -> R<Cow<'a, str>> {
        self.raw_string_with(false)
    }

    /// Reads a string, escapes resolved; for a `secret`, the copy made when
    /// there are escapes never reallocates (no stray copies in freed memory)
    /// and is zeroized when the string turns out invalid.
    fn raw_string_with(&mut self, secret: bool) -> R<Cow<'a, str>> {
        // At the opening quote.
        self.pos += 1;
        let start = self.pos;
        // The common case, a string without escapes, in one tight scan.
        let rest = self.b.get(start..).unwrap_or_default();
        let Some(n) = find_string_end(rest) else {
            self.pos = self.b.len();
            return self.err("unterminated string");
        };
        self.pos = start + n;
        match rest[n] {
            b'"' => {
                let s = std::str::from_utf8(&rest[..n]).or_else(|_| self.err("invalid UTF-8"))?;
                self.pos += 1;
                return Ok(Cow::Borrowed(s));
            }
            b'\\' => {}
            _ => return self.err("control character in a string"),
        }
        // Unescaping never makes a string longer, so the rest of the input is
        // room enough.
        let room = if secret {
            self.b.len() - start
        } else {
            self.pos - start + 16
        };
        let mut out: Vec<u8> = Vec::with_capacity(room);
        out.extend_from_slice(&self.b[start..self.pos]);
        match self.unescape_rest(&mut out) {
            Ok(()) => match String::from_utf8(out) {
                Ok(s) => Ok(Cow::Owned(s)),
                Err(e) => {
                    if secret {
                        e.into_bytes().zeroize();
                    }
                    self.err("invalid UTF-8")
                }
            },
            Err(e) => {
                if secret {
                    out.zeroize();
                }
                Err(e)
            }
        }
    }

    /// The rest of a string after its first escape, appended to `out`; at the
    /// closing quote, consumed.
    fn unescape_rest(&mut self, out: &mut Vec<u8>) -> R<()> {
        loop {
            match self.b.get(self.pos) {
                None => return self.err("unterminated string"),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(());
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let c = match self.b.get(self.pos) {
                        Some(b'"') => b'"',
                        Some(b'\\') => b'\\',
                        Some(b'/') => b'/',
                        Some(b'b') => 0x08,
                        Some(b'f') => 0x0c,
                        Some(b'n') => b'\n',
                        Some(b'r') => b'\r',
                        Some(b't') => b'\t',
                        Some(b'u') => {
                            self.pos += 1;
                            let ch = self.unicode_escape()?;
                            let mut tmp = [0u8; 4];
                            out.extend_from_slice(ch.encode_utf8(&mut tmp).as_bytes());
                            continue;
                        }
                        _ => return self.err("invalid escape"),
                    };
                    out.push(c);
                    self.pos += 1;
                }
                Some(0x00..=0x1f) => return self.err("control character in a string"),
                Some(&c) => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    fn hex4(&mut self) -> R<u32> {
        let Some(h) = self.b.get(self.pos..self.pos + 4) else {
            return self.err("truncated \\u escape");
        };
        if !h.iter().all(u8::is_ascii_hexdigit) {
            return self.err("invalid \\u escape");
        }
        let v = h.iter().fold(0u32, |acc, c| {
            acc * 16 + char::from(*c).to_digit(16).unwrap_or(0)
        });
        self.pos += 4;
        Ok(v)
    }

    /// After `\u`: one code point, joining a surrogate pair.
    fn unicode_escape(&mut self) -> R<char> {
        let hi = self.hex4()?;
        let cp = if (0xd800..0xdc00).contains(&hi) {
            if self.b.get(self.pos..self.pos + 2) != Some(b"\\u") {
                return self.err("lone surrogate");
            }
            self.pos += 2;
            let lo = self.hex4()?;
            if !(0xdc00..0xe000).contains(&lo) {
                return self.err("lone surrogate");
            }
            0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00)
        } else {
            hi
        };
        char::from_u32(cp).map_or_else(|| self.err("lone surrogate"), Ok)
    }

    /// A string member (`None` for `null`).
    pub(crate) fn string(&mut self) -> R<Option<String>> {
        if self.null()? {
            return Ok(None);
        }
        if self.peek() != Some(b'"') {
            return self.err("expected a string");
        }
        Ok(Some(self.raw_string()?.into_owned()))
    }

    /// A string value, or `None` after skipping a value of any other type.
    pub(crate) fn string_or_skip(&mut self) -> R<Option<String>> {
        if self.peek() == Some(b'"') {
            return self.string();
        }
        self.skip().map(|()| None)
    }

    /// A base64 blob member (decoded straight from the input when it has no
    /// escapes, as base64 never has).
    pub(crate) fn blob(&mut self) -> R<Option<Bytes>> {
        let at = self.pos;
        if self.null()? {
            return Ok(None);
        }
        if self.peek() != Some(b'"') {
            return self.err("expected a string");
        }
        let s = self.raw_string()?;
        STANDARD
            .decode(s.as_bytes())
            .map(|v| Some(Bytes::from(v)))
            .map_err(|_| DecodeError::new("invalid base64 blob", at))
    }

    /// A secret string's text: borrowed from the input when it has no escapes,
    /// else a copy that never reallocated (see [`Self::raw_string_with`]).
    fn secret_text(&mut self) -> R<Option<Cow<'a, str>>> {
        if self.null()? {
            return Ok(None);
        }
        if self.peek() != Some(b'"') {
            return self.err("expected a string");
        }
        self.raw_string_with(true).map(Some)
    }

    /// A secret base64 blob member: decoded straight from the input, or from
    /// an unescaped copy that is zeroized, into a buffer sized once (so no
    /// reallocation leaves a copy behind) that is zeroized on error.
    pub(crate) fn secret(&mut self) -> R<Option<Plaintext>> {
        let at = self.pos;
        let Some(text) = self.secret_text()? else {
            return Ok(None);
        };
        let mut out = Vec::with_capacity(base64::decoded_len_estimate(text.len()));
        let decoded = STANDARD.decode_vec(text.as_bytes(), &mut out);
        if let Cow::Owned(mut copy) = text {
            copy.zeroize();
        }
        match decoded {
            Ok(()) => Ok(Some(Plaintext::new(out))),
            Err(_) => {
                out.zeroize();
                Err(DecodeError::new("invalid base64 blob", at))
            }
        }
    }

    /// A secret string member (no stray copies, as [`Self::secret`]).
    pub(crate) fn secret_string(&mut self) -> R<Option<SecretString>> {
        Ok(self
            .secret_text()?
            .map(|text| SecretString::new(text.into_owned())))
    }

    pub(crate) fn bool(&mut self) -> R<Option<bool>> {
        match self.peek() {
            Some(b'n') => self.literal(b"null").map(|()| None),
            Some(b't') => self.literal(b"true").map(|()| Some(true)),
            Some(b'f') => self.literal(b"false").map(|()| Some(false)),
            _ => self.err("expected a boolean"),
        }
    }

    /// The text of a JSON number.
    fn number(&mut self) -> R<&'a str> {
        let start = self.pos;
        let b = self.b;
        let mut i = self.pos;
        if b.get(i) == Some(&b'-') {
            i += 1;
        }
        let digits = |i: &mut usize| {
            let s = *i;
            while b.get(*i).is_some_and(u8::is_ascii_digit) {
                *i += 1;
            }
            *i - s
        };
        match b.get(i) {
            Some(b'0') => i += 1,
            Some(b'1'..=b'9') => {
                digits(&mut i);
            }
            _ => return self.err("expected a number"),
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            if digits(&mut i) == 0 {
                self.pos = i;
                return self.err("invalid number");
            }
        }
        if matches!(b.get(i), Some(b'e' | b'E')) {
            i += 1;
            if matches!(b.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            if digits(&mut i) == 0 {
                self.pos = i;
                return self.err("invalid number");
            }
        }
        self.pos = i;
        // ASCII by construction.
        std::str::from_utf8(&b[start..i]).or_else(|_| self.err("invalid number"))
    }

    pub(crate) fn int(&mut self) -> R<Option<i32>> {
        if self.null()? {
            return Ok(None);
        }
        let at = self.pos;
        let n = self.number()?;
        n.parse::<i32>()
            .map(Some)
            .map_err(|_| DecodeError::new("expected a 32-bit integer", at))
    }

    /// A timestamp (seconds since the epoch, maybe fractional). A value no
    /// `SystemTime` can hold reads as `None` rather than failing the response.
    pub(crate) fn timestamp(&mut self) -> R<Option<SystemTime>> {
        if self.null()? {
            return Ok(None);
        }
        let at = self.pos;
        let secs: f64 = self
            .number()?
            .parse()
            .map_err(|_| DecodeError::new("invalid timestamp", at))?;
        let since = |x: f64| Duration::try_from_secs_f64(x).ok();
        Ok(if secs >= 0.0 {
            since(secs).and_then(|d| UNIX_EPOCH.checked_add(d))
        } else {
            since(-secs).and_then(|d| UNIX_EPOCH.checked_sub(d))
        })
    }

    /// Skips one value of any kind.
    pub(crate) fn skip(&mut self) -> R<()> {
        match self.peek() {
            Some(b'{') => {
                self.begin_object()?;
                while self.next_key()?.is_some() {
                    self.skip()?;
                }
                Ok(())
            }
            Some(b'[') => {
                self.begin_array()?;
                while self.next_item()? {
                    self.skip()?;
                }
                Ok(())
            }
            Some(b'"') => self.raw_string().map(drop),
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            Some(_) => self.number().map(drop),
            None => self.err("unexpected end of input"),
        }
    }

    /// A list whose items `item` reads; a `null` item is an error.
    pub(crate) fn list<T>(&mut self, item: fn(&mut Self) -> R<Option<T>>) -> R<Option<Vec<T>>> {
        if !self.begin_array()? {
            return Ok(None);
        }
        let mut out = Vec::new();
        while self.next_item()? {
            let at = self.pos;
            out.push(item(self)?.ok_or_else(|| DecodeError::new("null in a list", at))?);
        }
        Ok(Some(out))
    }

    /// A list of enumeration values.
    pub(crate) fn enum_list<E: From<String>>(&mut self) -> R<Option<Vec<E>>> {
        self.list(|r| Ok(r.string()?.map(E::from)))
    }

    /// A map of strings to strings (an encryption context).
    pub(crate) fn string_map(&mut self) -> R<Option<super::EncryptionContext>> {
        if !self.begin_object()? {
            return Ok(None);
        }
        let mut map = super::EncryptionContext::new();
        while let Some(k) = self.next_key()? {
            let at = self.pos;
            let v = self
                .string()?
                .ok_or_else(|| DecodeError::new("expected a string", at))?;
            map.insert(k.into_owned(), v);
        }
        Ok(Some(map))
    }
}

/// Decodes a whole body with `read`, which reads the top-level object.
pub(crate) fn decode_body<T>(body: &[u8], read: fn(&mut JsonReader<'_>) -> R<Option<T>>) -> R<T> {
    let mut r = JsonReader::new(body);
    let out = read(&mut r)?.ok_or_else(|| DecodeError::new("expected an object", 0))?;
    r.end()?;
    Ok(out)
}

/// The index of the first `"`, `\\` or control character (below 0x20) in
/// `b`: eight bytes at a time (as serde_json's reader does), the tail one by
/// one.
fn find_string_end(b: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // Bytes of `x` that are zero have their high bit set in the result (the
    // lowest such byte is exact; higher ones may be false positives, which the
    // byte-wise search below skips).
    let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    let mut i = 0;
    while i + 8 <= b.len() {
        let mut word = [0u8; 8];
        word.copy_from_slice(&b[i..i + 8]);
        let v = u64::from_le_bytes(word);
        let hit = zero(v ^ (ONES * u64::from(b'"')))
            | zero(v ^ (ONES * u64::from(b'\\')))
            // bytes below 0x20: subtracting 0x20 borrows into the high bit
            | (v.wrapping_sub(ONES * 0x20) & !v & HIGH);
        if hit != 0 {
            break;
        }
        i += 8;
    }
    b[i..]
        .iter()
        .position(|&c| c == b'"' || c == b'\\' || c < 0x20)
        .map(|n| i + n)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_string_end_is_found_in_any_position() {
        use super::find_string_end;
        for len in 0..40 {
            let plain = vec![b'a'; len];
            assert_eq!(find_string_end(&plain), None, "{len}");
            for at in 0..len {
                for special in [b'"', b'\\', 0x00, 0x1f, b'\n'] {
                    let mut v = plain.clone();
                    v[at] = special;
                    // A later special byte never hides an earlier one.
                    if at + 1 < len {
                        v[len - 1] = b'"';
                    }
                    assert_eq!(find_string_end(&v), Some(at), "{len} {at} {special}");
                }
                // Bytes that only look special in a word-wise test do not stop it.
                let mut v = plain.clone();
                v[at] = 0xe9;
                assert_eq!(find_string_end(&v), None, "{len} {at}");
                v[at] = 0x20;
                assert_eq!(find_string_end(&v), None);
                v[at] = 0x7f;
                assert_eq!(find_string_end(&v), None);
            }
        }
    }

    use super::*;

    fn escaped(s: &str) -> String {
        let mut w = JsonWriter::with_capacity(0);
        w.string(s);
        String::from_utf8(w.finish()).unwrap()
    }

    #[test]
    fn writer_escapes_like_serde_json() {
        for s in [
            "plain",
            "quote \" backslash \\ slash /",
            "\u{0}\u{1}\u{8}\t\n\u{b}\u{c}\r\u{1f}\u{7f}",
            "é 日本 🦀",
        ] {
            assert_eq!(escaped(s), escaped_reference(s));
        }
    }

    /// The escapes serde_json writes, spelled out independently.
    fn escaped_reference(s: &str) -> String {
        let mut out = String::from("\"");
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\u{8}' => out.push_str("\\b"),
                '\t' => out.push_str("\\t"),
                '\n' => out.push_str("\\n"),
                '\u{c}' => out.push_str("\\f"),
                '\r' => out.push_str("\\r"),
                c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
                c => out.push(c),
            }
        }
        out.push('"');
        out
    }

    #[test]
    fn writer_objects_arrays_and_numbers() {
        let mut w = JsonWriter::with_capacity(0);
        w.begin_object();
        w.key("A");
        w.begin_array();
        w.string("x");
        w.int(-7);
        w.bool(true);
        w.begin_object();
        w.end_object();
        w.end_array();
        w.key("B");
        w.blob(b"\x01\x02\x03 ciphertext");
        w.key("C");
        w.timestamp(UNIX_EPOCH + Duration::from_millis(1_500));
        w.key("D");
        w.timestamp(UNIX_EPOCH + Duration::from_secs(7));
        w.key("E");
        w.timestamp(UNIX_EPOCH - Duration::from_millis(250));
        w.end_object();
        assert_eq!(
            String::from_utf8(w.finish()).unwrap(),
            r#"{"A":["x",-7,true,{}],"B":"AQIDIGNpcGhlcnRleHQ=","C":1.5,"D":7,"E":-0.25}"#
        );
    }

    fn read_all(body: &str) -> R<Vec<String>> {
        let mut r = JsonReader::new(body.as_bytes());
        let mut keys = Vec::new();
        if !r.begin_object()? {
            return Err(DecodeError::new("null", 0));
        }
        while let Some(k) = r.next_key()? {
            keys.push(k.into_owned());
            r.skip()?;
        }
        r.end()?;
        Ok(keys)
    }

    #[test]
    fn reader_accepts_json_and_rejects_the_rest() {
        assert_eq!(
            read_all(r#" { "a" : [1, -2.5e3, {"x": null}, "s\u00e9\ud83e\udd80"], "b\"" : {} , "c":true } "#).unwrap(),
            ["a", "b\"", "c"]
        );
        assert_eq!(read_all("{}").unwrap(), Vec::<String>::new());
        for bad in [
            "",
            "[]",
            "{",
            "{,}",
            r#"{"a":1,}"#,
            r#"{"a" 1}"#,
            r#"{"a":1 "b":2}"#,
            r#"{"a":[1,]}"#,
            r#"{"a":[,1]}"#,
            r#"{"a":[1 2]}"#,
            r#"{"a":01}"#,
            r#"{"a":1.}"#,
            r#"{"a":-}"#,
            r#"{"a":"\ud800"}"#,
            r#"{"a":"\x"}"#,
            "{\"a\":\"\u{1}\"}",
            r#"{"a":tru}"#,
            r#"{} x"#,
            r#"{"a":"unterminated}"#,
        ] {
            assert!(read_all(bad).is_err(), "{bad}");
        }
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(200), "]".repeat(200));
        assert!(read_all(&deep).is_err());
        assert!(read_all(&String::from_utf8_lossy(b"{\"a\":\"\xff\"}")).is_ok());
        let mut r = JsonReader::new(b"{\"a\":\"\xff\"}");
        r.begin_object().unwrap();
        r.next_key().unwrap();
        assert!(r.string().is_err());
    }

    #[test]
    fn reader_values() {
        let mut r =
            JsonReader::new(br#"[1.5, -1.5, 1e300, null, 2147483648, "AQID", "***", true]"#);
        assert!(r.begin_array().unwrap());
        assert!(r.next_item().unwrap());
        assert_eq!(
            r.timestamp().unwrap(),
            Some(UNIX_EPOCH + Duration::from_millis(1500))
        );
        assert!(r.next_item().unwrap());
        assert_eq!(
            r.timestamp().unwrap(),
            Some(UNIX_EPOCH - Duration::from_millis(1500))
        );
        assert!(r.next_item().unwrap());
        assert_eq!(r.timestamp().unwrap(), None);
        assert!(r.next_item().unwrap());
        assert_eq!(r.int().unwrap(), None);
        assert!(r.next_item().unwrap());
        assert!(r.int().is_err());
        assert!(r.next_item().unwrap());
        assert_eq!(r.blob().unwrap().as_deref(), Some(&[1u8, 2, 3][..]));
        assert!(r.next_item().unwrap());
        assert!(r.blob().is_err());
        assert!(r.next_item().unwrap());
        assert_eq!(r.bool().unwrap(), Some(true));
        assert!(!r.next_item().unwrap());
        r.end().unwrap();
    }

    #[test]
    fn secrets_with_and_without_escapes() {
        // `\/` is how some JSON writers spell base64's `/`; `\u0041` is `A`.
        let mut r = JsonReader::new(br#"["AQ\/\u0041", "AQ/A", "s\u00e9cret", "bad\/!"]"#);
        assert!(r.begin_array().unwrap());
        assert!(r.next_item().unwrap());
        let p = r.secret().unwrap().unwrap();
        assert_eq!(p.expose(), STANDARD.decode("AQ/A").unwrap());
        assert!(r.next_item().unwrap());
        assert_eq!(r.secret().unwrap().unwrap().expose(), p.expose());
        assert!(r.next_item().unwrap());
        assert_eq!(r.secret_string().unwrap().unwrap().expose(), "sécret");
        assert!(r.next_item().unwrap());
        assert!(r.secret().is_err(), "invalid base64 after an escape");
        // Errors inside the string: an invalid escape, then input that ends.
        let mut r = JsonReader::new(br#"["x\q"]"#);
        assert!(r.begin_array().unwrap() && r.next_item().unwrap());
        assert!(r.secret_string().is_err());
        let mut r = JsonReader::new(br#"["AQ\/"#);
        assert!(r.begin_array().unwrap() && r.next_item().unwrap());
        assert!(r.secret().is_err());
    }
}
