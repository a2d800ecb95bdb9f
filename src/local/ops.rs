//! The KMS operations: request parsing, validation and responses.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::Inner;
use super::authz::{Access, Caller, KeyPolicy};
use super::crypto::{
    EncryptionAlgorithm, KeyMaterial, KeySpec, KeyUsage, blob_key_id, random_vec, uuid_v4,
};
use super::error::LocalKmsError;
use super::store::{Alias, Key, KeyState, Scope, StoreGuard};
use super::time::epoch_seconds_f64;

/// Every KMS operation (the `X-Amz-Target` suffixes): all 56 of the API,
/// each answered as KMS would answer it here. The ones this local KMS does
/// not model ([`UNMODELLED`](super::unmodelled::UNMODELLED)) answer with the
/// error KMS gives in an account without what they need.
pub(crate) const OPERATIONS: &[&str] = &[
    "CancelKeyDeletion",
    "ConnectCustomKeyStore",
    "CreateAlias",
    "CreateCustomKeyStore",
    "CreateGrant",
    "CreateKey",
    "Decapsulate",
    "Decrypt",
    "DeleteAlias",
    "DeleteCustomKeyStore",
    "DeleteImportedKeyMaterial",
    "DeriveSharedSecret",
    "DescribeCustomKeyStores",
    "DescribeKey",
    "DisableKey",
    "DisableKeyRotation",
    "DisconnectCustomKeyStore",
    "EnableKey",
    "EnableKeyRotation",
    "Encapsulate",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "GenerateDataKeyWithoutPlaintext",
    "GenerateMac",
    "GenerateRandom",
    "GetKeyLastUsage",
    "GetKeyPolicy",
    "GetKeyRotationStatus",
    "GetParametersForImport",
    "GetPublicKey",
    "ImportKeyMaterial",
    "ListAliases",
    "ListGrants",
    "ListKeyPolicies",
    "ListKeyRotations",
    "ListKeys",
    "ListResourceTags",
    "ListRetirableGrants",
    "PutKeyPolicy",
    "ReEncrypt",
    "ReplicateKey",
    "RetireGrant",
    "RevokeGrant",
    "RotateKeyOnDemand",
    "ScheduleKeyDeletion",
    "Sign",
    "TagResource",
    "UntagResource",
    "UpdateAlias",
    "UpdateCustomKeyStore",
    "UpdateKeyDescription",
    "UpdatePrimaryRegion",
    "Verify",
    "VerifyMac",
];

pub(crate) const MAX_PLAINTEXT: usize = 4096;
pub(crate) const MAX_CIPHERTEXT: usize = 6144;
const MAX_GRANT_TOKENS: usize = 10;

pub(crate) fn b64(bytes: &[u8]) -> String {
    crate::model::blob::encode(bytes)
}

/// A base64 blob member.
#[derive(Debug, Default)]
pub(crate) struct Blob(pub(crate) Vec<u8>);

impl<'de> Deserialize<'de> for Blob {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        crate::model::blob::decode_lenient(&s)
            .map(Blob)
            .map_err(|e| serde::de::Error::custom(format!("invalid base64 blob: {e}")))
    }
}

pub(crate) type Context = BTreeMap<String, String>;

/// Parses a request body that must be a JSON object.
pub(crate) fn parse<T: DeserializeOwned>(v: Value) -> Result<T, LocalKmsError> {
    if !v.is_object() {
        return Err(LocalKmsError::serialization(
            "The request body must be a JSON object.",
        ));
    }
    serde_json::from_value(v).map_err(|e| LocalKmsError::serialization(e.to_string()))
}

pub(crate) fn required<T>(v: Option<T>, member: &str) -> Result<T, LocalKmsError> {
    v.ok_or_else(|| LocalKmsError::missing(member))
}

pub(crate) fn length_between(
    member: &str,
    len: usize,
    min: usize,
    max: usize,
) -> Result<(), LocalKmsError> {
    if len < min || len > max {
        return Err(LocalKmsError::validation(format!(
            "1 validation error detected: Value at '{member}' failed to satisfy constraint: Member must have length between {min} and {max}"
        )));
    }
    Ok(())
}

/// Per-request context.
pub(crate) struct Ops<'a> {
    pub(crate) inner: &'a Inner,
    pub(crate) now: SystemTime,
    /// Who the request runs as.
    pub(crate) caller: &'a Caller,
    /// The region, and the caller's account: where key ids and alias names
    /// resolve and new keys go.
    pub(crate) scope: Scope,
    /// The grants whose tokens the request carries.
    pub(crate) presented_grants: Vec<String>,
    /// Set by every authorization decision (see [`Ops::dispatch`]).
    pub(crate) authorized: Cell<bool>,
    /// The `x-amzn-RequestId` of a request that came over HTTP.
    pub(crate) request_id: Option<String>,
    /// The store version this request saw (see [`StoreGuard`]).
    observed: Cell<u64>,
}

impl<'a> Ops<'a> {
    /// The context of one request with this JSON `body`.
    pub(crate) fn new(inner: &'a Inner, now: SystemTime, caller: &'a Caller, body: &Value) -> Self {
        Self {
            inner,
            now,
            caller,
            scope: Scope {
                region: inner.scope.region.clone(),
                account: caller.account().to_string(),
            },
            presented_grants: super::grants::presented_grants(inner, body),
            authorized: Cell::new(false),
            request_id: None,
            observed: Cell::new(0),
        }
    }

    /// The same, for the HTTP request `request_id`.
    pub(crate) fn with_request_id(mut self, request_id: &str) -> Self {
        self.request_id = Some(request_id.to_string());
        self
    }
}

impl Ops<'_> {
    /// The store, with the keys whose deletion date has passed removed and
    /// the automatic rotations due at `now` made.
    pub(crate) fn store(&self) -> StoreGuard<'_> {
        let mut guard = self
            .inner
            .store
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut changed = guard.purge(self.now);
        changed |= guard.rotate_due(self.now);
        changed |= guard
            .authz
            .grants
            .prune(self.now, self.inner.grant_propagation);
        if changed {
            guard.version += 1;
        }
        StoreGuard::new(guard, &self.observed)
    }

    /// The latest version of the store this request saw (its own changes
    /// included): what must be in the state file before it is answered.
    pub(crate) fn observed(&self) -> u64 {
        self.observed.get()
    }

    pub(crate) fn resolve(&self, id: &str, allow_alias: bool) -> Result<Key, LocalKmsError> {
        self.store().resolve(&self.scope, id, allow_alias)
    }

    /// Runs a parsed-JSON operation.
    ///
    /// A request from a principal that succeeds without any authorization
    /// decision is refused: every operation served here must authorize
    /// (`Ops::authorize`, `authorize_identity`, ...), so one added without
    /// it fails closed rather than open.
    pub(crate) fn dispatch(&self, op: &str, body: Value) -> Result<Value, LocalKmsError> {
        let result = self.run(op, body);
        if result.is_ok() && self.caller.principal().is_some() && !self.authorized.get() {
            return Err(LocalKmsError::internal(format!(
                "{op} made no authorization decision (a bug in the local KMS)."
            )));
        }
        result
    }

    fn run(&self, op: &str, body: Value) -> Result<Value, LocalKmsError> {
        match op {
            "CancelKeyDeletion" => self.cancel_key_deletion(parse(body)?),
            "CreateAlias" => self.create_alias(parse(body)?),
            "CreateGrant" => self.create_grant(body),
            "CreateKey" => {
                let plan = self.plan_create_key(parse(body)?)?;
                let material = KeyMaterial::generate(plan.spec, plan.usage, &plan.raw_id)?;
                self.finish_create_key(plan, material)
            }
            "Decrypt" => self.decrypt(parse(body)?),
            "DeleteAlias" => self.delete_alias(parse(body)?),
            "DeriveSharedSecret" => self.derive_shared_secret(parse(body)?),
            "DescribeKey" => self.describe_key(parse(body)?),
            "DisableKey" => self.set_enabled(parse(body)?, false),
            "DisableKeyRotation" => self.disable_key_rotation(parse(body)?),
            "EnableKey" => self.set_enabled(parse(body)?, true),
            "EnableKeyRotation" => self.enable_key_rotation(parse(body)?),
            "Encrypt" => self.encrypt(parse(body)?),
            "GenerateDataKey" => self.generate_data_key(parse(body)?, true),
            "GenerateDataKeyPair" => self.generate_data_key_pair(parse(body)?, true),
            "GenerateDataKeyPairWithoutPlaintext" => {
                self.generate_data_key_pair(parse(body)?, false)
            }
            "GenerateDataKeyWithoutPlaintext" => self.generate_data_key(parse(body)?, false),
            "GenerateMac" => self.generate_mac(parse(body)?),
            "GenerateRandom" => self.generate_random(parse(body)?),
            "GetKeyLastUsage" => self.get_key_last_usage(parse(body)?),
            "GetKeyPolicy" => self.get_key_policy(body),
            "GetKeyRotationStatus" => self.get_key_rotation_status(parse(body)?),
            "GetPublicKey" => self.get_public_key(parse(body)?),
            "ListAliases" => self.list_aliases(parse(body)?),
            "ListGrants" => self.list_grants(body),
            "ListKeyPolicies" => self.list_key_policies(body),
            "ListKeyRotations" => self.list_key_rotations(parse(body)?),
            "ListKeys" => self.list_keys(parse(body)?),
            "ListResourceTags" => self.list_resource_tags(parse(body)?),
            "ListRetirableGrants" => self.list_retirable_grants(body),
            "PutKeyPolicy" => self.put_key_policy(body),
            "ReEncrypt" => self.re_encrypt(parse(body)?),
            "RetireGrant" => self.retire_grant(body),
            "RevokeGrant" => self.revoke_grant(body),
            "RotateKeyOnDemand" => self.rotate_key_on_demand(parse(body)?),
            "ScheduleKeyDeletion" => self.schedule_key_deletion(parse(body)?),
            "Sign" => self.sign(parse(body)?),
            "TagResource" => self.tag_resource(parse(body)?),
            "UntagResource" => self.untag_resource(parse(body)?),
            "UpdateAlias" => self.update_alias(parse(body)?),
            "UpdateKeyDescription" => self.update_key_description(parse(body)?),
            "Verify" => self.verify(parse(body)?),
            "VerifyMac" => self.verify_mac(parse(body)?),
            other if super::unmodelled::UNMODELLED.contains(&other) => self.unmodelled(other, body),
            other => Err(unknown_operation(other)),
        }
    }

    // ----- grant tokens -------------------------------------------------

    /// `GrantTokens`: at most 10, each one a token this KMS issued.
    pub(crate) fn check_grant_tokens(
        &self,
        tokens: Option<&Vec<String>>,
    ) -> Result<(), LocalKmsError> {
        let Some(tokens) = tokens else {
            return Ok(());
        };
        if tokens.len() > MAX_GRANT_TOKENS {
            return Err(LocalKmsError::validation(format!(
                "1 validation error detected: Value at 'grantTokens' failed to satisfy constraint: Member must have length less than or equal to {MAX_GRANT_TOKENS}"
            )));
        }
        for t in tokens {
            self.decode_grant_token(t)?;
        }
        Ok(())
    }

    // ----- keys ---------------------------------------------------------

    pub(crate) fn plan_create_key(
        &self,
        r: CreateKeyRequest,
    ) -> Result<CreateKeyPlan, LocalKmsError> {
        let spec_str = match (&r.key_spec, &r.customer_master_key_spec) {
            (Some(_), Some(_)) => {
                return Err(LocalKmsError::validation(
                    "You cannot specify KeySpec and CustomerMasterKeySpec in the same request.",
                ));
            }
            (Some(s), None) | (None, Some(s)) => s.as_str(),
            (None, None) => "SYMMETRIC_DEFAULT",
        };
        let spec = KeySpec::parse(spec_str)?;
        let usage = KeyUsage::parse(r.key_usage.as_deref().unwrap_or("ENCRYPT_DECRYPT"))?;
        if !spec.allows_usage(usage) {
            return Err(LocalKmsError::validation(format!(
                "KeyUsage {} is not compatible with KeySpec {}.",
                usage.as_str(),
                spec.as_str()
            )));
        }
        let description = r.description.unwrap_or_default();
        length_between("description", description.len(), 0, 8192)?;
        if let Some(origin) = r.origin.as_deref()
            && origin != "AWS_KMS"
        {
            return Err(LocalKmsError::new(
                "UnsupportedOperationException",
                format!("Origin {origin} is not supported by the local KMS."),
            ));
        }
        if r.multi_region == Some(true) {
            return Err(LocalKmsError::new(
                "UnsupportedOperationException",
                "Multi-Region keys are not supported by the local KMS.",
            ));
        }
        if let Some(store) = &r.custom_key_store_id {
            length_between("customKeyStoreId", store.len(), 1, 64)?;
            return Err(super::unmodelled::custom_key_store_not_found(store));
        }
        if r.xks_key_id.is_some() {
            return Err(LocalKmsError::new(
                "UnsupportedOperationException",
                "XksKeyId needs an external key store (CustomKeyStoreId), which the local KMS does not have.",
            ));
        }
        let tags = match &r.tags {
            Some(tags) => super::tags::check_tags(tags)?,
            None => Vec::new(),
        };
        let request_tags = r.tags.is_some().then_some(tags.as_slice());
        let policy = self.plan_key_policy(
            r.policy,
            r.bypass_policy_lockout_safety_check,
            spec,
            usage,
            request_tags,
        )?;
        if let Some(request_tags) = request_tags {
            // Tagging at creation also needs kms:TagResource (identity
            // policies only: the key does not exist yet).
            self.authorize_identity(
                "kms:TagResource",
                "*",
                Access::new("kms:TagResource").request_tags(request_tags),
            )?;
        }
        let tags = super::tags::merge(&BTreeMap::new(), tags)?;
        let (raw_id, id) = uuid_v4()?;
        Ok(CreateKeyPlan {
            raw_id,
            id,
            spec,
            usage,
            description,
            policy,
            tags,
        })
    }

    /// Test hook: the next `finish_create_key` on this thread panics while
    /// it holds the store's lock.
    #[cfg(test)]
    pub(crate) fn panic_in_create_key() {
        PANIC_IN_CREATE_KEY.with(|p| p.set(true));
    }

    pub(crate) fn finish_create_key(
        &self,
        plan: CreateKeyPlan,
        material: KeyMaterial,
    ) -> Result<Value, LocalKmsError> {
        let key = Key {
            arn: self.scope.key_arn(&plan.id),
            id: plan.id,
            raw_id: plan.raw_id,
            description: plan.description,
            created: self.now,
            seq: 0,
            state: KeyState::Enabled,
            deletion: None,
            spec: plan.spec,
            usage: plan.usage,
            material: Arc::new(material),
            auto_rotation: None,
            tags: plan.tags,
            last_used: None,
        };
        let key = {
            let mut store = self.store();
            store.authz.policies.insert(key.id.clone(), plan.policy);
            #[cfg(test)]
            if PANIC_IN_CREATE_KEY.with(|p| p.replace(false)) {
                panic!("injected panic in CreateKey, store locked");
            }
            store.insert(key)
        };
        Ok(json!({ "KeyMetadata": self.key_metadata(&key) }))
    }

    fn key_metadata(&self, k: &Key) -> Value {
        let mut m = json!({
            "AWSAccountId": k.account(),
            "KeyId": k.id,
            "Arn": k.arn,
            "CreationDate": epoch_seconds_f64(k.created),
            "Enabled": k.state == KeyState::Enabled,
            "Description": k.description,
            "KeyUsage": k.usage.as_str(),
            "KeyState": k.state.as_str(),
            "Origin": "AWS_KMS",
            "KeyManager": "CUSTOMER",
            "CustomerMasterKeySpec": k.spec.as_str(),
            "KeySpec": k.spec.as_str(),
            "MultiRegion": false,
        });
        algorithm_lists(k, &mut m);
        if let Some((at, days)) = k.deletion {
            m["DeletionDate"] = json!(epoch_seconds_f64(at));
            m["PendingDeletionWindowInDays"] = json!(days);
        }
        if let Some(id) = k.material.material_id() {
            m["CurrentKeyMaterialId"] = json!(id);
        }
        m
    }

    fn describe_key(&self, r: KeyIdRequest) -> Result<Value, LocalKmsError> {
        let id = required(r.key_id, "keyId")?;
        self.check_grant_tokens(r.grant_tokens.as_ref())?;
        let key = self.resolve(&id, true)?;
        self.authorize(&key, &Access::new("kms:DescribeKey"))?;
        Ok(json!({ "KeyMetadata": self.key_metadata(&key) }))
    }

    fn set_enabled(&self, r: KeyIdRequest, enabled: bool) -> Result<Value, LocalKmsError> {
        let id = required(r.key_id, "keyId")?;
        let mut store = self.store();
        let key = store.resolve(&self.scope, &id, false)?;
        let action = if enabled {
            "kms:EnableKey"
        } else {
            "kms:DisableKey"
        };
        self.authorize_in(&store, &key, &Access::new(action))?;
        if key.state == KeyState::PendingDeletion {
            return Err(key.pending_deletion());
        }
        let k = store.key_mut(&key.id)?;
        if enabled {
            // Automatic rotation that came due while the key was disabled.
            super::rotation::resume(k, self.now)?;
        }
        k.state = if enabled {
            KeyState::Enabled
        } else {
            KeyState::Disabled
        };
        Ok(json!({}))
    }

    fn schedule_key_deletion(&self, r: ScheduleKeyDeletionRequest) -> Result<Value, LocalKmsError> {
        let id = required(r.key_id, "keyId")?;
        let days = r.pending_window_in_days.unwrap_or(30);
        if !(7..=30).contains(&days) {
            return Err(LocalKmsError::validation(format!(
                "1 validation error detected: Value '{days}' at 'pendingWindowInDays' failed to satisfy constraint: Member must have value between 7 and 30"
            )));
        }
        let mut store = self.store();
        let key = store.resolve(&self.scope, &id, false)?;
        self.authorize_in(&store, &key, &Access::new("kms:ScheduleKeyDeletion"))?;
        if key.state == KeyState::PendingDeletion {
            return Err(key.pending_deletion());
        }
        // An injected clock may stand anywhere: near its end there is no
        // deletion date, an error rather than an overflow.
        let at = self
            .now
            .checked_add(Duration::from_secs(days.unsigned_abs() * 86_400))
            .ok_or_else(|| {
                LocalKmsError::internal(
                    "The clock is too close to its maximum for a deletion date.",
                )
            })?;
        let k = store.key_mut(&key.id)?;
        k.state = KeyState::PendingDeletion;
        k.deletion = Some((at, days as u32));
        Ok(json!({
            "KeyId": key.arn,
            "DeletionDate": epoch_seconds_f64(at),
            "KeyState": "PendingDeletion",
            "PendingWindowInDays": days,
        }))
    }

    fn update_key_description(
        &self,
        r: UpdateKeyDescriptionRequest,
    ) -> Result<Value, LocalKmsError> {
        let id = required(r.key_id, "keyId")?;
        let description = required(r.description, "description")?;
        length_between("description", description.chars().count(), 0, 8192)?;
        let mut store = self.store();
        let key = store.resolve(&self.scope, &id, false)?;
        self.authorize_in(&store, &key, &Access::new("kms:UpdateKeyDescription"))?;
        if key.state == KeyState::PendingDeletion {
            return Err(key.pending_deletion());
        }
        store.key_mut(&key.id)?.description = description;
        Ok(json!({}))
    }

    fn cancel_key_deletion(&self, r: KeyIdRequest) -> Result<Value, LocalKmsError> {
        let id = required(r.key_id, "keyId")?;
        let mut store = self.store();
        let key = store.resolve(&self.scope, &id, false)?;
        self.authorize_in(&store, &key, &Access::new("kms:CancelKeyDeletion"))?;
        if key.state != KeyState::PendingDeletion {
            return Err(LocalKmsError::new(
                "KMSInvalidStateException",
                format!("{} is not pending deletion.", key.arn),
            ));
        }
        let k = store.key_mut(&key.id)?;
        k.state = KeyState::Disabled;
        k.deletion = None;
        Ok(json!({ "KeyId": key.arn }))
    }

    fn list_keys(&self, r: ListRequest) -> Result<Value, LocalKmsError> {
        let (start, limit) = page(&r)?;
        self.authorize_identity("kms:ListKeys", "*", Access::new("kms:ListKeys"))?;
        let store = self.store();
        let all: Vec<Value> = store
            .ordered_keys()
            .into_iter()
            .filter(|k| k.account() == self.scope.account)
            .map(|k| json!({ "KeyId": k.id, "KeyArn": k.arn }))
            .collect();
        Ok(paged("Keys", all, start, limit))
    }

    // ----- aliases ------------------------------------------------------

    pub(crate) fn validate_alias_name(name: &str) -> Result<(), LocalKmsError> {
        length_between("aliasName", name.len(), 1, 256)?;
        let Some(rest) = name.strip_prefix("alias/") else {
            return Err(LocalKmsError::new(
                "InvalidAliasNameException",
                format!("Alias must start with the prefix \"alias/\": {name}"),
            ));
        };
        if rest.is_empty()
            || !rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-'))
        {
            return Err(LocalKmsError::new(
                "InvalidAliasNameException",
                format!("Alias name {name} contains invalid characters."),
            ));
        }
        Ok(())
    }

    fn create_alias(&self, r: AliasRequest) -> Result<Value, LocalKmsError> {
        let name = required(r.alias_name, "aliasName")?;
        let target = required(r.target_key_id, "targetKeyId")?;
        Self::validate_alias_name(&name)?;
        if name.starts_with("alias/aws/") {
            return Err(LocalKmsError::new(
                "InvalidAliasNameException",
                "Alias names that begin with alias/aws/ are reserved for AWS managed keys.",
            ));
        }
        let mut store = self.store();
        let key = store.resolve(&self.scope, &target, false)?;
        if key.account() != self.scope.account {
            // The alias and its key are in the same account (CreateAlias is
            // not a cross-account operation), whoever calls: the set-up
            // methods too, so no state holds an alias of one account for a
            // key of another.
            return Err(LocalKmsError::not_found(format!(
                "Key '{}' does not exist",
                key.arn
            )));
        }
        // The alias (identity policies only), then the key (key policy).
        let alias_arn = self.scope.alias_arn(&name);
        self.authorize_identity(
            "kms:CreateAlias",
            &alias_arn,
            Access::new("kms:CreateAlias"),
        )?;
        self.authorize_in(&store, &key, &Access::new("kms:CreateAlias"))?;
        if key.state == KeyState::PendingDeletion {
            return Err(key.pending_deletion());
        }
        let entry = (self.scope.account.clone(), name);
        if store.aliases.contains_key(&entry) {
            return Err(LocalKmsError::new(
                "AlreadyExistsException",
                format!("An alias with the name {alias_arn} already exists"),
            ));
        }
        store.aliases.insert(entry, Alias::new(key.id, self.now));
        Ok(json!({}))
    }

    /// `UpdateAlias`: points an alias of the caller's account at another key
    /// of that account, of the same kind (symmetric encryption, asymmetric
    /// or HMAC) and key usage as its current key.
    fn update_alias(&self, r: AliasRequest) -> Result<Value, LocalKmsError> {
        let name = required(r.alias_name, "aliasName")?;
        let target = required(r.target_key_id, "targetKeyId")?;
        Self::validate_alias_name(&name)?;
        length_between("targetKeyId", target.len(), 1, 2048)?;
        let mut store = self.store();
        let alias_arn = self.scope.alias_arn(&name);
        let entry = (self.scope.account.clone(), name);
        let Some(current_id) = store.aliases.get(&entry).map(|a| a.key_id.clone()) else {
            return Err(LocalKmsError::not_found(format!(
                "Alias {alias_arn} is not found."
            )));
        };
        let new_key = store.resolve(&self.scope, &target, false)?;
        if new_key.account() != self.scope.account {
            // The alias and its key are in the same account.
            return Err(LocalKmsError::not_found(format!(
                "Key '{}' does not exist",
                new_key.arn
            )));
        }
        // The alias (identity policies), its current key, then the new one.
        self.authorize_identity(
            "kms:UpdateAlias",
            &alias_arn,
            Access::new("kms:UpdateAlias"),
        )?;
        let current = store.keys.get(&current_id).cloned();
        if let Some(current) = &current {
            self.authorize_in(&store, current, &Access::new("kms:UpdateAlias"))?;
        }
        self.authorize_in(&store, &new_key, &Access::new("kms:UpdateAlias"))?;
        if new_key.state == KeyState::PendingDeletion {
            return Err(new_key.pending_deletion());
        }
        if let Some(current) = &current
            && (current.spec.class() != new_key.spec.class() || current.usage != new_key.usage)
        {
            return Err(LocalKmsError::validation(format!(
                "{alias_arn} points to a KMS key with KeySpec {} and KeyUsage {}; the new target key {} has KeySpec {} and KeyUsage {}. The new target must be the same type of KMS key (symmetric encryption, asymmetric or HMAC) with the same key usage.",
                current.spec.as_str(),
                current.usage.as_str(),
                new_key.arn,
                new_key.spec.as_str(),
                new_key.usage.as_str()
            )));
        }
        if let Some(alias) = store.aliases.get_mut(&entry) {
            alias.key_id = new_key.id;
            alias.updated = self.now;
        }
        Ok(json!({}))
    }

    fn delete_alias(&self, r: AliasRequest) -> Result<Value, LocalKmsError> {
        let name = required(r.alias_name, "aliasName")?;
        Self::validate_alias_name(&name)?;
        let mut store = self.store();
        let alias_arn = self.scope.alias_arn(&name);
        let entry = (self.scope.account.clone(), name);
        let Some(Alias { key_id, .. }) = store.aliases.get(&entry) else {
            return Err(LocalKmsError::not_found(format!(
                "Alias {alias_arn} is not found."
            )));
        };
        self.authorize_identity(
            "kms:DeleteAlias",
            &alias_arn,
            Access::new("kms:DeleteAlias"),
        )?;
        if let Some(key) = store.keys.get(key_id).cloned() {
            self.authorize_in(&store, &key, &Access::new("kms:DeleteAlias"))?;
        }
        store.aliases.remove(&entry);
        Ok(json!({}))
    }

    fn list_aliases(&self, r: ListRequest) -> Result<Value, LocalKmsError> {
        let (start, limit) = page(&r)?;
        self.authorize_identity("kms:ListAliases", "*", Access::new("kms:ListAliases"))?;
        let store = self.store();
        let filter = match &r.key_id {
            Some(id) => Some(store.resolve(&self.scope, id, false)?.id),
            None => None,
        };
        let all: Vec<Value> = store
            .aliases
            .iter()
            .filter(|((account, _), a)| {
                *account == self.scope.account && filter.as_ref().is_none_or(|f| *f == a.key_id)
            })
            .map(|((_, name), a)| {
                json!({
                    "AliasName": name,
                    "AliasArn": self.scope.alias_arn(name),
                    "TargetKeyId": a.key_id,
                    "CreationDate": epoch_seconds_f64(a.created),
                    "LastUpdatedDate": epoch_seconds_f64(a.updated),
                })
            })
            .collect();
        Ok(paged("Aliases", all, start, limit))
    }

    // ----- cryptographic operations ------------------------------------

    /// Usage + algorithm check for encrypting or decrypting with `key`.
    fn check_algorithm(
        key: &Key,
        alg: Option<EncryptionAlgorithm>,
        member: &str,
        operation: &str,
    ) -> Result<EncryptionAlgorithm, LocalKmsError> {
        key.ensure_encrypt_decrypt(operation)?;
        let alg = match alg {
            Some(a) => a,
            None if key.spec.is_symmetric() => EncryptionAlgorithm::SymmetricDefault,
            None => {
                return Err(LocalKmsError::validation(format!(
                    "{member} is required for asymmetric KMS key {} (KeySpec {}).",
                    key.arn,
                    key.spec.as_str()
                )));
            }
        };
        if !key.spec.encryption_algorithms(key.usage).contains(&alg) {
            return Err(LocalKmsError::new(
                "InvalidKeyUsageException",
                format!(
                    "{} is not a supported encryption algorithm for the KMS key {} (KeySpec {}).",
                    alg.as_str(),
                    key.arn,
                    key.spec.as_str()
                ),
            ));
        }
        Ok(alg)
    }

    /// An encryption context on the encrypting side of an asymmetric key.
    fn check_context_for_encrypt(
        key: &Key,
        ctx: &Context,
        member: &str,
    ) -> Result<(), LocalKmsError> {
        if !ctx.is_empty() && !key.spec.is_symmetric() {
            return Err(LocalKmsError::validation(format!(
                "{member} is not supported with asymmetric KMS keys."
            )));
        }
        Ok(())
    }

    fn encrypt_with(
        key: &Key,
        alg: EncryptionAlgorithm,
        ctx: &Context,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, LocalKmsError> {
        key.material.encrypt(&key.raw_id, alg, ctx, plaintext)
    }

    fn encrypt(&self, r: EncryptRequest) -> Result<Value, LocalKmsError> {
        let id = required(r.key_id, "keyId")?;
        let plaintext = required(r.plaintext, "plaintext")?.0;
        length_between("plaintext", plaintext.len(), 1, MAX_PLAINTEXT)?;
        let alg = parse_alg(r.encryption_algorithm.as_deref(), "encryptionAlgorithm")?;
        self.check_grant_tokens(r.grant_tokens.as_ref())?;
        let ctx = r.encryption_context.unwrap_or_default();
        let key = self.resolve(&id, true)?;
        let access = Access::new("kms:Encrypt")
            .context(&ctx)
            .algorithm(alg_or_default(alg));
        self.authorize(&key, &access)?;
        key.ensure_enabled()?;
        let alg = Self::check_algorithm(&key, alg, "EncryptionAlgorithm", "Encrypt")?;
        Self::check_context_for_encrypt(&key, &ctx, "EncryptionContext")?;
        check_fits(&key, alg, plaintext.len())?;
        if r.dry_run == Some(true) {
            return Err(LocalKmsError::dry_run());
        }
        let blob = Self::encrypt_with(&key, alg, &ctx, &plaintext)?;
        self.record_use(&key, "Encrypt");
        Ok(json!({
            "CiphertextBlob": b64(&blob),
            "KeyId": key.arn,
            "EncryptionAlgorithm": alg.as_str(),
        }))
    }

    /// Finds the key for a ciphertext: the given key id (checked against a
    /// symmetric blob), else the key named by the symmetric blob.
    fn source_key(&self, key_id: Option<&str>, blob: Option<&[u8]>) -> Result<Key, LocalKmsError> {
        match (key_id, blob) {
            (Some(id), _) => self.resolve(id, true),
            (None, Some(blob)) => {
                let raw = blob_key_id(blob).ok_or_else(LocalKmsError::invalid_ciphertext)?;
                self.store()
                    .by_raw_id(&raw)
                    .ok_or_else(LocalKmsError::invalid_ciphertext)
            }
            (None, None) => Err(LocalKmsError::missing("ciphertextBlob")),
        }
    }

    /// `IncorrectKeyException` when a symmetric blob names another key.
    fn check_blob_matches(key: &Key, blob: &[u8]) -> Result<(), LocalKmsError> {
        if !key.spec.is_symmetric() {
            return Ok(());
        }
        match blob_key_id(blob) {
            Some(raw) if raw == key.raw_id => Ok(()),
            Some(_) => Err(LocalKmsError::new(
                "IncorrectKeyException",
                format!(
                    "The key ID in the request does not identify the KMS key ({}) that was used to encrypt the ciphertext.",
                    key.arn
                ),
            )),
            None => Err(LocalKmsError::invalid_ciphertext()),
        }
    }

    fn decrypt(&self, r: DecryptRequest) -> Result<Value, LocalKmsError> {
        let blob = required(r.ciphertext_blob, "ciphertextBlob")?.0;
        length_between("ciphertextBlob", blob.len(), 1, MAX_CIPHERTEXT)?;
        let alg = parse_alg(r.encryption_algorithm.as_deref(), "encryptionAlgorithm")?;
        self.check_grant_tokens(r.grant_tokens.as_ref())?;
        reject_recipient(r.recipient.is_some())?;
        let ctx = r.encryption_context.unwrap_or_default();
        let key = self.source_key(r.key_id.as_deref(), Some(&blob))?;
        let access = Access::new("kms:Decrypt")
            .context(&ctx)
            .algorithm(alg_or_default(alg));
        self.authorize(&key, &access)?;
        key.ensure_enabled()?;
        let alg = Self::check_algorithm(&key, alg, "EncryptionAlgorithm", "Decrypt")?;
        Self::check_blob_matches(&key, &blob)?;
        let decrypted = key.material.decrypt(&key.raw_id, alg, &ctx, &blob)?;
        if r.dry_run == Some(true) {
            return Err(LocalKmsError::dry_run());
        }
        self.record_use(&key, "Decrypt");
        let mut out = json!({
            "Plaintext": b64(&decrypted.plaintext),
            "KeyId": key.arn,
            "EncryptionAlgorithm": alg.as_str(),
        });
        // The material that decrypted this blob, current or not.
        if let Some(id) = decrypted.material_id {
            out["KeyMaterialId"] = json!(id);
        }
        Ok(out)
    }

    fn re_encrypt(&self, r: ReEncryptRequest) -> Result<Value, LocalKmsError> {
        // Request-level validation first.
        let dest_id = required(r.destination_key_id, "destinationKeyId")?;
        let src_alg = parse_alg(
            r.source_encryption_algorithm.as_deref(),
            "sourceEncryptionAlgorithm",
        )?;
        let dst_alg = parse_alg(
            r.destination_encryption_algorithm.as_deref(),
            "destinationEncryptionAlgorithm",
        )?;
        let mut ignore_ciphertext = false;
        for m in r.dry_run_modifiers.iter().flatten() {
            if m != "IGNORE_CIPHERTEXT" {
                return Err(LocalKmsError::validation(format!(
                    "1 validation error detected: Value '[{m}]' at 'dryRunModifiers' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: [IGNORE_CIPHERTEXT]]"
                )));
            }
            ignore_ciphertext = true;
        }
        let dry_run = r.dry_run == Some(true);
        let ignore_ciphertext = dry_run && ignore_ciphertext;
        if let Some(b) = &r.ciphertext_blob {
            length_between("ciphertextBlob", b.0.len(), 1, MAX_CIPHERTEXT)?;
        }
        self.check_grant_tokens(r.grant_tokens.as_ref())?;
        let blob = if ignore_ciphertext {
            None
        } else {
            Some(required(r.ciphertext_blob, "ciphertextBlob")?.0)
        };
        if ignore_ciphertext && r.source_key_id.is_none() {
            return Err(LocalKmsError::validation(
                "SourceKeyId is required when DryRun is true and DryRunModifiers contains IGNORE_CIPHERTEXT.",
            ));
        }
        let src_ctx = r.source_encryption_context.unwrap_or_default();
        let dst_ctx = r.destination_encryption_context.unwrap_or_default();

        // Keys.
        let source = self.source_key(r.source_key_id.as_deref(), blob.as_deref())?;
        let dest = self.resolve(&dest_id, true)?;

        // kms:ReEncryptFrom on the source key (with the source context),
        // then kms:ReEncryptTo on the destination (destination context).
        let same_key = vec![(source.id == dest.id).to_string()];
        let from = Access::new("kms:ReEncryptFrom")
            .context(&src_ctx)
            .algorithm(alg_or_default(src_alg))
            .condition("kms:reencryptonsamekey", same_key.clone());
        self.authorize(&source, &from)?;
        let to = Access::new("kms:ReEncryptTo")
            .context(&dst_ctx)
            .algorithm(alg_or_default(dst_alg))
            .condition("kms:reencryptonsamekey", same_key);
        self.authorize(&dest, &to)?;

        source.ensure_enabled()?;
        let src_alg =
            Self::check_algorithm(&source, src_alg, "SourceEncryptionAlgorithm", "ReEncrypt")?;
        if let Some(blob) = &blob {
            Self::check_blob_matches(&source, blob)?;
        }
        dest.ensure_enabled()?;
        let dst_alg = Self::check_algorithm(
            &dest,
            dst_alg,
            "DestinationEncryptionAlgorithm",
            "ReEncrypt",
        )?;
        Self::check_context_for_encrypt(&dest, &dst_ctx, "DestinationEncryptionContext")?;

        let Some(blob) = blob else {
            // DryRun with IGNORE_CIPHERTEXT: everything but the ciphertext checked.
            return Err(LocalKmsError::dry_run());
        };
        let decrypted = source
            .material
            .decrypt(&source.raw_id, src_alg, &src_ctx, &blob)?;
        check_fits(&dest, dst_alg, decrypted.plaintext.len())?;
        if dry_run {
            return Err(LocalKmsError::dry_run());
        }
        let out_blob = Self::encrypt_with(&dest, dst_alg, &dst_ctx, &decrypted.plaintext)?;
        self.record_use(&source, "ReEncrypt");
        self.record_use(&dest, "ReEncrypt");
        let mut out = json!({
            "CiphertextBlob": b64(&out_blob),
            "KeyId": dest.arn,
            "SourceKeyId": source.arn,
            "SourceEncryptionAlgorithm": src_alg.as_str(),
            "DestinationEncryptionAlgorithm": dst_alg.as_str(),
        });
        // The material that decrypted the blob, and the destination key's
        // current one, which encrypted it (`dest` is one snapshot).
        if let Some(id) = decrypted.material_id {
            out["SourceKeyMaterialId"] = json!(id);
        }
        if let Some(id) = dest.material.material_id() {
            out["DestinationKeyMaterialId"] = json!(id);
        }
        Ok(out)
    }

    fn generate_data_key(
        &self,
        r: GenerateDataKeyRequest,
        with_plaintext: bool,
    ) -> Result<Value, LocalKmsError> {
        let id = required(r.key_id, "keyId")?;
        let len = match (r.key_spec.as_deref(), r.number_of_bytes) {
            (Some(_), Some(_)) => {
                return Err(LocalKmsError::validation(
                    "Please specify either number of bytes or key spec, not both.",
                ));
            }
            (None, None) => {
                return Err(LocalKmsError::validation(
                    "Please specify either number of bytes or key spec.",
                ));
            }
            (Some("AES_256"), None) => 32,
            (Some("AES_128"), None) => 16,
            (Some(other), None) => {
                return Err(LocalKmsError::validation(format!(
                    "1 validation error detected: Value '{other}' at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set: [AES_256, AES_128]"
                )));
            }
            (None, Some(n)) => {
                if !(1..=1024).contains(&n) {
                    return Err(LocalKmsError::validation(format!(
                        "1 validation error detected: Value '{n}' at 'numberOfBytes' failed to satisfy constraint: Member must have value between 1 and 1024"
                    )));
                }
                n as usize
            }
        };
        self.check_grant_tokens(r.grant_tokens.as_ref())?;
        reject_recipient(r.recipient.is_some())?;
        let ctx = r.encryption_context.unwrap_or_default();
        let key = self.resolve(&id, true)?;
        let (operation, action) = if with_plaintext {
            ("GenerateDataKey", "kms:GenerateDataKey")
        } else {
            (
                "GenerateDataKeyWithoutPlaintext",
                "kms:GenerateDataKeyWithoutPlaintext",
            )
        };
        let access = Access::new(action)
            .context(&ctx)
            .algorithm(EncryptionAlgorithm::SymmetricDefault.as_str());
        self.authorize(&key, &access)?;
        key.ensure_enabled()?;
        key.ensure_encrypt_decrypt(operation)?;
        if !key.spec.is_symmetric() {
            return Err(LocalKmsError::new(
                "InvalidKeyUsageException",
                format!(
                    "{operation} requires a symmetric encryption KMS key; {} has KeySpec {}.",
                    key.arn,
                    key.spec.as_str()
                ),
            ));
        }
        if r.dry_run == Some(true) {
            return Err(LocalKmsError::dry_run());
        }
        let data_key = random_vec(len)?;
        let blob =
            Self::encrypt_with(&key, EncryptionAlgorithm::SymmetricDefault, &ctx, &data_key)?;
        self.record_use(&key, operation);
        let mut out = json!({ "CiphertextBlob": b64(&blob), "KeyId": key.arn });
        if with_plaintext {
            out["Plaintext"] = json!(b64(&data_key));
        }
        if let Some(id) = key.material.material_id() {
            out["KeyMaterialId"] = json!(id);
        }
        Ok(out)
    }

    fn generate_random(&self, r: GenerateRandomRequest) -> Result<Value, LocalKmsError> {
        let n = required(r.number_of_bytes, "numberOfBytes")?;
        if !(1..=1024).contains(&n) {
            return Err(LocalKmsError::validation(format!(
                "1 validation error detected: Value '{n}' at 'numberOfBytes' failed to satisfy constraint: Member must have value between 1 and 1024"
            )));
        }
        if let Some(store) = &r.custom_key_store_id {
            length_between("customKeyStoreId", store.len(), 1, 64)?;
        }
        self.authorize_identity("kms:GenerateRandom", "*", Access::new("kms:GenerateRandom"))?;
        if let Some(store) = &r.custom_key_store_id {
            return Err(super::unmodelled::custom_key_store_not_found(store));
        }
        reject_recipient(r.recipient.is_some())?;
        Ok(json!({ "Plaintext": b64(&random_vec(n as usize)?) }))
    }

    fn get_public_key(&self, r: KeyIdRequest) -> Result<Value, LocalKmsError> {
        let id = required(r.key_id, "keyId")?;
        self.check_grant_tokens(r.grant_tokens.as_ref())?;
        let key = self.resolve(&id, true)?;
        self.authorize(&key, &Access::new("kms:GetPublicKey"))?;
        key.ensure_enabled()?;
        let Some(der) = key.material.public_key_der() else {
            let kind = if key.spec.is_hmac() {
                "an HMAC KMS key"
            } else {
                "a symmetric encryption KMS key"
            };
            return Err(LocalKmsError::new(
                "UnsupportedOperationException",
                format!(
                    "{} is {kind}; GetPublicKey requires an asymmetric KMS key.",
                    key.arn
                ),
            ));
        };
        let mut out = json!({
            "KeyId": key.arn,
            "PublicKey": b64(der),
            "CustomerMasterKeySpec": key.spec.as_str(),
            "KeySpec": key.spec.as_str(),
            "KeyUsage": key.usage.as_str(),
        });
        algorithm_lists(&key, &mut out);
        Ok(out)
    }
}

/// The algorithm lists of a key (`EncryptionAlgorithms`,
/// `SigningAlgorithms`, `MacAlgorithms`, `KeyAgreementAlgorithms`): each
/// present when the key's usage has it, as in KMS's `KeyMetadata` and
/// `GetPublicKey` responses.
fn algorithm_lists(k: &Key, out: &mut Value) {
    let enc = k.spec.encryption_algorithms(k.usage);
    if !enc.is_empty() {
        out["EncryptionAlgorithms"] = enc.iter().map(|a| a.as_str()).collect();
    }
    let sig = k.spec.signing_algorithms(k.usage);
    if !sig.is_empty() {
        out["SigningAlgorithms"] = sig.iter().map(|a| a.as_str()).collect();
    }
    let mac = k.spec.mac_algorithms(k.usage);
    if !mac.is_empty() {
        out["MacAlgorithms"] = mac.iter().map(|a| a.as_str()).collect();
    }
    let agree = k.spec.key_agreement_algorithms(k.usage);
    if !agree.is_empty() {
        out["KeyAgreementAlgorithms"] = agree.iter().copied().collect();
    }
}

pub(crate) fn unknown_operation(op: &str) -> LocalKmsError {
    LocalKmsError::new(
        "UnknownOperationException",
        format!("Operation '{op}' is not supported by this KMS."),
    )
}

/// The algorithm of a request, for `kms:EncryptionAlgorithm`: the one
/// given, else `SYMMETRIC_DEFAULT` (what a symmetric key uses; an asymmetric
/// key without one fails its own check after authorization).
fn alg_or_default(alg: Option<EncryptionAlgorithm>) -> &'static str {
    alg.unwrap_or(EncryptionAlgorithm::SymmetricDefault)
        .as_str()
}

fn parse_alg(s: Option<&str>, member: &str) -> Result<Option<EncryptionAlgorithm>, LocalKmsError> {
    s.map(|s| EncryptionAlgorithm::parse(s, member)).transpose()
}

/// RSA-OAEP plaintext limits.
fn check_fits(key: &Key, alg: EncryptionAlgorithm, len: usize) -> Result<(), LocalKmsError> {
    match key.material.max_plaintext(alg) {
        Some(max) if len > max => Err(LocalKmsError::validation(format!(
            "Plaintext length {len} exceeds the maximum of {max} bytes for {} with KeySpec {}.",
            alg.as_str(),
            key.spec.as_str()
        ))),
        _ => Ok(()),
    }
}

fn page(r: &ListRequest) -> Result<(usize, usize), LocalKmsError> {
    page_bounds(r.limit, r.marker.as_deref())
}

/// `Limit` (1 to 1000, default 100) and `Marker` (an index this KMS gave
/// out as `NextMarker`) as (start, limit).
pub(super) fn page_bounds(
    limit: Option<i64>,
    marker: Option<&str>,
) -> Result<(usize, usize), LocalKmsError> {
    let limit = limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(LocalKmsError::validation(format!(
            "1 validation error detected: Value '{limit}' at 'limit' failed to satisfy constraint: Member must have value between 1 and 1000"
        )));
    }
    let start = match marker {
        None => 0,
        Some(m) => m.parse::<usize>().map_err(|_| {
            LocalKmsError::new(
                "InvalidMarkerException",
                "The marker that specifies where to start is not valid.",
            )
        })?,
    };
    Ok((start, limit as usize))
}

pub(crate) fn paged(member: &str, all: Vec<Value>, start: usize, limit: usize) -> Value {
    let total = all.len();
    let items: Vec<Value> = all.into_iter().skip(start).take(limit).collect();
    let end = start.saturating_add(items.len());
    let mut out = json!({ member: items, "Truncated": end < total });
    if end < total {
        out["NextMarker"] = json!(end.to_string());
    }
    out
}

// ----- request shapes -----------------------------------------------------

/// `CreateKey` request.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct CreateKeyRequest {
    pub(crate) key_spec: Option<String>,
    pub(crate) customer_master_key_spec: Option<String>,
    pub(crate) key_usage: Option<String>,
    pub(crate) description: Option<String>,
    pub(crate) origin: Option<String>,
    pub(crate) multi_region: Option<bool>,
    pub(crate) custom_key_store_id: Option<String>,
    pub(crate) xks_key_id: Option<String>,
    pub(crate) policy: Option<String>,
    pub(crate) bypass_policy_lockout_safety_check: Option<bool>,
    pub(crate) tags: Option<Vec<super::tags::TagEntry>>,
}

/// A validated `CreateKey` request awaiting its key material.
#[derive(Debug)]
pub(crate) struct CreateKeyPlan {
    /// The new key's id, raw and as text (symmetric key material ids derive
    /// from it).
    pub(crate) raw_id: [u8; 16],
    id: String,
    pub(crate) spec: KeySpec,
    pub(crate) usage: KeyUsage,
    description: String,
    policy: KeyPolicy,
    tags: BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct KeyIdRequest {
    key_id: Option<String>,
    grant_tokens: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct ScheduleKeyDeletionRequest {
    key_id: Option<String>,
    pending_window_in_days: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct ListRequest {
    key_id: Option<String>,
    limit: Option<i64>,
    marker: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct AliasRequest {
    alias_name: Option<String>,
    target_key_id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct EncryptRequest {
    key_id: Option<String>,
    plaintext: Option<Blob>,
    encryption_context: Option<Context>,
    grant_tokens: Option<Vec<String>>,
    encryption_algorithm: Option<String>,
    dry_run: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct DecryptRequest {
    ciphertext_blob: Option<Blob>,
    encryption_context: Option<Context>,
    grant_tokens: Option<Vec<String>>,
    key_id: Option<String>,
    encryption_algorithm: Option<String>,
    recipient: Option<Value>,
    dry_run: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct ReEncryptRequest {
    ciphertext_blob: Option<Blob>,
    source_encryption_context: Option<Context>,
    source_key_id: Option<String>,
    destination_key_id: Option<String>,
    destination_encryption_context: Option<Context>,
    source_encryption_algorithm: Option<String>,
    destination_encryption_algorithm: Option<String>,
    grant_tokens: Option<Vec<String>>,
    dry_run: Option<bool>,
    dry_run_modifiers: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct GenerateDataKeyRequest {
    key_id: Option<String>,
    encryption_context: Option<Context>,
    number_of_bytes: Option<i64>,
    key_spec: Option<String>,
    grant_tokens: Option<Vec<String>>,
    recipient: Option<Value>,
    dry_run: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct GenerateRandomRequest {
    number_of_bytes: Option<i64>,
    custom_key_store_id: Option<String>,
    recipient: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct UpdateKeyDescriptionRequest {
    key_id: Option<String>,
    description: Option<String>,
}

/// `Recipient` (Nitro Enclaves attestation) is not modelled.
pub(crate) fn reject_recipient(present: bool) -> Result<(), LocalKmsError> {
    if present {
        return Err(LocalKmsError::new(
            "UnsupportedOperationException",
            "Recipient (Nitro Enclaves attestation) is not supported by the local KMS.",
        ));
    }
    Ok(())
}

#[cfg(test)]
thread_local! {
    static PANIC_IN_CREATE_KEY: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}
