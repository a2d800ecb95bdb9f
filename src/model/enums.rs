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

string_enum! {
    /// The type of a KMS key (`KeySpec` in the KMS API).
    pub enum KeySpec {
        /// `SYMMETRIC_DEFAULT`: a 256-bit AES-GCM key (the default).
        SymmetricDefault => "SYMMETRIC_DEFAULT",
        /// `RSA_2048`: an RSA key pair with a 2048-bit modulus.
        Rsa2048 => "RSA_2048",
        /// `RSA_3072`: an RSA key pair with a 3072-bit modulus.
        Rsa3072 => "RSA_3072",
        /// `RSA_4096`: an RSA key pair with a 4096-bit modulus.
        Rsa4096 => "RSA_4096",
        /// `ECC_NIST_P256`: an elliptic-curve key pair on NIST P-256 (secp256r1).
        EccNistP256 => "ECC_NIST_P256",
        /// `ECC_NIST_P384`: an elliptic-curve key pair on NIST P-384 (secp384r1).
        EccNistP384 => "ECC_NIST_P384",
        /// `ECC_NIST_P521`: an elliptic-curve key pair on NIST P-521 (secp521r1).
        EccNistP521 => "ECC_NIST_P521",
        /// `ECC_SECG_P256K1`: an elliptic-curve key pair on secp256k1.
        EccSecgP256k1 => "ECC_SECG_P256K1",
        /// `ECC_NIST_EDWARDS25519`: an Ed25519 key pair.
        EccNistEdwards25519 => "ECC_NIST_EDWARDS25519",
        /// `HMAC_224`: an HMAC key for SHA-224.
        Hmac224 => "HMAC_224",
        /// `HMAC_256`: an HMAC key for SHA-256.
        Hmac256 => "HMAC_256",
        /// `HMAC_384`: an HMAC key for SHA-384.
        Hmac384 => "HMAC_384",
        /// `HMAC_512`: an HMAC key for SHA-512.
        Hmac512 => "HMAC_512",
        /// `SM2`: an SM2 key pair (China Regions only).
        Sm2 => "SM2",
        /// `ML_DSA_44`: an ML-DSA-44 key pair.
        MlDsa44 => "ML_DSA_44",
        /// `ML_DSA_65`: an ML-DSA-65 key pair.
        MlDsa65 => "ML_DSA_65",
        /// `ML_DSA_87`: an ML-DSA-87 key pair.
        MlDsa87 => "ML_DSA_87",
    }
}

string_enum! {
    /// What a KMS key is for (`KeyUsageType` in the KMS API).
    pub enum KeyUsageType {
        /// `ENCRYPT_DECRYPT`: encryption and decryption (the default).
        EncryptDecrypt => "ENCRYPT_DECRYPT",
        /// `SIGN_VERIFY`: signing and verification.
        SignVerify => "SIGN_VERIFY",
        /// `GENERATE_VERIFY_MAC`: HMAC generation and verification.
        GenerateVerifyMac => "GENERATE_VERIFY_MAC",
        /// `KEY_AGREEMENT`: deriving shared secrets.
        KeyAgreement => "KEY_AGREEMENT",
    }
}

string_enum! {
    /// The state of a KMS key (`KeyState` in the KMS API).
    pub enum KeyState {
        /// `Creating`.
        Creating => "Creating",
        /// `Enabled`: usable.
        Enabled => "Enabled",
        /// `Disabled`: not usable until enabled again.
        Disabled => "Disabled",
        /// `PendingDeletion`: scheduled for deletion; not usable.
        PendingDeletion => "PendingDeletion",
        /// `PendingImport`: waiting for imported key material.
        PendingImport => "PendingImport",
        /// `PendingReplicaDeletion`: a multi-Region replica being deleted.
        PendingReplicaDeletion => "PendingReplicaDeletion",
        /// `Unavailable`: its custom key store is disconnected.
        Unavailable => "Unavailable",
        /// `Updating`.
        Updating => "Updating",
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

    #[test]
    fn key_enums_round_trip() {
        for v in KeySpec::values() {
            let e = KeySpec::from(*v);
            assert!(!matches!(e, KeySpec::Unknown(_)), "{v}");
            assert_eq!(serde_json::to_value(&e).unwrap(), *v);
        }
        for v in KeyUsageType::values() {
            assert!(!matches!(KeyUsageType::from(*v), KeyUsageType::Unknown(_)));
        }
        for v in KeyState::values() {
            assert!(!matches!(KeyState::from(*v), KeyState::Unknown(_)));
        }
        assert_eq!(KeySpec::EccSecgP256k1.as_str(), "ECC_SECG_P256K1");
        assert_eq!(KeyUsageType::EncryptDecrypt.to_string(), "ENCRYPT_DECRYPT");
        assert_eq!(KeyState::PendingDeletion.as_str(), "PendingDeletion");
        let s: KeySpec = serde_json::from_str("\"ML_KEM_768\"").unwrap();
        assert_eq!(s, KeySpec::Unknown("ML_KEM_768".into()));
        let st: KeyState = serde_json::from_str("\"Hibernating\"").unwrap();
        assert_eq!(st.as_str(), "Hibernating");
    }
}
