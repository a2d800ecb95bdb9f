//! The KMS operations this local KMS does not model, answered as KMS
//! answers them in an account that lacks what they need: no custom key
//! store, no key with imported key material, no multi-Region key and no
//! ML-KEM key exists here (`CreateKey` refuses to make them).
//!
//! Each validates its required members as the model does
//! (`ValidationException`), authorizes the caller as KMS would (so
//! `AccessDeniedException` comes first for a caller without permission), and
//! then answers as the table in the [module documentation](super) says:
//!
//! * custom key stores: none exists, so `DescribeCustomKeyStores` lists
//!   none and the operations on one answer `CustomKeyStoreNotFoundException`;
//!   `CreateCustomKeyStore` finds no CloudHSM cluster and reaches no external
//!   key store proxy (the errors KMS gives for those);
//! * imported key material: every key has origin `AWS_KMS`, for which KMS
//!   answers `UnsupportedOperationException`;
//! * multi-Region keys: every key is a single-Region key, for which KMS
//!   answers `UnsupportedOperationException`;
//! * ML-KEM: no key has key usage `ENCAPSULATE_DECAPSULATE`, so
//!   `Encapsulate` and `Decapsulate` answer `InvalidKeyUsageException`
//!   (after the key state checks, as for any key of the wrong usage).
//!
//! The custom key store operations are authorized against identity
//! policies only, on `*`; the others as their key operation, on the key
//! (`Encapsulate` and `Decapsulate` with grants, grant tokens and across
//! accounts, as KMS allows). `Encapsulate` and `Decapsulate` are
//! cryptographic operations for the [quota](super::Quota::CRYPTOGRAPHIC).

use serde::Deserialize;
use serde_json::{Value, json};

use super::authz::Access;
use super::error::LocalKmsError;
use super::ops::{Blob, MAX_CIPHERTEXT, Ops, length_between, parse, required};

/// The operations answered here.
pub(crate) const UNMODELLED: &[&str] = &[
    "ConnectCustomKeyStore",
    "CreateCustomKeyStore",
    "Decapsulate",
    "DeleteCustomKeyStore",
    "DeleteImportedKeyMaterial",
    "DescribeCustomKeyStores",
    "DisconnectCustomKeyStore",
    "Encapsulate",
    "GetParametersForImport",
    "ImportKeyMaterial",
    "ReplicateKey",
    "UpdateCustomKeyStore",
    "UpdatePrimaryRegion",
];

/// KMS's answer for a custom key store id that does not exist.
pub(crate) fn custom_key_store_not_found(id: &str) -> LocalKmsError {
    LocalKmsError::new(
        "CustomKeyStoreNotFoundException",
        format!("Custom key store {id} does not exist: the local KMS has no custom key stores."),
    )
}

fn enum_member(value: &str, member: &str, allowed: &[&str]) -> Result<(), LocalKmsError> {
    if allowed.contains(&value) {
        return Ok(());
    }
    Err(LocalKmsError::validation(format!(
        "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: Member must satisfy enum value set: [{}]",
        allowed.join(", ")
    )))
}

/// A `RegionType`: `^([a-z]+-){2,3}\d+$`, 1 to 32 characters.
fn check_region(region: &str, member: &str) -> Result<(), LocalKmsError> {
    length_between(member, region.len(), 1, 32)?;
    let parts: Vec<&str> = region.split('-').collect();
    let valid = (3..=4).contains(&parts.len())
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts
            .last()
            .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    if !valid {
        return Err(LocalKmsError::validation(format!(
            "1 validation error detected: Value '{region}' at '{member}' failed to satisfy constraint: Member must satisfy regular expression pattern: ^([a-z]+-){{2,3}}\\d+$"
        )));
    }
    Ok(())
}

/// The members of the unmodelled requests this module looks at.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct Request {
    custom_key_store_id: Option<String>,
    custom_key_store_name: Option<String>,
    custom_key_store_type: Option<String>,
    xks_proxy_connectivity: Option<String>,
    limit: Option<i64>,
    marker: Option<String>,
    key_id: Option<String>,
    wrapping_algorithm: Option<String>,
    wrapping_key_spec: Option<String>,
    import_token: Option<Blob>,
    encrypted_key_material: Option<Blob>,
    replica_region: Option<String>,
    primary_region: Option<String>,
    encapsulation_algorithm: Option<String>,
    shared_secret_ciphertext_blob: Option<Blob>,
    grant_tokens: Option<Vec<String>>,
}

impl Ops<'_> {
    /// Answers one of [`UNMODELLED`].
    pub(crate) fn unmodelled(&self, operation: &str, body: Value) -> Result<Value, LocalKmsError> {
        let r: Request = parse(body)?;
        match operation {
            "DescribeCustomKeyStores" => self.describe_custom_key_stores(r),
            "ConnectCustomKeyStore" => self.missing_store(r, "kms:ConnectCustomKeyStore"),
            "DisconnectCustomKeyStore" => self.missing_store(r, "kms:DisconnectCustomKeyStore"),
            "UpdateCustomKeyStore" => self.missing_store(r, "kms:UpdateCustomKeyStore"),
            "DeleteCustomKeyStore" => self.missing_store(r, "kms:DeleteCustomKeyStore"),
            "CreateCustomKeyStore" => self.create_custom_key_store(r),
            "GetParametersForImport" => {
                required(r.wrapping_algorithm.as_deref(), "wrappingAlgorithm").and_then(|a| {
                    enum_member(
                        a,
                        "wrappingAlgorithm",
                        &[
                            "RSAES_PKCS1_V1_5",
                            "RSAES_OAEP_SHA_1",
                            "RSAES_OAEP_SHA_256",
                            "RSA_AES_KEY_WRAP_SHA_1",
                            "RSA_AES_KEY_WRAP_SHA_256",
                            "SM2PKE",
                        ],
                    )
                })?;
                required(r.wrapping_key_spec.as_deref(), "wrappingKeySpec").and_then(|s| {
                    enum_member(
                        s,
                        "wrappingKeySpec",
                        &["RSA_2048", "RSA_3072", "RSA_4096", "SM2"],
                    )
                })?;
                self.not_imported(r, "kms:GetParametersForImport")
            }
            "ImportKeyMaterial" => {
                for (blob, member) in [
                    (&r.import_token, "importToken"),
                    (&r.encrypted_key_material, "encryptedKeyMaterial"),
                ] {
                    let blob = required(blob.as_ref(), member)?;
                    length_between(member, blob.0.len(), 1, MAX_CIPHERTEXT)?;
                }
                self.not_imported(r, "kms:ImportKeyMaterial")
            }
            "DeleteImportedKeyMaterial" => self.not_imported(r, "kms:DeleteImportedKeyMaterial"),
            "ReplicateKey" => {
                check_region(
                    required(r.replica_region.as_deref(), "replicaRegion")?,
                    "replicaRegion",
                )?;
                self.single_region(r, "kms:ReplicateKey")
            }
            "UpdatePrimaryRegion" => {
                check_region(
                    required(r.primary_region.as_deref(), "primaryRegion")?,
                    "primaryRegion",
                )?;
                self.single_region(r, "kms:UpdatePrimaryRegion")
            }
            "Encapsulate" => self.no_kem_key(r, "Encapsulate"),
            "Decapsulate" => {
                let blob = required(
                    r.shared_secret_ciphertext_blob.as_ref(),
                    "sharedSecretCiphertextBlob",
                )?;
                length_between(
                    "sharedSecretCiphertextBlob",
                    blob.0.len(),
                    1,
                    MAX_CIPHERTEXT,
                )?;
                self.no_kem_key(r, "Decapsulate")
            }
            other => Err(super::ops::unknown_operation(other)),
        }
    }

    fn describe_custom_key_stores(&self, r: Request) -> Result<Value, LocalKmsError> {
        if let Some(id) = &r.custom_key_store_id {
            length_between("customKeyStoreId", id.len(), 1, 64)?;
        }
        if let Some(name) = &r.custom_key_store_name {
            length_between("customKeyStoreName", name.chars().count(), 1, 256)?;
        }
        super::ops::page_bounds(r.limit, None)?;
        self.authorize_identity(
            "kms:DescribeCustomKeyStores",
            "*",
            Access::new("kms:DescribeCustomKeyStores"),
        )?;
        if let Some(id) = r
            .custom_key_store_id
            .as_ref()
            .or(r.custom_key_store_name.as_ref())
        {
            return Err(custom_key_store_not_found(id));
        }
        if r.marker.is_some() {
            // No page of an empty list has a next one.
            return Err(super::authz::invalid_marker());
        }
        Ok(json!({ "CustomKeyStores": [], "Truncated": false }))
    }

    fn missing_store(&self, r: Request, action: &'static str) -> Result<Value, LocalKmsError> {
        let id = required(r.custom_key_store_id, "customKeyStoreId")?;
        length_between("customKeyStoreId", id.len(), 1, 64)?;
        self.authorize_identity(action, "*", Access::new(action))?;
        Err(custom_key_store_not_found(&id))
    }

    fn create_custom_key_store(&self, r: Request) -> Result<Value, LocalKmsError> {
        let name = required(r.custom_key_store_name, "customKeyStoreName")?;
        length_between("customKeyStoreName", name.chars().count(), 1, 256)?;
        let kind = r.custom_key_store_type.as_deref().unwrap_or("AWS_CLOUDHSM");
        enum_member(
            kind,
            "customKeyStoreType",
            &["AWS_CLOUDHSM", "EXTERNAL_KEY_STORE"],
        )?;
        let connectivity = r
            .xks_proxy_connectivity
            .as_deref()
            .unwrap_or("PUBLIC_ENDPOINT");
        enum_member(
            connectivity,
            "xksProxyConnectivity",
            &["PUBLIC_ENDPOINT", "VPC_ENDPOINT_SERVICE"],
        )?;
        self.authorize_identity(
            "kms:CreateCustomKeyStore",
            "*",
            Access::new("kms:CreateCustomKeyStore"),
        )?;
        Err(match (kind, connectivity) {
            ("AWS_CLOUDHSM", _) => LocalKmsError::new(
                "CloudHsmClusterNotFoundException",
                "The local KMS has no CloudHSM clusters, so it cannot create an AWS CloudHSM key store.",
            ),
            (_, "VPC_ENDPOINT_SERVICE") => LocalKmsError::new(
                "XksProxyVpcEndpointServiceNotFoundException",
                "The local KMS has no VPC endpoint services, so it cannot create an external key store.",
            ),
            _ => LocalKmsError::new(
                "XksProxyUriUnreachableException",
                "The local KMS does not connect to external key store proxies, so it cannot create an external key store.",
            ),
        })
    }

    /// The key of an operation on a key: resolved (key id or ARN) and
    /// authorized for `action`.
    fn authorized_key(
        &self,
        r: &Request,
        action: &'static str,
        allow_alias: bool,
    ) -> Result<super::store::Key, LocalKmsError> {
        let id = required(r.key_id.as_deref(), "keyId")?;
        self.check_grant_tokens(r.grant_tokens.as_ref())?;
        let key = self.resolve(id, allow_alias)?;
        self.authorize(&key, &Access::new(action))?;
        Ok(key)
    }

    fn not_imported(&self, r: Request, action: &'static str) -> Result<Value, LocalKmsError> {
        let key = self.authorized_key(&r, action, false)?;
        Err(LocalKmsError::new(
            "UnsupportedOperationException",
            format!(
                "{} origin is AWS_KMS which is not valid for this operation: only keys with origin EXTERNAL have imported key material, and the local KMS does not create them.",
                key.arn
            ),
        ))
    }

    fn single_region(&self, r: Request, action: &'static str) -> Result<Value, LocalKmsError> {
        let key = self.authorized_key(&r, action, false)?;
        Err(LocalKmsError::new(
            "UnsupportedOperationException",
            format!(
                "{} is not a multi-Region key: the local KMS has single-Region keys only.",
                key.arn
            ),
        ))
    }

    fn no_kem_key(&self, r: Request, operation: &str) -> Result<Value, LocalKmsError> {
        let alg = required(
            r.encapsulation_algorithm.as_deref(),
            "encapsulationAlgorithm",
        )?;
        enum_member(alg, "encapsulationAlgorithm", &["ML_KEM"])?;
        let action = if operation == "Encapsulate" {
            "kms:Encapsulate"
        } else {
            "kms:Decapsulate"
        };
        let key = self.authorized_key(&r, action, true)?;
        key.ensure_enabled()?;
        Err(LocalKmsError::new(
            "InvalidKeyUsageException",
            format!(
                "{} key usage is {} which is not valid for {operation}: it needs a key with key usage ENCAPSULATE_DECAPSULATE (ML-KEM), which the local KMS does not create.",
                key.arn,
                key.usage.as_str()
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions() {
        for ok in ["us-east-1", "eu-central-2", "us-gov-west-1"] {
            assert!(check_region(ok, "r").is_ok(), "{ok}");
        }
        for bad in [
            "",
            "us-east",
            "useast1",
            "US-EAST-1",
            "us--1",
            "a-b-c-d-1",
            "us-east-1a",
        ] {
            assert!(check_region(bad, "r").is_err(), "{bad}");
        }
    }

    #[test]
    fn every_unmodelled_operation_is_an_operation() {
        for op in UNMODELLED {
            assert!(super::super::ops::OPERATIONS.contains(op), "{op}");
        }
    }
}
