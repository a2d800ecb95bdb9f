//! The body of the state file: a JSON document of the whole store, written
//! from a snapshot and read back with every field checked.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::SystemTime;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::Zeroizing;

use super::super::authz::KeyPolicy;
use super::super::crypto::{
    KeyClass, KeyMaterial, KeySpec, KeyUsage, MaterialOrigin, RotationType, SymmetricMaterial,
    format_uuid, parse_uuid,
};
use super::super::grants::{
    Constraints, GRANT_OPERATIONS, Grant, Grants, check_grant_id, check_principal,
};
use super::super::ops::Ops;
use super::super::principal::is_account_id;
use super::super::rotation::{AutoRotation, MAX_PERIOD_DAYS, MIN_PERIOD_DAYS};
use super::super::store::{Alias, Key, KeyState, LastUse, Scope, Store};
use super::super::tags::{MAX_TAGS, TagEntry, check_tags};
use super::super::time::{format_rfc3339, parse_rfc3339};
use crate::model::KeyLastUsageTrackingOperation;

/// Secret bytes: base64 in the file, zeroized in memory.
struct Secret(Zeroizing<Vec<u8>>);

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        crate::model::blob::ser_secret(&self.0, s)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::model::blob::de_secret(d).map(|v| Secret(Zeroizing::new(v)))
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct StateDoc {
    region: String,
    grant_token_key: Secret,
    next_key_sequence: u64,
    next_grant_sequence: u64,
    keys: Vec<KeyDoc>,
    aliases: Vec<AliasDoc>,
    grants: Vec<GrantDoc>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct KeyDoc {
    key_id: String,
    arn: String,
    description: String,
    creation_date: String,
    sequence: u64,
    key_state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    deletion_date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pending_window_in_days: Option<u32>,
    key_spec: String,
    key_usage: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    key_materials: Vec<MaterialDoc>,
    /// An RSA or ECC key's private key, PKCS#8 v1 DER (either usage).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    private_key: Option<Secret>,
    /// An HMAC key's key bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    hmac_key: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    automatic_rotation: Option<RotationDoc>,
    policy: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    tags: Vec<TagDoc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    key_last_usage: Option<LastUsageDoc>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct TagDoc {
    tag_key: String,
    tag_value: String,
}

/// The last successful cryptographic operation (`GetKeyLastUsage`).
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct LastUsageDoc {
    operation: String,
    timestamp: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kms_request_id: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct MaterialDoc {
    key_material_id: String,
    secret: Secret,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rotation_date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rotation_type: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct RotationDoc {
    rotation_period_in_days: u32,
    /// When automatic rotation was enabled, or the last automatic rotation.
    schedule_start: String,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct AliasDoc {
    account: String,
    alias_name: String,
    target_key_id: String,
    creation_date: String,
    last_updated_date: String,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct GrantDoc {
    grant_id: String,
    key_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    grantee_principal: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    retiring_principal: Option<String>,
    operations: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    encryption_context_subset: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    encryption_context_equals: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    source_arn: Option<String>,
    creation_date: String,
    /// When it was retired or revoked (kept until that has propagated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    retirement_date: Option<String>,
    sequence: u64,
}

/// A copy of the store, taken under its lock and written without it. Cheap:
/// key materials are shared (`Arc`), the rest is plain data.
pub(crate) struct Snapshot {
    /// The store version it shows.
    pub(crate) version: u64,
    /// The lazy changes it holds (see `Store::lazy_changes`).
    pub(crate) lazy_changes: u64,
    keys: Vec<Key>,
    policies: HashMap<String, String>,
    aliases: Vec<((String, String), Alias)>,
    grants: Vec<Grant>,
    next_key_seq: u64,
    next_grant_seq: u64,
}

impl Snapshot {
    pub(crate) fn of(store: &Store) -> Self {
        Self {
            version: store.version,
            lazy_changes: store.lazy_changes,
            keys: store.ordered_keys().into_iter().cloned().collect(),
            policies: store
                .authz
                .policies
                .iter()
                .map(|(id, p)| (id.clone(), p.text.clone()))
                .collect(),
            aliases: store
                .aliases
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            grants: store.authz.grants.all().into_iter().cloned().collect(),
            next_key_seq: store.next_seq,
            next_grant_seq: store.authz.grants.next_seq(),
        }
    }
}

fn material_doc(m: &SymmetricMaterial) -> MaterialDoc {
    let (rotation_date, rotation_type) = match m.origin {
        MaterialOrigin::Created => (None, None),
        MaterialOrigin::Rotated { date, kind } => {
            (Some(format_rfc3339(date)), Some(kind.as_str().to_string()))
        }
    };
    MaterialDoc {
        key_material_id: m.id_hex(),
        secret: Secret(Zeroizing::new(m.secret().to_vec())),
        rotation_date,
        rotation_type,
    }
}

fn key_doc(k: &Key, policy: Option<&String>) -> KeyDoc {
    KeyDoc {
        key_id: k.id.clone(),
        arn: k.arn.clone(),
        description: k.description.clone(),
        creation_date: format_rfc3339(k.created),
        sequence: k.seq,
        key_state: k.state.as_str().to_string(),
        deletion_date: k.deletion.map(|(at, _)| format_rfc3339(at)),
        pending_window_in_days: k.deletion.map(|(_, days)| days),
        key_spec: k.spec.as_str().to_string(),
        key_usage: k.usage.as_str().to_string(),
        key_materials: k.material.materials().iter().map(material_doc).collect(),
        private_key: k
            .material
            .private_key_pkcs8()
            .map(|der| Secret(Zeroizing::new(der.to_vec()))),
        hmac_key: k
            .material
            .hmac()
            .map(|h| Secret(Zeroizing::new(h.secret().to_vec()))),
        automatic_rotation: k.auto_rotation.map(|a| RotationDoc {
            rotation_period_in_days: a.period_days,
            schedule_start: format_rfc3339(a.anchor),
        }),
        policy: policy
            .cloned()
            .unwrap_or_else(|| super::super::authz::default_key_policy(k.account())),
        tags: k
            .tags
            .iter()
            .map(|(key, value)| TagDoc {
                tag_key: key.clone(),
                tag_value: value.clone(),
            })
            .collect(),
        key_last_usage: k.last_used.as_ref().map(|u| LastUsageDoc {
            operation: u.operation.clone(),
            timestamp: format_rfc3339(u.at),
            kms_request_id: u.request_id.clone(),
        }),
    }
}

fn grant_doc(g: &Grant) -> GrantDoc {
    GrantDoc {
        grant_id: g.id.clone(),
        key_id: g.key_id.clone(),
        name: g.name.clone(),
        grantee_principal: g.grantee.clone(),
        retiring_principal: g.retiring.clone(),
        operations: g.operations.clone(),
        encryption_context_subset: g.constraints.subset.clone(),
        encryption_context_equals: g.constraints.equals.clone(),
        source_arn: g.constraints.source_arn.clone(),
        creation_date: format_rfc3339(g.created),
        retirement_date: g.retired.map(format_rfc3339),
        sequence: g.seq,
    }
}

/// The JSON body for `snapshot` (zeroized on drop: it holds the keys).
pub(crate) fn encode(
    snapshot: &Snapshot,
    region: &str,
    grant_secret: &[u8; 32],
) -> Result<Zeroizing<Vec<u8>>, String> {
    let doc = StateDoc {
        region: region.to_string(),
        grant_token_key: Secret(Zeroizing::new(grant_secret.to_vec())),
        next_key_sequence: snapshot.next_key_seq,
        next_grant_sequence: snapshot.next_grant_seq,
        keys: snapshot
            .keys
            .iter()
            .map(|k| key_doc(k, snapshot.policies.get(&k.id)))
            .collect(),
        aliases: snapshot
            .aliases
            .iter()
            .map(|((account, name), alias)| AliasDoc {
                account: account.clone(),
                alias_name: name.clone(),
                target_key_id: alias.key_id.clone(),
                creation_date: format_rfc3339(alias.created),
                last_updated_date: format_rfc3339(alias.updated),
            })
            .collect(),
        grants: snapshot.grants.iter().map(grant_doc).collect(),
    };
    serde_json::to_vec_pretty(&doc)
        .map(Zeroizing::new)
        .map_err(|e| format!("the state cannot be encoded: {e}"))
}

/// What a state file holds.
pub(crate) struct Loaded {
    pub(crate) store: Store,
    pub(crate) grant_secret: Zeroizing<[u8; 32]>,
}

/// Why a body was refused: another region (`Mismatch`) or anything else.
#[derive(Debug)]
pub(crate) enum Refusal {
    Region(String),
    Invalid(String),
}

fn invalid(at: &str, what: impl std::fmt::Display) -> Refusal {
    Refusal::Invalid(format!("{at}: {what}"))
}

fn date(at: &str, text: &str) -> Result<SystemTime, Refusal> {
    parse_rfc3339(text).ok_or_else(|| invalid(at, format!("{text:?} is not an RFC 3339 UTC time")))
}

fn key_state(at: &str, text: &str) -> Result<KeyState, Refusal> {
    match text {
        "Enabled" => Ok(KeyState::Enabled),
        "Disabled" => Ok(KeyState::Disabled),
        "PendingDeletion" => Ok(KeyState::PendingDeletion),
        other => Err(invalid(
            at,
            format!("{other:?} is not Enabled, Disabled or PendingDeletion"),
        )),
    }
}

fn load_materials(
    at: &str,
    raw_id: &[u8; 16],
    docs: Vec<MaterialDoc>,
) -> Result<KeyMaterial, Refusal> {
    let mut materials = Vec::with_capacity(docs.len());
    for (i, m) in docs.into_iter().enumerate() {
        let at = format!("{at}.KeyMaterials[{i}]");
        let secret: [u8; 32] = m
            .secret
            .0
            .as_slice()
            .try_into()
            .map_err(|_| invalid(&format!("{at}.Secret"), "is not 32 bytes of AES-256 key"))?;
        let origin = match (m.rotation_date, m.rotation_type.as_deref()) {
            (None, None) => MaterialOrigin::Created,
            (Some(d), Some(kind)) => MaterialOrigin::Rotated {
                date: date(&format!("{at}.RotationDate"), &d)?,
                kind: match kind {
                    "AUTOMATIC" => RotationType::Automatic,
                    "ON_DEMAND" => RotationType::OnDemand,
                    other => {
                        return Err(invalid(
                            &format!("{at}.RotationType"),
                            format!("{other:?} is not AUTOMATIC or ON_DEMAND"),
                        ));
                    }
                },
            },
            _ => {
                return Err(invalid(
                    &at,
                    "has one of RotationDate and RotationType without the other",
                ));
            }
        };
        let material = SymmetricMaterial::from_secret(raw_id, Zeroizing::new(secret), origin);
        if material.id_hex() != m.key_material_id {
            return Err(invalid(
                &format!("{at}.KeyMaterialId"),
                "does not belong to this key and material",
            ));
        }
        materials.push(material);
    }
    KeyMaterial::from_materials(materials)
        .ok_or_else(|| invalid(at, "a symmetric key has no KeyMaterials"))
}

/// What a key entry holds of its material, as found.
struct MaterialDocs {
    key_materials: Vec<MaterialDoc>,
    hmac_key: Option<Secret>,
    private_key: Option<Secret>,
}

/// The material of a key of `spec` and `usage`: a symmetric key's
/// `KeyMaterials`, an HMAC key's `HmacKey` or an RSA or ECC key's
/// `PrivateKey`, and none of the others.
fn load_material(
    at: &str,
    raw_id: &[u8; 16],
    spec: KeySpec,
    usage: KeyUsage,
    doc: MaterialDocs,
) -> Result<KeyMaterial, Refusal> {
    let class = spec.class();
    let member = match class {
        KeyClass::SymmetricEncryption => "KeyMaterials",
        KeyClass::Hmac => "HmacKey",
        KeyClass::Asymmetric => "PrivateKey",
    };
    let extra = [
        (!doc.key_materials.is_empty(), "KeyMaterials"),
        (doc.hmac_key.is_some(), "HmacKey"),
        (doc.private_key.is_some(), "PrivateKey"),
    ]
    .into_iter()
    .find(|(present, name)| *present && *name != member);
    if let Some((_, name)) = extra {
        return Err(invalid(
            &format!("{at}.{name}"),
            format!("{} keys have {member}, not {name}", spec.as_str()),
        ));
    }
    match class {
        KeyClass::SymmetricEncryption => load_materials(at, raw_id, doc.key_materials),
        KeyClass::Hmac => {
            let secret = doc
                .hmac_key
                .ok_or_else(|| invalid(at, format!("an {} key without HmacKey", spec.as_str())))?;
            KeyMaterial::from_hmac_secret(spec, &secret.0)
                .map_err(|e| invalid(&format!("{at}.HmacKey"), e))
        }
        KeyClass::Asymmetric => {
            let der = doc.private_key.ok_or_else(|| {
                invalid(at, format!("an {} key without PrivateKey", spec.as_str()))
            })?;
            KeyMaterial::from_pkcs8(spec, usage, &der.0)
                .map_err(|e| invalid(&format!("{at}.PrivateKey"), e))
        }
    }
}

/// A key's tags, checked as `TagResource` checks them.
fn load_tags(at: &str, docs: Vec<TagDoc>) -> Result<BTreeMap<String, String>, Refusal> {
    if docs.len() > MAX_TAGS {
        return Err(invalid(
            at,
            format!("holds {} tags; a key holds at most {MAX_TAGS}", docs.len()),
        ));
    }
    let entries: Vec<TagEntry> = docs
        .into_iter()
        .map(|t| TagEntry::new(t.tag_key, t.tag_value))
        .collect();
    let tags = check_tags(&entries).map_err(|e| invalid(at, e.message()))?;
    Ok(tags.into_iter().collect())
}

fn load_last_use(at: &str, doc: LastUsageDoc) -> Result<LastUse, Refusal> {
    if matches!(
        KeyLastUsageTrackingOperation::from(doc.operation.as_str()),
        KeyLastUsageTrackingOperation::Unknown(_)
    ) {
        return Err(invalid(
            &format!("{at}.Operation"),
            format!("{:?} is not a KeyLastUsageTrackingOperation", doc.operation),
        ));
    }
    if let Some(id) = &doc.kms_request_id
        && parse_uuid(id).is_none_or(|raw| format_uuid(&raw) != *id)
    {
        return Err(invalid(
            &format!("{at}.KmsRequestId"),
            "is not a request id (a lower-case UUID)",
        ));
    }
    Ok(LastUse {
        operation: doc.operation,
        at: date(&format!("{at}.Timestamp"), &doc.timestamp)?,
        request_id: doc.kms_request_id,
    })
}

fn load_key(at: &str, region: &str, doc: KeyDoc) -> Result<(Key, KeyPolicy), Refusal> {
    let raw_id = parse_uuid(&doc.key_id)
        .filter(|raw| format_uuid(raw) == doc.key_id)
        .ok_or_else(|| {
            invalid(
                &format!("{at}.KeyId"),
                "is not a lower-case key id (a UUID)",
            )
        })?;
    let arn_ok = doc
        .arn
        .strip_prefix(&format!("arn:aws:kms:{region}:"))
        .and_then(|rest| rest.strip_suffix(&format!(":key/{}", doc.key_id)))
        .is_some_and(is_account_id);
    if !arn_ok {
        return Err(invalid(
            &format!("{at}.Arn"),
            format!("is not the ARN of key {} in {region}", doc.key_id),
        ));
    }
    let spec = KeySpec::parse(&doc.key_spec)
        .map_err(|e| invalid(&format!("{at}.KeySpec"), e.message()))?;
    let usage = KeyUsage::parse(&doc.key_usage)
        .map_err(|e| invalid(&format!("{at}.KeyUsage"), e.message()))?;
    if !spec.allows_usage(usage) {
        return Err(invalid(
            &format!("{at}.KeyUsage"),
            format!("{} is not a usage of {}", usage.as_str(), spec.as_str()),
        ));
    }
    let state = key_state(&format!("{at}.KeyState"), &doc.key_state)?;
    let deletion = match (state, doc.deletion_date, doc.pending_window_in_days) {
        (KeyState::PendingDeletion, Some(d), Some(days)) if (7..=30).contains(&days) => {
            Some((date(&format!("{at}.DeletionDate"), &d)?, days))
        }
        (KeyState::PendingDeletion, ..) => {
            return Err(invalid(
                at,
                "is PendingDeletion without a DeletionDate and a PendingWindowInDays of 7 to 30",
            ));
        }
        (_, None, None) => None,
        _ => {
            return Err(invalid(
                at,
                "has a DeletionDate or PendingWindowInDays but is not PendingDeletion",
            ));
        }
    };
    let material = load_material(
        at,
        &raw_id,
        spec,
        usage,
        MaterialDocs {
            key_materials: doc.key_materials,
            hmac_key: doc.hmac_key,
            private_key: doc.private_key,
        },
    )?;
    let auto_rotation = match doc.automatic_rotation {
        None => None,
        Some(_) if !spec.is_symmetric() => {
            return Err(invalid(
                &format!("{at}.AutomaticRotation"),
                "only symmetric keys rotate",
            ));
        }
        Some(r) => {
            let days = i64::from(r.rotation_period_in_days);
            if !(MIN_PERIOD_DAYS..=MAX_PERIOD_DAYS).contains(&days) {
                return Err(invalid(
                    &format!("{at}.AutomaticRotation.RotationPeriodInDays"),
                    format!("{days} is not between {MIN_PERIOD_DAYS} and {MAX_PERIOD_DAYS}"),
                ));
            }
            Some(AutoRotation {
                period_days: r.rotation_period_in_days,
                anchor: date(
                    &format!("{at}.AutomaticRotation.ScheduleStart"),
                    &r.schedule_start,
                )?,
            })
        }
    };
    let policy = KeyPolicy::from_text(doc.policy)
        .map_err(|e| invalid(&format!("{at}.Policy"), e.message()))?;
    let created = date(&format!("{at}.CreationDate"), &doc.creation_date)?;
    let tags = load_tags(&format!("{at}.Tags"), doc.tags)?;
    let last_used = doc
        .key_last_usage
        .map(|u| load_last_use(&format!("{at}.KeyLastUsage"), u))
        .transpose()?;
    Ok((
        Key {
            id: doc.key_id,
            raw_id,
            arn: doc.arn,
            description: doc.description,
            created,
            seq: doc.sequence,
            state,
            deletion,
            spec,
            usage,
            material: Arc::new(material),
            auto_rotation,
            tags,
            last_used,
        },
        policy,
    ))
}

fn load_grant(at: &str, doc: GrantDoc, keys: &HashMap<String, Key>) -> Result<Grant, Refusal> {
    check_grant_id(&doc.grant_id).map_err(|e| invalid(&format!("{at}.GrantId"), e.message()))?;
    let key = keys
        .get(&doc.key_id)
        .ok_or_else(|| invalid(&format!("{at}.KeyId"), "names no key of the state"))?;
    check_principal("GranteePrincipal", &doc.grantee_principal)
        .map_err(|e| invalid(&format!("{at}.GranteePrincipal"), e.message()))?;
    if let Some(p) = &doc.retiring_principal {
        check_principal("RetiringPrincipal", p)
            .map_err(|e| invalid(&format!("{at}.RetiringPrincipal"), e.message()))?;
    }
    if doc.operations.is_empty() {
        return Err(invalid(&format!("{at}.Operations"), "is empty"));
    }
    if let Some(op) = doc
        .operations
        .iter()
        .find(|op| !GRANT_OPERATIONS.contains(&op.as_str()))
    {
        return Err(invalid(
            &format!("{at}.Operations"),
            format!("{op:?} is not a grant operation"),
        ));
    }
    Ok(Grant {
        id: doc.grant_id,
        key_id: key.id.clone(),
        key_arn: key.arn.clone(),
        name: doc.name,
        grantee: doc.grantee_principal,
        retiring: doc.retiring_principal,
        operations: doc.operations,
        constraints: Constraints {
            subset: doc.encryption_context_subset,
            equals: doc.encryption_context_equals,
            source_arn: doc.source_arn,
        },
        issuing_account: key.account().to_string(),
        created: date(&format!("{at}.CreationDate"), &doc.creation_date)?,
        retired: doc
            .retirement_date
            .map(|d| date(&format!("{at}.RetirementDate"), &d))
            .transpose()?,
        seq: doc.sequence,
    })
}

/// The store a body describes, after checking every field: ids, ARNs,
/// dates, states, materials (each material id must match its material),
/// private keys, policies, and that aliases and grants name keys of the
/// state and sequence numbers are unique and below the next ones, which are
/// below their maximum.
pub(crate) fn decode(body: &[u8], scope: &Scope) -> Result<Loaded, Refusal> {
    let doc: StateDoc = serde_json::from_slice(body)
        .map_err(|e| Refusal::Invalid(format!("its state is not readable: {e}")))?;
    if doc.region != scope.region {
        return Err(Refusal::Region(doc.region));
    }
    let grant_secret: [u8; 32] = doc
        .grant_token_key
        .0
        .as_slice()
        .try_into()
        .map_err(|_| invalid("GrantTokenKey", "is not 32 bytes"))?;
    // Each create takes the next number and adds one: at the maximum there
    // is none left (and the addition would overflow).
    for (field, next) in [
        ("NextKeySequence", doc.next_key_sequence),
        ("NextGrantSequence", doc.next_grant_sequence),
    ] {
        if next == u64::MAX {
            return Err(invalid(
                field,
                "is at its maximum: no key or grant could be created",
            ));
        }
    }
    let mut store = Store {
        next_seq: doc.next_key_sequence,
        ..Store::default()
    };
    let mut sequences = HashSet::new();
    for (i, k) in doc.keys.into_iter().enumerate() {
        let at = format!("Keys[{i}]");
        let (key, policy) = load_key(&at, &scope.region, k)?;
        if key.seq >= store.next_seq || !sequences.insert(key.seq) {
            return Err(invalid(
                &format!("{at}.Sequence"),
                "is not unique and below NextKeySequence",
            ));
        }
        if store.keys.contains_key(&key.id) {
            return Err(invalid(&format!("{at}.KeyId"), "appears twice"));
        }
        store.authz.policies.insert(key.id.clone(), policy);
        store.keys.insert(key.id.clone(), key);
    }
    for (i, a) in doc.aliases.into_iter().enumerate() {
        let at = format!("Aliases[{i}]");
        Ops::validate_alias_name(&a.alias_name)
            .map_err(|e| invalid(&format!("{at}.AliasName"), e.message()))?;
        let target = store
            .keys
            .get(&a.target_key_id)
            .ok_or_else(|| invalid(&format!("{at}.TargetKeyId"), "names no key of the state"))?;
        if target.account() != a.account {
            return Err(invalid(
                &format!("{at}.Account"),
                "is not the account of its target key",
            ));
        }
        let created = date(&format!("{at}.CreationDate"), &a.creation_date)?;
        let updated = date(&format!("{at}.LastUpdatedDate"), &a.last_updated_date)?;
        let entry = (a.account, a.alias_name);
        if store.aliases.contains_key(&entry) {
            return Err(invalid(
                &format!("{at}.AliasName"),
                "appears twice in its account",
            ));
        }
        store.aliases.insert(
            entry,
            Alias {
                key_id: a.target_key_id,
                created,
                updated,
            },
        );
    }
    let mut grants = Vec::with_capacity(doc.grants.len());
    let mut grant_ids = HashSet::new();
    let mut grant_seqs = HashSet::new();
    for (i, g) in doc.grants.into_iter().enumerate() {
        let at = format!("Grants[{i}]");
        let grant = load_grant(&at, g, &store.keys)?;
        if !grant_ids.insert(grant.id.clone()) {
            return Err(invalid(&format!("{at}.GrantId"), "appears twice"));
        }
        if grant.seq >= doc.next_grant_sequence || !grant_seqs.insert(grant.seq) {
            return Err(invalid(
                &format!("{at}.Sequence"),
                "is not unique and below NextGrantSequence",
            ));
        }
        grants.push(grant);
    }
    store.authz.grants = Grants::restore(grants, doc.next_grant_sequence);
    Ok(Loaded {
        store,
        grant_secret: Zeroizing::new(grant_secret),
    })
}
