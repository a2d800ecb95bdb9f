//! Grants: `CreateGrant`, `ListGrants`, `ListRetirableGrants`,
//! `RetireGrant`, `RevokeGrant`, grant tokens, and the simulated eventual
//! consistency that grant tokens overcome.
//!
//! # Eventual consistency
//!
//! Every grant records when it was created and, once retired or revoked,
//! when that happened. With a propagation delay `d`
//! ([`LocalKmsBuilder::grant_propagation_delay`]), a request at time `t`
//! sees grants as they were at `t - d`: a new grant allows nothing until
//! `created + d`, and a retired or revoked one keeps allowing until
//! `retired + d`. A request that carries one of a grant's tokens in
//! `GrantTokens` also sees that grant as it is now, so a new grant is usable
//! at once with its token. A token only ever adds: once the grant is retired
//! or revoked it no longer helps, and the grant allows only what the stale
//! view still shows (until the retirement has propagated; after that,
//! nothing, with or without the token).
//!
//! `ListGrants`, `ListRetirableGrants`, `RetireGrant` and `RevokeGrant` see
//! the current state (a retired grant is gone from them at once).
//!
//! [`LocalKmsBuilder::grant_propagation_delay`]: crate::local::LocalKmsBuilder::grant_propagation_delay

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime};

use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::{Value, json};

use super::Inner;
use super::authz::{Access, Denial, access_denied, invalid_marker};
use super::crypto::{KeySpec, KeyUsage, format_uuid, random_array};
use super::error::LocalKmsError;
use super::ops::{Ops, length_between, paged, parse, required};
use super::principal::{Principal, account_of, is_account_id, root_account};
use super::store::{Key, KeyState};
use super::time::epoch_seconds_f64;

/// The `GrantOperation` values.
pub(crate) const GRANT_OPERATIONS: &[&str] = &[
    "Decrypt",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "ReEncryptFrom",
    "ReEncryptTo",
    "Sign",
    "Verify",
    "GetPublicKey",
    "CreateGrant",
    "RetireGrant",
    "DescribeKey",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "GenerateMac",
    "VerifyMac",
    "DeriveSharedSecret",
    "Encapsulate",
    "Decapsulate",
];

/// Operations that take an encryption context, to which encryption-context
/// constraints apply (constraints exist on symmetric encryption keys only).
const CONTEXT_OPERATIONS: &[&str] = &[
    "Decrypt",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "ReEncryptFrom",
    "ReEncryptTo",
];

/// Grants per key, and per grantee on one key (KMS's quotas).
const MAX_GRANTS_PER_KEY: usize = 50_000;
const MAX_GRANTS_PER_GRANTEE: usize = 500;

const TOKEN_VERSION: u8 = 2;
/// version, key id, grant id, nonce, HMAC-SHA256 tag.
const TOKEN_LEN: usize = 1 + 16 + 32 + 16 + 32;

type Context = BTreeMap<String, String>;

/// A grant's constraints.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Constraints {
    pub(crate) subset: Option<Context>,
    pub(crate) equals: Option<Context>,
    /// Never satisfied by a direct call (only AWS services call on behalf
    /// of a resource).
    pub(crate) source_arn: Option<String>,
}

/// Whether `ctx` has every pair of `pairs`: keys case-insensitively, values
/// exactly.
fn has_pairs(ctx: &Context, pairs: &Context) -> bool {
    pairs.iter().all(|(k, v)| {
        let k = k.to_lowercase();
        ctx.iter().any(|(ck, cv)| ck.to_lowercase() == k && cv == v)
    })
}

/// KMS's refusal of encryption-context constraints on a key that is not a
/// symmetric encryption key (which takes no encryption context).
pub(crate) fn context_constraint_on(spec: &str) -> String {
    format!(
        "Grant constraints EncryptionContextEquals and EncryptionContextSubset are supported only for symmetric encryption KMS keys (KeySpec SYMMETRIC_DEFAULT), not {spec}."
    )
}

impl Constraints {
    /// Whether it has an encryption-context constraint.
    pub(crate) fn has_context(&self) -> bool {
        self.subset.is_some() || self.equals.is_some()
    }

    fn is_empty(&self) -> bool {
        self.subset.is_none() && self.equals.is_none() && self.source_arn.is_none()
    }

    /// Whether a request with encryption context `ctx` meets them.
    fn allow_context(&self, ctx: &Context) -> bool {
        self.subset.as_ref().is_none_or(|s| has_pairs(ctx, s))
            && self
                .equals
                .as_ref()
                .is_none_or(|e| e.len() == ctx.len() && has_pairs(ctx, e) && has_pairs(e, ctx))
    }

    /// Whether `child` is at least as strict (for a CreateGrant allowed by
    /// a grant): a Subset may gain pairs or become an Equals with them; an
    /// Equals stays the same.
    fn narrower(&self, child: &Self) -> bool {
        let subset_ok = self.subset.as_ref().is_none_or(|s| {
            child.subset.as_ref().is_some_and(|c| has_pairs(c, s))
                || child.equals.as_ref().is_some_and(|c| has_pairs(c, s))
        });
        let equals_ok = self.equals.as_ref().is_none_or(|e| {
            child
                .equals
                .as_ref()
                .is_some_and(|c| c.len() == e.len() && has_pairs(c, e) && has_pairs(e, c))
        });
        let source_ok = self.source_arn.is_none() || self.source_arn == child.source_arn;
        subset_ok && equals_ok && source_ok
    }

    fn to_json(&self) -> Value {
        let mut out = json!({});
        if let Some(s) = &self.subset {
            out["EncryptionContextSubset"] = json!(s);
        }
        if let Some(e) = &self.equals {
            out["EncryptionContextEquals"] = json!(e);
        }
        if let Some(a) = &self.source_arn {
            out["SourceArn"] = json!(a);
        }
        out
    }
}

/// The grant a `CreateGrant` request would make.
#[derive(Debug, Clone)]
pub(crate) struct ChildGrant {
    operations: BTreeSet<String>,
    constraints: Constraints,
}

/// One grant. Plain data: ids, ARNs, times.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Grant {
    pub(crate) id: String,
    pub(crate) key_id: String,
    pub(crate) key_arn: String,
    pub(crate) name: Option<String>,
    pub(crate) grantee: String,
    pub(crate) retiring: Option<String>,
    /// In the order given, without duplicates.
    pub(crate) operations: Vec<String>,
    pub(crate) constraints: Constraints,
    /// The key's account.
    pub(crate) issuing_account: String,
    pub(crate) created: SystemTime,
    /// When it was retired or revoked; it is kept until that has propagated.
    pub(crate) retired: Option<SystemTime>,
    pub(crate) seq: u64,
}

impl Grant {
    /// Whether this grant takes part in a request at `now` (see the module
    /// documentation); `presented` when the request carries its token.
    pub(crate) fn effective(&self, now: SystemTime, delay: Duration, presented: bool) -> bool {
        let created_seen = self.created.checked_add(delay).is_some_and(|t| t <= now);
        let retirement_seen = self
            .retired
            .is_some_and(|r| r.checked_add(delay).is_some_and(|t| t <= now));
        let stale_view = created_seen && !retirement_seen;
        let current_view = presented && self.retired.is_none();
        stale_view || current_view
    }

    fn live(&self) -> bool {
        self.retired.is_none()
    }

    fn to_json(&self) -> Value {
        let mut out = json!({
            "KeyId": self.key_arn,
            "GrantId": self.id,
            "Name": self.name.clone().unwrap_or_default(),
            "CreationDate": epoch_seconds_f64(self.created),
            "GranteePrincipal": self.grantee,
            "IssuingAccount": format!("arn:aws:iam::{}:root", self.issuing_account),
            "Operations": self.operations,
        });
        if let Some(r) = &self.retiring {
            out["RetiringPrincipal"] = json!(r);
        }
        if !self.constraints.is_empty() {
            out["Constraints"] = self.constraints.to_json();
        }
        out
    }
}

/// Whether a grant's grantee (or retiring principal) names `caller`: its
/// ARN, its role, or its account (an account principal delegates to the
/// account's root and to principals whose identity policies allow,
/// `identity_allows`).
fn names(named: &str, caller: &Principal, identity_allows: bool) -> bool {
    if caller.is_named_by(named) {
        return true;
    }
    let account = root_account(named).or_else(|| is_account_id(named).then_some(named));
    account == Some(caller.account()) && (caller.is_root() || identity_allows)
}

/// All grants, by id.
#[derive(Debug, Default)]
pub(crate) struct Grants {
    by_id: BTreeMap<String, Grant>,
    next_seq: u64,
}

impl Grants {
    /// Grants as stored (by a state file): `next_seq` is above every
    /// grant's `seq`.
    pub(crate) fn restore(grants: Vec<Grant>, next_seq: u64) -> Self {
        Self {
            by_id: grants.into_iter().map(|g| (g.id.clone(), g)).collect(),
            next_seq,
        }
    }

    /// Adds a new grant (made by a seed), numbering it after the others.
    pub(crate) fn add(&mut self, mut grant: Grant) {
        grant.seq = self.next_seq;
        self.next_seq += 1;
        self.by_id.insert(grant.id.clone(), grant);
    }

    /// Every grant kept (retired ones too, until their retirement has
    /// propagated), in creation order.
    pub(crate) fn all(&self) -> Vec<&Grant> {
        let mut out: Vec<&Grant> = self.by_id.values().collect();
        out.sort_by_key(|g| g.seq);
        out
    }

    /// The number the next grant gets.
    pub(crate) fn next_seq(&self) -> u64 {
        self.next_seq
    }

    pub(crate) fn forget_key(&mut self, key_id: &str) {
        self.by_id.retain(|_, g| g.key_id != key_id);
    }

    /// Drops grants whose retirement has propagated; whether any was.
    pub(crate) fn prune(&mut self, now: SystemTime, delay: Duration) -> bool {
        let before = self.by_id.len();
        self.by_id.retain(|_, g| {
            g.retired
                .is_none_or(|r| r.checked_add(delay).is_none_or(|t| t > now))
        });
        self.by_id.len() != before
    }

    fn live(&self, id: &str, key_id: &str) -> Option<&Grant> {
        self.by_id
            .get(id)
            .filter(|g| g.live() && g.key_id == key_id)
    }

    fn ordered<'a>(&'a self, filter: impl Fn(&Grant) -> bool + 'a) -> Vec<&'a Grant> {
        let mut out: Vec<&Grant> = self
            .by_id
            .values()
            .filter(|g| g.live() && filter(g))
            .collect();
        out.sort_by_key(|g| g.seq);
        out
    }

    /// Step 4 of the decision: an effective grant on `key` for `caller`
    /// allows `op` under its constraints.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn allow(
        &self,
        key: &Key,
        caller: &Principal,
        op: &str,
        access: &Access<'_>,
        identity_allows: bool,
        now: SystemTime,
        delay: Duration,
        presented: &[String],
    ) -> bool {
        let empty = Context::new();
        let ctx = access.context.unwrap_or(&empty);
        let context_applies = CONTEXT_OPERATIONS.contains(&op);
        // Encryption-context constraints exist for symmetric encryption keys
        // only (CreateGrant and seeds refuse others); a grant that has them
        // on another key (an older state file) allows nothing.
        let constraints_hold = |c: &Constraints| {
            if !c.has_context() {
                return true;
            }
            key.spec.is_symmetric() && (!context_applies || c.allow_context(ctx))
        };
        self.by_id.values().any(|g| {
            g.key_id == key.id
                && g.effective(now, delay, presented.contains(&g.id))
                && names(&g.grantee, caller, identity_allows)
                && g.operations.iter().any(|o| o == op)
                && g.constraints.source_arn.is_none()
                && constraints_hold(&g.constraints)
                && access.child.is_none_or(|child| {
                    child.operations.iter().all(|o| g.operations.contains(o))
                        && g.constraints.narrower(&child.constraints)
                })
        })
    }
}

/// The grant ids of the well-formed tokens in a request's `GrantTokens`
/// (malformed ones are the operation's to report).
pub(crate) fn presented_grants(inner: &Inner, body: &Value) -> Vec<String> {
    body.get("GrantTokens")
        .and_then(Value::as_array)
        .map(|tokens| {
            tokens
                .iter()
                .filter_map(Value::as_str)
                .filter_map(|t| decode_token(inner, t).ok())
                .map(|(_, id)| id)
                .collect()
        })
        .unwrap_or_default()
}

fn invalid_token() -> LocalKmsError {
    LocalKmsError::new("InvalidGrantTokenException", "Invalid grant token.")
}

/// (key id bytes, grant id) of a token this KMS issued.
fn decode_token(inner: &Inner, token: &str) -> Result<([u8; 16], String), LocalKmsError> {
    if token.is_empty() || token.len() > 8192 {
        return Err(invalid_token());
    }
    let raw = URL_SAFE_NO_PAD
        .decode(token.as_bytes())
        .map_err(|_| invalid_token())?;
    if raw.len() != TOKEN_LEN || raw[0] != TOKEN_VERSION {
        return Err(invalid_token());
    }
    let (body, tag) = raw.split_at(TOKEN_LEN - 32);
    hmac::verify(&inner.grant_key, body, tag).map_err(|_| invalid_token())?;
    let mut key_id = [0u8; 16];
    key_id.copy_from_slice(&body[1..17]);
    Ok((key_id, hex::encode(&body[17..49])))
}

/// `InvalidGrantIdException` unless `id` is a grant id (64 lower-case hex
/// digits); `ValidationException` outside the model's 1 to 128 characters.
pub(crate) fn check_grant_id(id: &str) -> Result<(), LocalKmsError> {
    length_between("grantId", id.len(), 1, 128)?;
    if id.len() != 64
        || !id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(LocalKmsError::new(
            "InvalidGrantIdException",
            format!("The specified GrantId is not valid: {id}"),
        ));
    }
    Ok(())
}

/// A `PrincipalIdType` member: `^[\w+=,.@:/-]+$`, 1 to 256 characters, and
/// a principal ARN or account id (else `InvalidArnException`).
pub(crate) fn check_principal(member: &str, p: &str) -> Result<(), LocalKmsError> {
    length_between(member, p.len(), 1, 256)?;
    if !p.bytes().all(|b| {
        b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'_' | b'+' | b'=' | b',' | b'.' | b'@' | b':' | b'/' | b'-'
            )
    }) {
        return Err(LocalKmsError::validation(format!(
            "1 validation error detected: Value '{p}' at '{member}' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[\\w+=,.@:/-]+$"
        )));
    }
    if !is_account_id(p) && root_account(p).is_none() && Principal::from_arn(p).is_err() {
        return Err(LocalKmsError::new(
            "InvalidArnException",
            format!(
                "{p} is not a valid principal: use an account id or the ARN of an account, user, role, assumed role or federated user."
            ),
        ));
    }
    Ok(())
}

pub(crate) fn check_context_constraint(member: &str, ctx: &Context) -> Result<(), LocalKmsError> {
    if ctx.len() > 8 {
        return Err(LocalKmsError::validation(format!(
            "{member} can include up to 8 encryption context pairs."
        )));
    }
    if let Some((k, _)) = ctx.iter().find(|(_, v)| v.chars().count() > 384) {
        return Err(LocalKmsError::validation(format!(
            "The value of {k} in {member} exceeds 384 characters."
        )));
    }
    Ok(())
}

/// The grant operations a key of this kind supports.
pub(crate) fn supported_operations(key: &Key) -> &'static [&'static str] {
    operations_of(key.spec, key.usage)
}

/// The grant operations a key of this spec and usage supports.
pub(crate) fn operations_of(spec: KeySpec, usage: KeyUsage) -> &'static [&'static str] {
    match (spec.is_symmetric(), usage) {
        (true, _) => &[
            "Decrypt",
            "Encrypt",
            "GenerateDataKey",
            "GenerateDataKeyWithoutPlaintext",
            "GenerateDataKeyPair",
            "GenerateDataKeyPairWithoutPlaintext",
            "ReEncryptFrom",
            "ReEncryptTo",
            "CreateGrant",
            "RetireGrant",
            "DescribeKey",
        ],
        (false, KeyUsage::EncryptDecrypt) => &[
            "Decrypt",
            "Encrypt",
            "ReEncryptFrom",
            "ReEncryptTo",
            "GetPublicKey",
            "CreateGrant",
            "RetireGrant",
            "DescribeKey",
        ],
        (false, KeyUsage::SignVerify) => &[
            "Sign",
            "Verify",
            "GetPublicKey",
            "CreateGrant",
            "RetireGrant",
            "DescribeKey",
        ],
        (false, KeyUsage::GenerateVerifyMac) => &[
            "GenerateMac",
            "VerifyMac",
            "CreateGrant",
            "RetireGrant",
            "DescribeKey",
        ],
        (false, KeyUsage::KeyAgreement) => &[
            "DeriveSharedSecret",
            "GetPublicKey",
            "CreateGrant",
            "RetireGrant",
            "DescribeKey",
        ],
    }
}

fn parse_page(limit: Option<i64>, marker: Option<&str>) -> Result<(usize, usize), LocalKmsError> {
    let limit = limit.unwrap_or(50);
    if !(1..=1000).contains(&limit) {
        return Err(LocalKmsError::validation(format!(
            "1 validation error detected: Value '{limit}' at 'limit' failed to satisfy constraint: Member must have value between 1 and 1000"
        )));
    }
    let start = match marker {
        None => 0,
        Some(m) => m.parse::<usize>().map_err(|_| invalid_marker())?,
    };
    // KMS returns at most 100 grants a page, whatever the limit.
    Ok((start, (limit as usize).min(100)))
}

impl Ops<'_> {
    fn grant_token(&self, key: &Key, grant_id: &[u8; 32]) -> Result<String, LocalKmsError> {
        let nonce: [u8; 16] = random_array()?;
        let mut raw = Vec::with_capacity(TOKEN_LEN);
        raw.push(TOKEN_VERSION);
        raw.extend_from_slice(&key.raw_id);
        raw.extend_from_slice(grant_id);
        raw.extend_from_slice(&nonce);
        let tag = hmac::sign(&self.inner.grant_key, &raw);
        raw.extend_from_slice(tag.as_ref());
        Ok(URL_SAFE_NO_PAD.encode(raw))
    }

    /// (key id bytes, grant id) of a token this KMS issued, else
    /// `InvalidGrantTokenException`.
    pub(crate) fn decode_grant_token(
        &self,
        token: &str,
    ) -> Result<([u8; 16], String), LocalKmsError> {
        decode_token(self.inner, token)
    }

    pub(crate) fn create_grant(&self, r: Value) -> Result<Value, LocalKmsError> {
        let r: CreateGrantRequest = parse(r)?;
        let id = required(r.key_id, "keyId")?;
        if r.grantee_service_principal.is_some() || r.retiring_service_principal.is_some() {
            return Err(LocalKmsError::new(
                "UnsupportedOperationException",
                "GranteeServicePrincipal and RetiringServicePrincipal are not supported by the local KMS.",
            ));
        }
        let grantee = required(r.grantee_principal, "granteePrincipal")?;
        check_principal("granteePrincipal", &grantee)?;
        if let Some(p) = &r.retiring_principal {
            check_principal("retiringPrincipal", p)?;
        }
        let given = required(r.operations, "operations")?;
        if given.is_empty() {
            return Err(LocalKmsError::validation(
                "1 validation error detected: Value '[]' at 'operations' failed to satisfy constraint: Member must have length greater than or equal to 1",
            ));
        }
        let mut operations: Vec<String> = Vec::new();
        for op in given {
            if !GRANT_OPERATIONS.contains(&op.as_str()) {
                return Err(LocalKmsError::validation(format!(
                    "1 validation error detected: Value '{op}' at 'operations' failed to satisfy constraint: Member must satisfy enum value set: [{}]",
                    GRANT_OPERATIONS.join(", ")
                )));
            }
            if !operations.contains(&op) {
                operations.push(op);
            }
        }
        let c = r.constraints.unwrap_or_default();
        if let Some(s) = &c.encryption_context_subset {
            check_context_constraint("EncryptionContextSubset", s)?;
        }
        if let Some(e) = &c.encryption_context_equals {
            check_context_constraint("EncryptionContextEquals", e)?;
        }
        if let Some(a) = &c.source_arn {
            length_between("constraints.sourceArn", a.len(), 20, 512)?;
            let valid = a.strip_prefix("arn:aws").is_some_and(|rest| {
                let parts: Vec<&str> = rest.splitn(5, ':').collect();
                parts.len() == 5 && account_of(a).is_some() && !parts[4].is_empty()
            });
            if !valid {
                return Err(LocalKmsError::validation(format!(
                    "1 validation error detected: Value '{a}' at 'constraints.sourceArn' failed to satisfy constraint: Member must satisfy regular expression pattern: ^arn:aws[a-z0-9-]*:[a-z0-9-]+:[a-z0-9-]*:[0-9]{{12}}:.+$"
                )));
            }
        }
        let constraints = Constraints {
            subset: c.encryption_context_subset,
            equals: c.encryption_context_equals,
            source_arn: c.source_arn,
        };
        if let Some(n) = &r.name {
            length_between("name", n.len(), 1, 256)?;
            if !n
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b':' | b'/' | b'_' | b'-'))
            {
                return Err(LocalKmsError::validation(format!(
                    "1 validation error detected: Value '{n}' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$"
                )));
            }
        }
        self.check_grant_tokens(r.grant_tokens.as_ref())?;

        let mut store = self.store();
        let key = store.resolve(&self.scope, &id, false)?;
        let child = ChildGrant {
            operations: operations.iter().cloned().collect(),
            constraints: constraints.clone(),
        };
        let constraint_context = constraints.equals.as_ref().or(constraints.subset.as_ref());
        let mut access = Access::new("kms:CreateGrant")
            .condition("kms:grantoperations", operations.clone())
            .condition("kms:granteeprincipal", vec![grantee.clone()])
            .condition("kms:grantisforawsresource", vec!["false".to_string()])
            .child(&child);
        if let Some(p) = &r.retiring_principal {
            access = access.condition("kms:retiringprincipal", vec![p.clone()]);
        }
        if let Some(ctx) = constraint_context {
            let kind = if constraints.equals.is_some() {
                "EncryptionContextEquals"
            } else {
                "EncryptionContextSubset"
            };
            access = access
                .condition("kms:grantconstrainttype", vec![kind.to_string()])
                .context(ctx);
        }
        self.authorize_in(&store, &key, &access)?;
        if key.state == KeyState::PendingDeletion {
            return Err(key.pending_deletion());
        }
        let supported = supported_operations(&key);
        let unsupported: Vec<&str> = operations
            .iter()
            .map(String::as_str)
            .filter(|op| !supported.contains(op))
            .collect();
        if !unsupported.is_empty() {
            return Err(LocalKmsError::validation(format!(
                "Grant operations [{}] are not supported for {} (KeySpec {}, KeyUsage {}).",
                unsupported.join(", "),
                key.arn,
                key.spec.as_str(),
                key.usage.as_str()
            )));
        }
        if constraints.has_context() && !key.spec.is_symmetric() {
            return Err(LocalKmsError::validation(context_constraint_on(
                key.spec.as_str(),
            )));
        }
        if r.dry_run == Some(true) {
            return Err(LocalKmsError::dry_run());
        }

        let grants = &mut store.authz.grants;
        // A retry with the same Name and parameters: the same grant.
        if r.name.is_some() {
            let wanted: BTreeSet<&String> = operations.iter().collect();
            let same = grants.by_id.values().find(|g| {
                g.live()
                    && g.key_id == key.id
                    && g.name == r.name
                    && g.grantee == grantee
                    && g.retiring == r.retiring_principal
                    && g.operations.iter().collect::<BTreeSet<_>>() == wanted
                    && g.constraints == constraints
            });
            if let Some(g) = same {
                let mut raw = [0u8; 32];
                hex::decode_to_slice(&g.id, &mut raw)
                    .map_err(|_| LocalKmsError::internal("A stored grant id is not hex."))?;
                let token = self.grant_token(&key, &raw)?;
                return Ok(json!({ "GrantId": g.id, "GrantToken": token }));
            }
        }
        let on_key = grants.ordered(|g| g.key_id == key.id);
        if on_key.len() >= MAX_GRANTS_PER_KEY {
            return Err(LocalKmsError::new(
                "LimitExceededException",
                format!(
                    "{} has the maximum of {MAX_GRANTS_PER_KEY} grants.",
                    key.arn
                ),
            ));
        }
        if on_key.iter().filter(|g| g.grantee == grantee).count() >= MAX_GRANTS_PER_GRANTEE {
            return Err(LocalKmsError::new(
                "LimitExceededException",
                format!(
                    "{} has the maximum of {MAX_GRANTS_PER_GRANTEE} grants for {grantee}.",
                    key.arn
                ),
            ));
        }
        let raw: [u8; 32] = random_array()?;
        let grant_id = hex::encode(raw);
        let token = self.grant_token(&key, &raw)?;
        let seq = grants.next_seq;
        grants.next_seq += 1;
        grants.by_id.insert(
            grant_id.clone(),
            Grant {
                id: grant_id.clone(),
                key_id: key.id.clone(),
                key_arn: key.arn.clone(),
                name: r.name,
                grantee,
                retiring: r.retiring_principal,
                operations,
                constraints,
                issuing_account: key.account().to_string(),
                created: self.now,
                retired: None,
                seq,
            },
        );
        Ok(json!({ "GrantId": grant_id, "GrantToken": token }))
    }

    pub(crate) fn list_grants(&self, r: Value) -> Result<Value, LocalKmsError> {
        let r: ListGrantsRequest = parse(r)?;
        let id = required(r.key_id, "keyId")?;
        let (start, limit) = parse_page(r.limit, r.marker.as_deref())?;
        if let Some(g) = &r.grant_id {
            check_grant_id(g)?;
        }
        if let Some(p) = &r.grantee_principal {
            check_principal("granteePrincipal", p)?;
        }
        let store = self.store();
        let key = store.resolve(&self.scope, &id, false)?;
        let access = Access::new("kms:ListGrants")
            .condition("kms:grantisforawsresource", vec!["false".to_string()]);
        self.authorize_in(&store, &key, &access)?;
        let all: Vec<Value> = store
            .authz
            .grants
            .ordered(|g| {
                g.key_id == key.id
                    && r.grant_id.as_ref().is_none_or(|id| *id == g.id)
                    && r.grantee_principal.as_ref().is_none_or(|p| *p == g.grantee)
                    // No grant here has a service principal.
                    && r.grantee_service_principal.is_none()
            })
            .into_iter()
            .map(Grant::to_json)
            .collect();
        Ok(paged("Grants", all, start, limit))
    }

    pub(crate) fn list_retirable_grants(&self, r: Value) -> Result<Value, LocalKmsError> {
        let r: ListRetirableGrantsRequest = parse(r)?;
        let (start, limit) = parse_page(r.limit, r.marker.as_deref())?;
        if r.retiring_service_principal.is_some() {
            return Err(LocalKmsError::new(
                "UnsupportedOperationException",
                "RetiringServicePrincipal is usable only by AWS services, which do not call the local KMS.",
            ));
        }
        let retiring = required(r.retiring_principal, "retiringPrincipal")?;
        check_principal("retiringPrincipal", &retiring)?;
        self.authorize_identity(
            "kms:ListRetirableGrants",
            &retiring,
            Access::new("kms:ListRetirableGrants"),
        )?;
        if let Some(p) = self.caller.principal()
            && account_of(&retiring) != Some(p.account())
        {
            // The principal must be in the caller's own account.
            return Err(access_denied(
                p,
                "kms:ListRetirableGrants",
                &retiring,
                Denial::NoIdentity,
            ));
        }
        let store = self.store();
        let all: Vec<Value> = store
            .authz
            .grants
            .ordered(|g| g.retiring.as_deref() == Some(retiring.as_str()))
            .into_iter()
            .map(Grant::to_json)
            .collect();
        Ok(paged("Grants", all, start, limit))
    }

    /// Who may retire a grant: its retiring principal, its grantee when the
    /// grant allows `RetireGrant`, the root of the key's account, and
    /// principals of the key's account or of the retiring principal's
    /// account whose identity policies allow `kms:RetireGrant`. An identity
    /// policy's `Deny` on `kms:RetireGrant` stops them all; key policies
    /// play no part. Identity policies see the grant's key (its tags,
    /// account, aliases, spec, ...) in their conditions, so `store` is the
    /// locked store the grant was found in; a grant whose key is gone is
    /// refused (fail closed) rather than evaluated without the key.
    fn authorize_retire(
        &self,
        store: &super::store::Store,
        grant: &Grant,
    ) -> Result<(), LocalKmsError> {
        self.mark_authorized();
        let Some(p) = self.caller.principal() else {
            return Ok(());
        };
        let action = "kms:RetireGrant";
        let access = Access::new(action);
        let denied = |d| Err(access_denied(p, action, &grant.key_arn, d));
        let Some(key) = store.keys.get(&grant.key_id) else {
            return denied(Denial::NoIdentity);
        };
        let identity = self.identity_of(p);
        let values = |name: &str| self.condition_values(p, Some(key), Some(store), &access, name);
        if identity.denies(action, &grant.key_arn, &values) {
            return denied(Denial::ExplicitIdentity);
        }
        let iam = identity.allows(action, &grant.key_arn, &values);
        let retiring_account = grant.retiring.as_deref().and_then(account_of);
        let allowed = grant
            .retiring
            .as_deref()
            .is_some_and(|r| names(r, p, false))
            || (names(&grant.grantee, p, false)
                && grant.operations.iter().any(|o| o == "RetireGrant"))
            || (p.is_root() && p.account() == grant.issuing_account)
            || (iam
                && (p.account() == grant.issuing_account || retiring_account == Some(p.account())));
        if allowed {
            Ok(())
        } else {
            denied(Denial::NoIdentity)
        }
    }

    pub(crate) fn retire_grant(&self, r: Value) -> Result<Value, LocalKmsError> {
        let r: RetireGrantRequest = parse(r)?;
        let mut store = self.store();
        let (key_id, grant_id) = match (r.grant_token, r.key_id, r.grant_id) {
            (Some(token), _, _) => {
                let (raw_key, grant_id) = self.decode_grant_token(&token)?;
                (format_uuid(&raw_key), grant_id)
            }
            (None, Some(key), Some(grant)) => {
                check_grant_id(&grant)?;
                let key = store.resolve(&self.scope, &key, false)?;
                (key.id, grant)
            }
            _ => {
                return Err(LocalKmsError::validation(
                    "Specify either GrantToken, or both KeyId and GrantId.",
                ));
            }
        };
        let Some(grant) = store.authz.grants.live(&grant_id, &key_id).cloned() else {
            return Err(grant_not_found(
                &grant_id,
                &self.key_arn_of(&store, &key_id),
            ));
        };
        self.authorize_retire(&store, &grant)?;
        if r.dry_run == Some(true) {
            return Err(LocalKmsError::dry_run());
        }
        if let Some(g) = store.authz.grants.by_id.get_mut(&grant_id) {
            g.retired = Some(self.now);
        }
        Ok(json!({}))
    }

    pub(crate) fn revoke_grant(&self, r: Value) -> Result<Value, LocalKmsError> {
        let r: RevokeGrantRequest = parse(r)?;
        let id = required(r.key_id, "keyId")?;
        let grant_id = required(r.grant_id, "grantId")?;
        check_grant_id(&grant_id)?;
        let mut store = self.store();
        let key = store.resolve(&self.scope, &id, false)?;
        let access = Access::new("kms:RevokeGrant")
            .condition("kms:grantisforawsresource", vec!["false".to_string()]);
        self.authorize_in(&store, &key, &access)?;
        if store.authz.grants.live(&grant_id, &key.id).is_none() {
            return Err(grant_not_found(&grant_id, &key.arn));
        }
        if r.dry_run == Some(true) {
            return Err(LocalKmsError::dry_run());
        }
        if let Some(g) = store.authz.grants.by_id.get_mut(&grant_id) {
            g.retired = Some(self.now);
        }
        Ok(json!({}))
    }

    /// The ARN of a key id, whatever its account (for messages).
    fn key_arn_of(&self, store: &super::store::Store, key_id: &str) -> String {
        store
            .keys
            .get(key_id)
            .map(|k| k.arn.clone())
            .unwrap_or_else(|| self.scope.key_arn(key_id))
    }
}

fn grant_not_found(grant_id: &str, key_arn: &str) -> LocalKmsError {
    LocalKmsError::not_found(format!("Grant ID {grant_id} not found for key {key_arn}"))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct ConstraintsRequest {
    encryption_context_subset: Option<Context>,
    encryption_context_equals: Option<Context>,
    source_arn: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct CreateGrantRequest {
    key_id: Option<String>,
    grantee_principal: Option<String>,
    grantee_service_principal: Option<String>,
    retiring_principal: Option<String>,
    retiring_service_principal: Option<String>,
    operations: Option<Vec<String>>,
    constraints: Option<ConstraintsRequest>,
    name: Option<String>,
    grant_tokens: Option<Vec<String>>,
    dry_run: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct ListGrantsRequest {
    key_id: Option<String>,
    limit: Option<i64>,
    marker: Option<String>,
    grant_id: Option<String>,
    grantee_principal: Option<String>,
    grantee_service_principal: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct ListRetirableGrantsRequest {
    limit: Option<i64>,
    marker: Option<String>,
    retiring_principal: Option<String>,
    retiring_service_principal: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct RetireGrantRequest {
    grant_token: Option<String>,
    key_id: Option<String>,
    grant_id: Option<String>,
    dry_run: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct RevokeGrantRequest {
    key_id: Option<String>,
    grant_id: Option<String>,
    dry_run: Option<bool>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(pairs: &[(&str, &str)]) -> Context {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn grant(created: u64, retired: Option<u64>) -> Grant {
        Grant {
            id: "g".into(),
            key_id: "k".into(),
            key_arn: "arn".into(),
            name: None,
            grantee: "arn:aws:iam::111122223333:role/r".into(),
            retiring: None,
            operations: vec!["Encrypt".into()],
            constraints: Constraints::default(),
            issuing_account: "111122223333".into(),
            created: at(created),
            retired: retired.map(at),
            seq: 0,
        }
    }

    #[test]
    fn propagation() {
        let d = Duration::from_secs(5);
        let g = grant(100, None);
        assert!(!g.effective(at(104), d, false));
        assert!(g.effective(at(104), d, true));
        assert!(g.effective(at(105), d, false));
        // Retired at 110: the stale view keeps it until 115, token or not.
        let r = grant(100, Some(110));
        assert!(r.effective(at(114), d, false));
        assert!(r.effective(at(114), d, true));
        assert!(!r.effective(at(115), d, false));
        assert!(!r.effective(at(115), d, true));
        // Retired before it propagated: never seen without the token, and
        // the token no longer helps.
        let early = grant(100, Some(102));
        assert!(!early.effective(at(103), d, false));
        assert!(!early.effective(at(103), d, true));
        // No delay: effective from creation, gone at retirement.
        assert!(g.effective(at(100), Duration::ZERO, false));
        assert!(!r.effective(at(110), Duration::ZERO, false));
        // A clock moved back before creation: only the token helps.
        assert!(!g.effective(at(50), Duration::ZERO, false));
        assert!(g.effective(at(50), Duration::ZERO, true));
        // An absurd delay never overflows.
        assert!(!g.effective(at(200), Duration::MAX, false));
    }

    #[test]
    fn prune_after_retirement_propagates() {
        let mut grants = Grants::default();
        grants.by_id.insert("g".into(), grant(100, Some(110)));
        grants.prune(at(114), Duration::from_secs(5));
        assert_eq!(grants.by_id.len(), 1);
        grants.prune(at(115), Duration::from_secs(5));
        assert!(grants.by_id.is_empty());
    }

    #[test]
    fn constraints() {
        let subset = Constraints {
            subset: Some(ctx(&[("Tenant", "a")])),
            ..Constraints::default()
        };
        assert!(subset.allow_context(&ctx(&[("tenant", "a"), ("x", "y")])));
        assert!(subset.allow_context(&ctx(&[("TENANT", "a")])));
        assert!(!subset.allow_context(&ctx(&[("tenant", "A")])));
        assert!(!subset.allow_context(&ctx(&[])));
        let equals = Constraints {
            equals: Some(ctx(&[("Tenant", "a")])),
            ..Constraints::default()
        };
        assert!(equals.allow_context(&ctx(&[("tenant", "a")])));
        assert!(!equals.allow_context(&ctx(&[("tenant", "a"), ("x", "y")])));
        assert!(!equals.allow_context(&ctx(&[])));
        assert!(Constraints::default().allow_context(&ctx(&[])));

        // Narrower children.
        let child = |subset: Option<Context>, equals: Option<Context>| Constraints {
            subset,
            equals,
            source_arn: None,
        };
        assert!(subset.narrower(&child(Some(ctx(&[("tenant", "a"), ("b", "c")])), None)));
        assert!(subset.narrower(&child(None, Some(ctx(&[("tenant", "a")])))));
        assert!(!subset.narrower(&child(None, None)));
        assert!(!subset.narrower(&child(Some(ctx(&[("b", "c")])), None)));
        assert!(equals.narrower(&child(None, Some(ctx(&[("TENANT", "a")])))));
        assert!(!equals.narrower(&child(Some(ctx(&[("tenant", "a")])), None)));
        assert!(!equals.narrower(&child(None, Some(ctx(&[("tenant", "a"), ("b", "c")])))));
        assert!(Constraints::default().narrower(&child(None, None)));
    }

    #[test]
    fn grantee_names() {
        let session = Principal::from_arn("arn:aws:sts::111122223333:assumed-role/r/s").unwrap();
        let root = Principal::from_arn("arn:aws:iam::111122223333:root").unwrap();
        assert!(names("arn:aws:iam::111122223333:role/r", &session, false));
        assert!(!names("arn:aws:iam::111122223333:role/q", &session, true));
        assert!(!names("arn:aws:iam::111122223333:root", &session, false));
        assert!(names("arn:aws:iam::111122223333:root", &session, true));
        assert!(names("111122223333", &session, true));
        assert!(names("111122223333", &root, false));
        assert!(!names("444455556666", &root, true));
    }

    #[test]
    fn ids_and_principals() {
        assert!(check_grant_id(&"a".repeat(64)).is_ok());
        assert_eq!(
            check_grant_id(&"A".repeat(64)).unwrap_err().code(),
            "InvalidGrantIdException"
        );
        assert_eq!(
            check_grant_id("abc").unwrap_err().code(),
            "InvalidGrantIdException"
        );
        assert_eq!(
            check_grant_id("").unwrap_err().code(),
            "ValidationException"
        );
        assert_eq!(
            check_grant_id(&"a".repeat(129)).unwrap_err().code(),
            "ValidationException"
        );
        assert!(check_principal("p", "111122223333").is_ok());
        assert!(check_principal("p", "arn:aws:iam::111122223333:root").is_ok());
        assert!(check_principal("p", "arn:aws:iam::111122223333:role/x").is_ok());
        assert_eq!(
            check_principal("p", "bob").unwrap_err().code(),
            "InvalidArnException"
        );
        assert_eq!(
            check_principal("p", "a b").unwrap_err().code(),
            "ValidationException"
        );
    }
}
