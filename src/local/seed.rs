//! Seeds: fixtures a local KMS starts from — principals with their
//! credentials and identity policies, keys with fixed ids (and, if wanted,
//! fixed key material), aliases, key policies and grants — written by hand
//! as one JSON document.
//!
//! Read one with [`Seed::from_json`] or [`Seed::from_file`] (`kms-local
//! --seed PATH`), and start a local KMS from it with
//! [`LocalKmsBuilder::open`](super::LocalKmsBuilder::open) and
//! [`Storage::seed`](super::Storage::seed). The whole document is checked
//! when it is read: an error names the entry and the member at fault, e.g.
//! `keys[2].KeySpec`, and nothing of it is used.
//!
//! # Schema
//!
//! A JSON object; every member is optional. Entry members are named as in
//! the KMS API (`KeyId`, `KeySpec`, `GranteePrincipal`, ...); an unknown
//! member is an error, so a misspelt one is never ignored.
//!
//! * `version`: `1`, the schema version.
//! * `principals`: callers, each
//!   * `Arn` (required): a principal ARN, as [`Principal`] takes it
//!     (`arn:aws:iam::A:user/NAME`, `arn:aws:iam::A:role/NAME`,
//!     `arn:aws:sts::A:assumed-role/ROLE/SESSION`, `arn:aws:iam::A:root`, ...);
//!   * `AccessKeyId` and `SecretAccessKey`: a credential pair of this
//!     principal (both or neither; the access key id is 1 to 128 letters,
//!     digits, `_`, `-` or `.`, and unique);
//!   * `IdentityPolicies`: identity policies attached to it, each a policy
//!     document as a JSON object or as a string (a role's policies apply to
//!     its sessions).
//!
//!   An entry has credentials, identity policies or both. As with
//!   [`LocalKmsBuilder::credentials`](super::LocalKmsBuilder::credentials),
//!   the default `test`/`test` pair is accepted only when no credentials are
//!   configured at all, by the builder or the seed.
//! * `keys`: KMS keys, each
//!   * `KeyId` (required): the key id, a UUID (`1234abcd-12ab-34cd-56ef-1234567890ab`),
//!     unique;
//!   * `Account`: its 12-digit account (default: the local KMS's default
//!     account);
//!   * `KeySpec`: `SYMMETRIC_DEFAULT` (default), `RSA_2048`, `RSA_3072`,
//!     `RSA_4096`, `ECC_NIST_P256`, `ECC_NIST_P384`, `ECC_NIST_P521`,
//!     `ECC_SECG_P256K1`, `HMAC_224`, `HMAC_256`, `HMAC_384` or `HMAC_512`;
//!   * `KeyUsage`: `ENCRYPT_DECRYPT` (the default, as in `CreateKey`),
//!     `SIGN_VERIFY`, `GENERATE_VERIFY_MAC` or `KEY_AGREEMENT`, as
//!     `CreateKey` allows them with the spec: `ENCRYPT_DECRYPT` or
//!     `SIGN_VERIFY` for RSA, `SIGN_VERIFY` or `KEY_AGREEMENT` for the NIST
//!     curves, `SIGN_VERIFY` for `ECC_SECG_P256K1`, `GENERATE_VERIFY_MAC`
//!     for HMAC (so an ECC or HMAC key names its usage);
//!   * `Description`: up to 8192 characters;
//!   * `KeyState`: `Enabled` (default), `Disabled` or `PendingDeletion`,
//!     with `PendingWindowInDays` (7 to 30, default 30; only then) counted
//!     from the start;
//!   * `KeyMaterial`: a `SYMMETRIC_DEFAULT` key's AES-256 key material, 32
//!     bytes in base64. A ciphertext made under it decrypts in every local
//!     KMS seeded with the same `KeyId` and `KeyMaterial`, and its
//!     `KeyMaterialId` is the same, so a fixture can hold ciphertexts.
//!     (Ciphertexts still differ byte for byte: each has a random nonce.)
//!     For an HMAC key, its key bytes in base64: 28, 32, 48 or 64 bytes for
//!     `HMAC_224` to `HMAC_512`, so a fixture can hold MACs (`VerifyMac`
//!     checks them; they are RFC 2104 HMACs with those bytes). Without it,
//!     random material;
//!   * `PrivateKey`: an RSA or ECC key's private key, an unencrypted PKCS#8
//!     DER document in base64 (`openssl genpkey -algorithm RSA -pkeyopt
//!     rsa_keygen_bits:2048 | openssl pkcs8 -topk8 -nocrypt -outform DER |
//!     base64 -w0`, or `-algorithm EC -pkeyopt ec_paramgen_curve:P-384`),
//!     of the size and curve of `KeySpec`, for either key usage: a fixed
//!     public key, so a fixture can hold signatures, RSA ciphertexts and
//!     the peer side of a shared secret. Without it, a new key pair;
//!   * `RotationPeriodInDays`: 90 to 2560; automatic rotation, enabled at the
//!     start (symmetric keys only);
//!   * `Policy`: the key policy, a JSON object or a string, checked as
//!     `CreateKey` checks it but without the lockout safety check (default:
//!     KMS's default key policy for the key's account);
//!   * `Tags`: the key's tags, as in `CreateKey`: `[{"TagKey": "team",
//!     "TagValue": "orders"}, ...]`, checked as `TagResource` checks them
//!     (1 to 128 character keys, 0 to 256 character values, letters, digits,
//!     white space and `_ . : / = + - @`, no `aws:` prefix, each key once, at
//!     most 50).
//! * `aliases`: each `AliasName` (required, `alias/...`, not `alias/aws/...`)
//!   and `TargetKeyId` (required, the `KeyId` of a seeded key, not pending
//!   deletion). The alias belongs to the key's account, once per account.
//! * `grants`: each
//!   * `KeyId` (required): the `KeyId` of a seeded key, not pending deletion;
//!   * `GranteePrincipal` (required), `RetiringPrincipal`: an account id or
//!     a principal ARN;
//!   * `Operations` (required): grant operations (`Encrypt`, `Decrypt`,
//!     `ReEncryptFrom`, ...) that the key supports;
//!   * `Constraints`: `EncryptionContextSubset` or `EncryptionContextEquals`,
//!     an object of up to 8 string pairs, on a `SYMMETRIC_DEFAULT` key only
//!     (as `CreateGrant`);
//!   * `Name`: the grant name (`[a-zA-Z0-9:/_-]`, 1 to 256 characters);
//!   * `GrantId`: a fixed grant id, 64 lower-case hex digits, unique
//!     (default: random).
//!
//!   Seeded grants are effective at once: they are dated one [grant
//!   propagation delay](super::LocalKmsBuilder::grant_propagation_delay)
//!   before the start. A token for one comes from `CreateGrant` with the same
//!   key, grantee, operations, constraints and `Name`, which (as in KMS)
//!   answers the existing grant's id with a new token.
//!
//! Keys and aliases are dated at the start (the builder's clock), keys in
//! the order given (`ListKeys` lists them so). A seeded key has not been
//! used (`GetKeyLastUsage`).
//!
//! # Example
//!
//! ```
//! use serde_json::json;
//! use tower_kms::local::{LocalKms, Seed, Storage};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let seed = Seed::from_json(r#"{
//!   "version": 1,
//!   "principals": [
//!     { "Arn": "arn:aws:iam::111122223333:user/admin",
//!       "AccessKeyId": "AKIDADMIN", "SecretAccessKey": "admin-secret" },
//!     { "Arn": "arn:aws:sts::111122223333:assumed-role/app/test",
//!       "AccessKeyId": "AKIDAPP", "SecretAccessKey": "app-secret" },
//!     { "Arn": "arn:aws:iam::111122223333:role/app",
//!       "IdentityPolicies": [
//!         { "Version": "2012-10-17",
//!           "Statement": { "Effect": "Allow", "Action": "kms:DescribeKey", "Resource": "*" } } ] }
//!   ],
//!   "keys": [
//!     { "KeyId": "11111111-2222-4333-8444-555555555555",
//!       "Description": "orders",
//!       "KeyMaterial": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
//!       "RotationPeriodInDays": 365 },
//!     { "KeyId": "66666666-7777-4888-9999-aaaaaaaaaaaa",
//!       "KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY", "KeyState": "Disabled" },
//!     { "KeyId": "77777777-8888-4999-8aaa-bbbbbbbbbbbb",
//!       "KeySpec": "HMAC_256", "KeyUsage": "GENERATE_VERIFY_MAC",
//!       "KeyMaterial": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
//!       "Tags": [ { "TagKey": "team", "TagValue": "orders" } ] }
//!   ],
//!   "aliases": [
//!     { "AliasName": "alias/orders", "TargetKeyId": "11111111-2222-4333-8444-555555555555" }
//!   ],
//!   "grants": [
//!     { "KeyId": "11111111-2222-4333-8444-555555555555", "Name": "orders-app",
//!       "GranteePrincipal": "arn:aws:iam::111122223333:role/app",
//!       "Operations": ["Encrypt", "Decrypt"],
//!       "Constraints": { "EncryptionContextSubset": { "tenant": "a" } } }
//!   ]
//! }"#)?;
//! let kms = LocalKms::builder().open(Storage::memory().seed(seed.clone()))?;
//! let blob = kms.invoke("Encrypt", json!({ "KeyId": "alias/orders", "Plaintext": "aGk=" }))?;
//!
//! // Another local KMS from the same seed decrypts it: the material is fixed.
//! let other = LocalKms::builder().open(Storage::memory().seed(seed))?;
//! let out = other.invoke("Decrypt", json!({ "CiphertextBlob": blob["CiphertextBlob"] }))?;
//! assert_eq!(out["Plaintext"], "aGk=");
//!
//! // So is the HMAC key: the same MAC from both.
//! let mac = |kms: &LocalKms| {
//!     kms.invoke("GenerateMac", json!({
//!         "KeyId": "77777777-8888-4999-8aaa-bbbbbbbbbbbb", "Message": "aGk=", "MacAlgorithm": "HMAC_SHA_256",
//!     }))
//! };
//! assert_eq!(mac(&kms)?["Mac"], mac(&other)?["Mac"]);
//!
//! // A mistake names its entry.
//! let e = Seed::from_json(r#"{"keys":[{"KeyId":"11111111-2222-4333-8444-555555555555","KeySpec":"AES"}]}"#)
//!     .unwrap_err();
//! assert_eq!(e.entry(), "keys[0].KeySpec");
//! # Ok(())
//! # }
//! ```
//!
//! [`Principal`]: super::Principal

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde_json::{Map, Value};
use zeroize::Zeroizing;

use super::authz::KeyPolicy;
use super::crypto::{
    KeyMaterial, KeySpec, KeyUsage, MaterialOrigin, SymmetricMaterial, format_uuid, parse_uuid,
    random_array,
};
use super::grants::{
    Constraints, GRANT_OPERATIONS, Grant, check_context_constraint, check_grant_id,
    check_principal, context_constraint_on, operations_of,
};
use super::ops::Ops;
use super::principal::{Principal, is_account_id};
use super::rotation::{AutoRotation, MAX_PERIOD_DAYS, MIN_PERIOD_DAYS};
use super::store::{Alias, Key, KeyState, Scope, Store};
use super::tags::{MAX_TAGS, TagEntry, check_tags};
use super::{IdentityPolicy, LocalKmsBuilder};

/// A checked seed: fixtures a local KMS starts from (see the [module
/// documentation](self) for the schema). Cheap to clone; `Debug` shows no
/// secret.
#[derive(Clone)]
pub struct Seed {
    origin: Option<PathBuf>,
    principals: Vec<SeedPrincipal>,
    keys: Vec<SeedKey>,
    aliases: Vec<SeedAlias>,
    grants: Vec<SeedGrant>,
}

impl fmt::Debug for Seed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Seed")
            .field("origin", &self.origin)
            .field(
                "principals",
                &self
                    .principals
                    .iter()
                    .map(|p| p.principal.arn())
                    .collect::<Vec<_>>(),
            )
            .field("keys", &self.keys.iter().map(|k| &k.id).collect::<Vec<_>>())
            .field("aliases", &self.aliases.len())
            .field("grants", &self.grants.len())
            .finish()
    }
}

#[derive(Clone)]
struct SeedPrincipal {
    at: String,
    principal: Principal,
    credentials: Option<(String, Arc<Zeroizing<String>>)>,
    policies: Vec<IdentityPolicy>,
}

#[derive(Clone)]
struct SeedKey {
    id: String,
    raw_id: [u8; 16],
    account: Option<String>,
    spec: KeySpec,
    usage: KeyUsage,
    description: String,
    state: KeyState,
    window_days: u32,
    /// Fixed material (symmetric or asymmetric), or `None` for new material.
    material: Option<Arc<KeyMaterial>>,
    rotation_days: Option<u32>,
    policy: Option<KeyPolicy>,
    tags: BTreeMap<String, String>,
}

#[derive(Clone)]
struct SeedAlias {
    name: String,
    /// Index in `keys`.
    key: usize,
}

#[derive(Clone)]
struct SeedGrant {
    key: usize,
    id: Option<String>,
    name: Option<String>,
    grantee: String,
    retiring: Option<String>,
    operations: Vec<String>,
    constraints: Constraints,
}

/// A seed that cannot be used: the file, the entry and member at fault
/// (e.g. `keys[2].KeySpec`) and what is wrong.
#[derive(Debug, Clone)]
pub struct SeedError {
    origin: Option<PathBuf>,
    entry: String,
    message: String,
    source: Option<Arc<std::io::Error>>,
}

impl SeedError {
    fn at(entry: &str, message: impl Into<String>) -> Self {
        Self {
            origin: None,
            entry: entry.to_string(),
            message: message.into(),
            source: None,
        }
    }

    /// The entry and member at fault, e.g. `keys[2].KeySpec` or
    /// `principals[0].AccessKeyId` (empty for the document as a whole).
    pub fn entry(&self) -> &str {
        &self.entry
    }

    /// What is wrong with it.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The seed file, when the seed came from one.
    pub fn origin(&self) -> Option<&Path> {
        self.origin.as_deref()
    }

    fn in_file(mut self, origin: Option<&Path>) -> Self {
        self.origin = origin.map(Path::to_path_buf);
        self
    }
}

impl fmt::Display for SeedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.origin {
            Some(p) => write!(f, "seed {}", p.display())?,
            None => f.write_str("seed")?,
        }
        if !self.entry.is_empty() {
            write!(f, ": {}", self.entry)?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for SeedError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

type Result<T> = std::result::Result<T, SeedError>;

fn join(at: &str, member: &str) -> String {
    if at.is_empty() {
        member.to_string()
    } else {
        format!("{at}.{member}")
    }
}

/// One JSON object of the seed, at `at`.
struct Entry<'a> {
    at: String,
    map: &'a Map<String, Value>,
}

impl<'a> Entry<'a> {
    fn new(at: String, v: &'a Value, what: &str, members: &[&str]) -> Result<Self> {
        let Some(map) = v.as_object() else {
            return Err(SeedError::at(&at, format!("{what} is a JSON object")));
        };
        if let Some(unknown) = map.keys().find(|k| !members.contains(&k.as_str())) {
            return Err(SeedError::at(
                &join(&at, unknown),
                format!(
                    "is not a member of {what} (its members are {})",
                    members.join(", ")
                ),
            ));
        }
        Ok(Self { at, map })
    }

    fn path(&self, member: &str) -> String {
        join(&self.at, member)
    }

    fn get(&self, member: &str) -> Option<&'a Value> {
        self.map.get(member).filter(|v| !v.is_null())
    }

    fn string(&self, member: &str) -> Result<Option<&'a str>> {
        match self.get(member) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(SeedError::at(&self.path(member), "must be a string")),
        }
    }

    fn required(&self, member: &str) -> Result<&'a str> {
        self.string(member)?
            .ok_or_else(|| SeedError::at(&self.path(member), "is required"))
    }

    fn integer(&self, member: &str, min: i64, max: i64) -> Result<Option<i64>> {
        match self.get(member) {
            None => Ok(None),
            Some(v) => match v.as_i64() {
                Some(n) if (min..=max).contains(&n) => Ok(Some(n)),
                _ => Err(SeedError::at(
                    &self.path(member),
                    format!("must be a whole number from {min} to {max}"),
                )),
            },
        }
    }

    fn array(&self, member: &str) -> Result<&'a [Value]> {
        match self.get(member) {
            None => Ok(&[]),
            Some(Value::Array(a)) => Ok(a),
            Some(_) => Err(SeedError::at(&self.path(member), "must be an array")),
        }
    }
}

/// A policy document: a JSON object, or its text.
fn policy_text(at: &str, v: &Value) -> Result<String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Object(_) => Ok(v.to_string()),
        _ => Err(SeedError::at(
            at,
            "must be a policy document (a JSON object or a string)",
        )),
    }
}

impl Entry<'_> {
    fn base64(&self, member: &str) -> Result<Option<Zeroizing<Vec<u8>>>> {
        let Some(text) = self.string(member)? else {
            return Ok(None);
        };
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD
            .decode(text.as_bytes())
            .map(|b| Some(Zeroizing::new(b)))
            .map_err(|e| SeedError::at(&self.path(member), format!("is not base64: {e}")))
    }
}

fn context(at: &str, v: &Value) -> Result<BTreeMap<String, String>> {
    let Some(map) = v.as_object() else {
        return Err(SeedError::at(at, "must be an object of string pairs"));
    };
    let mut out = BTreeMap::new();
    for (k, v) in map {
        let Some(v) = v.as_str() else {
            return Err(SeedError::at(&join(at, k), "must be a string"));
        };
        out.insert(k.clone(), v.to_string());
    }
    Ok(out)
}

fn valid_access_key_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

impl Seed {
    /// Reads and checks a seed (see the [module documentation](self) for
    /// the schema).
    ///
    /// # Errors
    /// [`SeedError`] naming the entry at fault for anything the schema does
    /// not allow.
    pub fn from_json(text: &str) -> std::result::Result<Self, SeedError> {
        let doc: Value = serde_json::from_str(text)
            .map_err(|e| SeedError::at("", format!("is not JSON: {e}")))?;
        let root = Entry::new(
            String::new(),
            &doc,
            "a seed",
            &["version", "principals", "keys", "aliases", "grants"],
        )?;
        if let Some(v) = root.get("version")
            && v.as_u64() != Some(1)
        {
            return Err(SeedError::at(
                "version",
                format!("is {v}; this version of tower-kms reads seed version 1"),
            ));
        }
        let principals = parse_principals(&root)?;
        let keys = parse_keys(&root)?;
        let index: HashMap<&str, usize> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| (k.id.as_str(), i))
            .collect();
        let aliases = parse_aliases(&root, &keys, &index)?;
        let grants = parse_grants(&root, &keys, &index)?;
        Ok(Self {
            origin: None,
            principals,
            keys,
            aliases,
            grants,
        })
    }

    /// Reads and checks the seed file at `path`; errors name the file.
    ///
    /// # Errors
    /// [`SeedError`]: the file cannot be read, or as [`from_json`](Self::from_json).
    pub fn from_file(path: impl AsRef<Path>) -> std::result::Result<Self, SeedError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| SeedError {
            origin: Some(path.to_path_buf()),
            entry: String::new(),
            message: "cannot be read".to_string(),
            source: Some(Arc::new(e)),
        })?;
        let mut seed = Self::from_json(&text).map_err(|e| e.in_file(Some(path)))?;
        seed.origin = Some(path.to_path_buf());
        Ok(seed)
    }

    /// The key ids of the seeded keys, in order.
    pub fn key_ids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|k| k.id.as_str())
    }

    /// Adds the seed's principals (credentials and identity policies) to
    /// `builder`.
    pub(crate) fn configure(
        &self,
        mut builder: LocalKmsBuilder,
    ) -> std::result::Result<LocalKmsBuilder, SeedError> {
        for p in &self.principals {
            if let Some((akid, secret)) = &p.credentials {
                if builder.credentials.iter().any(|(id, ..)| id == akid) {
                    return Err(SeedError::at(
                        &join(&p.at, "AccessKeyId"),
                        format!(
                            "{akid} is configured already (a builder credential or --credentials)"
                        ),
                    )
                    .in_file(self.origin.as_deref()));
                }
                builder = builder.credentials_for(
                    akid.clone(),
                    secret.as_str().to_string(),
                    p.principal.clone(),
                );
            }
            for policy in &p.policies {
                builder = builder.identity_policy(&p.principal, policy.clone());
            }
        }
        Ok(builder)
    }

    /// Creates the seed's keys, key policies, aliases and grants in an empty
    /// `store`, at `now`, in `scope` (the region and the default account).
    pub(crate) fn apply(
        &self,
        store: &mut Store,
        scope: &Scope,
        now: SystemTime,
        propagation: Duration,
    ) -> std::result::Result<(), SeedError> {
        let fail = |at: String, e: &dyn fmt::Display| {
            SeedError::at(&at, e.to_string()).in_file(self.origin.as_deref())
        };
        let mut ids = Vec::with_capacity(self.keys.len());
        for (i, k) in self.keys.iter().enumerate() {
            let account = k.account.clone().unwrap_or_else(|| scope.account.clone());
            let arn = format!("arn:aws:kms:{}:{account}:key/{}", scope.region, k.id);
            let material = match &k.material {
                Some(m) => m.clone(),
                None => Arc::new(
                    KeyMaterial::generate(k.spec, k.usage, &k.raw_id)
                        .map_err(|e| fail(format!("keys[{i}]"), &e))?,
                ),
            };
            let deletion = (k.state == KeyState::PendingDeletion).then(|| {
                let at = now
                    .checked_add(Duration::from_secs(u64::from(k.window_days) * 86_400))
                    .unwrap_or(now);
                (at, k.window_days)
            });
            let policy = match &k.policy {
                Some(p) => p.clone(),
                None => KeyPolicy::default_for(&account)
                    .map_err(|e| fail(format!("keys[{i}]"), &e.message()))?,
            };
            store.authz.policies.insert(k.id.clone(), policy);
            let key = store.insert(Key {
                id: k.id.clone(),
                raw_id: k.raw_id,
                arn,
                description: k.description.clone(),
                created: now,
                seq: 0,
                state: k.state,
                deletion,
                spec: k.spec,
                usage: k.usage,
                material,
                auto_rotation: k.rotation_days.map(|period_days| AutoRotation {
                    period_days,
                    anchor: now,
                }),
                tags: k.tags.clone(),
                last_used: None,
            });
            ids.push(key);
        }
        for (i, a) in self.aliases.iter().enumerate() {
            let key = &ids[a.key];
            let entry = (key.account().to_string(), a.name.clone());
            if store.aliases.contains_key(&entry) {
                return Err(fail(
                    format!("aliases[{i}].AliasName"),
                    &format!("{} is an alias of account {} already", a.name, entry.0),
                ));
            }
            store.aliases.insert(entry, Alias::new(key.id.clone(), now));
        }
        let created = now.checked_sub(propagation).unwrap_or(now);
        for (i, g) in self.grants.iter().enumerate() {
            let key = &ids[g.key];
            let id = match &g.id {
                Some(id) => id.clone(),
                None => {
                    hex::encode(random_array::<32>().map_err(|e| fail(format!("grants[{i}]"), &e))?)
                }
            };
            store.authz.grants.add(Grant {
                id,
                key_id: key.id.clone(),
                key_arn: key.arn.clone(),
                name: g.name.clone(),
                grantee: g.grantee.clone(),
                retiring: g.retiring.clone(),
                operations: g.operations.clone(),
                constraints: g.constraints.clone(),
                issuing_account: key.account().to_string(),
                created,
                retired: None,
                seq: 0,
            });
        }
        Ok(())
    }
}

fn parse_principals(root: &Entry<'_>) -> Result<Vec<SeedPrincipal>> {
    let mut out = Vec::new();
    let mut akids: HashMap<String, String> = HashMap::new();
    for (i, v) in root.array("principals")?.iter().enumerate() {
        let e = Entry::new(
            format!("principals[{i}]"),
            v,
            "a principal entry",
            &["Arn", "AccessKeyId", "SecretAccessKey", "IdentityPolicies"],
        )?;
        let arn = e.required("Arn")?;
        let principal = Principal::from_arn(arn)
            .map_err(|err| SeedError::at(&e.path("Arn"), err.to_string()))?;
        let credentials = match (e.string("AccessKeyId")?, e.string("SecretAccessKey")?) {
            (None, None) => None,
            (Some(id), Some(secret)) => {
                if !valid_access_key_id(id) {
                    return Err(SeedError::at(
                        &e.path("AccessKeyId"),
                        "is 1 to 128 letters, digits, '_', '-' or '.'",
                    ));
                }
                if secret.is_empty() {
                    return Err(SeedError::at(&e.path("SecretAccessKey"), "is empty"));
                }
                if let Some(first) = akids.insert(id.to_string(), e.at.clone()) {
                    return Err(SeedError::at(
                        &e.path("AccessKeyId"),
                        format!("{id} is the access key id of {first} already"),
                    ));
                }
                Some((id.to_string(), Arc::new(Zeroizing::new(secret.to_string()))))
            }
            (Some(_), None) => {
                return Err(SeedError::at(
                    &e.path("SecretAccessKey"),
                    "is required with AccessKeyId",
                ));
            }
            (None, Some(_)) => {
                return Err(SeedError::at(
                    &e.path("AccessKeyId"),
                    "is required with SecretAccessKey",
                ));
            }
        };
        let mut policies = Vec::new();
        for (j, p) in e.array("IdentityPolicies")?.iter().enumerate() {
            let at = e.path(&format!("IdentityPolicies[{j}]"));
            let text = policy_text(&at, p)?;
            policies.push(
                IdentityPolicy::from_json(&text)
                    .map_err(|err| SeedError::at(&at, err.message()))?,
            );
        }
        if credentials.is_none() && policies.is_empty() {
            return Err(SeedError::at(
                &e.at,
                "has neither credentials (AccessKeyId, SecretAccessKey) nor IdentityPolicies",
            ));
        }
        out.push(SeedPrincipal {
            at: e.at.clone(),
            principal,
            credentials,
            policies,
        });
    }
    Ok(out)
}

fn parse_keys(root: &Entry<'_>) -> Result<Vec<SeedKey>> {
    let mut out: Vec<SeedKey> = Vec::new();
    for (i, v) in root.array("keys")?.iter().enumerate() {
        let e = Entry::new(
            format!("keys[{i}]"),
            v,
            "a key entry",
            &[
                "KeyId",
                "Account",
                "KeySpec",
                "KeyUsage",
                "Description",
                "KeyState",
                "PendingWindowInDays",
                "KeyMaterial",
                "PrivateKey",
                "RotationPeriodInDays",
                "Policy",
                "Tags",
            ],
        )?;
        let text = e.required("KeyId")?;
        let raw_id = parse_uuid(text).ok_or_else(|| {
            SeedError::at(
                &e.path("KeyId"),
                format!(
                    "{text:?} is not a key id (a UUID such as 1234abcd-12ab-34cd-56ef-1234567890ab)"
                ),
            )
        })?;
        let id = format_uuid(&raw_id);
        if let Some(j) = out.iter().position(|k| k.id == id) {
            return Err(SeedError::at(
                &e.path("KeyId"),
                format!("{id} is the key id of keys[{j}] already"),
            ));
        }
        let account = e.string("Account")?;
        if let Some(a) = account
            && !is_account_id(a)
        {
            return Err(SeedError::at(
                &e.path("Account"),
                "is not a 12-digit account id",
            ));
        }
        let spec = KeySpec::parse(e.string("KeySpec")?.unwrap_or("SYMMETRIC_DEFAULT"))
            .map_err(|err| SeedError::at(&e.path("KeySpec"), err.message()))?;
        let usage = KeyUsage::parse(e.string("KeyUsage")?.unwrap_or("ENCRYPT_DECRYPT"))
            .map_err(|err| SeedError::at(&e.path("KeyUsage"), err.message()))?;
        if !spec.allows_usage(usage) {
            let usages: Vec<&str> = ALL_USAGES
                .iter()
                .filter(|u| spec.allows_usage(**u))
                .map(|u| u.as_str())
                .collect();
            let given = if e.get("KeyUsage").is_some() {
                ""
            } else {
                " (the default)"
            };
            return Err(SeedError::at(
                &e.path("KeyUsage"),
                format!(
                    "{}{given} is not compatible with KeySpec {}, which takes {}",
                    usage.as_str(),
                    spec.as_str(),
                    usages.join(" or ")
                ),
            ));
        }
        let description = e.string("Description")?.unwrap_or_default();
        if description.chars().count() > 8192 {
            return Err(SeedError::at(
                &e.path("Description"),
                "is longer than 8192 characters",
            ));
        }
        let state = match e.string("KeyState")?.unwrap_or("Enabled") {
            "Enabled" => KeyState::Enabled,
            "Disabled" => KeyState::Disabled,
            "PendingDeletion" => KeyState::PendingDeletion,
            other => {
                return Err(SeedError::at(
                    &e.path("KeyState"),
                    format!("{other:?} is not Enabled, Disabled or PendingDeletion"),
                ));
            }
        };
        let window = e.integer("PendingWindowInDays", 7, 30)?;
        if window.is_some() && state != KeyState::PendingDeletion {
            return Err(SeedError::at(
                &e.path("PendingWindowInDays"),
                "is only for a key whose KeyState is PendingDeletion",
            ));
        }
        let material = match (e.base64("KeyMaterial")?, e.base64("PrivateKey")?) {
            (Some(_), Some(_)) => {
                return Err(SeedError::at(&e.at, "has both KeyMaterial and PrivateKey"));
            }
            (Some(bytes), None) if spec.is_hmac() => Some(Arc::new(
                KeyMaterial::from_hmac_secret(spec, &bytes)
                    .map_err(|err| SeedError::at(&e.path("KeyMaterial"), format!("is {err}")))?,
            )),
            (Some(bytes), None) => {
                if !spec.is_symmetric() {
                    return Err(SeedError::at(
                        &e.path("KeyMaterial"),
                        format!(
                            "is for symmetric encryption and HMAC keys; {} takes PrivateKey",
                            spec.as_str()
                        ),
                    ));
                }
                let secret: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
                    SeedError::at(
                        &e.path("KeyMaterial"),
                        format!("is {} bytes; AES-256 key material is 32", bytes.len()),
                    )
                })?;
                let m = SymmetricMaterial::from_secret(
                    &raw_id,
                    Zeroizing::new(secret),
                    MaterialOrigin::Created,
                );
                KeyMaterial::from_materials(vec![m]).map(Arc::new)
            }
            (None, Some(der)) => {
                if spec.is_symmetric() || spec.is_hmac() {
                    return Err(SeedError::at(
                        &e.path("PrivateKey"),
                        format!(
                            "is for asymmetric keys (RSA and ECC); {} takes KeyMaterial",
                            spec.as_str()
                        ),
                    ));
                }
                Some(Arc::new(
                    KeyMaterial::from_pkcs8(spec, usage, &der)
                        .map_err(|err| SeedError::at(&e.path("PrivateKey"), format!("is {err}")))?,
                ))
            }
            (None, None) => None,
        };
        let rotation = e.integer("RotationPeriodInDays", MIN_PERIOD_DAYS, MAX_PERIOD_DAYS)?;
        if rotation.is_some() && !spec.is_symmetric() {
            return Err(SeedError::at(
                &e.path("RotationPeriodInDays"),
                format!("only symmetric keys rotate, not {}", spec.as_str()),
            ));
        }
        let policy = match e.get("Policy") {
            None => None,
            Some(p) => {
                let at = e.path("Policy");
                let text = policy_text(&at, p)?;
                Some(KeyPolicy::from_text(text).map_err(|err| SeedError::at(&at, err.message()))?)
            }
        };
        let tags = parse_tags(&e)?;
        out.push(SeedKey {
            id,
            raw_id,
            account: account.map(str::to_string),
            spec,
            usage,
            description: description.to_string(),
            state,
            window_days: window.map_or(30, |w| w as u32),
            material,
            rotation_days: rotation.map(|d| d as u32),
            policy,
            tags,
        });
    }
    Ok(out)
}

/// Every key usage, in the order error messages list them.
const ALL_USAGES: [KeyUsage; 4] = [
    KeyUsage::EncryptDecrypt,
    KeyUsage::SignVerify,
    KeyUsage::GenerateVerifyMac,
    KeyUsage::KeyAgreement,
];

/// The `Tags` of key entry `e`, checked as `TagResource` checks them.
fn parse_tags(e: &Entry<'_>) -> Result<BTreeMap<String, String>> {
    let given = e.array("Tags")?;
    if given.len() > MAX_TAGS {
        return Err(SeedError::at(
            &e.path("Tags"),
            format!("holds {} tags; a key holds at most {MAX_TAGS}", given.len()),
        ));
    }
    let mut tags: BTreeMap<String, String> = BTreeMap::new();
    let mut first: HashMap<String, usize> = HashMap::new();
    for (j, v) in given.iter().enumerate() {
        let t = Entry::new(
            e.path(&format!("Tags[{j}]")),
            v,
            "a tag",
            &["TagKey", "TagValue"],
        )?;
        let key = t.required("TagKey")?;
        let value = t.required("TagValue")?;
        check_tags(&[TagEntry::new(key.to_string(), value.to_string())])
            .map_err(|err| SeedError::at(&t.at, err.message()))?;
        if let Some(k) = first.insert(key.to_string(), j) {
            return Err(SeedError::at(
                &t.path("TagKey"),
                format!("{key:?} is the TagKey of Tags[{k}] already"),
            ));
        }
        tags.insert(key.to_string(), value.to_string());
    }
    Ok(tags)
}

/// The index of the seeded key `KeyId` of entry `e` names, not pending
/// deletion.
fn seeded_key(
    e: &Entry<'_>,
    member: &str,
    keys: &[SeedKey],
    index: &HashMap<&str, usize>,
) -> Result<usize> {
    let text = e.required(member)?;
    let i = parse_uuid(text)
        .and_then(|raw| index.get(format_uuid(&raw).as_str()).copied())
        .ok_or_else(|| {
            SeedError::at(
                &e.path(member),
                format!("{text:?} is not the KeyId of a seeded key"),
            )
        })?;
    if keys[i].state == KeyState::PendingDeletion {
        return Err(SeedError::at(
            &e.path(member),
            format!("keys[{i}] is pending deletion"),
        ));
    }
    Ok(i)
}

fn parse_aliases(
    root: &Entry<'_>,
    keys: &[SeedKey],
    index: &HashMap<&str, usize>,
) -> Result<Vec<SeedAlias>> {
    let mut out: Vec<SeedAlias> = Vec::new();
    let mut seen: HashSet<(Option<&str>, &str)> = HashSet::new();
    for (i, v) in root.array("aliases")?.iter().enumerate() {
        let e = Entry::new(
            format!("aliases[{i}]"),
            v,
            "an alias entry",
            &["AliasName", "TargetKeyId"],
        )?;
        let name = e.required("AliasName")?;
        Ops::validate_alias_name(name)
            .map_err(|err| SeedError::at(&e.path("AliasName"), err.message()))?;
        if name.starts_with("alias/aws/") {
            return Err(SeedError::at(
                &e.path("AliasName"),
                "alias/aws/ is reserved for AWS managed keys",
            ));
        }
        let key = seeded_key(&e, "TargetKeyId", keys, index)?;
        if !seen.insert((keys[key].account.as_deref(), name)) {
            return Err(SeedError::at(
                &e.path("AliasName"),
                format!("{name} is an alias of the same account already"),
            ));
        }
        out.push(SeedAlias {
            name: name.to_string(),
            key,
        });
    }
    Ok(out)
}

fn parse_grants(
    root: &Entry<'_>,
    keys: &[SeedKey],
    index: &HashMap<&str, usize>,
) -> Result<Vec<SeedGrant>> {
    let mut out: Vec<SeedGrant> = Vec::new();
    for (i, v) in root.array("grants")?.iter().enumerate() {
        let e = Entry::new(
            format!("grants[{i}]"),
            v,
            "a grant entry",
            &[
                "KeyId",
                "GrantId",
                "Name",
                "GranteePrincipal",
                "RetiringPrincipal",
                "Operations",
                "Constraints",
            ],
        )?;
        let key = seeded_key(&e, "KeyId", keys, index)?;
        let id = e.string("GrantId")?;
        if let Some(id) = id {
            check_grant_id(id).map_err(|err| SeedError::at(&e.path("GrantId"), err.message()))?;
            if let Some(j) = out.iter().position(|g| g.id.as_deref() == Some(id)) {
                return Err(SeedError::at(
                    &e.path("GrantId"),
                    format!("is the GrantId of grants[{j}] already"),
                ));
            }
        }
        let name = e.string("Name")?;
        if let Some(n) = name
            && (n.is_empty()
                || n.len() > 256
                || !n
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b':' | b'/' | b'_' | b'-')))
        {
            return Err(SeedError::at(
                &e.path("Name"),
                "is 1 to 256 letters, digits, ':', '/', '_' or '-'",
            ));
        }
        let grantee = e.required("GranteePrincipal")?;
        check_principal("GranteePrincipal", grantee)
            .map_err(|err| SeedError::at(&e.path("GranteePrincipal"), err.message()))?;
        let retiring = e.string("RetiringPrincipal")?;
        if let Some(r) = retiring {
            check_principal("RetiringPrincipal", r)
                .map_err(|err| SeedError::at(&e.path("RetiringPrincipal"), err.message()))?;
        }
        let given = e.array("Operations")?;
        if given.is_empty() {
            return Err(SeedError::at(
                &e.path("Operations"),
                "is required (not empty)",
            ));
        }
        let supported = operations_of(keys[key].spec, keys[key].usage);
        let mut operations: Vec<String> = Vec::new();
        for (j, op) in given.iter().enumerate() {
            let at = e.path(&format!("Operations[{j}]"));
            let Some(op) = op.as_str() else {
                return Err(SeedError::at(&at, "must be a string"));
            };
            if !GRANT_OPERATIONS.contains(&op) {
                return Err(SeedError::at(
                    &at,
                    format!(
                        "{op:?} is not a grant operation ({})",
                        GRANT_OPERATIONS.join(", ")
                    ),
                ));
            }
            if !supported.contains(&op) {
                return Err(SeedError::at(
                    &at,
                    format!(
                        "{op} is not an operation of keys[{key}] (KeySpec {}, KeyUsage {})",
                        keys[key].spec.as_str(),
                        keys[key].usage.as_str()
                    ),
                ));
            }
            if !operations.iter().any(|o| o == op) {
                operations.push(op.to_string());
            }
        }
        let mut constraints = Constraints::default();
        if let Some(c) = e.get("Constraints") {
            let c = Entry::new(
                e.path("Constraints"),
                c,
                "grant constraints",
                &["EncryptionContextSubset", "EncryptionContextEquals"],
            )?;
            for (member, slot) in [
                ("EncryptionContextSubset", &mut constraints.subset),
                ("EncryptionContextEquals", &mut constraints.equals),
            ] {
                if let Some(v) = c.get(member) {
                    let at = c.path(member);
                    let ctx = context(&at, v)?;
                    check_context_constraint(member, &ctx)
                        .map_err(|err| SeedError::at(&at, err.message()))?;
                    if !keys[key].spec.is_symmetric() {
                        return Err(SeedError::at(
                            &at,
                            context_constraint_on(keys[key].spec.as_str()),
                        ));
                    }
                    *slot = Some(ctx);
                }
            }
        }
        out.push(SeedGrant {
            key,
            id: id.map(str::to_string),
            name: name.map(str::to_string),
            grantee: grantee.to_string(),
            retiring: retiring.map(str::to_string),
            operations,
            constraints,
        });
    }
    Ok(out)
}
