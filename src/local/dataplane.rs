//! The data plane of asymmetric and HMAC keys: `Sign`, `Verify`,
//! `GenerateMac`, `VerifyMac`, `DeriveSharedSecret`, `GenerateDataKeyPair`,
//! `GenerateDataKeyPairWithoutPlaintext`, and `GetKeyLastUsage` with the
//! record every successful cryptographic operation leaves on its key.
//!
//! Each operation checks, in this order: the request's members (required,
//! lengths, enum values, grant tokens), the key (`NotFoundException`), the
//! caller's permission (the action, with the condition keys KMS sets:
//! `kms:SigningAlgorithm`, `kms:MessageType`, `kms:MacAlgorithm`,
//! `kms:KeyAgreementAlgorithm`, `kms:DataKeyPairSpec`, the encryption
//! context), the key state (`DisabledException`,
//! `KMSInvalidStateException`), the key usage (`InvalidKeyUsageException`),
//! the algorithm against the key spec (`InvalidKeyUsageException`), the
//! message (`ValidationException`), then `DryRun`. `Verify`, `VerifyMac`
//! and `DeriveSharedSecret` do their cryptography before answering
//! `DryRunOperationException`, as `Decrypt` does, so a dry run reports a
//! signature, MAC or public key that would fail.
//!
//! * `Sign` / `Verify`: `MessageType` `RAW` (1 to 4096 bytes, hashed with
//!   the algorithm's hash) or `DIGEST` (exactly the hash's length, else
//!   `ValidationException` "Digest is invalid length for algorithm ...";
//!   signed as is). A signature verifies whatever `MessageType` made it, as
//!   KMS documents. `EXTERNAL_MU` is for ML-DSA keys only:
//!   `ValidationException`. A signature that does not verify, malformed or
//!   not, is `KMSInvalidSignatureException`; a valid one `SignatureValid:
//!   true`.
//! * `GenerateMac` / `VerifyMac`: HMAC (RFC 2104) with the key's one
//!   algorithm; `VerifyMac` compares in constant time and answers `MacValid:
//!   true` or `KMSInvalidMacException`.
//! * `DeriveSharedSecret`: ECDH with a `KEY_AGREEMENT` key; `PublicKey` must
//!   be an X.509 `SubjectPublicKeyInfo` on the key's curve, else
//!   `ValidationException`. `SharedSecret` is the raw x-coordinate.
//! * `GenerateDataKeyPair*`: a fresh RSA or ECC key pair, the private key
//!   (PKCS#8 DER) encrypted under a symmetric encryption key with the
//!   encryption context (so `Decrypt` of `PrivateKeyCiphertextBlob` gives
//!   the PKCS#8), the public key as `SubjectPublicKeyInfo` DER.
//!   `ECC_SECG_P256K1` pairs are made too; `SM2`, `ECC_NIST_EDWARDS25519`
//!   and `ML_KEM_*` are `UnsupportedOperationException`.
//! * `GetKeyLastUsage`: the operation, time and request id
//!   (`KmsRequestId`, for requests over HTTP) of the key's last successful
//!   cryptographic operation (every `KeyLastUsageTrackingOperation` this KMS
//!   serves; a `ReEncrypt` counts for both keys; a dry run or a failure
//!   does not). No CloudTrail here, so no `CloudTrailEventId`; tracking
//!   starts when the key is created.

use serde::Deserialize;
use serde_json::{Value, json};

use super::authz::Access;
use super::crypto::{EncryptionAlgorithm, KeySpec, KeyUsage};
use super::error::LocalKmsError;
use super::material::{ECDH, MacAlgorithm, Message, MessageType, SigningAlgorithm};
use super::ops::{
    Blob, Context, MAX_CIPHERTEXT, MAX_PLAINTEXT, Ops, b64, length_between, reject_recipient,
    required,
};
use super::store::{Key, LastUse};
use super::time::epoch_seconds_f64;

/// The most `PublicKey` may hold (`PublicKeyType`).
const MAX_PUBLIC_KEY: usize = 8192;

fn invalid_key_usage(message: String) -> LocalKmsError {
    LocalKmsError::new("InvalidKeyUsageException", message)
}

/// `KeyPairSpec` (`DataKeyPairSpec`): the specs made here, and the others.
fn parse_key_pair_spec(s: &str) -> Result<KeySpec, LocalKmsError> {
    match s {
        "RSA_2048" => Ok(KeySpec::Rsa2048),
        "RSA_3072" => Ok(KeySpec::Rsa3072),
        "RSA_4096" => Ok(KeySpec::Rsa4096),
        "ECC_NIST_P256" => Ok(KeySpec::EccNistP256),
        "ECC_NIST_P384" => Ok(KeySpec::EccNistP384),
        "ECC_NIST_P521" => Ok(KeySpec::EccNistP521),
        "ECC_SECG_P256K1" => Ok(KeySpec::EccSecgP256k1),
        "SM2" | "ECC_NIST_EDWARDS25519" | "ML_KEM_512" | "ML_KEM_768" | "ML_KEM_1024" => {
            Err(LocalKmsError::new(
                "UnsupportedOperationException",
                format!("KeyPairSpec {s} is not supported by the local KMS."),
            ))
        }
        other => Err(LocalKmsError::validation(format!(
            "1 validation error detected: Value '{other}' at 'keyPairSpec' failed to satisfy constraint: Member must satisfy enum value set: [RSA_2048, RSA_3072, RSA_4096, ECC_NIST_P256, ECC_NIST_P384, ECC_NIST_P521, ECC_SECG_P256K1, SM2, ECC_NIST_EDWARDS25519, ML_KEM_512, ML_KEM_768, ML_KEM_1024]"
        ))),
    }
}

impl Ops<'_> {
    /// Records a successful cryptographic operation with `key` for
    /// `GetKeyLastUsage` (a key deleted meanwhile is left alone). A lazy
    /// change: with a state file it is saved with the next write or flush,
    /// and the request does not wait for it (KMS itself reports last use
    /// with a delay), so cryptography never waits for the disk.
    pub(crate) fn record_use(&self, key: &Key, operation: &str) {
        let mut store = self.store();
        if let Some(k) = store.lazy_mut().keys.get_mut(&key.id) {
            k.last_used = Some(LastUse {
                operation: operation.to_string(),
                at: self.now,
                request_id: self.request_id.clone(),
            });
        }
    }

    /// Everything `Sign` and `Verify` check before their cryptography: the
    /// key, the algorithm and the message.
    fn signing_request(
        &self,
        r: &SignRequest,
        operation: &'static str,
    ) -> Result<(Key, SigningAlgorithm, MessageType), LocalKmsError> {
        let id = required(r.key_id.as_ref(), "keyId")?;
        let message = required(r.message.as_ref(), "message")?;
        length_between("message", message.0.len(), 1, MAX_PLAINTEXT)?;
        let alg = SigningAlgorithm::parse(
            required(r.signing_algorithm.as_deref(), "signingAlgorithm")?,
            "signingAlgorithm",
        )?;
        let message_type = match r.message_type.as_deref() {
            Some(t) => MessageType::parse(t)?,
            None => MessageType::Raw,
        };
        if operation == "Verify" {
            let signature = required(r.signature.as_ref(), "signature")?;
            length_between("signature", signature.0.len(), 1, MAX_CIPHERTEXT)?;
        }
        self.check_grant_tokens(r.grant_tokens.as_ref())?;
        let key = self.resolve(id, true)?;
        let action = if operation == "Verify" {
            "kms:Verify"
        } else {
            "kms:Sign"
        };
        let access = Access::new(action)
            .condition("kms:signingalgorithm", vec![alg.as_str().to_string()])
            .condition("kms:messagetype", vec![message_type.as_str().to_string()]);
        self.authorize(&key, &access)?;
        key.ensure_enabled()?;
        key.ensure_usage(KeyUsage::SignVerify, operation)?;
        if !key.spec.signing_algorithms(key.usage).contains(&alg) {
            return Err(invalid_key_usage(format!(
                "{} is not a supported signing algorithm for the KMS key {} (KeySpec {}).",
                alg.as_str(),
                key.arn,
                key.spec.as_str()
            )));
        }
        match (message_type, alg.digest()) {
            (MessageType::Raw, _) => {}
            (MessageType::Digest, Some(hash)) if message.0.len() == hash.output_len() => {}
            (MessageType::Digest, _) => {
                return Err(LocalKmsError::validation(format!(
                    "Digest is invalid length for algorithm {}.",
                    alg.as_str()
                )));
            }
            (MessageType::ExternalMu, _) => {
                return Err(LocalKmsError::validation(format!(
                    "MessageType EXTERNAL_MU is valid only with ML-DSA keys, not with {}.",
                    alg.as_str()
                )));
            }
        }
        Ok((key, alg, message_type))
    }

    pub(crate) fn sign(&self, r: SignRequest) -> Result<Value, LocalKmsError> {
        let (key, alg, message_type) = self.signing_request(&r, "Sign")?;
        if r.dry_run == Some(true) {
            return Err(LocalKmsError::dry_run());
        }
        let message = r.message.unwrap_or_default().0;
        let pair = key
            .material
            .key_pair()
            .ok_or_else(|| LocalKmsError::internal("A signing key has no key pair."))?;
        let signature = pair.sign(alg, as_message(message_type, &message))?;
        self.record_use(&key, "Sign");
        Ok(json!({
            "KeyId": key.arn,
            "Signature": b64(&signature),
            "SigningAlgorithm": alg.as_str(),
        }))
    }

    pub(crate) fn verify(&self, r: SignRequest) -> Result<Value, LocalKmsError> {
        let (key, alg, message_type) = self.signing_request(&r, "Verify")?;
        let message = r.message.unwrap_or_default().0;
        let signature = r.signature.unwrap_or_default().0;
        let valid = key
            .material
            .key_pair()
            .is_some_and(|pair| pair.verify(alg, as_message(message_type, &message), &signature));
        if !valid {
            return Err(LocalKmsError::new(
                "KMSInvalidSignatureException",
                "The signature is not valid for this message, KMS key and signing algorithm.",
            ));
        }
        if r.dry_run == Some(true) {
            return Err(LocalKmsError::dry_run());
        }
        self.record_use(&key, "Verify");
        Ok(json!({
            "KeyId": key.arn,
            "SignatureValid": true,
            "SigningAlgorithm": alg.as_str(),
        }))
    }

    /// Everything `GenerateMac` and `VerifyMac` check before the HMAC.
    fn mac_request(
        &self,
        r: &MacRequest,
        operation: &'static str,
    ) -> Result<(Key, MacAlgorithm), LocalKmsError> {
        let message = required(r.message.as_ref(), "message")?;
        let id = required(r.key_id.as_ref(), "keyId")?;
        let alg = MacAlgorithm::parse(required(r.mac_algorithm.as_deref(), "macAlgorithm")?)?;
        length_between("message", message.0.len(), 1, MAX_PLAINTEXT)?;
        if operation == "VerifyMac" {
            let mac = required(r.mac.as_ref(), "mac")?;
            length_between("mac", mac.0.len(), 1, MAX_CIPHERTEXT)?;
        }
        self.check_grant_tokens(r.grant_tokens.as_ref())?;
        let key = self.resolve(id, true)?;
        let action = if operation == "VerifyMac" {
            "kms:VerifyMac"
        } else {
            "kms:GenerateMac"
        };
        let access =
            Access::new(action).condition("kms:macalgorithm", vec![alg.as_str().to_string()]);
        self.authorize(&key, &access)?;
        key.ensure_enabled()?;
        key.ensure_usage(KeyUsage::GenerateVerifyMac, operation)?;
        if !key.spec.mac_algorithms(key.usage).contains(&alg) {
            return Err(invalid_key_usage(format!(
                "{} is not a supported MAC algorithm for the KMS key {} (KeySpec {}).",
                alg.as_str(),
                key.arn,
                key.spec.as_str()
            )));
        }
        Ok((key, alg))
    }

    pub(crate) fn generate_mac(&self, r: MacRequest) -> Result<Value, LocalKmsError> {
        let (key, alg) = self.mac_request(&r, "GenerateMac")?;
        if r.dry_run == Some(true) {
            return Err(LocalKmsError::dry_run());
        }
        let secret = key
            .material
            .hmac()
            .ok_or_else(|| LocalKmsError::internal("An HMAC key has no secret."))?;
        let mac = secret.mac(&r.message.unwrap_or_default().0)?;
        self.record_use(&key, "GenerateMac");
        Ok(json!({
            "Mac": b64(&mac),
            "MacAlgorithm": alg.as_str(),
            "KeyId": key.arn,
        }))
    }

    pub(crate) fn verify_mac(&self, r: MacRequest) -> Result<Value, LocalKmsError> {
        let (key, alg) = self.mac_request(&r, "VerifyMac")?;
        let message = r.message.unwrap_or_default().0;
        let mac = r.mac.unwrap_or_default().0;
        if !key
            .material
            .hmac()
            .is_some_and(|secret| secret.verify(&message, &mac))
        {
            return Err(LocalKmsError::new(
                "KMSInvalidMacException",
                "The MAC is not valid for this message, KMS key and MAC algorithm.",
            ));
        }
        if r.dry_run == Some(true) {
            return Err(LocalKmsError::dry_run());
        }
        self.record_use(&key, "VerifyMac");
        Ok(json!({
            "KeyId": key.arn,
            "MacValid": true,
            "MacAlgorithm": alg.as_str(),
        }))
    }

    pub(crate) fn derive_shared_secret(
        &self,
        r: DeriveSharedSecretRequest,
    ) -> Result<Value, LocalKmsError> {
        let id = required(r.key_id, "keyId")?;
        let alg = required(r.key_agreement_algorithm, "keyAgreementAlgorithm")?;
        if alg != ECDH {
            return Err(LocalKmsError::validation(format!(
                "1 validation error detected: Value '{alg}' at 'keyAgreementAlgorithm' failed to satisfy constraint: Member must satisfy enum value set: [{ECDH}]"
            )));
        }
        let public_key = required(r.public_key, "publicKey")?.0;
        length_between("publicKey", public_key.len(), 1, MAX_PUBLIC_KEY)?;
        self.check_grant_tokens(r.grant_tokens.as_ref())?;
        reject_recipient(r.recipient.is_some())?;
        let key = self.resolve(&id, true)?;
        let access = Access::new("kms:DeriveSharedSecret")
            .condition("kms:keyagreementalgorithm", vec![ECDH.to_string()]);
        self.authorize(&key, &access)?;
        key.ensure_enabled()?;
        key.ensure_usage(KeyUsage::KeyAgreement, "DeriveSharedSecret")?;
        let pair = key
            .material
            .key_pair()
            .ok_or_else(|| LocalKmsError::internal("A key agreement key has no key pair."))?;
        let secret = pair.agree(&public_key)?;
        if r.dry_run == Some(true) {
            return Err(LocalKmsError::dry_run());
        }
        self.record_use(&key, "DeriveSharedSecret");
        Ok(json!({
            "KeyId": key.arn,
            "SharedSecret": b64(&secret),
            "KeyAgreementAlgorithm": ECDH,
            "KeyOrigin": "AWS_KMS",
        }))
    }

    pub(crate) fn generate_data_key_pair(
        &self,
        r: GenerateDataKeyPairRequest,
        with_plaintext: bool,
    ) -> Result<Value, LocalKmsError> {
        let id = required(r.key_id, "keyId")?;
        let spec_name = required(r.key_pair_spec, "keyPairSpec")?;
        let spec = parse_key_pair_spec(&spec_name)?;
        self.check_grant_tokens(r.grant_tokens.as_ref())?;
        reject_recipient(r.recipient.is_some())?;
        let ctx = r.encryption_context.unwrap_or_default();
        let key = self.resolve(&id, true)?;
        let (operation, action) = if with_plaintext {
            ("GenerateDataKeyPair", "kms:GenerateDataKeyPair")
        } else {
            (
                "GenerateDataKeyPairWithoutPlaintext",
                "kms:GenerateDataKeyPairWithoutPlaintext",
            )
        };
        let access = Access::new(action)
            .context(&ctx)
            .algorithm(EncryptionAlgorithm::SymmetricDefault.as_str())
            .condition("kms:datakeypairspec", vec![spec_name.clone()]);
        self.authorize(&key, &access)?;
        key.ensure_enabled()?;
        key.ensure_encrypt_decrypt(operation)?;
        if !key.spec.is_symmetric() {
            return Err(invalid_key_usage(format!(
                "{operation} requires a symmetric encryption KMS key; {} has KeySpec {}.",
                key.arn,
                key.spec.as_str()
            )));
        }
        if r.dry_run == Some(true) {
            return Err(LocalKmsError::dry_run());
        }
        let pair = super::material::KeyPairMaterial::generate(spec)?;
        let blob = key.material.encrypt(
            &key.raw_id,
            EncryptionAlgorithm::SymmetricDefault,
            &ctx,
            pair.pkcs8(),
        )?;
        self.record_use(&key, operation);
        let mut out = json!({
            "PrivateKeyCiphertextBlob": b64(&blob),
            "PublicKey": b64(pair.public_der()),
            "KeyId": key.arn,
            "KeyPairSpec": spec_name,
        });
        if with_plaintext {
            out["PrivateKeyPlaintext"] = json!(b64(pair.pkcs8()));
        }
        if let Some(id) = key.material.material_id() {
            out["KeyMaterialId"] = json!(id);
        }
        Ok(out)
    }

    pub(crate) fn get_key_last_usage(&self, r: KeyIdOnly) -> Result<Value, LocalKmsError> {
        let id = required(r.key_id, "keyId")?;
        let key = self.resolve(&id, false)?;
        self.authorize(&key, &Access::new("kms:GetKeyLastUsage"))?;
        let mut usage = json!({});
        if let Some(last) = &key.last_used {
            usage["Operation"] = json!(last.operation);
            usage["Timestamp"] = json!(epoch_seconds_f64(last.at));
            if let Some(id) = &last.request_id {
                usage["KmsRequestId"] = json!(id);
            }
        }
        Ok(json!({
            "KeyId": key.id,
            "KeyLastUsage": usage,
            "TrackingStartDate": epoch_seconds_f64(key.created),
            "KeyCreationDate": epoch_seconds_f64(key.created),
        }))
    }
}

fn as_message(message_type: MessageType, message: &[u8]) -> Message<'_> {
    match message_type {
        MessageType::Digest => Message::Digest(message),
        _ => Message::Raw(message),
    }
}

/// `Sign` and `Verify` requests.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct SignRequest {
    key_id: Option<String>,
    message: Option<Blob>,
    message_type: Option<String>,
    signature: Option<Blob>,
    signing_algorithm: Option<String>,
    grant_tokens: Option<Vec<String>>,
    dry_run: Option<bool>,
}

/// `GenerateMac` and `VerifyMac` requests.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct MacRequest {
    key_id: Option<String>,
    message: Option<Blob>,
    mac_algorithm: Option<String>,
    mac: Option<Blob>,
    grant_tokens: Option<Vec<String>>,
    dry_run: Option<bool>,
}

/// `DeriveSharedSecret` request.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct DeriveSharedSecretRequest {
    key_id: Option<String>,
    key_agreement_algorithm: Option<String>,
    public_key: Option<Blob>,
    grant_tokens: Option<Vec<String>>,
    dry_run: Option<bool>,
    recipient: Option<Value>,
}

/// `GenerateDataKeyPair` and `GenerateDataKeyPairWithoutPlaintext` requests.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct GenerateDataKeyPairRequest {
    key_id: Option<String>,
    key_pair_spec: Option<String>,
    encryption_context: Option<Context>,
    grant_tokens: Option<Vec<String>>,
    recipient: Option<Value>,
    dry_run: Option<bool>,
}

/// A request with a `KeyId` only (`GetKeyLastUsage`).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct KeyIdOnly {
    pub(crate) key_id: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_pair_specs() {
        for (name, spec) in [
            ("RSA_2048", KeySpec::Rsa2048),
            ("RSA_3072", KeySpec::Rsa3072),
            ("RSA_4096", KeySpec::Rsa4096),
            ("ECC_NIST_P256", KeySpec::EccNistP256),
            ("ECC_NIST_P384", KeySpec::EccNistP384),
            ("ECC_NIST_P521", KeySpec::EccNistP521),
            ("ECC_SECG_P256K1", KeySpec::EccSecgP256k1),
        ] {
            assert_eq!(parse_key_pair_spec(name).unwrap(), spec);
            assert_eq!(spec.as_str(), name);
        }
        for name in ["SM2", "ECC_NIST_EDWARDS25519", "ML_KEM_768"] {
            assert_eq!(
                parse_key_pair_spec(name).unwrap_err().code(),
                "UnsupportedOperationException"
            );
        }
        for name in ["HMAC_256", "SYMMETRIC_DEFAULT", "rsa_2048", ""] {
            assert_eq!(
                parse_key_pair_spec(name).unwrap_err().code(),
                "ValidationException"
            );
        }
    }
}
