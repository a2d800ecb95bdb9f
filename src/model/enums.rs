//! The shape of every KMS enumeration (the values themselves are generated in
//! `generated/enums.rs`): a `#[non_exhaustive]` enum with an `Unknown(String)`
//! variant that keeps a value this crate does not know, so a new server value
//! never fails decoding.

/// Defines a string enumeration of the KMS API.
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

            /// Every value this version of the crate knows, in the model's order.
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

        impl From<String> for $name {
            fn from(s: String) -> Self {
                match s.as_str() {
                    $( $wire => Self::$variant, )+
                    _ => Self::Unknown(s),
                }
            }
        }

        impl std::str::FromStr for $name {
            type Err = std::convert::Infallible;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Ok(Self::from(s))
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        #[cfg(feature = "serde")]
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        #[cfg(feature = "serde")]
        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str> as serde::Deserialize<'de>>::deserialize(d)?;
                Ok(Self::from(&*s))
            }
        }
    };
}

pub(crate) use string_enum;

impl super::EncryptionAlgorithmSpec {
    /// Whether the algorithm is one of an asymmetric key (`RSAES_OAEP_SHA_1`,
    /// `RSAES_OAEP_SHA_256`, `SM2PKE`). An algorithm this crate does not know
    /// ([`Unknown`](Self::Unknown)) is not called asymmetric: the client-side
    /// checks that depend on it are left to KMS, which knows it.
    pub fn is_asymmetric(&self) -> bool {
        matches!(
            self,
            Self::RsaesOaepSha1 | Self::RsaesOaepSha256 | Self::Sm2Pke
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::*;

    #[test]
    fn known_and_unknown_values_round_trip() {
        for v in EncryptionAlgorithmSpec::values() {
            let e = EncryptionAlgorithmSpec::from(*v);
            assert!(!matches!(e, EncryptionAlgorithmSpec::Unknown(_)));
            assert_eq!(e.as_str(), *v);
            assert_eq!(EncryptionAlgorithmSpec::from((*v).to_owned()), e);
        }
        let e = EncryptionAlgorithmSpec::from("ML_KEM_1024".to_owned());
        assert_eq!(e, EncryptionAlgorithmSpec::Unknown("ML_KEM_1024".into()));
        assert_eq!(e.to_string(), "ML_KEM_1024");
        assert_eq!(KeySpec::EccSecgP256k1.as_str(), "ECC_SECG_P256K1");
        assert_eq!(EncryptionAlgorithmSpec::Sm2Pke.as_str(), "SM2PKE");
        assert_eq!(KeyUsageType::EncryptDecrypt.to_string(), "ENCRYPT_DECRYPT");
        assert_eq!(KeyState::PendingDeletion.as_str(), "PendingDeletion");
        assert_eq!(
            "Hibernating".parse::<KeyState>().unwrap().as_str(),
            "Hibernating"
        );
        assert!(EncryptionAlgorithmSpec::RsaesOaepSha256.is_asymmetric());
        assert!(!EncryptionAlgorithmSpec::SymmetricDefault.is_asymmetric());
        assert!(!EncryptionAlgorithmSpec::from("SYMMETRIC_FUTURE").is_asymmetric());
    }

    #[cfg(feature = "serde")]
    #[test]
    fn serde_round_trip() {
        let s: KeySpec = serde_json::from_str("\"ML_KEM_768\"").unwrap();
        assert_eq!(s, KeySpec::MlKem768);
        let s: KeySpec = serde_json::from_str("\"ML_KEM_9999\"").unwrap();
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"ML_KEM_9999\"");
        assert!(serde_json::from_str::<DryRunModifierType>("42").is_err());
    }
}
