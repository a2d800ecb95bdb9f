//! Key material, ciphertext blob format and the cryptography behind it.
//!
//! All primitives come from `aws-lc-rs`.
//!
//! # Symmetric ciphertext blob (version 1)
//!
//! ```text
//! offset  len  field
//! 0       1    magic/version byte 0xA1
//! 1       16   key id (raw UUID bytes of the KMS key)
//! 17      12   random AES-GCM nonce
//! 29      n    AES-256-GCM ciphertext (n = plaintext length)
//! 29+n    16   AES-GCM tag
//! ```
//!
//! The AAD is the 17 header bytes followed by the canonical encoding of the
//! encryption context ([`encode_context`]), so any change to the header, the
//! body, the tag or the context makes decryption fail.
//!
//! # Asymmetric ciphertext
//!
//! The raw RSAES-OAEP output (modulus length), exactly as KMS returns it, so
//! ciphertext made elsewhere with the public key decrypts here.

use std::collections::BTreeMap;
use std::fmt;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{
    KeySize, OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OaepAlgorithm, OaepPrivateDecryptingKey,
    OaepPublicEncryptingKey, PrivateDecryptingKey,
};
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};

use super::error::LocalKmsError;

/// First byte of every symmetric blob: magic and format version 1.
pub(crate) const BLOB_MAGIC: u8 = 0xA1;
/// Magic byte plus the 16-byte key id.
pub(crate) const HEADER_LEN: usize = 1 + 16;
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
}

/// `KeySpec` values KMS defines but this local KMS does not create.
const UNMODELLED_KEY_SPECS: &[&str] = &[
    "ECC_NIST_P384",
    "ECC_NIST_P521",
    "ECC_SECG_P256K1",
    "HMAC_224",
    "HMAC_256",
    "HMAC_384",
    "HMAC_512",
    "SM2",
    "ML_DSA_44",
    "ML_DSA_65",
    "ML_DSA_87",
    "ECC_NIST_EDWARDS25519",
];

impl KeySpec {
    pub(crate) fn parse(s: &str) -> Result<Self, LocalKmsError> {
        Ok(match s {
            "SYMMETRIC_DEFAULT" => Self::SymmetricDefault,
            "RSA_2048" => Self::Rsa2048,
            "RSA_3072" => Self::Rsa3072,
            "RSA_4096" => Self::Rsa4096,
            "ECC_NIST_P256" => Self::EccNistP256,
            other if UNMODELLED_KEY_SPECS.contains(&other) => {
                return Err(LocalKmsError::new(
                    "UnsupportedOperationException",
                    format!("KeySpec {other} is not supported by the local KMS."),
                ));
            }
            other => {
                return Err(LocalKmsError::validation(format!(
                    "1 validation error detected: Value '{other}' at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set: [RSA_2048, RSA_3072, RSA_4096, ECC_NIST_P256, ECC_NIST_P384, ECC_NIST_P521, ECC_SECG_P256K1, SYMMETRIC_DEFAULT, HMAC_224, HMAC_256, HMAC_384, HMAC_512, SM2, ML_DSA_44, ML_DSA_65, ML_DSA_87, ECC_NIST_EDWARDS25519]"
                )));
            }
        })
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::SymmetricDefault => "SYMMETRIC_DEFAULT",
            Self::Rsa2048 => "RSA_2048",
            Self::Rsa3072 => "RSA_3072",
            Self::Rsa4096 => "RSA_4096",
            Self::EccNistP256 => "ECC_NIST_P256",
        }
    }

    pub(crate) fn is_symmetric(self) -> bool {
        self == Self::SymmetricDefault
    }

    /// Usages KMS allows for this spec.
    pub(crate) fn allows_usage(self, usage: KeyUsage) -> bool {
        match self {
            Self::SymmetricDefault => usage == KeyUsage::EncryptDecrypt,
            Self::Rsa2048 | Self::Rsa3072 | Self::Rsa4096 => true,
            Self::EccNistP256 => usage == KeyUsage::SignVerify,
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

    /// `SigningAlgorithms` for a key of this spec and usage.
    pub(crate) fn signing_algorithms(self, usage: KeyUsage) -> &'static [&'static str] {
        match (self, usage) {
            (Self::Rsa2048 | Self::Rsa3072 | Self::Rsa4096, KeyUsage::SignVerify) => &[
                "RSASSA_PKCS1_V1_5_SHA_256",
                "RSASSA_PKCS1_V1_5_SHA_384",
                "RSASSA_PKCS1_V1_5_SHA_512",
                "RSASSA_PSS_SHA_256",
                "RSASSA_PSS_SHA_384",
                "RSASSA_PSS_SHA_512",
            ],
            (Self::EccNistP256, KeyUsage::SignVerify) => &["ECDSA_SHA_256"],
            _ => &[],
        }
    }
}

/// `KeyUsage`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyUsage {
    EncryptDecrypt,
    SignVerify,
}

impl KeyUsage {
    pub(crate) fn parse(s: &str) -> Result<Self, LocalKmsError> {
        match s {
            "ENCRYPT_DECRYPT" => Ok(Self::EncryptDecrypt),
            "SIGN_VERIFY" => Ok(Self::SignVerify),
            "GENERATE_VERIFY_MAC" | "KEY_AGREEMENT" => Err(LocalKmsError::new(
                "UnsupportedOperationException",
                format!("KeyUsage {s} is not supported by the local KMS."),
            )),
            other => Err(LocalKmsError::validation(format!(
                "1 validation error detected: Value '{other}' at 'keyUsage' failed to satisfy constraint: Member must satisfy enum value set: [ENCRYPT_DECRYPT, SIGN_VERIFY, GENERATE_VERIFY_MAC, KEY_AGREEMENT]"
            ))),
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::EncryptDecrypt => "ENCRYPT_DECRYPT",
            Self::SignVerify => "SIGN_VERIFY",
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

/// Secret key material of one KMS key.
pub(crate) enum KeyMaterial {
    /// AES-256-GCM key plus its 64-hex-digit key material id.
    Symmetric {
        key: LessSafeKey,
        material_id: String,
    },
    /// RSA key pair (used for OAEP; SIGN_VERIFY keys only expose the public key).
    Rsa {
        private: OaepPrivateDecryptingKey,
        public: OaepPublicEncryptingKey,
        public_der: Vec<u8>,
    },
    /// ECC NIST P-256 key pair.
    Ecc {
        _pair: EcdsaKeyPair,
        public_der: Vec<u8>,
    },
}

impl fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self {
            Self::Symmetric { .. } => "Symmetric",
            Self::Rsa { .. } => "Rsa",
            Self::Ecc { .. } => "Ecc",
        };
        f.debug_struct("KeyMaterial")
            .field("kind", &kind)
            .finish_non_exhaustive()
    }
}

fn internal(what: &str) -> LocalKmsError {
    LocalKmsError::internal(format!("Key generation failed: {what}."))
}

impl KeyMaterial {
    /// Generates fresh key material. RSA-4096 takes a noticeable moment.
    pub(crate) fn generate(spec: KeySpec) -> Result<Self, LocalKmsError> {
        match spec {
            KeySpec::SymmetricDefault => {
                let raw: [u8; 32] = random_array()?;
                let key = LessSafeKey::new(
                    UnboundKey::new(&AES_256_GCM, &raw).map_err(|_| internal("AES key"))?,
                );
                let material_id = hex::encode(random_array::<32>()?);
                Ok(Self::Symmetric { key, material_id })
            }
            KeySpec::Rsa2048 | KeySpec::Rsa3072 | KeySpec::Rsa4096 => {
                let size = match spec {
                    KeySpec::Rsa2048 => KeySize::Rsa2048,
                    KeySpec::Rsa3072 => KeySize::Rsa3072,
                    _ => KeySize::Rsa4096,
                };
                let private = PrivateDecryptingKey::generate(size).map_err(|_| internal("RSA"))?;
                let public_key = private.public_key();
                let public_der = public_key
                    .as_der()
                    .map_err(|_| internal("RSA public key encoding"))?
                    .as_ref()
                    .to_vec();
                let public =
                    OaepPublicEncryptingKey::new(public_key).map_err(|_| internal("RSA OAEP"))?;
                let private =
                    OaepPrivateDecryptingKey::new(private).map_err(|_| internal("RSA OAEP"))?;
                Ok(Self::Rsa {
                    private,
                    public,
                    public_der,
                })
            }
            KeySpec::EccNistP256 => {
                let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING)
                    .map_err(|_| internal("ECC"))?;
                let public_der = pair
                    .public_key()
                    .as_der()
                    .map_err(|_| internal("ECC public key encoding"))?
                    .as_ref()
                    .to_vec();
                Ok(Self::Ecc {
                    _pair: pair,
                    public_der,
                })
            }
        }
    }

    /// DER `SubjectPublicKeyInfo` for asymmetric keys.
    pub(crate) fn public_key_der(&self) -> Option<&[u8]> {
        match self {
            Self::Symmetric { .. } => None,
            Self::Rsa { public_der, .. } | Self::Ecc { public_der, .. } => Some(public_der),
        }
    }

    /// The key material id of a symmetric key.
    pub(crate) fn material_id(&self) -> Option<&str> {
        match self {
            Self::Symmetric { material_id, .. } => Some(material_id),
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

    /// Encrypts under this key. `key_id` is the raw UUID written into
    /// symmetric blobs. The caller has checked usage and algorithm.
    pub(crate) fn encrypt(
        &self,
        key_id: &[u8; 16],
        alg: EncryptionAlgorithm,
        ctx: &BTreeMap<String, String>,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, LocalKmsError> {
        match self {
            Self::Symmetric { key, .. } => {
                if alg != EncryptionAlgorithm::SymmetricDefault {
                    return Err(LocalKmsError::internal("algorithm/key mismatch"));
                }
                let nonce_bytes: [u8; NONCE_LEN] = random_array()?;
                let mut blob = Vec::with_capacity(SYMMETRIC_OVERHEAD + plaintext.len());
                blob.push(BLOB_MAGIC);
                blob.extend_from_slice(key_id);
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
            Self::Ecc { .. } => Err(LocalKmsError::internal("ECC keys cannot encrypt")),
        }
    }

    /// Decrypts a blob under this key. Every failure is
    /// `InvalidCiphertextException`.
    pub(crate) fn decrypt(
        &self,
        key_id: &[u8; 16],
        alg: EncryptionAlgorithm,
        ctx: &BTreeMap<String, String>,
        blob: &[u8],
    ) -> Result<Vec<u8>, LocalKmsError> {
        match self {
            Self::Symmetric { key, .. } => {
                if alg != EncryptionAlgorithm::SymmetricDefault
                    || blob_key_id(blob) != Some(*key_id)
                {
                    return Err(LocalKmsError::invalid_ciphertext());
                }
                let (header, rest) = blob.split_at(HEADER_LEN);
                let (nonce, rest) = rest.split_at(NONCE_LEN);
                let (body, tag) = rest.split_at(rest.len() - TAG_LEN);
                let nonce = Nonce::try_assume_unique_for_key(nonce)
                    .map_err(|_| LocalKmsError::invalid_ciphertext())?;
                let mut buf = body.to_vec();
                key.open_in_place_separate_tag(
                    nonce,
                    Aad::from(symmetric_aad(header, ctx)),
                    tag,
                    &mut buf,
                )
                .map_err(|_| LocalKmsError::invalid_ciphertext())?;
                Ok(buf)
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
                Ok(out)
            }
            Self::Ecc { .. } => Err(LocalKmsError::invalid_ciphertext()),
        }
    }
}

fn symmetric_aad(header: &[u8], ctx: &BTreeMap<String, String>) -> Vec<u8> {
    let mut aad = header.to_vec();
    aad.extend_from_slice(&encode_context(ctx));
    aad
}

/// The key id named by a symmetric blob, if the blob is long enough and
/// carries the right magic byte.
pub(crate) fn blob_key_id(blob: &[u8]) -> Option<[u8; 16]> {
    if blob.len() < SYMMETRIC_OVERHEAD || blob[0] != BLOB_MAGIC {
        return None;
    }
    blob[1..HEADER_LEN].try_into().ok()
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
        K.get_or_init(|| KeyMaterial::generate(KeySpec::Rsa4096).unwrap())
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

    #[test]
    fn symmetric_round_trip_and_layout() {
        let m = KeyMaterial::generate(KeySpec::SymmetricDefault).unwrap();
        assert_eq!(m.material_id().unwrap().len(), 64);
        let id = uuid_v4().unwrap().0;
        let c = ctx(&[("purpose", "test")]);
        for len in [1usize, 17, 4096] {
            let pt = random_vec(len).unwrap();
            let blob = m
                .encrypt(&id, EncryptionAlgorithm::SymmetricDefault, &c, &pt)
                .unwrap();
            assert_eq!(blob.len(), len + SYMMETRIC_OVERHEAD);
            assert_eq!(blob[0], BLOB_MAGIC);
            assert_eq!(blob_key_id(&blob), Some(id));
            let back = m
                .decrypt(&id, EncryptionAlgorithm::SymmetricDefault, &c, &blob)
                .unwrap();
            assert_eq!(back, pt);
        }
        // Two encryptions of the same plaintext differ (random nonce).
        let a = m
            .encrypt(&id, EncryptionAlgorithm::SymmetricDefault, &c, b"x")
            .unwrap();
        let b = m
            .encrypt(&id, EncryptionAlgorithm::SymmetricDefault, &c, b"x")
            .unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn symmetric_tamper_every_region() {
        let m = KeyMaterial::generate(KeySpec::SymmetricDefault).unwrap();
        let id = uuid_v4().unwrap().0;
        let c = ctx(&[("a", "b")]);
        let pt = b"attack at dawn, bring snacks";
        let blob = m
            .encrypt(&id, EncryptionAlgorithm::SymmetricDefault, &c, pt)
            .unwrap();
        let regions = [
            ("magic", 0usize),
            ("key id first", 1),
            ("key id last", 16),
            ("nonce first", 17),
            ("nonce last", 28),
            ("body first", 29),
            ("body last", 29 + pt.len() - 1),
            ("tag first", blob.len() - 16),
            ("tag last", blob.len() - 1),
        ];
        for (name, at) in regions {
            for bit in [0x01u8, 0x80] {
                let mut t = blob.clone();
                t[at] ^= bit;
                let err = m
                    .decrypt(&id, EncryptionAlgorithm::SymmetricDefault, &c, &t)
                    .unwrap_err();
                assert_eq!(err.code, "InvalidCiphertextException", "{name}");
            }
        }
        // Every single byte, one flip each.
        for at in 0..blob.len() {
            let mut t = blob.clone();
            t[at] ^= 0x20;
            assert!(
                m.decrypt(&id, EncryptionAlgorithm::SymmetricDefault, &c, &t)
                    .is_err(),
                "byte {at}"
            );
        }
        // Truncations and extensions.
        for len in 0..blob.len() {
            assert!(
                m.decrypt(&id, EncryptionAlgorithm::SymmetricDefault, &c, &blob[..len])
                    .is_err()
            );
        }
        let mut longer = blob.clone();
        longer.push(0);
        assert!(
            m.decrypt(&id, EncryptionAlgorithm::SymmetricDefault, &c, &longer)
                .is_err()
        );
        // A key id swapped to another key's id, decrypting under the right key.
        let other = uuid_v4().unwrap().0;
        let mut swapped = blob.clone();
        swapped[1..17].copy_from_slice(&other);
        assert!(
            m.decrypt(&other, EncryptionAlgorithm::SymmetricDefault, &c, &swapped)
                .is_err()
        );
        // Still fine untouched.
        assert_eq!(
            m.decrypt(&id, EncryptionAlgorithm::SymmetricDefault, &c, &blob)
                .unwrap(),
            pt
        );
    }

    #[test]
    fn symmetric_wrong_context_or_key() {
        let m = KeyMaterial::generate(KeySpec::SymmetricDefault).unwrap();
        let m2 = KeyMaterial::generate(KeySpec::SymmetricDefault).unwrap();
        let id = uuid_v4().unwrap().0;
        let c = ctx(&[("a", "b")]);
        let blob = m
            .encrypt(&id, EncryptionAlgorithm::SymmetricDefault, &c, b"hi")
            .unwrap();
        let alg = EncryptionAlgorithm::SymmetricDefault;
        for wrong in [
            BTreeMap::new(),
            ctx(&[("a", "c")]),
            ctx(&[("A", "b")]),
            ctx(&[("a", "b"), ("x", "y")]),
        ] {
            let e = m.decrypt(&id, alg, &wrong, &blob).unwrap_err();
            assert_eq!(e.code, "InvalidCiphertextException");
        }
        assert!(m2.decrypt(&id, alg, &c, &blob).is_err());
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
                assert_eq!(m.decrypt(&id, alg, &none, &ct).unwrap(), pt);
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
        let k2048 = KeyMaterial::generate(KeySpec::Rsa2048).unwrap();
        rsa_round_trips(&k2048, 256, 214, 190);
        let k3072 = KeyMaterial::generate(KeySpec::Rsa3072).unwrap();
        rsa_round_trips(&k3072, 384, 342, 318);
        rsa_round_trips(rsa4096(), 512, 470, 446);
    }

    #[test]
    fn rsa_external_ciphertext_decrypts() {
        let m = KeyMaterial::generate(KeySpec::Rsa2048).unwrap();
        let der = m.public_key_der().unwrap().to_vec();
        let none = BTreeMap::new();
        let id = [0u8; 16];
        let ct = external_encrypt(&der, &OAEP_SHA256_MGF1SHA256, b"from outside");
        assert_eq!(
            m.decrypt(&id, EncryptionAlgorithm::RsaesOaepSha256, &none, &ct)
                .unwrap(),
            b"from outside"
        );
        let ct = external_encrypt(&der, &OAEP_SHA1_MGF1SHA1, b"sha1 too");
        assert_eq!(
            m.decrypt(&id, EncryptionAlgorithm::RsaesOaepSha1, &none, &ct)
                .unwrap(),
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
    fn ecc_has_public_key_only() {
        let m = KeyMaterial::generate(KeySpec::EccNistP256).unwrap();
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
        assert!(format!("{m:?}").contains("Ecc"));
    }

    #[test]
    fn spec_parsing() {
        assert_eq!(KeySpec::parse("RSA_2048").unwrap(), KeySpec::Rsa2048);
        assert_eq!(
            KeySpec::parse("HMAC_256").unwrap_err().code,
            "UnsupportedOperationException"
        );
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
