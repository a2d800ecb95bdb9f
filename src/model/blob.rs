//! base64 members of awsJson bodies: the one place that encodes and decodes them
//! (blobs as `Bytes`, secrets with zeroized intermediate buffers, and the lenient
//! decoding the local KMS accepts from clients).

use base64::Engine as _;
#[cfg(feature = "local")]
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::STANDARD;
#[cfg(feature = "local")]
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use bytes::Bytes;
use serde::de::{Deserialize, Deserializer, Error as _};
use serde::ser::Serializer;
use zeroize::Zeroize;

/// Standard base64 that accepts padded and unpadded input (what a server
/// should accept from clients).
#[cfg(feature = "local")]
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Standard, padded base64 of `bytes`.
#[cfg(feature = "local")]
pub(crate) fn encode(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// Decodes standard base64, padded or not.
#[cfg(feature = "local")]
pub(crate) fn decode_lenient(s: &str) -> Result<Vec<u8>, base64::DecodeError> {
    LENIENT.decode(s.as_bytes())
}

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
