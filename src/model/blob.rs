//! base64 for the local KMS (lenient decoding of what clients send) and for the
//! optional serde impls of secrets. The client's own codec is `json.rs`.

use base64::Engine as _;
#[cfg(feature = "local")]
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::STANDARD;
#[cfg(feature = "local")]
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
#[cfg(feature = "serde")]
use serde::de::{Deserialize, Deserializer, Error as _};
#[cfg(feature = "serde")]
use serde::ser::Serializer;
#[cfg(feature = "serde")]
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

/// Serializes secret bytes; the encoded copy is zeroized afterwards.
#[cfg(feature = "serde")]
pub(crate) fn ser_secret<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    let mut encoded = STANDARD.encode(bytes);
    let out = s.serialize_str(&encoded);
    encoded.zeroize();
    out
}

/// Deserializes secret bytes; the encoded copy is zeroized afterwards.
#[cfg(feature = "serde")]
pub(crate) fn de_secret<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    let mut s = String::deserialize(d)?;
    let out = STANDARD
        .decode(s.as_bytes())
        .map_err(|e| D::Error::custom(format_args!("invalid base64 blob: {e}")));
    s.zeroize();
    out
}
