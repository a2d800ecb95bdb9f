//! Hand-written rules the model cannot express, beside the generated code that
//! calls them first in `validate` (see `RULES` in the generator): members that
//! exclude or require each other, and ReEncrypt's asymmetric and DryRun rules.
//! Also ReEncrypt's JSON buffer sizing.

use super::{
    DecryptRequest, DescribeCustomKeyStoresRequest, DryRunModifierType, EncryptionContext,
    ExpirationModelType, GenerateDataKeyRequest, GenerateDataKeyWithoutPlaintextRequest,
    ImportKeyMaterialRequest, ReEncryptRequest, RetireGrantRequest,
};
use crate::error::ValidationError;

fn err(
    op: &'static str,
    field: &'static str,
    rule: impl Into<String>,
) -> Result<(), ValidationError> {
    Err(ValidationError::new(op, field, rule))
}

fn ignores_ciphertext(dry_run: Option<bool>, modifiers: &[DryRunModifierType]) -> bool {
    dry_run == Some(true) && modifiers.contains(&DryRunModifierType::IgnoreCiphertext)
}

/// `ReEncrypt`:
/// - an empty `DestinationKeyId` is named as such;
/// - `CiphertextBlob` is required, except in a dry run with `IGNORE_CIPHERTEXT`,
///   where `SourceKeyId` is required instead;
/// - `DryRunModifiers` only with `DryRun` set to true;
/// - an asymmetric `SourceEncryptionAlgorithm` needs `SourceKeyId` and allows no
///   `SourceEncryptionContext`; an asymmetric `DestinationEncryptionAlgorithm`
///   allows no `DestinationEncryptionContext` (contexts are for symmetric keys).
pub(crate) fn re_encrypt(r: &ReEncryptRequest) -> Result<(), ValidationError> {
    const OP: &str = "ReEncrypt";
    if r.destination_key_id.as_deref() == Some("") {
        return err(
            OP,
            "DestinationKeyId",
            "must not be empty (a key id, key ARN, alias name or alias ARN)",
        );
    }
    let ignores = ignores_ciphertext(r.dry_run, &r.dry_run_modifiers);
    if r.ciphertext_blob.is_none() && !ignores {
        return err(
            OP,
            "CiphertextBlob",
            "is required unless DryRun is true with the IGNORE_CIPHERTEXT modifier",
        );
    }
    if ignores && r.source_key_id.is_none() {
        return err(
            OP,
            "SourceKeyId",
            "is required when DryRun is true with the IGNORE_CIPHERTEXT modifier",
        );
    }
    if !r.dry_run_modifiers.is_empty() && r.dry_run != Some(true) {
        return err(OP, "DryRunModifiers", "may only be set when DryRun is true");
    }
    if let Some(alg) = &r.source_encryption_algorithm
        && alg.is_asymmetric()
    {
        if r.source_key_id.is_none() {
            return err(
                OP,
                "SourceKeyId",
                format!("is required when SourceEncryptionAlgorithm is {alg} (an asymmetric key)"),
            );
        }
        if r.source_encryption_context.is_some() {
            return err(
                OP,
                "SourceEncryptionContext",
                format!("is only valid for symmetric keys, not with {alg}"),
            );
        }
    }
    if let Some(alg) = &r.destination_encryption_algorithm
        && alg.is_asymmetric()
        && r.destination_encryption_context.is_some()
    {
        return err(
            OP,
            "DestinationEncryptionContext",
            format!("is only valid for symmetric keys, not with {alg}"),
        );
    }
    Ok(())
}

/// The size of ReEncrypt's JSON, estimated up front (base64 of the blob plus
/// the other members) so the buffer is not regrown while writing.
pub(crate) fn re_encrypt_json_capacity(r: &ReEncryptRequest) -> usize {
    let ctx_len = |c: &Option<EncryptionContext>| {
        c.as_ref().map_or(0, |c| {
            c.iter().map(|(k, v)| k.len() + v.len() + 6).sum::<usize>()
        })
    };
    256 + r
        .ciphertext_blob
        .as_ref()
        .map_or(0, |b| b.len().div_ceil(3) * 4)
        + r.destination_key_id.as_ref().map_or(0, String::len)
        + r.source_key_id.as_ref().map_or(0, String::len)
        + ctx_len(&r.source_encryption_context)
        + ctx_len(&r.destination_encryption_context)
        + r.grant_tokens.iter().map(|t| t.len() + 3).sum::<usize>()
}

/// `Decrypt`: `DryRunModifiers` only with `DryRun` set to true.
pub(crate) fn decrypt(r: &DecryptRequest) -> Result<(), ValidationError> {
    if !r.dry_run_modifiers.is_empty() && r.dry_run != Some(true) {
        return err(
            "Decrypt",
            "DryRunModifiers",
            "may only be set when DryRun is true",
        );
    }
    Ok(())
}

/// Exactly one of `KeySpec` and `NumberOfBytes`.
fn key_spec_or_bytes(op: &'static str, spec: bool, bytes: bool) -> Result<(), ValidationError> {
    match (spec, bytes) {
        (true, true) => err(op, "NumberOfBytes", "may not be set together with KeySpec"),
        (false, false) => err(op, "KeySpec", "or NumberOfBytes is required"),
        _ => Ok(()),
    }
}

/// `GenerateDataKey`: exactly one of `KeySpec` and `NumberOfBytes`.
pub(crate) fn generate_data_key(r: &GenerateDataKeyRequest) -> Result<(), ValidationError> {
    key_spec_or_bytes(
        "GenerateDataKey",
        r.key_spec.is_some(),
        r.number_of_bytes.is_some(),
    )
}

/// `GenerateDataKeyWithoutPlaintext`: exactly one of `KeySpec` and `NumberOfBytes`.
pub(crate) fn generate_data_key_without_plaintext(
    r: &GenerateDataKeyWithoutPlaintextRequest,
) -> Result<(), ValidationError> {
    key_spec_or_bytes(
        "GenerateDataKeyWithoutPlaintext",
        r.key_spec.is_some(),
        r.number_of_bytes.is_some(),
    )
}

/// `DescribeCustomKeyStores`: `CustomKeyStoreId` or `CustomKeyStoreName`, not both.
pub(crate) fn describe_custom_key_stores(
    r: &DescribeCustomKeyStoresRequest,
) -> Result<(), ValidationError> {
    if r.custom_key_store_id.is_some() && r.custom_key_store_name.is_some() {
        return err(
            "DescribeCustomKeyStores",
            "CustomKeyStoreName",
            "may not be set together with CustomKeyStoreId",
        );
    }
    Ok(())
}

/// `RetireGrant`: the grant is named by its `GrantToken`, or by `KeyId` and `GrantId`.
pub(crate) fn retire_grant(r: &RetireGrantRequest) -> Result<(), ValidationError> {
    if r.grant_token.is_none() && (r.key_id.is_none() || r.grant_id.is_none()) {
        return err(
            "RetireGrant",
            "GrantToken",
            "is required unless both KeyId and GrantId are set",
        );
    }
    Ok(())
}

/// `ImportKeyMaterial`: `ValidTo` goes with `KEY_MATERIAL_EXPIRES` and only with it.
pub(crate) fn import_key_material(r: &ImportKeyMaterialRequest) -> Result<(), ValidationError> {
    const OP: &str = "ImportKeyMaterial";
    match (&r.expiration_model, r.valid_to) {
        (Some(ExpirationModelType::KeyMaterialDoesNotExpire), Some(_)) => err(
            OP,
            "ValidTo",
            "must be omitted when ExpirationModel is KEY_MATERIAL_DOES_NOT_EXPIRE",
        ),
        (Some(ExpirationModelType::KeyMaterialExpires), None) => err(
            OP,
            "ValidTo",
            "is required when ExpirationModel is KEY_MATERIAL_EXPIRES",
        ),
        _ => Ok(()),
    }
}
