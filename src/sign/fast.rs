//! A fast path for signing the request shape this crate's protocol layer makes,
//! with the signing key cached per day, region and credentials.
//!
//! The protocol, endpoint and user-agent layers produce `POST /` requests whose
//! only headers are `content-type`, `host` and `x-amz-target`, and optionally
//! `user-agent` (never signed) and `x-amz-user-agent`. For exactly that shape the
//! canonical request is a fixed template, so this module fills it in directly and
//! reuses the derived signing key (four HMACs) for the whole UTC day, instead of
//! running aws-sigv4's general canonicalization per call. The HMAC steps are
//! aws-sigv4's own (`generate_signing_key`, `calculate_signature`). Any other
//! request shape goes through aws-sigv4's general signer. `tests/sigv4_fast.rs`
//! checks that both paths give byte-identical headers on random inputs, and the
//! golden tests pin both to botocore's signatures.

use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE, HOST, HeaderValue, USER_AGENT};
use http::{Method, Request};
use sha2::{Digest, Sha256};

const X_AMZ_DATE: &str = "x-amz-date";
const X_AMZ_TARGET: &str = "x-amz-target";
const X_AMZ_SECURITY_TOKEN: &str = "x-amz-security-token";
const X_AMZ_USER_AGENT: &str = "x-amz-user-agent";

/// The derived signing key of one (day, region, service, credentials).
struct CachedKey {
    day: [u8; 8],
    region: String,
    service: String,
    access_key_id: String,
    secret: String,
    key: [u8; 32],
}

impl Drop for CachedKey {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.key.zeroize();
        self.secret.zeroize();
    }
}

/// A one-entry cache of the signing key, shared by all clones of a signer.
#[derive(Default)]
pub(crate) struct KeyCache(Mutex<Option<CachedKey>>);

impl std::fmt::Debug for KeyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyCache(..)")
    }
}

fn is_simple(v: &HeaderValue) -> bool {
    let b = v.as_bytes();
    !b.is_empty()
        && b.iter().all(|c| c.is_ascii_graphic() || *c == b' ')
        && b[0] != b' '
        && b[b.len() - 1] != b' '
        && !b.windows(2).any(|w| w == b"  ")
}

/// `YYYYMMDDTHHMMSSZ` of `t` (UTC); `None` before 1970 or after 9999.
pub(crate) fn amz_date(t: SystemTime) -> Option<[u8; 16]> {
    let secs = t.duration_since(UNIX_EPOCH).ok()?.as_secs();
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (year, month, day) = crate::civil::civil_from_days(days);
    if !(1970..=9999).contains(&year) {
        return None;
    }
    let mut out = *b"00000000T000000Z";
    let put = |out: &mut [u8; 16], at: usize, width: usize, mut v: u64| {
        for i in (0..width).rev() {
            out[at + i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(&mut out, 0, 4, year as u64);
    put(&mut out, 4, 2, u64::from(month));
    put(&mut out, 6, 2, u64::from(day));
    put(&mut out, 9, 2, rem / 3600);
    put(&mut out, 11, 2, (rem / 60) % 60);
    put(&mut out, 13, 2, rem % 60);
    Some(out)
}

fn hex(bytes: &[u8], out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for b in bytes {
        out.push(HEX[(b >> 4) as usize] as char);
        out.push(HEX[(b & 0xf) as usize] as char);
    }
}

/// Signs `req` (stamped `date`, the `X-Amz-Date` of `time`) if it has the protocol layer's shape; returns `false` (and leaves it
/// untouched) otherwise, so the caller falls back to the general signer.
pub(crate) fn try_sign(
    req: &mut Request<Bytes>,
    credentials: &Credentials,
    region: &str,
    service: &str,
    time: SystemTime,
    date: &[u8; 16],
    cache: &KeyCache,
) -> bool {
    let h = req.headers();
    let ua = h.get(USER_AGENT);
    let amz_ua = h.get(X_AMZ_USER_AGENT);
    // Exactly the expected headers, each once (a repeated header has several values).
    let expected = 3 + usize::from(ua.is_some()) + usize::from(amz_ua.is_some());
    if req.method() != Method::POST
        || req.uri().path() != "/"
        || req.uri().query().is_some()
        || h.len() != expected
        || h.keys_len() != expected
    {
        return false;
    }
    let (Some(ct), Some(host), Some(target)) =
        (h.get(CONTENT_TYPE), h.get(HOST), h.get(X_AMZ_TARGET))
    else {
        return false;
    };
    if !(is_simple(ct) && is_simple(host) && is_simple(target) && amz_ua.is_none_or(is_simple)) {
        return false;
    }
    let token = credentials.session_token();
    let token_value = match token {
        Some(t) => match HeaderValue::from_str(t) {
            Ok(v) if is_simple(&v) => Some(v),
            _ => return false,
        },
        None => None,
    };
    let valid_scope =
        |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if !valid_scope(region) || !valid_scope(service) {
        return false;
    }
    let date_str = std::str::from_utf8(date).unwrap_or_default();
    let day = &date_str[..8];

    // Canonical request.
    let mut canonical = String::with_capacity(320 + token.map_or(0, str::len));
    canonical.push_str("POST\n/\n\ncontent-type:");
    canonical.push_str(ct.to_str().unwrap_or_default());
    canonical.push_str("\nhost:");
    canonical.push_str(host.to_str().unwrap_or_default());
    canonical.push_str("\nx-amz-date:");
    canonical.push_str(date_str);
    if let Some(t) = token {
        canonical.push_str("\nx-amz-security-token:");
        canonical.push_str(t);
    }
    canonical.push_str("\nx-amz-target:");
    canonical.push_str(target.to_str().unwrap_or_default());
    if let Some(v) = amz_ua {
        canonical.push_str("\nx-amz-user-agent:");
        canonical.push_str(v.to_str().unwrap_or_default());
    }
    let signed_headers = match (token.is_some(), amz_ua.is_some()) {
        (true, true) => {
            "content-type;host;x-amz-date;x-amz-security-token;x-amz-target;x-amz-user-agent"
        }
        (true, false) => "content-type;host;x-amz-date;x-amz-security-token;x-amz-target",
        (false, true) => "content-type;host;x-amz-date;x-amz-target;x-amz-user-agent",
        (false, false) => "content-type;host;x-amz-date;x-amz-target",
    };
    canonical.push_str("\n\n");
    canonical.push_str(signed_headers);
    canonical.push('\n');
    hex(&Sha256::digest(req.body()), &mut canonical);

    // String to sign.
    let mut to_sign = String::with_capacity(160);
    to_sign.push_str("AWS4-HMAC-SHA256\n");
    to_sign.push_str(date_str);
    to_sign.push('\n');
    let scope_start = to_sign.len();
    to_sign.push_str(day);
    to_sign.push('/');
    to_sign.push_str(region);
    to_sign.push('/');
    to_sign.push_str(service);
    to_sign.push_str("/aws4_request");
    let scope_end = to_sign.len();
    to_sign.push('\n');
    hex(&Sha256::digest(canonical.as_bytes()), &mut to_sign);

    let key = signing_key(cache, credentials, day, region, service, time);
    let signature = aws_sigv4::sign::v4::calculate_signature(key, to_sign.as_bytes());

    let mut auth = String::with_capacity(200);
    auth.push_str("AWS4-HMAC-SHA256 Credential=");
    auth.push_str(credentials.access_key_id());
    auth.push('/');
    auth.push_str(&to_sign[scope_start..scope_end]);
    auth.push_str(", SignedHeaders=");
    auth.push_str(signed_headers);
    auth.push_str(", Signature=");
    auth.push_str(&signature);
    let (Ok(auth), Ok(date_value)) = (HeaderValue::from_str(&auth), HeaderValue::from_bytes(date))
    else {
        return false;
    };
    let mut auth = auth;
    auth.set_sensitive(true);
    let h = req.headers_mut();
    h.insert(X_AMZ_DATE, date_value);
    if let Some(mut t) = token_value {
        t.set_sensitive(true);
        h.insert(X_AMZ_SECURITY_TOKEN, t);
    }
    h.insert(AUTHORIZATION, auth);
    true
}

fn signing_key(
    cache: &KeyCache,
    credentials: &Credentials,
    day: &str,
    region: &str,
    service: &str,
    time: SystemTime,
) -> [u8; 32] {
    let mut slot = cache.0.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(c) = slot.as_ref()
        && c.day == day.as_bytes()
        && c.region == region
        && c.service == service
        && c.access_key_id == credentials.access_key_id()
        && c.secret == credentials.secret_access_key()
    {
        return c.key;
    }
    let derived = aws_sigv4::sign::v4::generate_signing_key(
        credentials.secret_access_key(),
        time,
        region,
        service,
    );
    let mut key = [0u8; 32];
    let bytes = derived.as_ref();
    let n = bytes.len().min(32);
    key[..n].copy_from_slice(&bytes[..n]);
    let mut d = [0u8; 8];
    d.copy_from_slice(&day.as_bytes()[..8]);
    *slot = Some(CachedKey {
        day: d,
        region: region.to_owned(),
        service: service.to_owned(),
        access_key_id: credentials.access_key_id().to_owned(),
        secret: credentials.secret_access_key().to_owned(),
        key,
    });
    key
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_user_agent_headers_keep_the_fast_path() {
        let creds = Credentials::new("AKID", "SECRET", None, None, "t");
        let t = UNIX_EPOCH + Duration::from_secs(1_440_938_160);
        let date = amz_date(t).unwrap();
        let base = || {
            Request::post("https://kms.us-east-1.amazonaws.com/")
                .header("content-type", "application/x-amz-json-1.1")
                .header("host", "kms.us-east-1.amazonaws.com")
                .header("x-amz-target", "TrentService.ReEncrypt")
                .body(Bytes::from_static(b"{}"))
                .unwrap()
        };
        let cache = KeyCache::default();
        let mut req = base();
        req.headers_mut()
            .insert(USER_AGENT, HeaderValue::from_static("tower-kms/1 os/linux"));
        req.headers_mut().insert(
            X_AMZ_USER_AGENT,
            HeaderValue::from_static("tower-kms/1 ua/2.1 app/x"),
        );
        assert!(try_sign(
            &mut req,
            &creds,
            "us-east-1",
            "kms",
            t,
            &date,
            &cache
        ));
        // A header outside the shape, or a repeated one, falls back.
        let mut other = base();
        other
            .headers_mut()
            .insert("x-extra", HeaderValue::from_static("1"));
        assert!(!try_sign(
            &mut other,
            &creds,
            "us-east-1",
            "kms",
            t,
            &date,
            &cache
        ));
        let mut twice = base();
        twice.headers_mut().append(
            X_AMZ_TARGET,
            HeaderValue::from_static("TrentService.Decrypt"),
        );
        assert!(!try_sign(
            &mut twice,
            &creds,
            "us-east-1",
            "kms",
            t,
            &date,
            &cache
        ));
    }

    #[test]
    fn amz_dates() {
        let t = UNIX_EPOCH + Duration::from_secs(1_440_938_160);
        assert_eq!(&amz_date(t).unwrap(), b"20150830T123600Z");
        assert_eq!(&amz_date(UNIX_EPOCH).unwrap(), b"19700101T000000Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(&amz_date(leap).unwrap(), b"20000229T000000Z");
        let far = UNIX_EPOCH + Duration::from_secs(253_402_300_799); // 9999-12-31T23:59:59
        assert_eq!(&amz_date(far).unwrap(), b"99991231T235959Z");
        assert!(amz_date(far + Duration::from_secs(1)).is_none());
    }
}
