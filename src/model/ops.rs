//! `Encrypt`, `Decrypt` and `CreateKey`: the operations the local KMS demo and
//! tests need, on the same [`KmsOperation`] trait as `ReEncrypt`.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use zeroize::Zeroize;

use super::reencrypt::{MAX_CIPHERTEXT_LEN, MAX_GRANT_TOKEN_LEN, MAX_GRANT_TOKENS, MAX_KEY_ID_LEN};
use super::{EncryptionAlgorithmSpec, EncryptionContext, KeySpec, KeyState, KeyUsageType};
use crate::error::ValidationError;
use crate::operation::KmsOperation;
use crate::operation::ResponseMetadata;

/// Extensions carried with an operation (e.g. the retry layer's [`Attempt`](crate::Attempt));
/// ignored by `PartialEq` and never serialized.
#[derive(Clone, Default)]
pub(crate) struct OpExtensions(http::Extensions);

impl PartialEq for OpExtensions {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for OpExtensions {}

impl fmt::Debug for OpExtensions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Extensions")
    }
}

/// Secret bytes (a plaintext): zeroized on drop, never shown by `Debug`.
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

impl Serialize for Plaintext {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        super::blob::ser_secret(&self.0, s)
    }
}

impl<'de> Deserialize<'de> for Plaintext {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        super::blob::de_secret(d).map(Plaintext)
    }
}

fn check_common(
    op: &'static str,
    key_id: Option<&str>,
    grant_tokens: &[String],
) -> Result<(), ValidationError> {
    if let Some(id) = key_id {
        let n = id.chars().count();
        if n == 0 || n > MAX_KEY_ID_LEN {
            return Err(ValidationError::new(
                op,
                "KeyId",
                format!("must be 1 to {MAX_KEY_ID_LEN} characters long (got {n})"),
            ));
        }
    }
    if grant_tokens.len() > MAX_GRANT_TOKENS {
        return Err(ValidationError::new(
            op,
            "GrantTokens",
            format!(
                "may hold at most {MAX_GRANT_TOKENS} tokens (got {})",
                grant_tokens.len()
            ),
        ));
    }
    if let Some((i, t)) = grant_tokens
        .iter()
        .enumerate()
        .find(|(_, t)| t.is_empty() || t.chars().count() > MAX_GRANT_TOKEN_LEN)
    {
        return Err(ValidationError::new(
            op,
            "GrantTokens",
            format!(
                "token {i} must be 1 to {MAX_GRANT_TOKEN_LEN} characters long (got {})",
                t.chars().count()
            ),
        ));
    }
    Ok(())
}

/// The input of `Encrypt`: encrypt up to 4096 bytes under a KMS key.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EncryptRequest {
    /// `KeyId`: key id, key ARN, alias name or alias ARN.
    pub key_id: String,
    /// `Plaintext`: 1 to 4096 bytes.
    pub plaintext: Plaintext,
    /// `EncryptionContext` (symmetric keys only).
    pub encryption_context: Option<EncryptionContext>,
    /// `GrantTokens`.
    pub grant_tokens: Vec<String>,
    /// `EncryptionAlgorithm`.
    pub encryption_algorithm: Option<EncryptionAlgorithmSpec>,
    /// `DryRun`.
    pub dry_run: Option<bool>,
    pub(crate) extensions: OpExtensions,
}

impl EncryptRequest {
    /// Encrypts `plaintext` under `key_id`.
    pub fn new(key_id: impl Into<String>, plaintext: impl Into<Vec<u8>>) -> Self {
        Self {
            key_id: key_id.into(),
            plaintext: Plaintext::new(plaintext),
            encryption_context: None,
            grant_tokens: Vec::new(),
            encryption_algorithm: None,
            dry_run: None,
            extensions: OpExtensions::default(),
        }
    }
    /// Adds a pair to the encryption context.
    pub fn encryption_context(mut self, k: impl Into<String>, v: impl Into<String>) -> Self {
        self.encryption_context
            .get_or_insert_with(Default::default)
            .insert(k.into(), v.into());
        self
    }
    /// Sets the algorithm.
    pub fn encryption_algorithm(mut self, alg: EncryptionAlgorithmSpec) -> Self {
        self.encryption_algorithm = Some(alg);
        self
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct EncryptWire<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    dry_run: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    encryption_algorithm: Option<&'a EncryptionAlgorithmSpec>,
    #[serde(skip_serializing_if = "Option::is_none")]
    encryption_context: Option<&'a EncryptionContext>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    grant_tokens: &'a [String],
    key_id: &'a str,
    plaintext: &'a Plaintext,
}

/// The output of `Encrypt`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct EncryptResponse {
    /// `CiphertextBlob`.
    #[serde(default, deserialize_with = "super::blob::de")]
    pub ciphertext_blob: Option<Bytes>,
    /// `KeyId`: the key ARN.
    #[serde(default)]
    pub key_id: Option<String>,
    /// `EncryptionAlgorithm`.
    #[serde(default)]
    pub encryption_algorithm: Option<EncryptionAlgorithmSpec>,
    /// Response metadata.
    #[serde(skip)]
    pub metadata: ResponseMetadata,
}

impl KmsOperation for EncryptRequest {
    const NAME: &'static str = "Encrypt";
    const TARGET: &'static str = "TrentService.Encrypt";
    type Output = EncryptResponse;

    fn validate(&self) -> Result<(), ValidationError> {
        if self.key_id.is_empty() {
            return Err(ValidationError::new(
                Self::NAME,
                "KeyId",
                "must not be empty",
            ));
        }
        check_common(Self::NAME, Some(&self.key_id), &self.grant_tokens)?;
        let n = self.plaintext.len();
        if n == 0 || n > 4096 {
            return Err(ValidationError::new(
                Self::NAME,
                "Plaintext",
                format!("must be 1 to 4096 bytes long (got {n})"),
            ));
        }
        Ok(())
    }

    fn to_json(&self) -> Result<Vec<u8>, serde_json::Error> {
        serde_json::to_vec(&EncryptWire {
            dry_run: self.dry_run,
            encryption_algorithm: self.encryption_algorithm.as_ref(),
            encryption_context: self.encryption_context.as_ref(),
            grant_tokens: &self.grant_tokens,
            key_id: &self.key_id,
            plaintext: &self.plaintext,
        })
    }

    fn grant_tokens_mut(&mut self) -> Option<&mut Vec<String>> {
        Some(&mut self.grant_tokens)
    }

    fn extensions(&self) -> Option<&http::Extensions> {
        Some(&self.extensions.0)
    }

    fn extensions_mut(&mut self) -> Option<&mut http::Extensions> {
        Some(&mut self.extensions.0)
    }
}

/// The input of `Decrypt`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DecryptRequest {
    /// `CiphertextBlob`: 1 to 6144 bytes.
    pub ciphertext_blob: Bytes,
    /// `EncryptionContext`.
    pub encryption_context: Option<EncryptionContext>,
    /// `GrantTokens`.
    pub grant_tokens: Vec<String>,
    /// `KeyId` (required for asymmetric keys).
    pub key_id: Option<String>,
    /// `EncryptionAlgorithm`.
    pub encryption_algorithm: Option<EncryptionAlgorithmSpec>,
    /// `DryRun`.
    pub dry_run: Option<bool>,
    pub(crate) extensions: OpExtensions,
}

impl DecryptRequest {
    /// Decrypts `ciphertext`.
    pub fn new(ciphertext: impl Into<Bytes>) -> Self {
        Self {
            ciphertext_blob: ciphertext.into(),
            encryption_context: None,
            grant_tokens: Vec::new(),
            key_id: None,
            encryption_algorithm: None,
            dry_run: None,
            extensions: OpExtensions::default(),
        }
    }
    /// Adds a pair to the encryption context.
    pub fn encryption_context(mut self, k: impl Into<String>, v: impl Into<String>) -> Self {
        self.encryption_context
            .get_or_insert_with(Default::default)
            .insert(k.into(), v.into());
        self
    }
    /// Sets the key id.
    pub fn key_id(mut self, id: impl Into<String>) -> Self {
        self.key_id = Some(id.into());
        self
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DecryptWire<'a> {
    #[serde(serialize_with = "super::blob::ser")]
    ciphertext_blob: Option<&'a Bytes>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dry_run: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    encryption_algorithm: Option<&'a EncryptionAlgorithmSpec>,
    #[serde(skip_serializing_if = "Option::is_none")]
    encryption_context: Option<&'a EncryptionContext>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    grant_tokens: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    key_id: Option<&'a str>,
}

/// The output of `Decrypt`. The plaintext is zeroized on drop and redacted in `Debug`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct DecryptResponse {
    /// `Plaintext`.
    #[serde(default)]
    pub plaintext: Option<Plaintext>,
    /// `KeyId`: the key ARN.
    #[serde(default)]
    pub key_id: Option<String>,
    /// `EncryptionAlgorithm`.
    #[serde(default)]
    pub encryption_algorithm: Option<EncryptionAlgorithmSpec>,
    /// Response metadata.
    #[serde(skip)]
    pub metadata: ResponseMetadata,
}

impl KmsOperation for DecryptRequest {
    const NAME: &'static str = "Decrypt";
    const TARGET: &'static str = "TrentService.Decrypt";
    type Output = DecryptResponse;

    fn validate(&self) -> Result<(), ValidationError> {
        check_common(Self::NAME, self.key_id.as_deref(), &self.grant_tokens)?;
        let n = self.ciphertext_blob.len();
        if n == 0 || n > MAX_CIPHERTEXT_LEN {
            return Err(ValidationError::new(
                Self::NAME,
                "CiphertextBlob",
                format!("must be 1 to {MAX_CIPHERTEXT_LEN} bytes long (got {n})"),
            ));
        }
        Ok(())
    }

    fn to_json(&self) -> Result<Vec<u8>, serde_json::Error> {
        serde_json::to_vec(&DecryptWire {
            ciphertext_blob: Some(&self.ciphertext_blob),
            dry_run: self.dry_run,
            encryption_algorithm: self.encryption_algorithm.as_ref(),
            encryption_context: self.encryption_context.as_ref(),
            grant_tokens: &self.grant_tokens,
            key_id: self.key_id.as_deref(),
        })
    }

    fn grant_tokens_mut(&mut self) -> Option<&mut Vec<String>> {
        Some(&mut self.grant_tokens)
    }

    fn extensions(&self) -> Option<&http::Extensions> {
        Some(&self.extensions.0)
    }

    fn extensions_mut(&mut self) -> Option<&mut http::Extensions> {
        Some(&mut self.extensions.0)
    }
}

/// The input of `CreateKey`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct CreateKeyRequest {
    /// `Description`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `KeySpec`, e.g. `SYMMETRIC_DEFAULT` (the default) or `RSA_2048`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_spec: Option<KeySpec>,
    /// `KeyUsage`, e.g. `ENCRYPT_DECRYPT` (the default) or `SIGN_VERIFY`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_usage: Option<KeyUsageType>,
    #[serde(skip)]
    pub(crate) extensions: OpExtensions,
}

impl CreateKeyRequest {
    /// A symmetric encryption key.
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets the description.
    pub fn description(mut self, d: impl Into<String>) -> Self {
        self.description = Some(d.into());
        self
    }
    /// Sets the key spec (a [`KeySpec`], or its wire name as `&str`).
    pub fn key_spec(mut self, spec: impl Into<KeySpec>) -> Self {
        self.key_spec = Some(spec.into());
        self
    }
    /// Sets the key usage (a [`KeyUsageType`], or its wire name as `&str`).
    pub fn key_usage(mut self, usage: impl Into<KeyUsageType>) -> Self {
        self.key_usage = Some(usage.into());
        self
    }
}

/// Reads an awsJson1.1 timestamp (seconds since the epoch, maybe fractional);
/// a value no `SystemTime` can hold reads as `None` rather than failing the
/// whole response.
fn epoch_seconds<'de, D>(d: D) -> Result<Option<SystemTime>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let Some(secs) = Option::<f64>::deserialize(d)? else {
        return Ok(None);
    };
    let since = |x: f64| Duration::try_from_secs_f64(x).ok();
    Ok(if secs >= 0.0 {
        since(secs).and_then(|d| UNIX_EPOCH.checked_add(d))
    } else {
        since(-secs).and_then(|d| UNIX_EPOCH.checked_sub(d))
    })
}

/// The key metadata `CreateKey` and `DescribeKey` return (the members this
/// crate reads; others are ignored).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct KeyMetadata {
    /// `KeyId`.
    #[serde(default)]
    pub key_id: String,
    /// `Arn`.
    #[serde(default)]
    pub arn: Option<String>,
    /// `KeySpec`.
    #[serde(default)]
    pub key_spec: Option<KeySpec>,
    /// `KeyUsage`.
    #[serde(default)]
    pub key_usage: Option<KeyUsageType>,
    /// `KeyState`.
    #[serde(default)]
    pub key_state: Option<KeyState>,
    /// `Enabled`.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// `Description`.
    #[serde(default)]
    pub description: Option<String>,
    /// `CreationDate`.
    #[serde(default, deserialize_with = "epoch_seconds")]
    pub creation_date: Option<SystemTime>,
    /// `DeletionDate`: when a key pending deletion will be deleted.
    #[serde(default, deserialize_with = "epoch_seconds")]
    pub deletion_date: Option<SystemTime>,
}

/// The output of `CreateKey` and `DescribeKey`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct CreateKeyResponse {
    /// `KeyMetadata`.
    #[serde(default)]
    pub key_metadata: Option<KeyMetadata>,
    /// Response metadata.
    #[serde(skip)]
    pub metadata: ResponseMetadata,
}

impl KmsOperation for CreateKeyRequest {
    const NAME: &'static str = "CreateKey";
    const TARGET: &'static str = "TrentService.CreateKey";
    type Output = CreateKeyResponse;

    fn validate(&self) -> Result<(), ValidationError> {
        if let Some(d) = &self.description
            && d.chars().count() > 8192
        {
            return Err(ValidationError::new(
                Self::NAME,
                "Description",
                "must be at most 8192 characters long",
            ));
        }
        Ok(())
    }

    fn to_json(&self) -> Result<Vec<u8>, serde_json::Error> {
        serde_json::to_vec(self)
    }

    fn extensions(&self) -> Option<&http::Extensions> {
        Some(&self.extensions.0)
    }

    fn extensions_mut(&mut self) -> Option<&mut http::Extensions> {
        Some(&mut self.extensions.0)
    }
}

/// The input of `GenerateDataKey`: a data key returned in plaintext and encrypted.
///
/// Set exactly one of `KeySpec` (`AES_256`, `AES_128`) or `NumberOfBytes` (1 to 1024).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct GenerateDataKeyRequest {
    /// `DryRun`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<bool>,
    /// `EncryptionContext`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encryption_context: Option<EncryptionContext>,
    /// `GrantTokens`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub grant_tokens: Vec<String>,
    /// `KeyId`: the symmetric key to encrypt the data key under.
    pub key_id: String,
    /// `KeySpec`: `AES_256` or `AES_128`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_spec: Option<String>,
    /// `NumberOfBytes`: 1 to 1024.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number_of_bytes: Option<u32>,
    #[serde(skip)]
    pub(crate) extensions: OpExtensions,
}

impl GenerateDataKeyRequest {
    /// A 256-bit AES data key under `key_id`.
    pub fn new(key_id: impl Into<String>) -> Self {
        Self {
            dry_run: None,
            encryption_context: None,
            grant_tokens: Vec::new(),
            key_id: key_id.into(),
            key_spec: Some("AES_256".to_owned()),
            number_of_bytes: None,
            extensions: OpExtensions::default(),
        }
    }
    /// Asks for `n` random bytes instead of a key spec.
    pub fn number_of_bytes(mut self, n: u32) -> Self {
        self.number_of_bytes = Some(n);
        self.key_spec = None;
        self
    }
    /// Adds a pair to the encryption context.
    pub fn encryption_context(mut self, k: impl Into<String>, v: impl Into<String>) -> Self {
        self.encryption_context
            .get_or_insert_with(Default::default)
            .insert(k.into(), v.into());
        self
    }

    fn check(&self, op: &'static str) -> Result<(), ValidationError> {
        if self.key_id.is_empty() {
            return Err(ValidationError::new(op, "KeyId", "must not be empty"));
        }
        check_common(op, Some(&self.key_id), &self.grant_tokens)?;
        match (&self.key_spec, self.number_of_bytes) {
            (Some(_), Some(_)) => Err(ValidationError::new(
                op,
                "NumberOfBytes",
                "may not be set together with KeySpec",
            )),
            (None, None) => Err(ValidationError::new(
                op,
                "KeySpec",
                "or NumberOfBytes is required",
            )),
            (None, Some(n)) if !(1..=1024).contains(&n) => Err(ValidationError::new(
                op,
                "NumberOfBytes",
                format!("must be 1 to 1024 (got {n})"),
            )),
            _ => Ok(()),
        }
    }
}

/// The output of `GenerateDataKey`; the plaintext key is zeroized on drop.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct GenerateDataKeyResponse {
    /// `CiphertextBlob`: the data key encrypted under the KMS key.
    #[serde(default, deserialize_with = "super::blob::de")]
    pub ciphertext_blob: Option<Bytes>,
    /// `Plaintext`: the data key (absent for `GenerateDataKeyWithoutPlaintext`).
    #[serde(default)]
    pub plaintext: Option<Plaintext>,
    /// `KeyId`: the key ARN.
    #[serde(default)]
    pub key_id: Option<String>,
    /// Response metadata.
    #[serde(skip)]
    pub metadata: ResponseMetadata,
}

impl KmsOperation for GenerateDataKeyRequest {
    const NAME: &'static str = "GenerateDataKey";
    const TARGET: &'static str = "TrentService.GenerateDataKey";
    type Output = GenerateDataKeyResponse;

    fn validate(&self) -> Result<(), ValidationError> {
        self.check(Self::NAME)
    }

    fn to_json(&self) -> Result<Vec<u8>, serde_json::Error> {
        serde_json::to_vec(self)
    }

    fn grant_tokens_mut(&mut self) -> Option<&mut Vec<String>> {
        Some(&mut self.grant_tokens)
    }

    fn extensions(&self) -> Option<&http::Extensions> {
        Some(&self.extensions.0)
    }

    fn extensions_mut(&mut self) -> Option<&mut http::Extensions> {
        Some(&mut self.extensions.0)
    }
}

/// The input of `GenerateDataKeyWithoutPlaintext`: the same members as
/// [`GenerateDataKeyRequest`]; the output has no plaintext.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerateDataKeyWithoutPlaintextRequest(pub GenerateDataKeyRequest);

impl KmsOperation for GenerateDataKeyWithoutPlaintextRequest {
    const NAME: &'static str = "GenerateDataKeyWithoutPlaintext";
    const TARGET: &'static str = "TrentService.GenerateDataKeyWithoutPlaintext";
    type Output = GenerateDataKeyResponse;

    fn validate(&self) -> Result<(), ValidationError> {
        self.0.check(Self::NAME)
    }

    fn to_json(&self) -> Result<Vec<u8>, serde_json::Error> {
        serde_json::to_vec(&self.0)
    }

    fn grant_tokens_mut(&mut self) -> Option<&mut Vec<String>> {
        Some(&mut self.0.grant_tokens)
    }

    fn extensions(&self) -> Option<&http::Extensions> {
        Some(&self.0.extensions.0)
    }

    fn extensions_mut(&mut self) -> Option<&mut http::Extensions> {
        Some(&mut self.0.extensions.0)
    }
}

/// The input of `DescribeKey`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct DescribeKeyRequest {
    /// `GrantTokens`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub grant_tokens: Vec<String>,
    /// `KeyId`: key id, key ARN, alias name or alias ARN.
    pub key_id: String,
    #[serde(skip)]
    pub(crate) extensions: OpExtensions,
}

impl DescribeKeyRequest {
    /// Describes `key_id`.
    pub fn new(key_id: impl Into<String>) -> Self {
        Self {
            grant_tokens: Vec::new(),
            key_id: key_id.into(),
            extensions: OpExtensions::default(),
        }
    }
}

impl KmsOperation for DescribeKeyRequest {
    const NAME: &'static str = "DescribeKey";
    const TARGET: &'static str = "TrentService.DescribeKey";
    type Output = CreateKeyResponse;

    fn validate(&self) -> Result<(), ValidationError> {
        if self.key_id.is_empty() {
            return Err(ValidationError::new(
                Self::NAME,
                "KeyId",
                "must not be empty",
            ));
        }
        check_common(Self::NAME, Some(&self.key_id), &self.grant_tokens)
    }

    fn to_json(&self) -> Result<Vec<u8>, serde_json::Error> {
        serde_json::to_vec(self)
    }

    fn grant_tokens_mut(&mut self) -> Option<&mut Vec<String>> {
        Some(&mut self.grant_tokens)
    }

    fn extensions(&self) -> Option<&http::Extensions> {
        Some(&self.extensions.0)
    }

    fn extensions_mut(&mut self) -> Option<&mut http::Extensions> {
        Some(&mut self.extensions.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plaintext_is_redacted_and_encoded() {
        let req = EncryptRequest::new("k", b"top secret".to_vec());
        assert!(!format!("{req:?}").contains("top secret"));
        let json = String::from_utf8(req.to_json().unwrap()).unwrap();
        assert_eq!(json, r#"{"KeyId":"k","Plaintext":"dG9wIHNlY3JldA=="}"#);
        let out = DecryptRequest::from_json(
            br#"{"Plaintext":"dG9wIHNlY3JldA==","KeyId":"a"}"#,
            Default::default(),
        )
        .unwrap();
        assert_eq!(out.plaintext.as_ref().unwrap().expose(), b"top secret");
        assert!(!format!("{out:?}").contains("top secret"));
        assert!(EncryptRequest::new("k", Vec::new()).validate().is_err());
        assert!(EncryptRequest::new("k", vec![0; 4097]).validate().is_err());
        assert!(DecryptRequest::new(Bytes::new()).validate().is_err());
    }

    #[test]
    fn key_metadata_is_typed() {
        let m: KeyMetadata = serde_json::from_str(
            r#"{"KeyId":"k","KeySpec":"RSA_2048","KeyUsage":"SIGN_VERIFY",
                "KeyState":"PendingDeletion","CreationDate":1.5,
                "DeletionDate":1700000000,"Origin":"AWS_KMS"}"#,
        )
        .unwrap();
        assert_eq!(m.key_spec, Some(KeySpec::Rsa2048));
        assert_eq!(m.key_usage, Some(KeyUsageType::SignVerify));
        assert_eq!(m.key_state, Some(KeyState::PendingDeletion));
        assert_eq!(
            m.creation_date,
            Some(UNIX_EPOCH + Duration::from_millis(1500))
        );
        assert_eq!(
            m.deletion_date,
            Some(UNIX_EPOCH + Duration::from_secs(1_700_000_000))
        );
        // Times no SystemTime holds are absent, not an error or a panic.
        let m: KeyMetadata =
            serde_json::from_str(r#"{"KeyId":"k","CreationDate":1e300,"DeletionDate":-1e300}"#)
                .unwrap();
        assert_eq!((m.creation_date, m.deletion_date), (None, None));
        let m: KeyMetadata =
            serde_json::from_str(r#"{"KeyId":"k","CreationDate":-1.5,"DeletionDate":null}"#)
                .unwrap();
        assert_eq!(
            m.creation_date,
            Some(UNIX_EPOCH - Duration::from_millis(1500))
        );
        assert_eq!(m.deletion_date, None);
        assert!(serde_json::from_str::<KeyMetadata>(r#"{"CreationDate":"soon"}"#).is_err());

        let req = CreateKeyRequest::new()
            .key_spec(KeySpec::EccNistP256)
            .key_usage("SIGN_VERIFY");
        assert_eq!(
            String::from_utf8(req.to_json().unwrap()).unwrap(),
            r#"{"KeySpec":"ECC_NIST_P256","KeyUsage":"SIGN_VERIFY"}"#
        );
    }
}
