//! Key material, ciphertext blob format and the cryptography behind it.
//!
//! All primitives come from `aws-lc-rs`.
//!
//! # Symmetric key materials
//!
//! A symmetric key keeps every key material it ever had
//! ([`KeyMaterial::Symmetric`]), oldest first: the one made with the key, then
//! one per rotation. The last is current: `Encrypt` and `GenerateDataKey*` use
//! it; `Decrypt` and `ReEncrypt` use whichever material the blob names. Each
//! material is plain data, ready to be stored: the 32 AES-256 key bytes
//! (zeroized on drop), its id and how it came to be ([`MaterialOrigin`]). The
//! AES-GCM key is built from the bytes for each operation.
//!
//! The key material id (`KeyMaterialId`, `CurrentKeyMaterialId`, ...) is 64
//! lower-case hex digits: `HMAC-SHA256(key = material, "tower-kms local key
//! material id" || key id)`, with the 16 raw bytes of the KMS key id. So it
//! is deterministic in the key id and the material (the same material under
//! the same key always has the same id, as KMS's ids of imported material do)
//! and says nothing about the material without it. No server secret is
//! involved, so ids survive any persistence of the key state unchanged.
//!
//! # Symmetric ciphertext blob (version 2)
//!
//! ```text
//! offset  len  field
//! 0       1    magic/version byte 0xA2
//! 1       16   key id (raw UUID bytes of the KMS key)
//! 17      32   key material id (the raw bytes of the 64-hex-digit id)
//! 49      12   random AES-GCM nonce
//! 61      n    AES-256-GCM ciphertext (n = plaintext length)
//! 61+n    16   AES-GCM tag
//! ```
//!
//! The AAD is the 49 header bytes followed by the canonical encoding of the
//! encryption context ([`encode_context`]), so any change to the header, the
//! body, the tag or the context makes decryption fail.
//!
//! Version 1 (magic `0xA1`: key id, nonce, ciphertext, tag, no material id)
//! came before key rotation. It is not read any more: a version 1 blob is
//! `InvalidCiphertextException`. Keys live in memory, so no key that made one
//! exists in a process running this version.
//!
//! # Asymmetric ciphertext
//!
//! The raw RSAES-OAEP output (modulus length), exactly as KMS returns it, so
//! ciphertext made elsewhere with the public key decrypts here.
//!
//! # Signing, MAC and key agreement keys
//!
//! RSA `SIGN_VERIFY` keys, every ECC key and HMAC keys hold plain materials
//! from the [`material`](super::material) module: PKCS#8 and SPKI DER for key
//! pairs ([`KeyMaterial::KeyPair`]), raw bytes for HMAC keys
//! ([`KeyMaterial::Hmac`]).

use std::collections::BTreeMap;
use std::fmt;
use std::time::SystemTime;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use aws_lc_rs::hmac;
use aws_lc_rs::rsa::{
    KeySize, OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OaepAlgorithm, OaepPrivateDecryptingKey,
    OaepPublicEncryptingKey, PrivateDecryptingKey,
};
use zeroize::Zeroizing;

use super::error::LocalKmsError;
use super::material::{ECDH, HmacMaterial, KeyPairMaterial, MacAlgorithm, SigningAlgorithm};

/// First byte of every symmetric blob: magic and format version 2.
pub(crate) const BLOB_MAGIC: u8 = 0xA2;
/// Length of a key material id in raw bytes (64 hex digits).
pub(crate) const MATERIAL_ID_LEN: usize = 32;
/// Magic byte, the 16-byte key id and the 32-byte key material id.
pub(crate) const HEADER_LEN: usize = 1 + 16 + MATERIAL_ID_LEN;
/// AES-GCM tag length.
pub(crate) const TAG_LEN: usize = 16;
/// Bytes a symmetric blob adds to the plaintext.
pub(crate) const SYMMETRIC_OVERHEAD: usize = HEADER_LEN + NONCE_LEN + TAG_LEN;

/// Fills a fixed-size array with random bytes.
pub(crate) fn random_array<const N: usize>() -> Result<[u8; N], LocalKmsError> {
    let mut out = [0u8; N];
    aws_lc_rs::rand::fill(&mut out)
        .map_err(|_| LocalKmsError::internal("The random number generator failed."))?;
    Ok(out)
}

/// Random bytes of any length.
pub(crate) fn random_vec(len: usize) -> Result<Vec<u8>, LocalKmsError> {
    let mut out = vec![0u8; len];
    aws_lc_rs::rand::fill(&mut out)
        .map_err(|_| LocalKmsError::internal("The random number generator failed."))?;
    Ok(out)
}

/// Random UUID version 4 (raw bytes and canonical text): random bytes from
/// aws-lc-rs, the version and variant bits and the text form from `uuid`.
pub(crate) fn uuid_v4() -> Result<([u8; 16], String), LocalKmsError> {
    let id = uuid::Builder::from_random_bytes(random_array()?).into_uuid();
    Ok((id.into_bytes(), format_uuid(id.as_bytes())))
}

/// `8-4-4-4-12` lower-case hex.
pub(crate) fn format_uuid(b: &[u8; 16]) -> String {
    uuid::Uuid::from_bytes(*b).hyphenated().to_string()
}

/// Parses the canonical `8-4-4-4-12` text form (either case) only: `uuid`
/// also reads the simple, braced and URN forms, which are 32, 38 and 45
/// characters long and no KMS key id.
pub(crate) fn parse_uuid(s: &str) -> Option<[u8; 16]> {
    if s.len() != 36 {
        return None;
    }
    uuid::Uuid::try_parse(s).ok().map(uuid::Uuid::into_bytes)
}

/// Canonical encoding of an encryption context for use as AAD: the pair count
/// then each pair sorted by key (byte order), every string prefixed by its
/// UTF-8 length, all lengths as big-endian `u32`.
pub(crate) fn encode_context(ctx: &BTreeMap<String, String>) -> Vec<u8> {
    let mut out = Vec::with_capacity(
        4 + ctx
            .iter()
            .map(|(k, v)| 8 + k.len() + v.len())
            .sum::<usize>(),
    );
    out.extend_from_slice(&(ctx.len() as u32).to_be_bytes());
    for (k, v) in ctx {
        out.extend_from_slice(&(k.len() as u32).to_be_bytes());
        out.extend_from_slice(k.as_bytes());
        out.extend_from_slice(&(v.len() as u32).to_be_bytes());
        out.extend_from_slice(v.as_bytes());
    }
    out
}

/// `KeySpec` values this KMS can create.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeySpec {
    SymmetricDefault,
    Rsa2048,
    Rsa3072,
    Rsa4096,
    EccNistP256,
    EccNistP384,
    EccNistP521,
    EccSecgP256k1,
    Hmac224,
    Hmac256,
    Hmac384,
    Hmac512,
}

const KEY_SPECS: &[(KeySpec, &str)] = &[
    (KeySpec::SymmetricDefault, "SYMMETRIC_DEFAULT"),
    (KeySpec::Rsa2048, "RSA_2048"),
    (KeySpec::Rsa3072, "RSA_3072"),
    (KeySpec::Rsa4096, "RSA_4096"),
    (KeySpec::EccNistP256, "ECC_NIST_P256"),
    (KeySpec::EccNistP384, "ECC_NIST_P384"),
    (KeySpec::EccNistP521, "ECC_NIST_P521"),
    (KeySpec::EccSecgP256k1, "ECC_SECG_P256K1"),
    (KeySpec::Hmac224, "HMAC_224"),
    (KeySpec::Hmac256, "HMAC_256"),
    (KeySpec::Hmac384, "HMAC_384"),
    (KeySpec::Hmac512, "HMAC_512"),
];

/// `KeySpec` values KMS defines but this local KMS does not create: SM2
/// exists in the China Regions only; ML-DSA, Ed25519 and ML-KEM keys are
/// not modelled.
const UNMODELLED_KEY_SPECS: &[&str] = &[
    "SM2",
    "ML_DSA_44",
    "ML_DSA_65",
    "ML_DSA_87",
    "ECC_NIST_EDWARDS25519",
    "ML_KEM_512",
    "ML_KEM_768",
    "ML_KEM_1024",
];

/// Which kind of key a spec makes (`UpdateAlias` only moves an alias within
/// a kind).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyClass {
    SymmetricEncryption,
    Asymmetric,
    Hmac,
}

impl KeySpec {
    pub(crate) fn parse(s: &str) -> Result<Self, LocalKmsError> {
        if let Some((spec, _)) = KEY_SPECS.iter().find(|(_, name)| *name == s) {
            return Ok(*spec);
        }
        if UNMODELLED_KEY_SPECS.contains(&s) {
            return Err(LocalKmsError::new(
                "UnsupportedOperationException",
                format!("KeySpec {s} is not supported by the local KMS."),
            ));
        }
        Err(LocalKmsError::validation(format!(
            "1 validation error detected: Value '{s}' at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set: [RSA_2048, RSA_3072, RSA_4096, ECC_NIST_P256, ECC_NIST_P384, ECC_NIST_P521, ECC_SECG_P256K1, SYMMETRIC_DEFAULT, HMAC_224, HMAC_256, HMAC_384, HMAC_512, SM2, ML_DSA_44, ML_DSA_65, ML_DSA_87, ECC_NIST_EDWARDS25519, ML_KEM_512, ML_KEM_768, ML_KEM_1024]"
        )))
    }

    pub(crate) fn as_str(self) -> &'static str {
        KEY_SPECS
            .iter()
            .find(|(spec, _)| *spec == self)
            .map_or("", |(_, name)| name)
    }

    /// `SYMMETRIC_DEFAULT`, the symmetric encryption key (HMAC keys are
    /// symmetric too, but not this).
    pub(crate) fn is_symmetric(self) -> bool {
        self == Self::SymmetricDefault
    }

    pub(crate) fn is_rsa(self) -> bool {
        matches!(self, Self::Rsa2048 | Self::Rsa3072 | Self::Rsa4096)
    }

    pub(crate) fn is_hmac(self) -> bool {
        matches!(
            self,
            Self::Hmac224 | Self::Hmac256 | Self::Hmac384 | Self::Hmac512
        )
    }

    pub(crate) fn class(self) -> KeyClass {
        if self.is_symmetric() {
            KeyClass::SymmetricEncryption
        } else if self.is_hmac() {
            KeyClass::Hmac
        } else {
            KeyClass::Asymmetric
        }
    }

    /// Usages KMS allows for this spec.
    pub(crate) fn allows_usage(self, usage: KeyUsage) -> bool {
        match self {
            Self::SymmetricDefault => usage == KeyUsage::EncryptDecrypt,
            Self::Rsa2048 | Self::Rsa3072 | Self::Rsa4096 => {
                matches!(usage, KeyUsage::EncryptDecrypt | KeyUsage::SignVerify)
            }
            Self::EccNistP256 | Self::EccNistP384 | Self::EccNistP521 => {
                matches!(usage, KeyUsage::SignVerify | KeyUsage::KeyAgreement)
            }
            Self::EccSecgP256k1 => usage == KeyUsage::SignVerify,
            Self::Hmac224 | Self::Hmac256 | Self::Hmac384 | Self::Hmac512 => {
                usage == KeyUsage::GenerateVerifyMac
            }
        }
    }

    /// `EncryptionAlgorithms` for a key of this spec and usage.
    pub(crate) fn encryption_algorithms(self, usage: KeyUsage) -> &'static [EncryptionAlgorithm] {
        match (self, usage) {
            (Self::SymmetricDefault, _) => &[EncryptionAlgorithm::SymmetricDefault],
            (Self::Rsa2048 | Self::Rsa3072 | Self::Rsa4096, KeyUsage::EncryptDecrypt) => &[
                EncryptionAlgorithm::RsaesOaepSha1,
                EncryptionAlgorithm::RsaesOaepSha256,
            ],
            _ => &[],
        }
    }

    /// `SigningAlgorithms` for a key of this spec and usage: each ECC curve
    /// with the one hash KMS requires on it.
    pub(crate) fn signing_algorithms(self, usage: KeyUsage) -> &'static [SigningAlgorithm] {
        if usage != KeyUsage::SignVerify {
            return &[];
        }
        match self {
            Self::Rsa2048 | Self::Rsa3072 | Self::Rsa4096 => SigningAlgorithm::RSA,
            Self::EccNistP256 | Self::EccSecgP256k1 => &[SigningAlgorithm::EcdsaSha256],
            Self::EccNistP384 => &[SigningAlgorithm::EcdsaSha384],
            Self::EccNistP521 => &[SigningAlgorithm::EcdsaSha512],
            _ => &[],
        }
    }

    /// `MacAlgorithms` for a key of this spec and usage.
    pub(crate) fn mac_algorithms(self, usage: KeyUsage) -> &'static [MacAlgorithm] {
        match (self, usage) {
            (Self::Hmac224, KeyUsage::GenerateVerifyMac) => &[MacAlgorithm::HmacSha224],
            (Self::Hmac256, KeyUsage::GenerateVerifyMac) => &[MacAlgorithm::HmacSha256],
            (Self::Hmac384, KeyUsage::GenerateVerifyMac) => &[MacAlgorithm::HmacSha384],
            (Self::Hmac512, KeyUsage::GenerateVerifyMac) => &[MacAlgorithm::HmacSha512],
            _ => &[],
        }
    }

    /// `KeyAgreementAlgorithms` for a key of this spec and usage.
    pub(crate) fn key_agreement_algorithms(self, usage: KeyUsage) -> &'static [&'static str] {
        match (self, usage) {
            (Self::EccNistP256 | Self::EccNistP384 | Self::EccNistP521, KeyUsage::KeyAgreement) => {
                &[ECDH]
            }
            _ => &[],
        }
    }
}

/// `KeyUsage`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyUsage {
    EncryptDecrypt,
    SignVerify,
    GenerateVerifyMac,
    KeyAgreement,
}

impl KeyUsage {
    pub(crate) fn parse(s: &str) -> Result<Self, LocalKmsError> {
        match s {
            "ENCRYPT_DECRYPT" => Ok(Self::EncryptDecrypt),
            "SIGN_VERIFY" => Ok(Self::SignVerify),
            "GENERATE_VERIFY_MAC" => Ok(Self::GenerateVerifyMac),
            "KEY_AGREEMENT" => Ok(Self::KeyAgreement),
            "ENCAPSULATE_DECAPSULATE" => Err(LocalKmsError::new(
                "UnsupportedOperationException",
                format!("KeyUsage {s} (ML-KEM keys) is not supported by the local KMS."),
            )),
            other => Err(LocalKmsError::validation(format!(
                "1 validation error detected: Value '{other}' at 'keyUsage' failed to satisfy constraint: Member must satisfy enum value set: [SIGN_VERIFY, ENCRYPT_DECRYPT, GENERATE_VERIFY_MAC, KEY_AGREEMENT, ENCAPSULATE_DECAPSULATE]"
            ))),
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::EncryptDecrypt => "ENCRYPT_DECRYPT",
            Self::SignVerify => "SIGN_VERIFY",
            Self::GenerateVerifyMac => "GENERATE_VERIFY_MAC",
            Self::KeyAgreement => "KEY_AGREEMENT",
        }
    }
}

/// `EncryptionAlgorithmSpec`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EncryptionAlgorithm {
    SymmetricDefault,
    RsaesOaepSha1,
    RsaesOaepSha256,
    /// A valid enum value that no key here supports.
    Sm2Pke,
}

impl EncryptionAlgorithm {
    /// Parses the enum value; `member` names the request member for the
    /// validation message.
    pub(crate) fn parse(s: &str, member: &str) -> Result<Self, LocalKmsError> {
        match s {
            "SYMMETRIC_DEFAULT" => Ok(Self::SymmetricDefault),
            "RSAES_OAEP_SHA_1" => Ok(Self::RsaesOaepSha1),
            "RSAES_OAEP_SHA_256" => Ok(Self::RsaesOaepSha256),
            "SM2PKE" => Ok(Self::Sm2Pke),
            other => Err(LocalKmsError::validation(format!(
                "1 validation error detected: Value '{other}' at '{member}' failed to satisfy constraint: Member must satisfy enum value set: [SYMMETRIC_DEFAULT, RSAES_OAEP_SHA_1, RSAES_OAEP_SHA_256, SM2PKE]"
            ))),
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::SymmetricDefault => "SYMMETRIC_DEFAULT",
            Self::RsaesOaepSha1 => "RSAES_OAEP_SHA_1",
            Self::RsaesOaepSha256 => "RSAES_OAEP_SHA_256",
            Self::Sm2Pke => "SM2PKE",
        }
    }

    fn oaep(self) -> Option<&'static OaepAlgorithm> {
        match self {
            Self::RsaesOaepSha1 => Some(&OAEP_SHA1_MGF1SHA1),
            Self::RsaesOaepSha256 => Some(&OAEP_SHA256_MGF1SHA256),
            _ => None,
        }
    }

    fn hash_len(self) -> usize {
        match self {
            Self::RsaesOaepSha1 => 20,
            _ => 32,
        }
    }
}

/// How a rotation was started (`RotationType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RotationType {
    /// On the automatic rotation schedule.
    Automatic,
    /// By `RotateKeyOnDemand`.
    OnDemand,
}

impl RotationType {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Automatic => "AUTOMATIC",
            Self::OnDemand => "ON_DEMAND",
        }
    }
}

/// How a symmetric key material came to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MaterialOrigin {
    /// Made with the key, by `CreateKey`.
    Created,
    /// Made by a rotation that completed at `date`.
    Rotated {
        date: SystemTime,
        kind: RotationType,
    },
}

/// What the key material id's HMAC covers before the key id.
const MATERIAL_ID_LABEL: &[u8] = b"tower-kms local key material id";

/// One AES-256-GCM key material of a symmetric KMS key, as plain data: the
/// key bytes (zeroized on drop, never in `Debug`), the id and the origin.
#[derive(Clone)]
pub(crate) struct SymmetricMaterial {
    id: [u8; MATERIAL_ID_LEN],
    secret: Zeroizing<[u8; 32]>,
    pub(crate) origin: MaterialOrigin,
}

impl fmt::Debug for SymmetricMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SymmetricMaterial")
            .field("id", &self.id_hex())
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

impl SymmetricMaterial {
    /// Fresh random material for the KMS key `key_id`.
    pub(crate) fn generate(
        key_id: &[u8; 16],
        origin: MaterialOrigin,
    ) -> Result<Self, LocalKmsError> {
        Ok(Self::from_secret(
            key_id,
            Zeroizing::new(random_array()?),
            origin,
        ))
    }

    /// The material `secret` of the KMS key `key_id`; its id follows from
    /// both (see the [module documentation](self)).
    pub(crate) fn from_secret(
        key_id: &[u8; 16],
        secret: Zeroizing<[u8; 32]>,
        origin: MaterialOrigin,
    ) -> Self {
        let mut mac = hmac::Context::with_key(&hmac::Key::new(hmac::HMAC_SHA256, &secret[..]));
        mac.update(MATERIAL_ID_LABEL);
        mac.update(key_id);
        let mut id = [0u8; MATERIAL_ID_LEN];
        id.copy_from_slice(mac.sign().as_ref());
        Self { id, secret, origin }
    }

    /// The 32 AES-256 key bytes.
    pub(crate) fn secret(&self) -> &[u8; 32] {
        &self.secret
    }

    /// The id as KMS shows it: 64 lower-case hex digits.
    pub(crate) fn id_hex(&self) -> String {
        hex::encode(self.id)
    }

    fn aead_key(&self) -> Result<LessSafeKey, LocalKmsError> {
        UnboundKey::new(&AES_256_GCM, &self.secret[..])
            .map(LessSafeKey::new)
            .map_err(|_| LocalKmsError::internal("The AES key could not be loaded."))
    }

    /// A version 2 blob of `plaintext` under this material of `key_id`.
    fn seal(
        &self,
        key_id: &[u8; 16],
        ctx: &BTreeMap<String, String>,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, LocalKmsError> {
        let key = self.aead_key()?;
        let nonce_bytes: [u8; NONCE_LEN] = random_array()?;
        let mut blob = Vec::with_capacity(SYMMETRIC_OVERHEAD + plaintext.len());
        blob.push(BLOB_MAGIC);
        blob.extend_from_slice(key_id);
        blob.extend_from_slice(&self.id);
        let aad = symmetric_aad(&blob[..HEADER_LEN], ctx);
        blob.extend_from_slice(&nonce_bytes);
        let body_start = blob.len();
        blob.extend_from_slice(plaintext);
        let tag = key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce_bytes),
                Aad::from(aad),
                &mut blob[body_start..],
            )
            .map_err(|_| LocalKmsError::internal("AES-GCM seal failed."))?;
        blob.extend_from_slice(tag.as_ref());
        Ok(blob)
    }

    /// Opens a version 2 blob; every failure is `InvalidCiphertextException`.
    fn open(&self, ctx: &BTreeMap<String, String>, blob: &[u8]) -> Result<Vec<u8>, LocalKmsError> {
        if blob_material_id(blob) != Some(self.id) {
            return Err(LocalKmsError::invalid_ciphertext());
        }
        let (header, rest) = blob.split_at(HEADER_LEN);
        let (nonce, rest) = rest.split_at(NONCE_LEN);
        let (body, tag) = rest.split_at(rest.len() - TAG_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce)
            .map_err(|_| LocalKmsError::invalid_ciphertext())?;
        let mut buf = body.to_vec();
        self.aead_key()?
            .open_in_place_separate_tag(nonce, Aad::from(symmetric_aad(header, ctx)), tag, &mut buf)
            .map_err(|_| LocalKmsError::invalid_ciphertext())?;
        Ok(buf)
    }
}

/// Secret key material of one KMS key.
pub(crate) enum KeyMaterial {
    /// Every AES-256-GCM material of a symmetric key, oldest first; the last
    /// is current. Never empty.
    Symmetric(Vec<SymmetricMaterial>),
    /// RSA key pair of an `ENCRYPT_DECRYPT` key (RSAES-OAEP).
    Rsa {
        private: OaepPrivateDecryptingKey,
        public: OaepPublicEncryptingKey,
        public_der: Vec<u8>,
        /// The private key as an unencrypted PKCS#8 v1 document (zeroized on
        /// drop), kept so the state file can store it.
        pkcs8: Zeroizing<Vec<u8>>,
    },
    /// The key pair of an RSA `SIGN_VERIFY` key or of any ECC key: plain
    /// PKCS#8 and SPKI DER (see [`KeyPairMaterial`]).
    KeyPair(KeyPairMaterial),
    /// The secret of an HMAC key: plain key bytes (see [`HmacMaterial`]).
    Hmac(HmacMaterial),
}

impl fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self {
            Self::Symmetric(_) => "Symmetric",
            Self::Rsa { .. } => "Rsa",
            Self::KeyPair(_) => "KeyPair",
            Self::Hmac(_) => "Hmac",
        };
        let mut d = f.debug_struct("KeyMaterial");
        d.field("kind", &kind);
        if let Self::Symmetric(materials) = self {
            d.field("materials", &materials.len());
        }
        d.finish_non_exhaustive()
    }
}

/// A decrypted ciphertext.
#[derive(Debug)]
pub(crate) struct Decrypted {
    pub(crate) plaintext: Vec<u8>,
    /// The id of the symmetric key material that decrypted it.
    pub(crate) material_id: Option<String>,
}

fn internal(what: &str) -> LocalKmsError {
    LocalKmsError::internal(format!("Key generation failed: {what}."))
}

impl KeyMaterial {
    /// Generates fresh key material for the KMS key `key_id` (the raw UUID)
    /// of this spec and usage (a combination [`KeySpec::allows_usage`]).
    /// RSA-4096 takes a noticeable moment.
    pub(crate) fn generate(
        spec: KeySpec,
        usage: KeyUsage,
        key_id: &[u8; 16],
    ) -> Result<Self, LocalKmsError> {
        match spec {
            KeySpec::SymmetricDefault => Ok(Self::Symmetric(vec![SymmetricMaterial::generate(
                key_id,
                MaterialOrigin::Created,
            )?])),
            _ if spec.is_hmac() => Ok(Self::Hmac(HmacMaterial::generate(spec)?)),
            KeySpec::Rsa2048 | KeySpec::Rsa3072 | KeySpec::Rsa4096
                if usage == KeyUsage::EncryptDecrypt =>
            {
                let size = match spec {
                    KeySpec::Rsa2048 => KeySize::Rsa2048,
                    KeySpec::Rsa3072 => KeySize::Rsa3072,
                    _ => KeySize::Rsa4096,
                };
                let private = PrivateDecryptingKey::generate(size).map_err(|_| internal("RSA"))?;
                Self::rsa(private).map_err(|what| internal(&what))
            }
            _ => Ok(Self::KeyPair(KeyPairMaterial::generate(spec)?)),
        }
    }

    fn rsa(private: PrivateDecryptingKey) -> Result<Self, String> {
        let pkcs8: Pkcs8V1Der<'static> = private
            .as_der()
            .map_err(|_| "the RSA private key cannot be encoded as PKCS#8".to_string())?;
        let pkcs8 = Zeroizing::new(pkcs8.as_ref().to_vec());
        let public_key = private.public_key();
        let public_der = public_key
            .as_der()
            .map_err(|_| "the RSA public key cannot be encoded".to_string())?
            .as_ref()
            .to_vec();
        let public = OaepPublicEncryptingKey::new(public_key)
            .map_err(|_| "the RSA key cannot be used for OAEP".to_string())?;
        let private = OaepPrivateDecryptingKey::new(private)
            .map_err(|_| "the RSA key cannot be used for OAEP".to_string())?;
        Ok(Self::Rsa {
            private,
            public,
            public_der,
            pkcs8,
        })
    }

    /// The material of an asymmetric key of `spec` and `usage` from its
    /// private key, an unencrypted PKCS#8 v1 document (as
    /// [`private_key_pkcs8`] gives it, or `openssl genpkey ... | openssl
    /// pkcs8 -topk8 -nocrypt -outform DER`): an RSA `ENCRYPT_DECRYPT` key's
    /// OAEP pair, or a [`KeyPairMaterial`] for RSA `SIGN_VERIFY` and every
    /// ECC key. The error says what is wrong, in a phrase.
    ///
    /// [`private_key_pkcs8`]: Self::private_key_pkcs8
    pub(crate) fn from_pkcs8(spec: KeySpec, usage: KeyUsage, pkcs8: &[u8]) -> Result<Self, String> {
        if spec.is_symmetric() || spec.is_hmac() {
            return Err(format!("{} keys have no private key", spec.as_str()));
        }
        if !spec.allows_usage(usage) {
            return Err(format!(
                "{} is not a key usage of {}",
                usage.as_str(),
                spec.as_str()
            ));
        }
        if spec.is_rsa() && usage == KeyUsage::EncryptDecrypt {
            let private = PrivateDecryptingKey::from_pkcs8(pkcs8).map_err(|e| {
                format!("not an unencrypted PKCS#8 RSA private key of 2048 to 8192 bits ({e})")
            })?;
            let want = match spec {
                KeySpec::Rsa2048 => 2048,
                KeySpec::Rsa3072 => 3072,
                _ => 4096,
            };
            let bits = private.key_size_bits();
            if bits != want {
                return Err(format!(
                    "an RSA key of {bits} bits, not the {want} bits of {}",
                    spec.as_str()
                ));
            }
            return Self::rsa(private);
        }
        KeyPairMaterial::from_pkcs8(spec, Zeroizing::new(pkcs8.to_vec())).map(Self::KeyPair)
    }

    /// The material of an HMAC key of `spec` from its key bytes (28, 32, 48
    /// or 64 for `HMAC_224` to `HMAC_512`). The error says what is wrong, in
    /// a phrase.
    pub(crate) fn from_hmac_secret(spec: KeySpec, secret: &[u8]) -> Result<Self, String> {
        HmacMaterial::from_secret(spec, Zeroizing::new(secret.to_vec())).map(Self::Hmac)
    }

    /// The symmetric material of `key_id`: `materials`, oldest first (not
    /// empty).
    pub(crate) fn from_materials(materials: Vec<SymmetricMaterial>) -> Option<Self> {
        (!materials.is_empty()).then_some(Self::Symmetric(materials))
    }

    /// The private key of an asymmetric key, as an unencrypted PKCS#8 v1
    /// document.
    pub(crate) fn private_key_pkcs8(&self) -> Option<&[u8]> {
        match self {
            Self::Symmetric(_) | Self::Hmac(_) => None,
            Self::Rsa { pkcs8, .. } => Some(pkcs8),
            Self::KeyPair(pair) => Some(pair.pkcs8()),
        }
    }

    /// DER `SubjectPublicKeyInfo` for asymmetric keys.
    pub(crate) fn public_key_der(&self) -> Option<&[u8]> {
        match self {
            Self::Symmetric(_) | Self::Hmac(_) => None,
            Self::Rsa { public_der, .. } => Some(public_der),
            Self::KeyPair(pair) => Some(pair.public_der()),
        }
    }

    /// The key pair of a signing or key agreement key.
    pub(crate) fn key_pair(&self) -> Option<&KeyPairMaterial> {
        match self {
            Self::KeyPair(pair) => Some(pair),
            _ => None,
        }
    }

    /// The secret of an HMAC key.
    pub(crate) fn hmac(&self) -> Option<&HmacMaterial> {
        match self {
            Self::Hmac(h) => Some(h),
            _ => None,
        }
    }

    /// The materials of a symmetric key, oldest first (empty for others).
    pub(crate) fn materials(&self) -> &[SymmetricMaterial] {
        match self {
            Self::Symmetric(materials) => materials,
            _ => &[],
        }
    }

    /// The current material of a symmetric key.
    fn current(&self) -> Option<&SymmetricMaterial> {
        self.materials().last()
    }

    /// The id of the current key material of a symmetric key.
    pub(crate) fn material_id(&self) -> Option<String> {
        self.current().map(SymmetricMaterial::id_hex)
    }

    /// These materials followed by `newer` (the last becoming current), for a
    /// symmetric key; `None` for others.
    pub(crate) fn with_newer(&self, newer: Vec<SymmetricMaterial>) -> Option<Self> {
        match self {
            Self::Symmetric(materials) => {
                let mut all = Vec::with_capacity(materials.len() + newer.len());
                all.extend_from_slice(materials);
                all.extend(newer);
                Some(Self::Symmetric(all))
            }
            _ => None,
        }
    }

    /// Largest plaintext `alg` can encrypt under this key, if it is RSA.
    pub(crate) fn max_plaintext(&self, alg: EncryptionAlgorithm) -> Option<usize> {
        match self {
            Self::Rsa { public, .. } => Some(
                public
                    .key_size_bytes()
                    .saturating_sub(2 * alg.hash_len() + 2),
            ),
            _ => None,
        }
    }

    /// Encrypts under this key (a symmetric key's current material). `key_id`
    /// is the raw UUID written into symmetric blobs. The caller has checked
    /// usage and algorithm.
    pub(crate) fn encrypt(
        &self,
        key_id: &[u8; 16],
        alg: EncryptionAlgorithm,
        ctx: &BTreeMap<String, String>,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, LocalKmsError> {
        match self {
            Self::Symmetric(_) => {
                if alg != EncryptionAlgorithm::SymmetricDefault {
                    return Err(LocalKmsError::internal("algorithm/key mismatch"));
                }
                self.current()
                    .ok_or_else(|| LocalKmsError::internal("The key has no key material."))?
                    .seal(key_id, ctx, plaintext)
            }
            Self::Rsa { public, .. } => {
                let oaep = alg
                    .oaep()
                    .ok_or_else(|| LocalKmsError::internal("algorithm/key mismatch"))?;
                let max = self.max_plaintext(alg).unwrap_or(0);
                if plaintext.len() > max {
                    return Err(LocalKmsError::validation(format!(
                        "Plaintext is too long for {} with this key: at most {max} bytes.",
                        alg.as_str()
                    )));
                }
                let mut out = vec![0u8; public.ciphertext_size()];
                let n = public
                    .encrypt(oaep, plaintext, &mut out, None)
                    .map_err(|_| LocalKmsError::internal("RSA-OAEP encryption failed."))?
                    .len();
                out.truncate(n);
                Ok(out)
            }
            Self::KeyPair(_) | Self::Hmac(_) => Err(LocalKmsError::internal(
                "Only symmetric and RSA ENCRYPT_DECRYPT keys encrypt.",
            )),
        }
    }

    /// Decrypts a blob under this key; a symmetric blob with the material it
    /// names, whichever of the key's materials that is. Every failure is
    /// `InvalidCiphertextException`.
    pub(crate) fn decrypt(
        &self,
        key_id: &[u8; 16],
        alg: EncryptionAlgorithm,
        ctx: &BTreeMap<String, String>,
        blob: &[u8],
    ) -> Result<Decrypted, LocalKmsError> {
        match self {
            Self::Symmetric(materials) => {
                if alg != EncryptionAlgorithm::SymmetricDefault
                    || blob_key_id(blob) != Some(*key_id)
                {
                    return Err(LocalKmsError::invalid_ciphertext());
                }
                let wanted =
                    blob_material_id(blob).ok_or_else(LocalKmsError::invalid_ciphertext)?;
                // Newest first: recent blobs are the common case.
                let material = materials
                    .iter()
                    .rev()
                    .find(|m| m.id == wanted)
                    .ok_or_else(LocalKmsError::invalid_ciphertext)?;
                Ok(Decrypted {
                    plaintext: material.open(ctx, blob)?,
                    material_id: Some(material.id_hex()),
                })
            }
            Self::Rsa { private, .. } => {
                let oaep = alg.oaep().ok_or_else(LocalKmsError::invalid_ciphertext)?;
                if blob.len() != private.key_size_bytes() || !ctx.is_empty() {
                    return Err(LocalKmsError::invalid_ciphertext());
                }
                let mut out = vec![0u8; private.min_output_size()];
                let n = private
                    .decrypt(oaep, blob, &mut out, None)
                    .map_err(|_| LocalKmsError::invalid_ciphertext())?
                    .len();
                out.truncate(n);
                Ok(Decrypted {
                    plaintext: out,
                    material_id: None,
                })
            }
            Self::KeyPair(_) | Self::Hmac(_) => Err(LocalKmsError::invalid_ciphertext()),
        }
    }
}

fn symmetric_aad(header: &[u8], ctx: &BTreeMap<String, String>) -> Vec<u8> {
    let mut aad = header.to_vec();
    aad.extend_from_slice(&encode_context(ctx));
    aad
}

/// The header of a symmetric blob, if the blob is long enough and carries
/// the version 2 magic byte.
fn blob_header(blob: &[u8]) -> Option<&[u8]> {
    if blob.len() < SYMMETRIC_OVERHEAD || blob.first() != Some(&BLOB_MAGIC) {
        return None;
    }
    blob.get(..HEADER_LEN)
}

/// The key id named by a symmetric blob.
pub(crate) fn blob_key_id(blob: &[u8]) -> Option<[u8; 16]> {
    blob_header(blob)?.get(1..17)?.try_into().ok()
}

/// The key material id named by a symmetric blob.
pub(crate) fn blob_material_id(blob: &[u8]) -> Option<[u8; MATERIAL_ID_LEN]> {
    blob_header(blob)?.get(17..HEADER_LEN)?.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::OnceLock;

    fn ctx(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn rsa4096() -> &'static KeyMaterial {
        static K: OnceLock<KeyMaterial> = OnceLock::new();
        K.get_or_init(|| {
            KeyMaterial::generate(KeySpec::Rsa4096, KeyUsage::EncryptDecrypt, &[0; 16]).unwrap()
        })
    }

    #[test]
    fn uuid_format() {
        let (raw, s) = uuid_v4().unwrap();
        assert_eq!(s.len(), 36);
        assert_eq!(&s[14..15], "4");
        assert!(matches!(&s[19..20], "8" | "9" | "a" | "b"));
        assert_eq!(parse_uuid(&s), Some(raw));
        assert_eq!(parse_uuid(&s.to_uppercase()), Some(raw));
        assert_eq!(parse_uuid("not-a-uuid"), None);
        assert_eq!(parse_uuid("1234abcd-12ab-34cd-56ef-1234567890ag"), None);
        assert_eq!(parse_uuid("1234abcd012ab-34cd-56ef-1234567890ab"), None);
        assert_eq!(
            format_uuid(&parse_uuid("1234abcd-12ab-34cd-56ef-1234567890ab").unwrap()),
            "1234abcd-12ab-34cd-56ef-1234567890ab"
        );
        assert_ne!(uuid_v4().unwrap().1, s);
        // Other forms `uuid` reads are not key ids.
        for other in [
            "1234abcd12ab34cd56ef1234567890ab",
            "{1234abcd-12ab-34cd-56ef-1234567890ab}",
            "urn:uuid:1234abcd-12ab-34cd-56ef-1234567890ab",
            "1234abcd-12ab-34cd-56ef-1234567890a\u{e9}",
            "",
        ] {
            assert_eq!(parse_uuid(other), None, "{other}");
        }
        // The version and variant bits are set on any random bytes.
        let (raw, _) = uuid_v4().unwrap();
        assert_eq!(raw[6] >> 4, 4);
        assert_eq!(raw[8] >> 6, 0b10);
    }

    #[test]
    fn context_encoding_is_canonical() {
        let a = ctx(&[("b", "2"), ("a", "1")]);
        let b = ctx(&[("a", "1"), ("b", "2")]);
        assert_eq!(encode_context(&a), encode_context(&b));
        // Length prefixes keep ("ab","c") and ("a","bc") apart.
        assert_ne!(
            encode_context(&ctx(&[("ab", "c")])),
            encode_context(&ctx(&[("a", "bc")]))
        );
        assert_eq!(encode_context(&BTreeMap::new()), vec![0, 0, 0, 0]);
        assert_eq!(
            encode_context(&ctx(&[("k", "vv")])),
            vec![0, 0, 0, 1, 0, 0, 0, 1, b'k', 0, 0, 0, 2, b'v', b'v']
        );
    }

    const SYM: EncryptionAlgorithm = EncryptionAlgorithm::SymmetricDefault;

    fn symmetric(id: &[u8; 16]) -> KeyMaterial {
        KeyMaterial::generate(KeySpec::SymmetricDefault, KeyUsage::EncryptDecrypt, id).unwrap()
    }

    /// `m` rotated once, as `kind` at `date`.
    fn rotated(m: &KeyMaterial, id: &[u8; 16], kind: RotationType) -> KeyMaterial {
        let date = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(86_400);
        let newer =
            SymmetricMaterial::generate(id, MaterialOrigin::Rotated { date, kind }).unwrap();
        m.with_newer(vec![newer]).unwrap()
    }

    #[test]
    fn symmetric_round_trip_and_layout() {
        let id = uuid_v4().unwrap().0;
        let m = symmetric(&id);
        let material_id = m.material_id().unwrap();
        assert_eq!(material_id.len(), 64);
        assert!(
            material_id
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
        assert_eq!(m.materials().len(), 1);
        assert_eq!(m.materials()[0].origin, MaterialOrigin::Created);
        let c = ctx(&[("purpose", "test")]);
        for len in [1usize, 17, 4096] {
            let pt = random_vec(len).unwrap();
            let blob = m.encrypt(&id, SYM, &c, &pt).unwrap();
            assert_eq!(blob.len(), len + SYMMETRIC_OVERHEAD);
            assert_eq!(SYMMETRIC_OVERHEAD, 77);
            assert_eq!(blob[0], 0xA2);
            assert_eq!(&blob[1..17], &id);
            assert_eq!(hex::encode(&blob[17..49]), material_id);
            assert_eq!(blob_key_id(&blob), Some(id));
            assert_eq!(
                blob_material_id(&blob).map(hex::encode),
                Some(material_id.clone())
            );
            let back = m.decrypt(&id, SYM, &c, &blob).unwrap();
            assert_eq!(back.plaintext, pt);
            assert_eq!(back.material_id.as_deref(), Some(material_id.as_str()));
        }
        // Two encryptions of the same plaintext differ (random nonce).
        let a = m.encrypt(&id, SYM, &c, b"x").unwrap();
        let b = m.encrypt(&id, SYM, &c, b"x").unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn material_ids_are_deterministic_in_key_id_and_material() {
        let key_a = uuid_v4().unwrap().0;
        let key_b = uuid_v4().unwrap().0;
        let secret = [7u8; 32];
        let made = |key: &[u8; 16], secret: [u8; 32]| {
            SymmetricMaterial::from_secret(key, Zeroizing::new(secret), MaterialOrigin::Created)
        };
        let a = made(&key_a, secret);
        // Same key, same material: same id, whatever the origin.
        assert_eq!(a.id_hex(), made(&key_a, secret).id_hex());
        let date = SystemTime::UNIX_EPOCH;
        let kind = RotationType::OnDemand;
        let again = SymmetricMaterial::from_secret(
            &key_a,
            Zeroizing::new(secret),
            MaterialOrigin::Rotated { date, kind },
        );
        assert_eq!(a.id_hex(), again.id_hex());
        // Another key or another material: another id.
        assert_ne!(a.id_hex(), made(&key_b, secret).id_hex());
        let mut other = secret;
        other[31] ^= 1;
        assert_ne!(a.id_hex(), made(&key_a, other).id_hex());
        // The id is the documented HMAC, not the material or a plain hash of it.
        let mut mac = hmac::Context::with_key(&hmac::Key::new(hmac::HMAC_SHA256, &secret));
        mac.update(b"tower-kms local key material id");
        mac.update(&key_a);
        assert_eq!(a.id_hex(), hex::encode(mac.sign().as_ref()));
        assert_ne!(a.id_hex(), hex::encode(secret));
        // Debug shows the id, never the secret bytes.
        let debug = format!("{a:?}");
        assert!(debug.contains(&a.id_hex()), "{debug}");
        assert!(!debug.contains("7, 7"), "{debug}");
    }

    #[test]
    fn every_material_decrypts_its_own_blobs() {
        let id = uuid_v4().unwrap().0;
        let c = ctx(&[("k", "v")]);
        let mut m = symmetric(&id);
        let mut blobs = Vec::new();
        for round in 0..4u8 {
            let blob = m.encrypt(&id, SYM, &c, &[round]).unwrap();
            blobs.push((blob, m.material_id().unwrap()));
            let kind = if round % 2 == 0 {
                RotationType::OnDemand
            } else {
                RotationType::Automatic
            };
            let before = m.material_id();
            m = rotated(&m, &id, kind);
            assert_ne!(m.material_id(), before);
            assert_eq!(m.materials().len(), usize::from(round) + 2);
        }
        let ids: std::collections::BTreeSet<_> = blobs.iter().map(|(_, id)| id.clone()).collect();
        assert_eq!(ids.len(), 4);
        for (round, (blob, material_id)) in blobs.iter().enumerate() {
            let back = m.decrypt(&id, SYM, &c, blob).unwrap();
            assert_eq!(back.plaintext, [round as u8]);
            assert_eq!(back.material_id.as_ref(), Some(material_id));
        }
        // A blob naming a material id the key does not have.
        let mut unknown = blobs[0].0.clone();
        unknown[17..49].copy_from_slice(&[0xee; 32]);
        assert_eq!(
            m.decrypt(&id, SYM, &c, &unknown).unwrap_err().code,
            "InvalidCiphertextException"
        );
        // A blob naming another of the key's materials than the one that made
        // it: the AAD covers the material id, so the tag fails.
        let mut swapped = blobs[0].0.clone();
        swapped[17..49].copy_from_slice(&hex::decode(&blobs[1].1).unwrap());
        assert_eq!(
            m.decrypt(&id, SYM, &c, &swapped).unwrap_err().code,
            "InvalidCiphertextException"
        );
        // Asymmetric keys do not rotate.
        assert!(rsa4096().with_newer(Vec::new()).is_none());
        assert!(rsa4096().materials().is_empty());
        assert_eq!(rsa4096().material_id(), None);
    }

    #[test]
    fn version_1_blobs_are_invalid_ciphertext() {
        let id = uuid_v4().unwrap().0;
        let m = symmetric(&id);
        let c = BTreeMap::new();
        let blob = m.encrypt(&id, SYM, &c, b"hello").unwrap();
        // Version 1's layout: magic 0xA1, key id, nonce, body, tag.
        let mut v1 = vec![0xA1];
        v1.extend_from_slice(&id);
        v1.extend_from_slice(&blob[HEADER_LEN..]);
        assert_eq!(blob_key_id(&v1), None);
        assert_eq!(
            m.decrypt(&id, SYM, &c, &v1).unwrap_err().code,
            "InvalidCiphertextException"
        );
    }

    #[test]
    fn symmetric_tamper_every_region() {
        let id = uuid_v4().unwrap().0;
        let m = symmetric(&id);
        let c = ctx(&[("a", "b")]);
        let pt = b"attack at dawn, bring snacks";
        let blob = m.encrypt(&id, SYM, &c, pt).unwrap();
        let regions = [
            ("magic", 0usize),
            ("key id first", 1),
            ("key id last", 16),
            ("material id first", 17),
            ("material id last", 48),
            ("nonce first", 49),
            ("nonce last", 60),
            ("body first", 61),
            ("body last", 61 + pt.len() - 1),
            ("tag first", blob.len() - 16),
            ("tag last", blob.len() - 1),
        ];
        for (name, at) in regions {
            for bit in [0x01u8, 0x80] {
                let mut t = blob.clone();
                t[at] ^= bit;
                let err = m.decrypt(&id, SYM, &c, &t).unwrap_err();
                assert_eq!(err.code, "InvalidCiphertextException", "{name}");
            }
        }
        // Every single byte, one flip each.
        for at in 0..blob.len() {
            let mut t = blob.clone();
            t[at] ^= 0x20;
            assert!(m.decrypt(&id, SYM, &c, &t).is_err(), "byte {at}");
        }
        // Truncations and extensions.
        for len in 0..blob.len() {
            assert!(m.decrypt(&id, SYM, &c, &blob[..len]).is_err());
        }
        let mut longer = blob.clone();
        longer.push(0);
        assert!(m.decrypt(&id, SYM, &c, &longer).is_err());
        // A key id swapped to another key's id, decrypting under the right key.
        let other = uuid_v4().unwrap().0;
        let mut swapped = blob.clone();
        swapped[1..17].copy_from_slice(&other);
        assert!(m.decrypt(&other, SYM, &c, &swapped).is_err());
        // Still fine untouched.
        assert_eq!(m.decrypt(&id, SYM, &c, &blob).unwrap().plaintext, pt);
    }

    #[test]
    fn symmetric_wrong_context_or_key() {
        let id = uuid_v4().unwrap().0;
        let m = symmetric(&id);
        let m2 = symmetric(&id);
        let c = ctx(&[("a", "b")]);
        let blob = m.encrypt(&id, SYM, &c, b"hi").unwrap();
        for wrong in [
            BTreeMap::new(),
            ctx(&[("a", "c")]),
            ctx(&[("A", "b")]),
            ctx(&[("a", "b"), ("x", "y")]),
        ] {
            let e = m.decrypt(&id, SYM, &wrong, &blob).unwrap_err();
            assert_eq!(e.code, "InvalidCiphertextException");
        }
        assert!(m2.decrypt(&id, SYM, &c, &blob).is_err());
        assert!(
            m.decrypt(&id, EncryptionAlgorithm::RsaesOaepSha256, &c, &blob)
                .is_err()
        );
    }

    fn rsa_round_trips(m: &KeyMaterial, modulus: usize, max_sha1: usize, max_sha256: usize) {
        let id = [0u8; 16];
        let none = BTreeMap::new();
        for (alg, max) in [
            (EncryptionAlgorithm::RsaesOaepSha1, max_sha1),
            (EncryptionAlgorithm::RsaesOaepSha256, max_sha256),
        ] {
            assert_eq!(m.max_plaintext(alg), Some(max));
            for len in [1usize, max] {
                let pt = random_vec(len).unwrap();
                let ct = m.encrypt(&id, alg, &none, &pt).unwrap();
                assert_eq!(ct.len(), modulus);
                assert_eq!(m.decrypt(&id, alg, &none, &ct).unwrap().plaintext, pt);
                // The other OAEP hash does not decrypt it.
                let other = if alg == EncryptionAlgorithm::RsaesOaepSha1 {
                    EncryptionAlgorithm::RsaesOaepSha256
                } else {
                    EncryptionAlgorithm::RsaesOaepSha1
                };
                assert_eq!(
                    m.decrypt(&id, other, &none, &ct).unwrap_err().code,
                    "InvalidCiphertextException"
                );
                // A flipped byte fails.
                let mut t = ct.clone();
                t[modulus / 2] ^= 1;
                assert!(m.decrypt(&id, alg, &none, &t).is_err());
                // Wrong length fails without panicking.
                assert!(m.decrypt(&id, alg, &none, &ct[1..]).is_err());
                assert!(m.decrypt(&id, alg, &none, &[]).is_err());
            }
            let too_long = vec![7u8; max + 1];
            assert_eq!(
                m.encrypt(&id, alg, &none, &too_long).unwrap_err().code,
                "ValidationException"
            );
        }
        assert!(
            m.encrypt(&id, EncryptionAlgorithm::SymmetricDefault, &none, b"x")
                .is_err()
        );
    }

    /// Encrypts outside the KMS with only the DER public key.
    fn external_encrypt(der: &[u8], alg: &'static OaepAlgorithm, pt: &[u8]) -> Vec<u8> {
        let public = aws_lc_rs::rsa::PublicEncryptingKey::from_der(der).unwrap();
        let public = OaepPublicEncryptingKey::new(public).unwrap();
        let mut out = vec![0u8; public.ciphertext_size()];
        let n = public.encrypt(alg, pt, &mut out, None).unwrap().len();
        out.truncate(n);
        out
    }

    #[test]
    fn rsa_all_sizes() {
        let k2048 =
            KeyMaterial::generate(KeySpec::Rsa2048, KeyUsage::EncryptDecrypt, &[0; 16]).unwrap();
        rsa_round_trips(&k2048, 256, 214, 190);
        let k3072 =
            KeyMaterial::generate(KeySpec::Rsa3072, KeyUsage::EncryptDecrypt, &[0; 16]).unwrap();
        rsa_round_trips(&k3072, 384, 342, 318);
        rsa_round_trips(rsa4096(), 512, 470, 446);
    }

    #[test]
    fn rsa_external_ciphertext_decrypts() {
        let m =
            KeyMaterial::generate(KeySpec::Rsa2048, KeyUsage::EncryptDecrypt, &[0; 16]).unwrap();
        let der = m.public_key_der().unwrap().to_vec();
        let none = BTreeMap::new();
        let id = [0u8; 16];
        let ct = external_encrypt(&der, &OAEP_SHA256_MGF1SHA256, b"from outside");
        assert_eq!(
            m.decrypt(&id, EncryptionAlgorithm::RsaesOaepSha256, &none, &ct)
                .unwrap()
                .plaintext,
            b"from outside"
        );
        let ct = external_encrypt(&der, &OAEP_SHA1_MGF1SHA1, b"sha1 too");
        assert_eq!(
            m.decrypt(&id, EncryptionAlgorithm::RsaesOaepSha1, &none, &ct)
                .unwrap()
                .plaintext,
            b"sha1 too"
        );
        // A context is never accepted with RSA ciphertext.
        assert!(
            m.decrypt(
                &id,
                EncryptionAlgorithm::RsaesOaepSha1,
                &ctx(&[("a", "b")]),
                &ct
            )
            .is_err()
        );
    }

    #[test]
    fn private_keys_round_trip_through_pkcs8() {
        let none = BTreeMap::new();
        let id = [0u8; 16];
        let rsa = KeyMaterial::generate(KeySpec::Rsa2048, KeyUsage::EncryptDecrypt, &id).unwrap();
        let der = rsa.private_key_pkcs8().unwrap().to_vec();
        let back =
            KeyMaterial::from_pkcs8(KeySpec::Rsa2048, KeyUsage::EncryptDecrypt, &der).unwrap();
        assert_eq!(back.public_key_der(), rsa.public_key_der());
        assert_eq!(back.private_key_pkcs8(), Some(&der[..]));
        let alg = EncryptionAlgorithm::RsaesOaepSha256;
        let ct = rsa.encrypt(&id, alg, &none, b"kept").unwrap();
        assert_eq!(
            back.decrypt(&id, alg, &none, &ct).unwrap().plaintext,
            b"kept"
        );
        // The same private key as a signing key is a key pair.
        let signer = KeyMaterial::from_pkcs8(KeySpec::Rsa2048, KeyUsage::SignVerify, &der).unwrap();
        assert!(signer.key_pair().is_some());
        assert_eq!(signer.public_key_der(), rsa.public_key_der());
        // The size must be the spec's, for either usage.
        for usage in [KeyUsage::EncryptDecrypt, KeyUsage::SignVerify] {
            let e = KeyMaterial::from_pkcs8(KeySpec::Rsa3072, usage, &der)
                .err()
                .unwrap();
            assert_eq!(e, "an RSA key of 2048 bits, not the 3072 bits of RSA_3072");
        }

        let ecc = KeyMaterial::generate(KeySpec::EccNistP256, KeyUsage::SignVerify, &id).unwrap();
        let der = ecc.private_key_pkcs8().unwrap().to_vec();
        let back =
            KeyMaterial::from_pkcs8(KeySpec::EccNistP256, KeyUsage::SignVerify, &der).unwrap();
        assert_eq!(back.public_key_der(), ecc.public_key_der());
        // An ECC key is no RSA key and the other way round; garbage is neither.
        for usage in [KeyUsage::EncryptDecrypt, KeyUsage::SignVerify] {
            let e = KeyMaterial::from_pkcs8(KeySpec::Rsa2048, usage, &der)
                .err()
                .unwrap();
            assert!(
                e.starts_with("not an unencrypted PKCS#8 RSA private key"),
                "{e}"
            );
        }
        let rsa_der = rsa.private_key_pkcs8().unwrap();
        let e = KeyMaterial::from_pkcs8(KeySpec::EccNistP256, KeyUsage::SignVerify, rsa_der)
            .err()
            .unwrap();
        assert!(
            e.starts_with("not an unencrypted PKCS#8 ECC NIST P-256"),
            "{e}"
        );
        // A key of another curve is refused.
        let e = KeyMaterial::from_pkcs8(KeySpec::EccNistP384, KeyUsage::SignVerify, &der)
            .err()
            .unwrap();
        assert!(
            e.starts_with("not an unencrypted PKCS#8 ECC NIST P-384"),
            "{e}"
        );
        for garbage in [&b""[..], &b"\x30\x00"[..], &der[..der.len() / 2]] {
            for (spec, usage) in [
                (KeySpec::EccNistP256, KeyUsage::SignVerify),
                (KeySpec::EccNistP521, KeyUsage::KeyAgreement),
                (KeySpec::EccSecgP256k1, KeyUsage::SignVerify),
                (KeySpec::Rsa2048, KeyUsage::EncryptDecrypt),
                (KeySpec::Rsa4096, KeyUsage::SignVerify),
            ] {
                assert!(KeyMaterial::from_pkcs8(spec, usage, garbage).is_err());
            }
        }
        assert!(
            KeyMaterial::from_pkcs8(KeySpec::SymmetricDefault, KeyUsage::EncryptDecrypt, &der)
                .is_err()
        );
        assert!(
            KeyMaterial::from_pkcs8(KeySpec::Hmac256, KeyUsage::GenerateVerifyMac, &der).is_err()
        );
        // A usage the spec does not have.
        assert_eq!(
            KeyMaterial::from_pkcs8(KeySpec::EccNistP256, KeyUsage::EncryptDecrypt, &der)
                .err()
                .unwrap(),
            "ENCRYPT_DECRYPT is not a key usage of ECC_NIST_P256"
        );
        // Symmetric keys have no private key; materials rebuild them.
        let sym = symmetric(&id);
        assert_eq!(sym.private_key_pkcs8(), None);
        let again = KeyMaterial::from_materials(sym.materials().to_vec()).unwrap();
        assert_eq!(again.material_id(), sym.material_id());
        assert!(KeyMaterial::from_materials(Vec::new()).is_none());
        // Debug never shows the private key.
        assert!(!format!("{ecc:?}").contains("pkcs8"));
    }

    /// Every key pair spec and usage, and every HMAC spec, rebuilt from the
    /// bytes a state file keeps: the same public key, and what one made the
    /// other checks.
    #[test]
    fn every_asymmetric_and_hmac_material_round_trips() {
        use super::super::material::Message;
        let id = [7u8; 16];
        for (spec, usage) in [
            (KeySpec::Rsa2048, KeyUsage::SignVerify),
            (KeySpec::Rsa3072, KeyUsage::SignVerify),
            (KeySpec::Rsa4096, KeyUsage::SignVerify),
            (KeySpec::EccNistP256, KeyUsage::SignVerify),
            (KeySpec::EccNistP384, KeyUsage::SignVerify),
            (KeySpec::EccNistP521, KeyUsage::SignVerify),
            (KeySpec::EccSecgP256k1, KeyUsage::SignVerify),
            (KeySpec::EccNistP256, KeyUsage::KeyAgreement),
            (KeySpec::EccNistP384, KeyUsage::KeyAgreement),
            (KeySpec::EccNistP521, KeyUsage::KeyAgreement),
        ] {
            let m = if spec == KeySpec::Rsa4096 {
                // Reuse the 4096-bit key generated once for these tests.
                KeyMaterial::from_pkcs8(spec, usage, rsa4096().private_key_pkcs8().unwrap())
                    .unwrap()
            } else {
                KeyMaterial::generate(spec, usage, &id).unwrap()
            };
            let der = m.private_key_pkcs8().unwrap();
            let back = KeyMaterial::from_pkcs8(spec, usage, der).unwrap();
            assert_eq!(back.private_key_pkcs8(), Some(der), "{spec:?}");
            assert_eq!(back.public_key_der(), m.public_key_der(), "{spec:?}");
            let (pair, again) = (m.key_pair().unwrap(), back.key_pair().unwrap());
            assert_eq!(again.spec(), spec);
            if usage == KeyUsage::SignVerify {
                let alg = spec.signing_algorithms(usage)[0];
                let sig = pair.sign(alg, Message::Raw(b"kept")).unwrap();
                assert!(again.verify(alg, Message::Raw(b"kept"), &sig), "{spec:?}");
                assert!(!again.verify(alg, Message::Raw(b"kepT"), &sig), "{spec:?}");
            } else {
                let peer = KeyMaterial::generate(spec, usage, &id).unwrap();
                let peer_spki = peer.public_key_der().unwrap();
                assert_eq!(
                    *pair.agree(peer_spki).unwrap(),
                    *again.agree(peer_spki).unwrap(),
                    "{spec:?}"
                );
            }
        }
        for (spec, len) in [
            (KeySpec::Hmac224, 28),
            (KeySpec::Hmac256, 32),
            (KeySpec::Hmac384, 48),
            (KeySpec::Hmac512, 64),
        ] {
            let m = KeyMaterial::generate(spec, KeyUsage::GenerateVerifyMac, &id).unwrap();
            let h = m.hmac().unwrap();
            assert_eq!(h.spec(), spec);
            let back = KeyMaterial::from_hmac_secret(spec, h.secret()).unwrap();
            let mac = h.mac(b"kept").unwrap();
            assert!(back.hmac().unwrap().verify(b"kept", &mac), "{spec:?}");
            assert_eq!(back.private_key_pkcs8(), None);
            assert_eq!(
                KeyMaterial::from_hmac_secret(spec, &vec![1; len + 1])
                    .err()
                    .unwrap(),
                format!(
                    "{} bytes, not the {len} bytes of an {} key",
                    len + 1,
                    spec.as_str()
                )
            );
        }
        assert!(KeyMaterial::from_hmac_secret(KeySpec::SymmetricDefault, &[0; 32]).is_err());
    }

    #[test]
    fn key_pairs_and_hmac_keys_do_not_encrypt() {
        let m =
            KeyMaterial::generate(KeySpec::EccNistP256, KeyUsage::SignVerify, &[0; 16]).unwrap();
        let der = m.public_key_der().unwrap();
        // SubjectPublicKeyInfo for P-256 uncompressed points is 91 bytes.
        assert_eq!(der.len(), 91);
        assert_eq!(der[0], 0x30);
        let none = BTreeMap::new();
        assert!(
            m.encrypt(&[0; 16], EncryptionAlgorithm::RsaesOaepSha256, &none, b"x")
                .is_err()
        );
        assert!(
            m.decrypt(&[0; 16], EncryptionAlgorithm::RsaesOaepSha256, &none, b"x")
                .is_err()
        );
        assert!(format!("{m:?}").contains("KeyPair"));
        assert!(m.key_pair().is_some() && m.hmac().is_none());
        // RSA signing keys are key pairs too; RSA encryption keys are not.
        let rsa = KeyMaterial::generate(KeySpec::Rsa2048, KeyUsage::SignVerify, &[0; 16]).unwrap();
        assert_eq!(rsa.key_pair().map(|p| p.spec()), Some(KeySpec::Rsa2048));
        assert_eq!(rsa.public_key_der(), rsa.key_pair().map(|p| p.public_der()));
        let h =
            KeyMaterial::generate(KeySpec::Hmac384, KeyUsage::GenerateVerifyMac, &[0; 16]).unwrap();
        assert_eq!(h.hmac().map(|h| h.secret().len()), Some(48));
        assert_eq!(h.public_key_der(), None);
        assert!(format!("{h:?}").contains("Hmac"));
        for m in [&rsa, &h] {
            assert!(
                m.encrypt(&[0; 16], EncryptionAlgorithm::RsaesOaepSha256, &none, b"x")
                    .is_err()
            );
            assert_eq!(
                m.decrypt(&[0; 16], EncryptionAlgorithm::SymmetricDefault, &none, b"x")
                    .unwrap_err()
                    .code,
                "InvalidCiphertextException"
            );
        }
    }

    #[test]
    fn spec_parsing() {
        assert_eq!(KeySpec::parse("RSA_2048").unwrap(), KeySpec::Rsa2048);
        assert_eq!(KeySpec::parse("HMAC_256").unwrap(), KeySpec::Hmac256);
        for (spec, name) in KEY_SPECS {
            assert_eq!(KeySpec::parse(name).unwrap(), *spec);
            assert_eq!(spec.as_str(), *name);
        }
        for name in UNMODELLED_KEY_SPECS {
            assert_eq!(
                KeySpec::parse(name).unwrap_err().code,
                "UnsupportedOperationException"
            );
        }
        assert!(KeySpec::EccNistP384.allows_usage(KeyUsage::KeyAgreement));
        assert!(!KeySpec::EccSecgP256k1.allows_usage(KeyUsage::KeyAgreement));
        assert!(!KeySpec::Rsa2048.allows_usage(KeyUsage::KeyAgreement));
        assert!(KeySpec::Hmac224.allows_usage(KeyUsage::GenerateVerifyMac));
        assert!(!KeySpec::Hmac224.allows_usage(KeyUsage::EncryptDecrypt));
        assert_eq!(
            KeyUsage::parse("ENCAPSULATE_DECAPSULATE").unwrap_err().code,
            "UnsupportedOperationException"
        );
        assert_eq!(KeySpec::Hmac512.class(), KeyClass::Hmac);
        assert_eq!(KeySpec::EccNistP521.class(), KeyClass::Asymmetric);
        assert_eq!(
            KeySpec::parse("AES").unwrap_err().code,
            "ValidationException"
        );
        assert!(KeySpec::EccNistP256.allows_usage(KeyUsage::SignVerify));
        assert!(!KeySpec::EccNistP256.allows_usage(KeyUsage::EncryptDecrypt));
        assert!(!KeySpec::SymmetricDefault.allows_usage(KeyUsage::SignVerify));
        assert_eq!(
            EncryptionAlgorithm::parse("RSAES_OAEP_SHA_256", "x").unwrap(),
            EncryptionAlgorithm::RsaesOaepSha256
        );
        assert_eq!(
            EncryptionAlgorithm::parse("RSA", "x").unwrap_err().code,
            "ValidationException"
        );
    }
}
