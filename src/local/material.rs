//! The key materials of the keys that sign, MAC and agree, and their
//! algorithms: key pairs ([`KeyPairMaterial`]) for RSA signing keys, every
//! ECC key and data key pairs, HMAC keys ([`HmacMaterial`]).
//!
//! # Plain data
//!
//! Each material is plain bytes, ready to be stored, zeroized on drop and
//! never shown by `Debug`:
//!
//! * a [`KeyPairMaterial`] holds its key spec, the private key as PKCS#8 v1
//!   DER (RFC 5208 `PrivateKeyInfo`; for EC keys it wraps the RFC 5915
//!   `ECPrivateKey`, with the curve and the public point) and the public key
//!   as X.509 `SubjectPublicKeyInfo` DER (what `GetPublicKey` returns);
//! * an [`HmacMaterial`] holds its key spec and the raw key bytes (28, 32,
//!   48 or 64 bytes for `HMAC_224` to `HMAC_512`, the key length KMS uses).
//!
//! The `aws-lc-rs` key objects are built from the bytes for each operation,
//! so [`KeyPairMaterial::from_pkcs8`] and [`HmacMaterial::from_secret`]
//! rebuild a stored material exactly (and check it: the spec and the bytes
//! must agree).
//!
//! # Algorithms
//!
//! * RSA key pairs sign with RSASSA-PSS (salt length = hash length, MGF1
//!   with the same hash) and RSASSA-PKCS1-v1_5, with SHA-256, SHA-384 or
//!   SHA-512.
//! * ECC key pairs sign with ECDSA and the hash their curve requires in KMS
//!   (P-256 and secp256k1 SHA-256, P-384 SHA-384, P-521 SHA-512); the
//!   signature is DER-encoded (ANSI X9.62), as KMS returns it. NIST curves
//!   also agree (ECDH): the shared secret is the raw x-coordinate.
//! * A digest ([`Message::Digest`]) is signed and verified without hashing
//!   it again, so `Sign` with `MessageType: DIGEST` of `SHA-256(m)` and with
//!   `RAW` of `m` verify alike.

use std::fmt;

use aws_lc_rs::agreement::{self, ECDH_P256, ECDH_P384, ECDH_P521, ParsedPublicKeyFormat};
use aws_lc_rs::digest::{self, Digest, SHA256, SHA384, SHA512};
use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use aws_lc_rs::hmac;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{self, KeySize};
use aws_lc_rs::signature::{self, EcdsaKeyPair, EcdsaSigningAlgorithm, KeyPair, RsaEncoding};
use zeroize::Zeroizing;

use super::crypto::{KeySpec, random_vec};
use super::error::LocalKmsError;

/// `SigningAlgorithmSpec`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SigningAlgorithm {
    RsassaPssSha256,
    RsassaPssSha384,
    RsassaPssSha512,
    RsassaPkcs1V15Sha256,
    RsassaPkcs1V15Sha384,
    RsassaPkcs1V15Sha512,
    EcdsaSha256,
    EcdsaSha384,
    EcdsaSha512,
    /// Valid enum values that no key here supports (SM2, ML-DSA, Ed25519).
    Sm2Dsa,
    MlDsaShake256,
    Ed25519Sha512,
    Ed25519PhSha512,
}

const SIGNING_ALGORITHMS: &[(SigningAlgorithm, &str)] = &[
    (SigningAlgorithm::RsassaPssSha256, "RSASSA_PSS_SHA_256"),
    (SigningAlgorithm::RsassaPssSha384, "RSASSA_PSS_SHA_384"),
    (SigningAlgorithm::RsassaPssSha512, "RSASSA_PSS_SHA_512"),
    (
        SigningAlgorithm::RsassaPkcs1V15Sha256,
        "RSASSA_PKCS1_V1_5_SHA_256",
    ),
    (
        SigningAlgorithm::RsassaPkcs1V15Sha384,
        "RSASSA_PKCS1_V1_5_SHA_384",
    ),
    (
        SigningAlgorithm::RsassaPkcs1V15Sha512,
        "RSASSA_PKCS1_V1_5_SHA_512",
    ),
    (SigningAlgorithm::EcdsaSha256, "ECDSA_SHA_256"),
    (SigningAlgorithm::EcdsaSha384, "ECDSA_SHA_384"),
    (SigningAlgorithm::EcdsaSha512, "ECDSA_SHA_512"),
    (SigningAlgorithm::Sm2Dsa, "SM2DSA"),
    (SigningAlgorithm::MlDsaShake256, "ML_DSA_SHAKE_256"),
    (SigningAlgorithm::Ed25519Sha512, "ED25519_SHA_512"),
    (SigningAlgorithm::Ed25519PhSha512, "ED25519_PH_SHA_512"),
];

/// The validation message for a value outside an enum.
fn not_in_enum(value: &str, member: &str, allowed: &[&str]) -> LocalKmsError {
    LocalKmsError::validation(format!(
        "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: Member must satisfy enum value set: [{}]",
        allowed.join(", ")
    ))
}

impl SigningAlgorithm {
    /// The RSA algorithms, in the order KMS lists them.
    pub(crate) const RSA: &'static [Self] = &[
        Self::RsassaPkcs1V15Sha256,
        Self::RsassaPkcs1V15Sha384,
        Self::RsassaPkcs1V15Sha512,
        Self::RsassaPssSha256,
        Self::RsassaPssSha384,
        Self::RsassaPssSha512,
    ];

    pub(crate) fn parse(s: &str, member: &str) -> Result<Self, LocalKmsError> {
        SIGNING_ALGORITHMS
            .iter()
            .find(|(_, name)| *name == s)
            .map(|(alg, _)| *alg)
            .ok_or_else(|| {
                let names: Vec<&str> = SIGNING_ALGORITHMS.iter().map(|(_, n)| *n).collect();
                not_in_enum(s, member, &names)
            })
    }

    pub(crate) fn as_str(self) -> &'static str {
        SIGNING_ALGORITHMS
            .iter()
            .find(|(alg, _)| *alg == self)
            .map_or("", |(_, name)| name)
    }

    /// The hash the algorithm signs with (`None` for those no key here
    /// supports).
    pub(crate) fn digest(self) -> Option<&'static digest::Algorithm> {
        match self {
            Self::RsassaPssSha256 | Self::RsassaPkcs1V15Sha256 | Self::EcdsaSha256 => Some(&SHA256),
            Self::RsassaPssSha384 | Self::RsassaPkcs1V15Sha384 | Self::EcdsaSha384 => Some(&SHA384),
            Self::RsassaPssSha512 | Self::RsassaPkcs1V15Sha512 | Self::EcdsaSha512 => Some(&SHA512),
            _ => None,
        }
    }

    fn is_ecdsa(self) -> bool {
        matches!(
            self,
            Self::EcdsaSha256 | Self::EcdsaSha384 | Self::EcdsaSha512
        )
    }

    fn rsa_signing(self) -> Option<&'static dyn RsaEncoding> {
        Some(match self {
            Self::RsassaPssSha256 => &signature::RSA_PSS_SHA256,
            Self::RsassaPssSha384 => &signature::RSA_PSS_SHA384,
            Self::RsassaPssSha512 => &signature::RSA_PSS_SHA512,
            Self::RsassaPkcs1V15Sha256 => &signature::RSA_PKCS1_SHA256,
            Self::RsassaPkcs1V15Sha384 => &signature::RSA_PKCS1_SHA384,
            Self::RsassaPkcs1V15Sha512 => &signature::RSA_PKCS1_SHA512,
            _ => return None,
        })
    }

    fn rsa_verification(self) -> Option<&'static signature::RsaParameters> {
        Some(match self {
            Self::RsassaPssSha256 => &signature::RSA_PSS_2048_8192_SHA256,
            Self::RsassaPssSha384 => &signature::RSA_PSS_2048_8192_SHA384,
            Self::RsassaPssSha512 => &signature::RSA_PSS_2048_8192_SHA512,
            Self::RsassaPkcs1V15Sha256 => &signature::RSA_PKCS1_2048_8192_SHA256,
            Self::RsassaPkcs1V15Sha384 => &signature::RSA_PKCS1_2048_8192_SHA384,
            Self::RsassaPkcs1V15Sha512 => &signature::RSA_PKCS1_2048_8192_SHA512,
            _ => return None,
        })
    }
}

/// `MessageType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MessageType {
    Raw,
    Digest,
    /// ML-DSA only.
    ExternalMu,
}

impl MessageType {
    pub(crate) fn parse(s: &str) -> Result<Self, LocalKmsError> {
        match s {
            "RAW" => Ok(Self::Raw),
            "DIGEST" => Ok(Self::Digest),
            "EXTERNAL_MU" => Ok(Self::ExternalMu),
            other => Err(not_in_enum(
                other,
                "messageType",
                &["RAW", "DIGEST", "EXTERNAL_MU"],
            )),
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Raw => "RAW",
            Self::Digest => "DIGEST",
            Self::ExternalMu => "EXTERNAL_MU",
        }
    }
}

/// What `Sign` and `Verify` sign: a message, hashed by the algorithm, or
/// the digest of one (already checked to have the algorithm's length).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Message<'a> {
    Raw(&'a [u8]),
    Digest(&'a [u8]),
}

/// `MacAlgorithmSpec`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MacAlgorithm {
    HmacSha224,
    HmacSha256,
    HmacSha384,
    HmacSha512,
}

impl MacAlgorithm {
    pub(crate) fn parse(s: &str) -> Result<Self, LocalKmsError> {
        match s {
            "HMAC_SHA_224" => Ok(Self::HmacSha224),
            "HMAC_SHA_256" => Ok(Self::HmacSha256),
            "HMAC_SHA_384" => Ok(Self::HmacSha384),
            "HMAC_SHA_512" => Ok(Self::HmacSha512),
            other => Err(not_in_enum(
                other,
                "macAlgorithm",
                &[
                    "HMAC_SHA_224",
                    "HMAC_SHA_256",
                    "HMAC_SHA_384",
                    "HMAC_SHA_512",
                ],
            )),
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::HmacSha224 => "HMAC_SHA_224",
            Self::HmacSha256 => "HMAC_SHA_256",
            Self::HmacSha384 => "HMAC_SHA_384",
            Self::HmacSha512 => "HMAC_SHA_512",
        }
    }
}

/// The one `KeyAgreementAlgorithmSpec`.
pub(crate) const ECDH: &str = "ECDH";

fn failed(what: &str) -> LocalKmsError {
    LocalKmsError::internal(format!("{what} failed."))
}

fn rejected(spec: KeySpec) -> LocalKmsError {
    LocalKmsError::internal(format!(
        "The stored private key is not a valid {} key.",
        spec.as_str()
    ))
}

/// How a key pair spec maps to aws-lc-rs.
enum PairKind {
    /// Size and modulus length in bytes.
    Rsa(KeySize, usize),
    /// The ECDSA signing algorithm and the hash KMS requires on the curve.
    Ec(&'static EcdsaSigningAlgorithm, &'static digest::Algorithm),
}

fn pair_kind(spec: KeySpec) -> Option<PairKind> {
    Some(match spec {
        KeySpec::Rsa2048 => PairKind::Rsa(KeySize::Rsa2048, 256),
        KeySpec::Rsa3072 => PairKind::Rsa(KeySize::Rsa3072, 384),
        KeySpec::Rsa4096 => PairKind::Rsa(KeySize::Rsa4096, 512),
        KeySpec::EccNistP256 => PairKind::Ec(&signature::ECDSA_P256_SHA256_ASN1_SIGNING, &SHA256),
        KeySpec::EccNistP384 => PairKind::Ec(&signature::ECDSA_P384_SHA384_ASN1_SIGNING, &SHA384),
        KeySpec::EccNistP521 => PairKind::Ec(&signature::ECDSA_P521_SHA512_ASN1_SIGNING, &SHA512),
        KeySpec::EccSecgP256k1 => {
            PairKind::Ec(&signature::ECDSA_P256K1_SHA256_ASN1_SIGNING, &SHA256)
        }
        _ => return None,
    })
}

/// The ECDSA verification algorithm of an ECC spec (with its curve's hash).
fn ecdsa_verification(spec: KeySpec) -> Option<&'static signature::EcdsaVerificationAlgorithm> {
    Some(match spec {
        KeySpec::EccNistP256 => &signature::ECDSA_P256_SHA256_ASN1,
        KeySpec::EccNistP384 => &signature::ECDSA_P384_SHA384_ASN1,
        KeySpec::EccNistP521 => &signature::ECDSA_P521_SHA512_ASN1,
        KeySpec::EccSecgP256k1 => &signature::ECDSA_P256K1_SHA256_ASN1,
        _ => return None,
    })
}

/// The curve of an ECC spec, as people name it.
fn curve_name(spec: KeySpec) -> &'static str {
    match spec {
        KeySpec::EccNistP256 => "ECC NIST P-256",
        KeySpec::EccNistP384 => "ECC NIST P-384",
        KeySpec::EccNistP521 => "ECC NIST P-521",
        KeySpec::EccSecgP256k1 => "secp256k1",
        _ => "EC",
    }
}

fn ecdh(spec: KeySpec) -> Option<&'static agreement::Algorithm> {
    Some(match spec {
        KeySpec::EccNistP256 => &ECDH_P256,
        KeySpec::EccNistP384 => &ECDH_P384,
        KeySpec::EccNistP521 => &ECDH_P521,
        _ => return None,
    })
}

/// An RSA or ECC key pair as plain data (see the [module
/// documentation](self)).
#[derive(Clone)]
pub(crate) struct KeyPairMaterial {
    spec: KeySpec,
    pkcs8: Zeroizing<Vec<u8>>,
    public_der: Vec<u8>,
}

impl fmt::Debug for KeyPairMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyPairMaterial")
            .field("spec", &self.spec.as_str())
            .finish_non_exhaustive()
    }
}

impl KeyPairMaterial {
    /// A fresh key pair of `spec` (an RSA or ECC spec). RSA-4096 takes a
    /// noticeable moment.
    pub(crate) fn generate(spec: KeySpec) -> Result<Self, LocalKmsError> {
        let pkcs8 = match pair_kind(spec) {
            Some(PairKind::Rsa(size, _)) => {
                let pair =
                    rsa::KeyPair::generate(size).map_err(|_| failed("RSA key generation"))?;
                let der: Pkcs8V1Der<'_> = pair.as_der().map_err(|_| failed("RSA key encoding"))?;
                Zeroizing::new(der.as_ref().to_vec())
            }
            Some(PairKind::Ec(alg, _)) => {
                let pair = EcdsaKeyPair::generate(alg).map_err(|_| failed("EC key generation"))?;
                let doc = pair.to_pkcs8v1().map_err(|_| failed("EC key encoding"))?;
                Zeroizing::new(doc.as_ref().to_vec())
            }
            None => {
                return Err(LocalKmsError::internal(format!(
                    "{} is not a key pair spec.",
                    spec.as_str()
                )));
            }
        };
        Self::from_pkcs8(spec, pkcs8).map_err(|what| {
            LocalKmsError::internal(format!("The new {} key pair: {what}.", spec.as_str()))
        })
    }

    /// The key pair of `spec` whose private key is `pkcs8` (PKCS#8 v1 DER);
    /// the public key follows from it. Fails unless the key is a valid key
    /// of that spec (algorithm, curve, modulus size); the error says what is
    /// wrong, in a phrase (for a state file or a seed that holds the key).
    pub(crate) fn from_pkcs8(spec: KeySpec, pkcs8: Zeroizing<Vec<u8>>) -> Result<Self, String> {
        let public_der = match pair_kind(spec) {
            Some(PairKind::Rsa(_, modulus)) => {
                let pair = rsa::KeyPair::from_pkcs8(&pkcs8).map_err(|e| {
                    format!("not an unencrypted PKCS#8 RSA private key of 2048 to 8192 bits ({e})")
                })?;
                let len = pair.public_modulus_len();
                if len != modulus {
                    return Err(format!(
                        "an RSA key of {} bits, not the {} bits of {}",
                        len * 8,
                        modulus * 8,
                        spec.as_str()
                    ));
                }
                pair.public_key()
                    .as_der()
                    .map_err(|_| "an RSA key whose public key cannot be encoded".to_string())?
                    .as_ref()
                    .to_vec()
            }
            Some(PairKind::Ec(alg, _)) => {
                let pair = EcdsaKeyPair::from_pkcs8(alg, &pkcs8).map_err(|e| {
                    format!(
                        "not an unencrypted PKCS#8 {} private key ({e})",
                        curve_name(spec)
                    )
                })?;
                pair.public_key()
                    .as_der()
                    .map_err(|_| "an EC key whose public key cannot be encoded".to_string())?
                    .as_ref()
                    .to_vec()
            }
            None => return Err(format!("{} keys have no key pair", spec.as_str())),
        };
        Ok(Self {
            spec,
            pkcs8,
            public_der,
        })
    }

    /// The spec the key pair was made or rebuilt for (the key's own spec
    /// is what the state file keeps).
    #[cfg(test)]
    pub(crate) fn spec(&self) -> KeySpec {
        self.spec
    }

    /// The private key, PKCS#8 v1 DER.
    pub(crate) fn pkcs8(&self) -> &[u8] {
        &self.pkcs8
    }

    /// The public key, `SubjectPublicKeyInfo` DER.
    pub(crate) fn public_der(&self) -> &[u8] {
        &self.public_der
    }

    /// Signs `message` with `alg`, which the caller has checked the key
    /// supports (and, for a digest, its length).
    pub(crate) fn sign(
        &self,
        alg: SigningAlgorithm,
        message: Message<'_>,
    ) -> Result<Vec<u8>, LocalKmsError> {
        let mismatch = || LocalKmsError::internal("signing algorithm/key mismatch");
        let hash = alg.digest().ok_or_else(mismatch)?;
        let digest = match message {
            Message::Raw(_) => None,
            Message::Digest(d) => Some(
                Digest::import_less_safe(d, hash)
                    .map_err(|_| LocalKmsError::internal("digest length"))?,
            ),
        };
        match pair_kind(self.spec).ok_or_else(mismatch)? {
            PairKind::Rsa(..) => {
                let padding = alg.rsa_signing().ok_or_else(mismatch)?;
                let pair =
                    rsa::KeyPair::from_pkcs8(&self.pkcs8).map_err(|_| rejected(self.spec))?;
                let mut out = vec![0u8; pair.public_modulus_len()];
                let signed = match (message, &digest) {
                    (_, Some(d)) => pair.sign_digest(padding, d, &mut out),
                    (Message::Raw(m), None) => {
                        pair.sign(padding, &SystemRandom::new(), m, &mut out)
                    }
                    (Message::Digest(_), None) => Err(aws_lc_rs::error::Unspecified),
                };
                signed.map_err(|_| failed("RSA signing"))?;
                Ok(out)
            }
            PairKind::Ec(ec, curve_hash) => {
                if !alg.is_ecdsa() || curve_hash != hash {
                    return Err(mismatch());
                }
                let pair =
                    EcdsaKeyPair::from_pkcs8(ec, &self.pkcs8).map_err(|_| rejected(self.spec))?;
                let sig = match (message, &digest) {
                    (_, Some(d)) => pair.sign_digest(d),
                    (Message::Raw(m), None) => pair.sign(&SystemRandom::new(), m),
                    (Message::Digest(_), None) => Err(aws_lc_rs::error::Unspecified),
                };
                Ok(sig.map_err(|_| failed("ECDSA signing"))?.as_ref().to_vec())
            }
        }
    }

    /// Whether `signature` is `alg`'s signature of `message` under this key.
    /// Any malformed input is simply not a valid signature.
    pub(crate) fn verify(
        &self,
        alg: SigningAlgorithm,
        message: Message<'_>,
        signature: &[u8],
    ) -> bool {
        let Some(hash) = alg.digest() else {
            return false;
        };
        let verifier: &'static dyn signature::VerificationAlgorithm = match pair_kind(self.spec) {
            Some(PairKind::Rsa(..)) => match alg.rsa_verification() {
                Some(v) => v,
                None => return false,
            },
            Some(PairKind::Ec(_, curve_hash)) if alg.is_ecdsa() && curve_hash == hash => {
                match ecdsa_verification(self.spec) {
                    Some(v) => v,
                    None => return false,
                }
            }
            _ => return false,
        };
        let public = signature::UnparsedPublicKey::new(verifier, &self.public_der);
        match message {
            Message::Raw(m) => public.verify(m, signature).is_ok(),
            Message::Digest(d) => Digest::import_less_safe(d, hash)
                .is_ok_and(|d| public.verify_digest(&d, signature).is_ok()),
        }
    }

    /// ECDH with the peer's public key (`SubjectPublicKeyInfo` DER on this
    /// key's curve): the raw shared secret. `ValidationException` for a
    /// public key that is not such an SPKI.
    pub(crate) fn agree(&self, peer_spki: &[u8]) -> Result<Zeroizing<Vec<u8>>, LocalKmsError> {
        let alg = ecdh(self.spec).ok_or_else(|| {
            LocalKmsError::internal(format!("{} keys do not agree.", self.spec.as_str()))
        })?;
        let invalid = || {
            LocalKmsError::validation(format!(
                "PublicKey must be a DER-encoded X.509 SubjectPublicKeyInfo of a {} public key.",
                self.spec.as_str()
            ))
        };
        let peer =
            agreement::ParsedPublicKey::try_from(agreement::UnparsedPublicKey::new(alg, peer_spki))
                .map_err(|_| invalid())?;
        if peer.format() != ParsedPublicKeyFormat::X509 {
            return Err(invalid());
        }
        let private = agreement::PrivateKey::from_private_key_der(alg, &self.pkcs8)
            .map_err(|_| rejected(self.spec))?;
        agreement::agree(&private, peer, invalid(), |secret| {
            Ok(Zeroizing::new(secret.to_vec()))
        })
    }
}

/// The secret of an HMAC key as plain data (see the [module
/// documentation](self)).
#[derive(Clone)]
pub(crate) struct HmacMaterial {
    spec: KeySpec,
    secret: Zeroizing<Vec<u8>>,
}

impl fmt::Debug for HmacMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HmacMaterial")
            .field("spec", &self.spec.as_str())
            .finish_non_exhaustive()
    }
}

/// (algorithm, key length in bytes) of an HMAC spec.
fn hmac_params(spec: KeySpec) -> Option<(MacAlgorithm, hmac::Algorithm, usize)> {
    Some(match spec {
        KeySpec::Hmac224 => (MacAlgorithm::HmacSha224, hmac::HMAC_SHA224, 28),
        KeySpec::Hmac256 => (MacAlgorithm::HmacSha256, hmac::HMAC_SHA256, 32),
        KeySpec::Hmac384 => (MacAlgorithm::HmacSha384, hmac::HMAC_SHA384, 48),
        KeySpec::Hmac512 => (MacAlgorithm::HmacSha512, hmac::HMAC_SHA512, 64),
        _ => return None,
    })
}

impl HmacMaterial {
    /// A fresh random key of `spec` (an HMAC spec).
    pub(crate) fn generate(spec: KeySpec) -> Result<Self, LocalKmsError> {
        let (_, _, len) = hmac_params(spec).ok_or_else(|| {
            LocalKmsError::internal(format!("{} is not an HMAC key spec.", spec.as_str()))
        })?;
        Self::from_secret(spec, Zeroizing::new(random_vec(len)?))
            .map_err(|what| LocalKmsError::internal(format!("The new HMAC key: {what}.")))
    }

    /// The HMAC key of `spec` with these key bytes (of the spec's length:
    /// 28, 32, 48 or 64). The error says what is wrong, in a phrase (for a
    /// state file or a seed that holds the key).
    pub(crate) fn from_secret(spec: KeySpec, secret: Zeroizing<Vec<u8>>) -> Result<Self, String> {
        match hmac_params(spec) {
            Some((_, _, len)) if secret.len() == len => Ok(Self { spec, secret }),
            Some((_, _, len)) => Err(format!(
                "{} bytes, not the {len} bytes of an {} key",
                secret.len(),
                spec.as_str()
            )),
            None => Err(format!("{} keys are no HMAC keys", spec.as_str())),
        }
    }

    /// The spec of the key (the key's own spec is what the state file
    /// keeps).
    #[cfg(test)]
    pub(crate) fn spec(&self) -> KeySpec {
        self.spec
    }

    /// The raw key bytes.
    pub(crate) fn secret(&self) -> &[u8] {
        &self.secret
    }

    fn key(&self) -> Option<hmac::Key> {
        hmac_params(self.spec).map(|(_, alg, _)| hmac::Key::new(alg, &self.secret))
    }

    /// HMAC (RFC 2104) of `message`.
    pub(crate) fn mac(&self, message: &[u8]) -> Result<Vec<u8>, LocalKmsError> {
        let key = self
            .key()
            .ok_or_else(|| LocalKmsError::internal("not an HMAC key"))?;
        Ok(hmac::sign(&key, message).as_ref().to_vec())
    }

    /// Whether `mac` is the HMAC of `message` (compared in constant time).
    pub(crate) fn verify(&self, message: &[u8], mac: &[u8]) -> bool {
        self.key()
            .is_some_and(|key| hmac::verify(&key, message, mac).is_ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ECC: [KeySpec; 4] = [
        KeySpec::EccNistP256,
        KeySpec::EccNistP384,
        KeySpec::EccNistP521,
        KeySpec::EccSecgP256k1,
    ];

    fn ecdsa_for(spec: KeySpec) -> SigningAlgorithm {
        match spec {
            KeySpec::EccNistP384 => SigningAlgorithm::EcdsaSha384,
            KeySpec::EccNistP521 => SigningAlgorithm::EcdsaSha512,
            _ => SigningAlgorithm::EcdsaSha256,
        }
    }

    #[test]
    fn algorithm_names_round_trip() {
        for (alg, name) in SIGNING_ALGORITHMS {
            assert_eq!(SigningAlgorithm::parse(name, "x").unwrap(), *alg);
            assert_eq!(alg.as_str(), *name);
        }
        let e = SigningAlgorithm::parse("ECDSA_SHA_1", "signingAlgorithm").unwrap_err();
        assert_eq!(e.code(), "ValidationException");
        assert!(e.message().contains("'signingAlgorithm'"), "{e}");
        for name in [
            "HMAC_SHA_224",
            "HMAC_SHA_256",
            "HMAC_SHA_384",
            "HMAC_SHA_512",
        ] {
            assert_eq!(MacAlgorithm::parse(name).unwrap().as_str(), name);
        }
        assert!(MacAlgorithm::parse("HMAC_SHA_1").is_err());
        for name in ["RAW", "DIGEST", "EXTERNAL_MU"] {
            assert_eq!(MessageType::parse(name).unwrap().as_str(), name);
        }
        assert!(MessageType::parse("raw").is_err());
    }

    #[test]
    fn ecc_pairs_sign_verify_and_rebuild_from_pkcs8() {
        for spec in ECC {
            let m = KeyPairMaterial::generate(spec).unwrap();
            let alg = ecdsa_for(spec);
            let sig = m.sign(alg, Message::Raw(b"hello")).unwrap();
            // DER: SEQUENCE of two INTEGERs.
            assert_eq!(sig[0], 0x30, "{spec:?}");
            assert!(m.verify(alg, Message::Raw(b"hello"), &sig));
            assert!(!m.verify(alg, Message::Raw(b"hellO"), &sig));
            // A digest signs and verifies as the message it is the hash of.
            let hash = alg.digest().unwrap();
            let d = digest::digest(hash, b"hello");
            assert!(m.verify(alg, Message::Digest(d.as_ref()), &sig));
            let sig2 = m.sign(alg, Message::Digest(d.as_ref())).unwrap();
            assert!(m.verify(alg, Message::Raw(b"hello"), &sig2));
            // Another hash is not this key's algorithm.
            let other = if alg == SigningAlgorithm::EcdsaSha256 {
                SigningAlgorithm::EcdsaSha384
            } else {
                SigningAlgorithm::EcdsaSha256
            };
            assert!(m.sign(other, Message::Raw(b"x")).is_err());
            assert!(!m.verify(other, Message::Raw(b"hello"), &sig));
            assert!(!m.verify(
                SigningAlgorithm::RsassaPssSha256,
                Message::Raw(b"hello"),
                &sig
            ));
            // Rebuilt from its bytes: the same key.
            let again =
                KeyPairMaterial::from_pkcs8(spec, Zeroizing::new(m.pkcs8().to_vec())).unwrap();
            assert_eq!(again.public_der(), m.public_der());
            assert!(again.verify(alg, Message::Raw(b"hello"), &sig));
            // Debug shows no key bytes.
            assert_eq!(
                format!("{m:?}"),
                format!("KeyPairMaterial {{ spec: {:?}, .. }}", spec.as_str())
            );
        }
        // The spec must match the bytes.
        let p256 = KeyPairMaterial::generate(KeySpec::EccNistP256).unwrap();
        let bytes = || Zeroizing::new(p256.pkcs8().to_vec());
        for wrong in [KeySpec::EccNistP384, KeySpec::Rsa2048, KeySpec::Hmac256] {
            assert!(
                KeyPairMaterial::from_pkcs8(wrong, bytes()).is_err(),
                "{wrong:?}"
            );
        }
        assert!(
            KeyPairMaterial::from_pkcs8(KeySpec::EccNistP256, Zeroizing::new(vec![1, 2])).is_err()
        );
        assert!(KeyPairMaterial::generate(KeySpec::SymmetricDefault).is_err());
    }

    #[test]
    fn rsa_pairs_sign_every_algorithm() {
        let m = KeyPairMaterial::generate(KeySpec::Rsa2048).unwrap();
        assert!(
            KeyPairMaterial::from_pkcs8(KeySpec::Rsa3072, Zeroizing::new(m.pkcs8().to_vec()))
                .is_err()
        );
        for alg in SigningAlgorithm::RSA {
            let sig = m.sign(*alg, Message::Raw(b"message")).unwrap();
            assert_eq!(sig.len(), 256);
            assert!(m.verify(*alg, Message::Raw(b"message"), &sig), "{alg:?}");
            let d = digest::digest(alg.digest().unwrap(), b"message");
            assert!(m.verify(*alg, Message::Digest(d.as_ref()), &sig), "{alg:?}");
            let mut bad = sig.clone();
            bad[100] ^= 1;
            assert!(!m.verify(*alg, Message::Raw(b"message"), &bad));
            assert!(!m.verify(*alg, Message::Raw(b"message"), &sig[1..]));
            assert!(!m.verify(
                SigningAlgorithm::EcdsaSha256,
                Message::Raw(b"message"),
                &sig
            ));
        }
        // PKCS#1 v1.5 is deterministic: RAW and DIGEST give the same bytes.
        let alg = SigningAlgorithm::RsassaPkcs1V15Sha384;
        let d = digest::digest(&SHA384, b"m");
        assert_eq!(
            m.sign(alg, Message::Raw(b"m")).unwrap(),
            m.sign(alg, Message::Digest(d.as_ref())).unwrap()
        );
        assert!(
            m.sign(SigningAlgorithm::Sm2Dsa, Message::Raw(b"m"))
                .is_err()
        );
    }

    #[test]
    fn ecdh_matches_the_peer_side() {
        for (spec, alg) in [
            (KeySpec::EccNistP256, &ECDH_P256),
            (KeySpec::EccNistP384, &ECDH_P384),
            (KeySpec::EccNistP521, &ECDH_P521),
        ] {
            let m = KeyPairMaterial::generate(spec).unwrap();
            let peer = agreement::PrivateKey::generate(alg).unwrap();
            let peer_spki = peer.compute_public_key().unwrap().as_der().unwrap();
            let ours = m.agree(peer_spki.as_ref()).unwrap();
            let theirs = agreement::agree(
                &peer,
                agreement::UnparsedPublicKey::new(alg, m.public_der()),
                (),
                |s| Ok(s.to_vec()),
            )
            .unwrap();
            assert_eq!(*ours, theirs);
            // A raw point is not an SPKI; garbage is nothing.
            let raw = peer.compute_public_key().unwrap();
            for bad in [raw.as_ref(), b"junk".as_slice(), &[]] {
                assert_eq!(m.agree(bad).unwrap_err().code(), "ValidationException");
            }
        }
        // Another curve's key.
        let p256 = KeyPairMaterial::generate(KeySpec::EccNistP256).unwrap();
        let p384 = KeyPairMaterial::generate(KeySpec::EccNistP384).unwrap();
        assert_eq!(
            p256.agree(p384.public_der()).unwrap_err().code(),
            "ValidationException"
        );
        // secp256k1 and RSA pairs do not agree.
        let k1 = KeyPairMaterial::generate(KeySpec::EccSecgP256k1).unwrap();
        assert_eq!(
            k1.agree(p256.public_der()).unwrap_err().code(),
            "KMSInternalException"
        );
    }

    #[test]
    fn hmac_keys() {
        for (spec, len, alg, hash) in [
            (
                KeySpec::Hmac224,
                28,
                MacAlgorithm::HmacSha224,
                hmac::HMAC_SHA224,
            ),
            (
                KeySpec::Hmac256,
                32,
                MacAlgorithm::HmacSha256,
                hmac::HMAC_SHA256,
            ),
            (
                KeySpec::Hmac384,
                48,
                MacAlgorithm::HmacSha384,
                hmac::HMAC_SHA384,
            ),
            (
                KeySpec::Hmac512,
                64,
                MacAlgorithm::HmacSha512,
                hmac::HMAC_SHA512,
            ),
        ] {
            let k = HmacMaterial::generate(spec).unwrap();
            assert_eq!(k.secret().len(), len);
            assert_eq!(k.spec(), spec);
            assert_eq!(hmac_params(spec).map(|(a, ..)| a), Some(alg));
            let mac = k.mac(b"msg").unwrap();
            // RFC 2104 HMAC with the key bytes, computed independently.
            let expected = hmac::sign(&hmac::Key::new(hash, k.secret()), b"msg");
            assert_eq!(mac, expected.as_ref());
            assert!(k.verify(b"msg", &mac));
            assert!(!k.verify(b"msh", &mac));
            assert!(!k.verify(b"msg", &mac[1..]));
            let again =
                HmacMaterial::from_secret(spec, Zeroizing::new(k.secret().to_vec())).unwrap();
            assert_eq!(again.mac(b"msg").unwrap(), mac);
            assert!(HmacMaterial::from_secret(spec, Zeroizing::new(vec![0; len + 1])).is_err());
            assert_eq!(
                format!("{k:?}"),
                format!("HmacMaterial {{ spec: {:?}, .. }}", spec.as_str())
            );
        }
        assert!(HmacMaterial::generate(KeySpec::Rsa2048).is_err());
    }
}
