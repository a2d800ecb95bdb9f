//! Secret members: zeroized on drop, never shown by `Debug`.

use std::fmt;

use zeroize::Zeroize;

/// Secret bytes (a plaintext, a private key, a shared secret, a message to
/// sign or MAC): zeroized on drop, never shown by `Debug`. On the wire it is
/// base64, like any blob.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Plaintext(Vec<u8>);

impl Plaintext {
    /// Wraps `bytes`.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Self(bytes.into())
    }
    /// The bytes.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
    /// The length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }
    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Drop for Plaintext {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for Plaintext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Plaintext(** redacted, {} bytes **)", self.0.len())
    }
}

impl From<Vec<u8>> for Plaintext {
    fn from(v: Vec<u8>) -> Self {
        Self(v)
    }
}

impl From<&[u8]> for Plaintext {
    fn from(v: &[u8]) -> Self {
        Self(v.to_vec())
    }
}

impl<const N: usize> From<&[u8; N]> for Plaintext {
    fn from(v: &[u8; N]) -> Self {
        Self(v.to_vec())
    }
}

impl From<&str> for Plaintext {
    fn from(v: &str) -> Self {
        Self(v.as_bytes().to_vec())
    }
}

impl From<String> for Plaintext {
    fn from(v: String) -> Self {
        Self(v.into_bytes())
    }
}

/// A secret string (a key store password, an external key store proxy's
/// credential): zeroized on drop, never shown by `Debug`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SecretString(String);

impl SecretString {
    /// Wraps `s`.
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    /// The string.
    pub fn expose(&self) -> &str {
        &self.0
    }
    /// The length in characters.
    pub fn chars(&self) -> usize {
        self.0.chars().count()
    }
}

impl Drop for SecretString {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString(** redacted **)")
    }
}

impl From<String> for SecretString {
    fn from(v: String) -> Self {
        Self(v)
    }
}

impl From<&str> for SecretString {
    fn from(v: &str) -> Self {
        Self(v.to_owned())
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for Plaintext {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        super::blob::ser_secret(&self.0, s)
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for Plaintext {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        super::blob::de_secret(d).map(Plaintext)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted() {
        let p = Plaintext::from("top secret");
        assert_eq!(format!("{p:?}"), "Plaintext(** redacted, 10 bytes **)");
        assert_eq!(p.expose(), b"top secret");
        let s = SecretString::from("hunter2");
        assert!(!format!("{s:?}").contains("hunter2"));
        assert_eq!(s.expose(), "hunter2");
        assert_eq!(s.chars(), 7);
    }
}
