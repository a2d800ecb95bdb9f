//! base64 members of awsJson bodies: the one place that encodes and decodes them
//! (blobs as `Bytes`, and secrets with zeroized intermediate buffers).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use serde::de::{Deserialize, Deserializer, Error as _};
use serde::ser::Serializer;
use zeroize::Zeroize;

/// Serializes an optional blob member.
pub(crate) fn ser<S: Serializer>(b: &Option<&Bytes>, s: S) -> Result<S::Ok, S::Error> {
    match b {
        Some(b) => s.serialize_str(&STANDARD.encode(b)),
        None => s.serialize_none(),
    }
}

/// Deserializes an optional blob member.
pub(crate) fn de<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Bytes>, D::Error> {
    let s = <Option<std::borrow::Cow<'de, str>>>::deserialize(d)?;
    match s {
        None => Ok(None),
        Some(s) => STANDARD
            .decode(s.as_bytes())
            .map(|v| Some(Bytes::from(v)))
            .map_err(|e| D::Error::custom(format_args!("invalid base64 blob: {e}"))),
    }
}

/// Serializes secret bytes; the encoded copy is zeroized afterwards.
pub(crate) fn ser_secret<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    let mut encoded = STANDARD.encode(bytes);
    let out = s.serialize_str(&encoded);
    encoded.zeroize();
    out
}

/// Deserializes secret bytes; the encoded copy is zeroized afterwards.
pub(crate) fn de_secret<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    let mut s = String::deserialize(d)?;
    let out = STANDARD
        .decode(s.as_bytes())
        .map_err(|e| D::Error::custom(format_args!("invalid base64 blob: {e}")));
    s.zeroize();
    out
}
