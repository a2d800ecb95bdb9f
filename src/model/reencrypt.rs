use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::{DryRunModifierType, EncryptionAlgorithmSpec, EncryptionContext};
use crate::error::ValidationError;
use crate::operation::KmsOperation;
use crate::operation::ResponseMetadata;

const OP: &str = "ReEncrypt";

/// Longest key id, key ARN, alias name or alias ARN KMS accepts, in characters.
pub(crate) const MAX_KEY_ID_LEN: usize = 2048;
/// Longest ciphertext blob KMS accepts, in bytes.
pub(crate) const MAX_CIPHERTEXT_LEN: usize = 6144;
/// Most grant tokens one request may carry.
pub(crate) const MAX_GRANT_TOKENS: usize = 10;
/// Longest grant token, in characters.
pub(crate) const MAX_GRANT_TOKEN_LEN: usize = 8192;

/// The input of `ReEncrypt`: decrypt a ciphertext and encrypt it again under
/// another key (or the same key with another encryption context), inside KMS.
///
/// Build it with [`ReEncryptRequest::builder`]. The ciphertext is held as
/// [`Bytes`], so clones (for example by a retry layer) do not copy it.
///
/// ```
/// use tower_kms::{EncryptionAlgorithmSpec, ReEncryptRequest};
///
/// let req = ReEncryptRequest::builder()
///     .ciphertext_blob(vec![1, 2, 3])
///     .source_key_id("alias/old")
///     .destination_key_id("alias/new")
///     .destination_encryption_context("purpose", "backup")
///     .build()?;
/// assert_eq!(req.destination_key_id(), "alias/new");
/// # Ok::<(), tower_kms::ValidationError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct ReEncryptRequest {
    ciphertext_blob: Option<Bytes>,
    source_encryption_context: Option<EncryptionContext>,
    source_key_id: Option<String>,
    destination_key_id: String,
    destination_encryption_context: Option<EncryptionContext>,
    source_encryption_algorithm: Option<EncryptionAlgorithmSpec>,
    destination_encryption_algorithm: Option<EncryptionAlgorithmSpec>,
    grant_tokens: Vec<String>,
    dry_run: Option<bool>,
    dry_run_modifiers: Vec<DryRunModifierType>,
    extensions: http::Extensions,
}

/// Compares the members KMS sees; extensions are not compared.
impl PartialEq for ReEncryptRequest {
    fn eq(&self, o: &Self) -> bool {
        self.ciphertext_blob == o.ciphertext_blob
            && self.source_encryption_context == o.source_encryption_context
            && self.source_key_id == o.source_key_id
            && self.destination_key_id == o.destination_key_id
            && self.destination_encryption_context == o.destination_encryption_context
            && self.source_encryption_algorithm == o.source_encryption_algorithm
            && self.destination_encryption_algorithm == o.destination_encryption_algorithm
            && self.grant_tokens == o.grant_tokens
            && self.dry_run == o.dry_run
            && self.dry_run_modifiers == o.dry_run_modifiers
    }
}

impl Eq for ReEncryptRequest {}

impl ReEncryptRequest {
    /// Starts building a request.
    pub fn builder() -> ReEncryptRequestBuilder {
        ReEncryptRequestBuilder::default()
    }

    /// `CiphertextBlob`: the ciphertext to re-encrypt.
    pub fn ciphertext_blob(&self) -> Option<&Bytes> {
        self.ciphertext_blob.as_ref()
    }
    /// `SourceEncryptionContext`: the context the ciphertext was encrypted with.
    pub fn source_encryption_context(&self) -> Option<&EncryptionContext> {
        self.source_encryption_context.as_ref()
    }
    /// `SourceKeyId`: the key that encrypted the ciphertext.
    pub fn source_key_id(&self) -> Option<&str> {
        self.source_key_id.as_deref()
    }
    /// `DestinationKeyId`: the key to encrypt under.
    pub fn destination_key_id(&self) -> &str {
        &self.destination_key_id
    }
    /// `DestinationEncryptionContext`: the context for the new ciphertext.
    pub fn destination_encryption_context(&self) -> Option<&EncryptionContext> {
        self.destination_encryption_context.as_ref()
    }
    /// `SourceEncryptionAlgorithm`: the algorithm the ciphertext was encrypted with.
    pub fn source_encryption_algorithm(&self) -> Option<&EncryptionAlgorithmSpec> {
        self.source_encryption_algorithm.as_ref()
    }
    /// `DestinationEncryptionAlgorithm`: the algorithm to encrypt with.
    pub fn destination_encryption_algorithm(&self) -> Option<&EncryptionAlgorithmSpec> {
        self.destination_encryption_algorithm.as_ref()
    }
    /// `GrantTokens`: grant tokens for permissions from grants not yet consistent.
    pub fn grant_tokens(&self) -> &[String] {
        &self.grant_tokens
    }
    /// Mutable access to the grant tokens (used by the grant-token layer).
    pub fn grant_tokens_mut(&mut self) -> &mut Vec<String> {
        &mut self.grant_tokens
    }
    /// `DryRun`: only check whether the request would succeed.
    pub fn dry_run(&self) -> Option<bool> {
        self.dry_run
    }
    /// `DryRunModifiers`: modifiers of the dry run.
    pub fn dry_run_modifiers(&self) -> &[DryRunModifierType] {
        &self.dry_run_modifiers
    }

    /// Extensions carried with the request (copied onto the HTTP request).
    pub fn extensions(&self) -> &http::Extensions {
        &self.extensions
    }
    /// The extensions, mutably.
    pub fn extensions_mut(&mut self) -> &mut http::Extensions {
        &mut self.extensions
    }

    /// Turns the request back into a builder, e.g. to change one member.
    pub fn into_builder(self) -> ReEncryptRequestBuilder {
        ReEncryptRequestBuilder {
            inner: self,
            destination_set: true,
        }
    }

    fn ignores_ciphertext(&self) -> bool {
        self.dry_run == Some(true)
            && self
                .dry_run_modifiers
                .contains(&DryRunModifierType::IgnoreCiphertext)
    }

    /// Checks every documented constraint of `ReEncrypt`; see [`KmsOperation::validate`].
    ///
    /// - `DestinationKeyId` is required; key ids are 1 to 2048 characters.
    /// - `CiphertextBlob` is 1 to 6144 bytes and required, except in a dry run with
    ///   `IGNORE_CIPHERTEXT`, where `SourceKeyId` is required instead.
    /// - At most 10 `GrantTokens`, each 1 to 8192 characters.
    /// - `DryRunModifiers` only with `DryRun` set to true.
    /// - An asymmetric `SourceEncryptionAlgorithm` needs `SourceKeyId` and allows no
    ///   `SourceEncryptionContext`; an asymmetric `DestinationEncryptionAlgorithm`
    ///   allows no `DestinationEncryptionContext` (contexts are for symmetric keys only).
    pub fn validate(&self) -> Result<(), ValidationError> {
        let err = |field, rule: String| Err(ValidationError::new(OP, field, rule));
        if self.destination_key_id.is_empty() {
            return err(
                "DestinationKeyId",
                "must not be empty (a key id, key ARN, alias name or alias ARN)".into(),
            );
        }
        check_key_id("DestinationKeyId", &self.destination_key_id)?;
        if let Some(id) = &self.source_key_id {
            check_key_id("SourceKeyId", id)?;
        }
        match &self.ciphertext_blob {
            Some(b) if b.is_empty() || b.len() > MAX_CIPHERTEXT_LEN => {
                return err(
                    "CiphertextBlob",
                    format!(
                        "must be 1 to {MAX_CIPHERTEXT_LEN} bytes long (got {})",
                        b.len()
                    ),
                );
            }
            Some(_) => {}
            None if self.ignores_ciphertext() => {}
            None => {
                return err(
                    "CiphertextBlob",
                    "is required unless DryRun is true with the IGNORE_CIPHERTEXT modifier".into(),
                );
            }
        }
        if self.ignores_ciphertext() && self.source_key_id.is_none() {
            return err(
                "SourceKeyId",
                "is required when DryRun is true with the IGNORE_CIPHERTEXT modifier".into(),
            );
        }
        if !self.dry_run_modifiers.is_empty() && self.dry_run != Some(true) {
            return err(
                "DryRunModifiers",
                "may only be set when DryRun is true".into(),
            );
        }
        if self.grant_tokens.len() > MAX_GRANT_TOKENS {
            return err(
                "GrantTokens",
                format!(
                    "may hold at most {MAX_GRANT_TOKENS} tokens (got {})",
                    self.grant_tokens.len()
                ),
            );
        }
        for (i, t) in self.grant_tokens.iter().enumerate() {
            let n = t.chars().count();
            if n == 0 || n > MAX_GRANT_TOKEN_LEN {
                return err(
                    "GrantTokens",
                    format!(
                        "token {i} must be 1 to {MAX_GRANT_TOKEN_LEN} characters long (got {n})"
                    ),
                );
            }
        }
        if let Some(alg) = &self.source_encryption_algorithm {
            if alg.is_asymmetric() && self.source_key_id.is_none() {
                return err(
                    "SourceKeyId",
                    format!(
                        "is required when SourceEncryptionAlgorithm is {alg} (an asymmetric key)"
                    ),
                );
            }
            if alg.is_asymmetric() && self.source_encryption_context.is_some() {
                return err(
                    "SourceEncryptionContext",
                    format!("is only valid for symmetric keys, not with {alg}"),
                );
            }
        }
        if let Some(alg) = &self.destination_encryption_algorithm
            && alg.is_asymmetric()
            && self.destination_encryption_context.is_some()
        {
            return err(
                "DestinationEncryptionContext",
                format!("is only valid for symmetric keys, not with {alg}"),
            );
        }
        Ok(())
    }
}

pub(crate) fn check_key_id(field: &'static str, id: &str) -> Result<(), ValidationError> {
    let n = id.chars().count();
    if n == 0 || n > MAX_KEY_ID_LEN {
        return Err(ValidationError::new(
            OP,
            field,
            format!("must be 1 to {MAX_KEY_ID_LEN} characters long (got {n})"),
        ));
    }
    Ok(())
}

/// Builds a [`ReEncryptRequest`]; `build` validates it.
#[derive(Debug, Clone, Default)]
pub struct ReEncryptRequestBuilder {
    inner: ReEncryptRequest,
    destination_set: bool,
}

impl ReEncryptRequestBuilder {
    /// Sets `CiphertextBlob`.
    pub fn ciphertext_blob(mut self, blob: impl Into<Bytes>) -> Self {
        self.inner.ciphertext_blob = Some(blob.into());
        self
    }
    /// Sets or clears `CiphertextBlob`.
    pub fn set_ciphertext_blob(mut self, blob: Option<Bytes>) -> Self {
        self.inner.ciphertext_blob = blob;
        self
    }
    /// Adds one pair to `SourceEncryptionContext`.
    pub fn source_encryption_context(mut self, k: impl Into<String>, v: impl Into<String>) -> Self {
        self.inner
            .source_encryption_context
            .get_or_insert_with(Default::default)
            .insert(k.into(), v.into());
        self
    }
    /// Sets or clears the whole `SourceEncryptionContext`.
    pub fn set_source_encryption_context(mut self, ctx: Option<EncryptionContext>) -> Self {
        self.inner.source_encryption_context = ctx;
        self
    }
    /// Sets `SourceKeyId`.
    pub fn source_key_id(mut self, id: impl Into<String>) -> Self {
        self.inner.source_key_id = Some(id.into());
        self
    }
    /// Sets or clears `SourceKeyId`.
    pub fn set_source_key_id(mut self, id: Option<String>) -> Self {
        self.inner.source_key_id = id;
        self
    }
    /// Sets `DestinationKeyId` (required).
    pub fn destination_key_id(mut self, id: impl Into<String>) -> Self {
        self.inner.destination_key_id = id.into();
        self.destination_set = true;
        self
    }
    /// Adds one pair to `DestinationEncryptionContext`.
    pub fn destination_encryption_context(
        mut self,
        k: impl Into<String>,
        v: impl Into<String>,
    ) -> Self {
        self.inner
            .destination_encryption_context
            .get_or_insert_with(Default::default)
            .insert(k.into(), v.into());
        self
    }
    /// Sets or clears the whole `DestinationEncryptionContext`.
    pub fn set_destination_encryption_context(mut self, ctx: Option<EncryptionContext>) -> Self {
        self.inner.destination_encryption_context = ctx;
        self
    }
    /// Sets `SourceEncryptionAlgorithm`.
    pub fn source_encryption_algorithm(mut self, alg: EncryptionAlgorithmSpec) -> Self {
        self.inner.source_encryption_algorithm = Some(alg);
        self
    }
    /// Sets `DestinationEncryptionAlgorithm`.
    pub fn destination_encryption_algorithm(mut self, alg: EncryptionAlgorithmSpec) -> Self {
        self.inner.destination_encryption_algorithm = Some(alg);
        self
    }
    /// Adds a grant token.
    pub fn grant_token(mut self, token: impl Into<String>) -> Self {
        self.inner.grant_tokens.push(token.into());
        self
    }
    /// Replaces the grant tokens.
    pub fn set_grant_tokens(mut self, tokens: Vec<String>) -> Self {
        self.inner.grant_tokens = tokens;
        self
    }
    /// Sets `DryRun`.
    pub fn dry_run(mut self, dry_run: bool) -> Self {
        self.inner.dry_run = Some(dry_run);
        self
    }
    /// Adds a dry-run modifier.
    pub fn dry_run_modifier(mut self, m: DryRunModifierType) -> Self {
        self.inner.dry_run_modifiers.push(m);
        self
    }

    /// Validates and returns the request.
    pub fn build(self) -> Result<ReEncryptRequest, ValidationError> {
        if !self.destination_set {
            return Err(ValidationError::new(OP, "DestinationKeyId", "is required"));
        }
        self.inner.validate()?;
        Ok(self.inner)
    }

    /// Returns the request without validating it; the protocol layer still
    /// validates before anything is sent.
    pub fn build_unchecked(self) -> ReEncryptRequest {
        self.inner
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct WireRequest<'a> {
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "super::blob::ser"
    )]
    ciphertext_blob: Option<&'a Bytes>,
    #[serde(skip_serializing_if = "Option::is_none")]
    destination_encryption_algorithm: Option<&'a EncryptionAlgorithmSpec>,
    #[serde(skip_serializing_if = "Option::is_none")]
    destination_encryption_context: Option<&'a EncryptionContext>,
    destination_key_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    dry_run: Option<bool>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    dry_run_modifiers: &'a [DryRunModifierType],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    grant_tokens: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    source_encryption_algorithm: Option<&'a EncryptionAlgorithmSpec>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source_encryption_context: Option<&'a EncryptionContext>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source_key_id: Option<&'a str>,
}

/// The output of `ReEncrypt`.
///
/// Every member is optional, as in the KMS API model. Build one for a mock with
/// [`ReEncryptResponse::builder`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct ReEncryptResponse {
    /// `CiphertextBlob`: the re-encrypted data.
    #[serde(default, deserialize_with = "super::blob::de")]
    pub ciphertext_blob: Option<Bytes>,
    /// `SourceKeyId`: the ARN of the key that decrypted the ciphertext.
    #[serde(default)]
    pub source_key_id: Option<String>,
    /// `KeyId`: the ARN of the key that re-encrypted the data.
    #[serde(default)]
    pub key_id: Option<String>,
    /// `SourceEncryptionAlgorithm`: the algorithm used to decrypt.
    #[serde(default)]
    pub source_encryption_algorithm: Option<EncryptionAlgorithmSpec>,
    /// `DestinationEncryptionAlgorithm`: the algorithm used to re-encrypt.
    #[serde(default)]
    pub destination_encryption_algorithm: Option<EncryptionAlgorithmSpec>,
    /// `SourceKeyMaterialId`: the key material that decrypted the ciphertext.
    #[serde(default)]
    pub source_key_material_id: Option<String>,
    /// `DestinationKeyMaterialId`: the key material that re-encrypted the data.
    #[serde(default)]
    pub destination_key_material_id: Option<String>,
    /// Response metadata (the request id).
    #[serde(skip)]
    pub metadata: ResponseMetadata,
}

impl ReEncryptResponse {
    /// Starts building a response, e.g. to script a mock.
    ///
    /// ```
    /// use tower_kms::ReEncryptResponse;
    /// let resp = ReEncryptResponse::builder()
    ///     .ciphertext_blob(vec![9, 9])
    ///     .key_id("arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab")
    ///     .request_id("req-1")
    ///     .build();
    /// assert_eq!(resp.metadata.request_id.as_deref(), Some("req-1"));
    /// ```
    pub fn builder() -> ReEncryptResponseBuilder {
        ReEncryptResponseBuilder::default()
    }
}

/// Builds a [`ReEncryptResponse`].
#[derive(Debug, Clone, Default)]
pub struct ReEncryptResponseBuilder {
    inner: ReEncryptResponse,
}

impl ReEncryptResponseBuilder {
    /// Sets `CiphertextBlob`.
    pub fn ciphertext_blob(mut self, b: impl Into<Bytes>) -> Self {
        self.inner.ciphertext_blob = Some(b.into());
        self
    }
    /// Sets `SourceKeyId`.
    pub fn source_key_id(mut self, v: impl Into<String>) -> Self {
        self.inner.source_key_id = Some(v.into());
        self
    }
    /// Sets `KeyId`.
    pub fn key_id(mut self, v: impl Into<String>) -> Self {
        self.inner.key_id = Some(v.into());
        self
    }
    /// Sets `SourceEncryptionAlgorithm`.
    pub fn source_encryption_algorithm(mut self, v: EncryptionAlgorithmSpec) -> Self {
        self.inner.source_encryption_algorithm = Some(v);
        self
    }
    /// Sets `DestinationEncryptionAlgorithm`.
    pub fn destination_encryption_algorithm(mut self, v: EncryptionAlgorithmSpec) -> Self {
        self.inner.destination_encryption_algorithm = Some(v);
        self
    }
    /// Sets `SourceKeyMaterialId`.
    pub fn source_key_material_id(mut self, v: impl Into<String>) -> Self {
        self.inner.source_key_material_id = Some(v.into());
        self
    }
    /// Sets `DestinationKeyMaterialId`.
    pub fn destination_key_material_id(mut self, v: impl Into<String>) -> Self {
        self.inner.destination_key_material_id = Some(v.into());
        self
    }
    /// Sets the request id of the response metadata.
    pub fn request_id(mut self, v: impl Into<String>) -> Self {
        self.inner.metadata.request_id = Some(v.into());
        self
    }
    /// Returns the response.
    pub fn build(self) -> ReEncryptResponse {
        self.inner
    }
}

impl KmsOperation for ReEncryptRequest {
    const NAME: &'static str = OP;
    const TARGET: &'static str = "TrentService.ReEncrypt";
    type Output = ReEncryptResponse;

    fn validate(&self) -> Result<(), ValidationError> {
        ReEncryptRequest::validate(self)
    }

    fn to_json(&self) -> Result<Vec<u8>, serde_json::Error> {
        // Sized up front: base64 of the blob plus the other members, so the buffer
        // is not regrown while serializing.
        let ctx_len = |c: &Option<EncryptionContext>| {
            c.as_ref().map_or(0, |c| {
                c.iter().map(|(k, v)| k.len() + v.len() + 6).sum::<usize>()
            })
        };
        let estimate = 256
            + self
                .ciphertext_blob
                .as_ref()
                .map_or(0, |b| b.len().div_ceil(3) * 4)
            + self.destination_key_id.len()
            + self.source_key_id.as_ref().map_or(0, String::len)
            + ctx_len(&self.source_encryption_context)
            + ctx_len(&self.destination_encryption_context)
            + self.grant_tokens.iter().map(|t| t.len() + 3).sum::<usize>();
        let mut buf = Vec::with_capacity(estimate);
        serde_json::to_writer(
            &mut buf,
            &WireRequest {
                ciphertext_blob: self.ciphertext_blob.as_ref(),
                destination_encryption_algorithm: self.destination_encryption_algorithm.as_ref(),
                destination_encryption_context: self.destination_encryption_context.as_ref(),
                destination_key_id: &self.destination_key_id,
                dry_run: self.dry_run,
                dry_run_modifiers: &self.dry_run_modifiers,
                grant_tokens: &self.grant_tokens,
                source_encryption_algorithm: self.source_encryption_algorithm.as_ref(),
                source_encryption_context: self.source_encryption_context.as_ref(),
                source_key_id: self.source_key_id.as_deref(),
            },
        )?;
        Ok(buf)
    }

    fn grant_tokens_mut(&mut self) -> Option<&mut Vec<String>> {
        Some(&mut self.grant_tokens)
    }

    fn extensions(&self) -> Option<&http::Extensions> {
        Some(&self.extensions)
    }

    fn extensions_mut(&mut self) -> Option<&mut http::Extensions> {
        Some(&mut self.extensions)
    }
}
