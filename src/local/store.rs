//! Keys, aliases and grants, and how key identifiers resolve to keys.

use std::cell::Cell;
use std::collections::{BTreeMap, HashMap};
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, MutexGuard};
use std::time::SystemTime;

use super::authz::AuthzState;
use super::crypto::{KeyMaterial, KeySpec, KeyUsage, format_uuid, parse_uuid};
use super::error::LocalKmsError;
use super::rotation::AutoRotation;

/// `KeyState` values modelled here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyState {
    Enabled,
    Disabled,
    PendingDeletion,
}

impl KeyState {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Enabled => "Enabled",
            Self::Disabled => "Disabled",
            Self::PendingDeletion => "PendingDeletion",
        }
    }
}

/// One KMS key. Cloning is cheap: the material is shared. A rotation
/// replaces `material` with a new list (the old one stays with the clones
/// already handed out), so a clone is a consistent snapshot.
#[derive(Debug, Clone)]
pub(crate) struct Key {
    pub(crate) id: String,
    pub(crate) raw_id: [u8; 16],
    pub(crate) arn: String,
    pub(crate) description: String,
    pub(crate) created: SystemTime,
    pub(crate) seq: u64,
    pub(crate) state: KeyState,
    /// Deletion date and pending window while `PendingDeletion`.
    pub(crate) deletion: Option<(SystemTime, u32)>,
    pub(crate) spec: KeySpec,
    pub(crate) usage: KeyUsage,
    /// A symmetric key's materials, oldest first (see [`KeyMaterial`]).
    pub(crate) material: Arc<KeyMaterial>,
    /// The automatic rotation schedule, while automatic rotation is enabled.
    pub(crate) auto_rotation: Option<AutoRotation>,
    /// Tags, by tag key.
    pub(crate) tags: BTreeMap<String, String>,
    /// The last successful cryptographic operation (`GetKeyLastUsage`).
    pub(crate) last_used: Option<LastUse>,
}

/// A successful cryptographic operation with a key, as `GetKeyLastUsage`
/// reports it. Plain data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LastUse {
    /// `Encrypt`, `Sign`, ... (a `KeyLastUsageTrackingOperation`).
    pub(crate) operation: String,
    pub(crate) at: SystemTime,
    /// The `x-amzn-RequestId` of the request, when it came over HTTP.
    pub(crate) request_id: Option<String>,
}

/// An alias: its key, when it was created and when it was last pointed at a
/// key (`CreateAlias` or `UpdateAlias`). Plain data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Alias {
    pub(crate) key_id: String,
    pub(crate) created: SystemTime,
    pub(crate) updated: SystemTime,
}

impl Alias {
    pub(crate) fn new(key_id: String, at: SystemTime) -> Self {
        Self {
            key_id,
            created: at,
            updated: at,
        }
    }
}

impl Key {
    /// The account the key belongs to (from its ARN).
    pub(crate) fn account(&self) -> &str {
        self.arn.split(':').nth(4).unwrap_or_default()
    }

    /// `DisabledException` / `KMSInvalidStateException` unless enabled.
    pub(crate) fn ensure_enabled(&self) -> Result<(), LocalKmsError> {
        match self.state {
            KeyState::Enabled => Ok(()),
            KeyState::Disabled => Err(LocalKmsError::new(
                "DisabledException",
                format!("{} is disabled.", self.arn),
            )),
            KeyState::PendingDeletion => Err(self.pending_deletion()),
        }
    }

    pub(crate) fn pending_deletion(&self) -> LocalKmsError {
        LocalKmsError::new(
            "KMSInvalidStateException",
            format!("{} is pending deletion.", self.arn),
        )
    }

    /// `InvalidKeyUsageException` unless the key is `ENCRYPT_DECRYPT`.
    pub(crate) fn ensure_encrypt_decrypt(&self, operation: &str) -> Result<(), LocalKmsError> {
        self.ensure_usage(KeyUsage::EncryptDecrypt, operation)
    }

    /// `InvalidKeyUsageException` unless the key has this usage.
    pub(crate) fn ensure_usage(
        &self,
        usage: KeyUsage,
        operation: &str,
    ) -> Result<(), LocalKmsError> {
        if self.usage == usage {
            Ok(())
        } else {
            Err(LocalKmsError::new(
                "InvalidKeyUsageException",
                format!(
                    "{} key usage is {} which is not valid for {operation}.",
                    self.arn,
                    self.usage.as_str()
                ),
            ))
        }
    }
}

/// Everything mutable.
#[derive(Debug, Default)]
pub(crate) struct Store {
    pub(crate) keys: HashMap<String, Key>,
    /// (account, alias name `alias/x`) -> the alias
    pub(crate) aliases: BTreeMap<(String, String), Alias>,
    /// Key policies and grants.
    pub(crate) authz: AuthzState,
    pub(crate) next_seq: u64,
    /// How many times the store was changed (not saved: it counts the
    /// changes of this process, which the state file must catch up with).
    pub(crate) version: u64,
    /// How many lazy changes were made (records of a key's last use): saved
    /// with the next write or flush, never waited for (see
    /// [`StoreGuard::lazy_mut`]).
    pub(crate) lazy_changes: u64,
}

/// The locked store as an operation sees it. Mutable access is a change:
/// the first `deref_mut` counts one in [`Store::version`] (whether or not
/// anything is then written, which at worst saves the state once too
/// often). On drop it records the version the operation saw in `observed`,
/// so the request is answered only once that version is in the state file.
pub(crate) struct StoreGuard<'a> {
    guard: MutexGuard<'a, Store>,
    changed: bool,
    observed: &'a Cell<u64>,
}

impl<'a> StoreGuard<'a> {
    pub(crate) fn new(guard: MutexGuard<'a, Store>, observed: &'a Cell<u64>) -> Self {
        Self {
            guard,
            changed: false,
            observed,
        }
    }
}

impl Deref for StoreGuard<'_> {
    type Target = Store;

    fn deref(&self) -> &Store {
        &self.guard
    }
}

impl DerefMut for StoreGuard<'_> {
    fn deref_mut(&mut self) -> &mut Store {
        if !self.changed {
            self.changed = true;
            self.guard.version += 1;
        }
        &mut self.guard
    }
}

impl StoreGuard<'_> {
    /// Mutable access for a change nobody waits for: it goes to the state
    /// file with the next write or flush, and a crash before that loses it.
    /// Only for the record of a key's last use, which KMS itself reports with
    /// a delay; anything else is a change with [`DerefMut`].
    pub(crate) fn lazy_mut(&mut self) -> &mut Store {
        self.guard.lazy_changes += 1;
        &mut self.guard
    }
}

impl Drop for StoreGuard<'_> {
    fn drop(&mut self) {
        let version = self.guard.version;
        if version > self.observed.get() {
            self.observed.set(version);
        }
    }
}

/// Region and account used to build and check ARNs.
#[derive(Debug, Clone)]
pub(crate) struct Scope {
    pub(crate) region: String,
    pub(crate) account: String,
}

impl Scope {
    pub(crate) fn key_arn(&self, id: &str) -> String {
        format!("arn:aws:kms:{}:{}:key/{id}", self.region, self.account)
    }

    pub(crate) fn alias_arn(&self, alias: &str) -> String {
        format!("arn:aws:kms:{}:{}:{alias}", self.region, self.account)
    }
}

/// What a key identifier names: a key id or an alias name, in an account.
enum Target<'a> {
    Key(&'a str, &'a str),
    Alias(&'a str, &'a str),
}

impl Store {
    /// Removes keys whose deletion date has passed, with their aliases and
    /// grants; whether there were any.
    pub(crate) fn purge(&mut self, now: SystemTime) -> bool {
        let expired: Vec<String> = self
            .keys
            .values()
            .filter(|k| matches!(k.deletion, Some((at, _)) if at <= now))
            .map(|k| k.id.clone())
            .collect();
        let any = !expired.is_empty();
        for id in expired {
            self.keys.remove(&id);
            self.aliases.retain(|_, a| a.key_id != id);
            self.authz.forget_key(&id);
        }
        any
    }

    pub(crate) fn insert(&mut self, mut key: Key) -> Key {
        key.seq = self.next_seq;
        self.next_seq += 1;
        self.keys.insert(key.id.clone(), key.clone());
        key
    }

    /// The key named in a symmetric blob.
    pub(crate) fn by_raw_id(&self, raw: &[u8; 16]) -> Option<Key> {
        self.keys.get(&format_uuid(raw)).cloned()
    }

    fn parse_target<'a>(
        scope: &'a Scope,
        id: &'a str,
        allow_alias: bool,
    ) -> Result<Target<'a>, LocalKmsError> {
        if id.is_empty() || id.len() > 2048 {
            return Err(LocalKmsError::validation(
                "1 validation error detected: Value at 'keyId' failed to satisfy constraint: Member must have length between 1 and 2048",
            ));
        }
        let target = if let Some(rest) = id.strip_prefix("arn:") {
            let parts: Vec<&str> = rest.splitn(5, ':').collect();
            let [partition, service, region, account, resource] = parts[..] else {
                return Err(LocalKmsError::new(
                    "InvalidArnException",
                    format!("{id} is not a valid ARN."),
                ));
            };
            if partition.is_empty()
                || service != "kms"
                || region.is_empty()
                || account.is_empty()
                || !(resource.starts_with("key/") || resource.starts_with("alias/"))
            {
                return Err(LocalKmsError::new(
                    "InvalidArnException",
                    format!("{id} is not a valid KMS key or alias ARN."),
                ));
            }
            if region != scope.region {
                return Err(LocalKmsError::not_found(format!(
                    "Invalid arn {id}: this local KMS serves only the region {}.",
                    scope.region
                )));
            }
            match resource.strip_prefix("key/") {
                Some(k) => Target::Key(account, k),
                None => Target::Alias(account, resource),
            }
        } else if id.starts_with("alias/") {
            Target::Alias(&scope.account, id)
        } else {
            Target::Key(&scope.account, id)
        };
        if let Target::Alias(_, a) = target
            && !allow_alias
        {
            return Err(LocalKmsError::not_found(format!(
                "Alias {a} is not supported here; specify a key ID or key ARN."
            )));
        }
        Ok(target)
    }

    /// Resolves a key id, key ARN and (where `allow_alias`) alias name or
    /// alias ARN to a key, whatever its state. Key ids and alias names are
    /// looked up in `scope`'s account; ARNs name their own account.
    pub(crate) fn resolve(
        &self,
        scope: &Scope,
        id: &str,
        allow_alias: bool,
    ) -> Result<Key, LocalKmsError> {
        let in_account = |account: &str| Scope {
            region: scope.region.clone(),
            account: account.to_string(),
        };
        let (account, key_id) = match Self::parse_target(scope, id, allow_alias)? {
            Target::Key(account, k) => (account, k.to_string()),
            Target::Alias(account, a) => {
                match self.aliases.get(&(account.to_string(), a.to_string())) {
                    Some(alias) => (account, alias.key_id.clone()),
                    None => {
                        return Err(LocalKmsError::not_found(format!(
                            "Alias {} is not found.",
                            in_account(account).alias_arn(a)
                        )));
                    }
                }
            }
        };
        // Key ids are matched case-insensitively, as UUIDs.
        let normalized = parse_uuid(&key_id).map(|raw| format_uuid(&raw));
        normalized
            .and_then(|id| self.keys.get(&id))
            .filter(|k| k.account() == account)
            .cloned()
            .ok_or_else(|| {
                LocalKmsError::not_found(format!(
                    "Key '{}' does not exist",
                    in_account(account).key_arn(&key_id)
                ))
            })
    }

    /// Mutable access to a key by id (after [`Store::resolve`]).
    pub(crate) fn key_mut(&mut self, id: &str) -> Result<&mut Key, LocalKmsError> {
        self.keys
            .get_mut(id)
            .ok_or_else(|| LocalKmsError::not_found(format!("Key '{id}' does not exist")))
    }

    /// Keys in creation order.
    pub(crate) fn ordered_keys(&self) -> Vec<&Key> {
        let mut keys: Vec<&Key> = self.keys.values().collect();
        keys.sort_by_key(|k| k.seq);
        keys
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::local::crypto::uuid_v4;

    fn scope() -> Scope {
        Scope {
            region: "us-east-1".into(),
            account: "111122223333".into(),
        }
    }

    fn key(store: &mut Store) -> Key {
        let (raw, id) = uuid_v4().unwrap();
        store.insert(Key {
            arn: scope().key_arn(&id),
            id,
            raw_id: raw,
            description: String::new(),
            created: SystemTime::UNIX_EPOCH,
            seq: 0,
            state: KeyState::Enabled,
            deletion: None,
            spec: KeySpec::SymmetricDefault,
            usage: KeyUsage::EncryptDecrypt,
            material: Arc::new(
                KeyMaterial::generate(KeySpec::SymmetricDefault, KeyUsage::EncryptDecrypt, &raw)
                    .unwrap(),
            ),
            auto_rotation: None,
            tags: BTreeMap::new(),
            last_used: None,
        })
    }

    #[test]
    fn resolution_forms() {
        let s = scope();
        let mut st = Store::default();
        let k = key(&mut st);
        st.aliases.insert(
            ("111122223333".into(), "alias/app".into()),
            Alias::new(k.id.clone(), SystemTime::UNIX_EPOCH),
        );
        for id in [
            k.id.clone(),
            k.id.to_uppercase(),
            k.arn.clone(),
            "alias/app".to_string(),
            s.alias_arn("alias/app"),
        ] {
            assert_eq!(st.resolve(&s, &id, true).unwrap().id, k.id, "{id}");
        }
        assert_eq!(
            st.resolve(&s, "alias/app", false).unwrap_err().code,
            "NotFoundException"
        );
        assert_eq!(
            st.resolve(&s, "alias/nope", true).unwrap_err().code,
            "NotFoundException"
        );
        assert_eq!(
            st.resolve(&s, "1234abcd-12ab-34cd-56ef-1234567890ab", true)
                .unwrap_err()
                .code,
            "NotFoundException"
        );
        let other_region = k.arn.replace("us-east-1", "eu-west-1");
        assert_eq!(
            st.resolve(&s, &other_region, true).unwrap_err().code,
            "NotFoundException"
        );
        // Keys and aliases belong to an account: an ARN names it, a bare id
        // or alias name means the scope's account.
        let other_account = k.arn.replace("111122223333", "444455556666");
        let e = st.resolve(&s, &other_account, true).unwrap_err();
        assert_eq!(e.code, "NotFoundException");
        assert!(e.message.contains(&other_account), "{}", e.message);
        let elsewhere = Scope {
            region: s.region.clone(),
            account: "444455556666".into(),
        };
        assert!(st.resolve(&elsewhere, &k.id, true).is_err());
        assert!(st.resolve(&elsewhere, "alias/app", true).is_err());
        assert_eq!(st.resolve(&elsewhere, &k.arn, true).unwrap().id, k.id);
        assert_eq!(
            st.resolve(&elsewhere, &s.alias_arn("alias/app"), true)
                .unwrap()
                .id,
            k.id
        );
        for bad in [
            "arn:aws:s3:::bucket",
            "arn:aws:kms:us-east-1:111122223333:thing/x",
            "arn:",
        ] {
            assert_eq!(
                st.resolve(&s, bad, true).unwrap_err().code,
                "InvalidArnException",
                "{bad}"
            );
        }
        assert_eq!(
            st.resolve(&s, "", true).unwrap_err().code,
            "ValidationException"
        );
    }

    #[test]
    fn only_mutable_access_counts_as_a_change() {
        let store = std::sync::Mutex::new(Store::default());
        let observed = Cell::new(0);
        {
            let guard = StoreGuard::new(store.lock().unwrap(), &observed);
            assert!(guard.keys.is_empty());
        }
        assert_eq!((store.lock().unwrap().version, observed.get()), (0, 0));
        {
            let mut guard = StoreGuard::new(store.lock().unwrap(), &observed);
            key(&mut guard);
            key(&mut guard);
        }
        // One change per guard, however many writes.
        assert_eq!((store.lock().unwrap().version, observed.get()), (1, 1));
        let later = Cell::new(0);
        drop(StoreGuard::new(store.lock().unwrap(), &later));
        assert_eq!(later.get(), 1);
    }

    #[test]
    fn purge_removes_expired() {
        let s = scope();
        let mut st = Store::default();
        let k = key(&mut st);
        let k2 = key(&mut st);
        st.aliases.insert(
            ("111122223333".into(), "alias/gone".into()),
            Alias::new(k.id.clone(), SystemTime::UNIX_EPOCH),
        );
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(100);
        st.key_mut(&k.id).unwrap().deletion = Some((t, 7));
        assert!(!st.purge(t - std::time::Duration::from_secs(1)));
        assert!(st.resolve(&s, &k.id, true).is_ok());
        assert!(st.purge(t));
        assert!(st.resolve(&s, &k.id, true).is_err());
        assert!(st.aliases.is_empty());
        assert_eq!(st.ordered_keys().len(), 1);
        assert_eq!(st.ordered_keys()[0].id, k2.id);
    }
}
