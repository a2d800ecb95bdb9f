use std::fmt;

use serde::de::{Deserialize, Deserializer};
use serde::ser::{Serialize, Serializer};

macro_rules! string_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident => $wire:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
            /// A value this version of the crate does not know; kept as sent so
            /// that a new server value never fails decoding.
            Unknown(String),
        }

        impl $name {
            /// The value as KMS spells it on the wire.
            pub fn as_str(&self) -> &str {
                match self {
                    $( Self::$variant => $wire, )+
                    Self::Unknown(s) => s.as_str(),
                }
            }

            /// Every value this version of the crate knows.
            pub const fn values() -> &'static [&'static str] {
                &[$($wire),+]
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                match s {
                    $( $wire => Self::$variant, )+
                    other => Self::Unknown(other.to_owned()),
                }
            }
        }

        impl std::str::FromStr for $name {
            type Err = std::convert::Infallible;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Ok(Self::from(s))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                Ok(Self::from(&*s))
            }
        }
    };
}

string_enum! {
    /// An encryption algorithm (`EncryptionAlgorithmSpec` in the KMS API).
    pub enum EncryptionAlgorithmSpec {
        /// `SYMMETRIC_DEFAULT`: AES-256-GCM under a symmetric encryption KMS key.
        SymmetricDefault => "SYMMETRIC_DEFAULT",
        /// `RSAES_OAEP_SHA_1`: RSA-OAEP with SHA-1.
        RsaesOaepSha1 => "RSAES_OAEP_SHA_1",
        /// `RSAES_OAEP_SHA_256`: RSA-OAEP with SHA-256.
        RsaesOaepSha256 => "RSAES_OAEP_SHA_256",
        /// `SM2PKE`: SM2 public key encryption (China Regions only).
        Sm2Pke => "SM2PKE",
    }
}

impl EncryptionAlgorithmSpec {
    /// Whether the algorithm is one of an asymmetric key (anything but `SYMMETRIC_DEFAULT`).
    pub fn is_asymmetric(&self) -> bool {
        !matches!(self, Self::SymmetricDefault)
    }
}

string_enum! {
    /// A modifier of a dry run (`DryRunModifierType` in the KMS API).
    pub enum DryRunModifierType {
        /// `IGNORE_CIPHERTEXT`: check authorization only; no ciphertext is needed.
        IgnoreCiphertext => "IGNORE_CIPHERTEXT",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_and_unknown_values_round_trip() {
        for v in EncryptionAlgorithmSpec::values() {
            let e = EncryptionAlgorithmSpec::from(*v);
            assert!(!matches!(e, EncryptionAlgorithmSpec::Unknown(_)));
            assert_eq!(e.as_str(), *v);
        }
        let e: EncryptionAlgorithmSpec = serde_json::from_str("\"ML_KEM_1024\"").unwrap();
        assert_eq!(e, EncryptionAlgorithmSpec::Unknown("ML_KEM_1024".into()));
        assert_eq!(serde_json::to_string(&e).unwrap(), "\"ML_KEM_1024\"");
        let m: DryRunModifierType = serde_json::from_str("\"IGNORE_CIPHERTEXT\"").unwrap();
        assert_eq!(m, DryRunModifierType::IgnoreCiphertext);
        assert!(serde_json::from_str::<DryRunModifierType>("42").is_err());
    }
}
