//! Authorization as KMS decides it: key policies, identity (IAM) policies and
//! grants, for the principal behind each request.
//!
//! # The decision (for a caller `P` and an action on key `K`)
//!
//! 1. An applicable `Deny` in `K`'s key policy, then in `P`'s identity
//!    policies, denies ("with an explicit deny in a resource-based /
//!    identity-based policy"). A deny beats every allow and every grant.
//! 2. The key policy allows `P` *directly* (its ARN, its role for a role
//!    session, `*`, or its account when `P` is the account's root), or
//!    allows `P`'s *account* (`arn:aws:iam::A:root` or `"A"`), which
//!    delegates to `P`'s identity policies.
//! 3. Same account: direct, or account and an identity-policy allow. Cross
//!    account (only for operations KMS allows across accounts): direct or
//!    account, and an identity-policy allow.
//! 4. Otherwise an effective grant for `P`, the operation and the request's
//!    encryption context allows.
//! 5. Otherwise an implicit deny: "because no resource-based policy allows"
//!    when the key policy does not name `P` or its account at all, else
//!    "because no identity-based policy allows".
//!
//! Actions KMS checks in identity policies only (`CreateKey`, `ListKeys`,
//! `ListAliases`, `GenerateRandom`, `ListRetirableGrants`, and the alias half
//! of alias operations) skip the key policy and grants.
//!
//! A principal without a configured identity policy has an implicit one that
//! allows `kms:*` on `*`, so a local KMS configured with nothing behaves as
//! before: the default key policy delegates to the account, and the account's
//! principals may do everything. The account root is never limited by
//! identity policies.
//!
//! # Condition keys
//!
//! A condition key is either evaluated (its values come from the caller, the
//! key or the request: [`policy::EVALUATED_KEYS`] and
//! `kms:EncryptionContext:<k>`) or truthfully absent from every request to
//! this emulator (`kms:ViaService`, `aws:SourceVpc`, `aws:SourceVpce`,
//! `aws:CalledVia`, ...). A policy naming any other key is refused when it is
//! given (`PutKeyPolicy`, `CreateKey`, [`IdentityPolicy`](super::IdentityPolicy),
//! seed and state files) with `UnsupportedOperationException`, as a policy
//! with an operator the local KMS does not evaluate is: taken as absent, the
//! key would make a `Deny` silently not apply.

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;
use serde_json::{Value, json};

use super::crypto::{KeySpec, KeyUsage};
use super::error::LocalKmsError;
use super::grants::{ChildGrant, Grants};
use super::ops::{Ops, paged, parse};
use super::policy::{self, Effect, PolicyDocument, PolicyKind, PrincipalMatch};
use super::principal::Principal;
use super::store::{Key, Store};

/// Who a request runs as.
#[derive(Debug, Clone)]
pub(crate) enum Caller {
    /// The set-up methods of `LocalKms` (`invoke`, `create_key`, ...): no
    /// authorization; bare key ids and aliases resolve in this account.
    System { account: String },
    /// An authenticated principal (or `LocalKms::invoke_as`).
    Principal(Principal),
}

impl Caller {
    pub(crate) fn account(&self) -> &str {
        match self {
            Self::System { account } => account,
            Self::Principal(p) => p.account(),
        }
    }

    pub(crate) fn principal(&self) -> Option<&Principal> {
        match self {
            Self::System { .. } => None,
            Self::Principal(p) => Some(p),
        }
    }
}

/// Key policies and grants: the authorization state in the store. Plain
/// data (strings, times, ids): a policy is kept with its text, from which
/// the parsed form can always be rebuilt.
#[derive(Debug, Default)]
pub(crate) struct AuthzState {
    /// key id -> its key policy (named `default`).
    pub(crate) policies: HashMap<String, KeyPolicy>,
    pub(crate) grants: Grants,
}

impl AuthzState {
    /// Drops everything about a deleted key.
    pub(crate) fn forget_key(&mut self, key_id: &str) {
        self.policies.remove(key_id);
        self.grants.forget_key(key_id);
    }
}

/// A key policy: the text as given (returned verbatim by `GetKeyPolicy`) and
/// its parsed form.
#[derive(Debug, Clone)]
pub(crate) struct KeyPolicy {
    pub(crate) text: String,
    pub(crate) doc: PolicyDocument,
}

impl KeyPolicy {
    /// A key policy from its text, validated as `CreateKey` validates its
    /// `Policy` (without the lockout safety check).
    pub(crate) fn from_text(text: String) -> Result<Self, LocalKmsError> {
        check_policy_text(&text)?;
        let doc = policy::parse(&text, PolicyKind::Key)?;
        Ok(Self { text, doc })
    }

    /// KMS's default key policy for a key in `account`, in KMS's own format.
    ///
    /// # Errors
    /// An internal error for an account that is not 12 digits (which would
    /// make a policy that names nobody): the builder, the seed and the set-up
    /// methods refuse such accounts first.
    pub(crate) fn default_for(account: &str) -> Result<Self, LocalKmsError> {
        let text = default_key_policy(account);
        let doc = policy::parse(&text, PolicyKind::Key).map_err(|e| {
            LocalKmsError::internal(format!(
                "The default key policy for account {account:?} is invalid: {}",
                e.message()
            ))
        })?;
        Ok(Self { text, doc })
    }
}

/// The text of KMS's default key policy: the account may use identity
/// policies to allow every KMS action on the key.
pub(crate) fn default_key_policy(account: &str) -> String {
    format!(
        "{{\n  \"Version\" : \"2012-10-17\",\n  \"Id\" : \"key-default-1\",\n  \"Statement\" : [ {{\n    \"Sid\" : \"Enable IAM User Permissions\",\n    \"Effect\" : \"Allow\",\n    \"Principal\" : {{\n      \"AWS\" : \"arn:aws:iam::{account}:root\"\n    }},\n    \"Action\" : \"kms:*\",\n    \"Resource\" : \"*\"\n  }} ]\n}}"
    )
}

/// The largest key policy KMS accepts, in bytes (a service quota; larger
/// ones get `LimitExceededException`).
pub(crate) const MAX_KEY_POLICY_BYTES: usize = 32 * 1024;

/// KMS's answer when a new key policy would lock its author out.
pub(crate) const LOCKOUT: &str =
    "The new key policy will not allow you to update the key policy in the future.";

/// One action to authorize, with what its conditions and grants look at.
#[derive(Debug, Clone)]
pub(crate) struct Access<'a> {
    /// `kms:Encrypt`, `kms:ReEncryptFrom`, ...
    pub(crate) action: &'static str,
    /// The encryption context conditions and grant constraints see.
    pub(crate) context: Option<&'a BTreeMap<String, String>>,
    /// `kms:EncryptionAlgorithm`.
    pub(crate) algorithm: Option<&'static str>,
    /// Other condition keys (lower-cased names) and their values.
    pub(crate) conditions: Vec<(&'static str, Vec<String>)>,
    /// The tags the request sets (`aws:RequestTag/<k>`, `aws:TagKeys`).
    pub(crate) request_tags: Option<&'a [(String, String)]>,
    /// The grant a `CreateGrant` would make (a grant allowing CreateGrant
    /// only allows narrower grants).
    pub(crate) child: Option<&'a ChildGrant>,
}

impl<'a> Access<'a> {
    pub(crate) fn new(action: &'static str) -> Self {
        Self {
            action,
            context: None,
            algorithm: None,
            conditions: Vec::new(),
            request_tags: None,
            child: None,
        }
    }

    pub(crate) fn request_tags(mut self, tags: &'a [(String, String)]) -> Self {
        self.request_tags = Some(tags);
        self
    }

    pub(crate) fn context(mut self, context: &'a BTreeMap<String, String>) -> Self {
        self.context = Some(context);
        self
    }

    pub(crate) fn algorithm(mut self, algorithm: &'static str) -> Self {
        self.algorithm = Some(algorithm);
        self
    }

    pub(crate) fn condition(mut self, key: &'static str, values: Vec<String>) -> Self {
        debug_assert!(
            policy::is_evaluated_condition_key(key),
            "{key} missing from policy::EVALUATED_KEYS"
        );
        self.conditions.push((key, values));
        self
    }

    pub(crate) fn child(mut self, child: &'a ChildGrant) -> Self {
        self.child = Some(child);
        self
    }

    /// The operation name a grant lists for this action, if grantable.
    pub(crate) fn grant_operation(&self) -> Option<&'static str> {
        let op = self.action.strip_prefix("kms:")?;
        super::grants::GRANT_OPERATIONS
            .iter()
            .copied()
            .find(|g| *g == op)
    }
}

/// Actions KMS allows on a key of another account (the "Cross-account use:
/// Yes" operations of the API reference).
const CROSS_ACCOUNT: &[&str] = &[
    "kms:CreateGrant",
    "kms:Decapsulate",
    "kms:Decrypt",
    "kms:DeriveSharedSecret",
    "kms:DescribeKey",
    "kms:Encapsulate",
    "kms:Encrypt",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyPair",
    "kms:GenerateDataKeyPairWithoutPlaintext",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:GenerateMac",
    "kms:GetKeyRotationStatus",
    "kms:GetPublicKey",
    "kms:ListGrants",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
    "kms:RetireGrant",
    "kms:RevokeGrant",
    "kms:Sign",
    "kms:Verify",
    "kms:VerifyMac",
];

/// Why a request was denied: the four endings of KMS's message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Denial {
    ExplicitResource,
    ExplicitIdentity,
    NoResource,
    NoIdentity,
}

/// `AccessDeniedException` in KMS's words.
pub(crate) fn access_denied(
    caller: &Principal,
    action: &str,
    resource: &str,
    denial: Denial,
) -> LocalKmsError {
    let why = match denial {
        Denial::ExplicitResource => "with an explicit deny in a resource-based policy".to_string(),
        Denial::ExplicitIdentity => "with an explicit deny in an identity-based policy".to_string(),
        Denial::NoResource => {
            format!("because no resource-based policy allows the {action} action")
        }
        Denial::NoIdentity => {
            format!("because no identity-based policy allows the {action} action")
        }
    };
    LocalKmsError::new(
        ACCESS_DENIED,
        format!(
            "User: {} is not authorized to perform: {action} on resource: {resource} {why}",
            caller.arn()
        ),
    )
}

/// The code of an authorization failure.
pub(crate) const ACCESS_DENIED: &str = "AccessDeniedException";

/// A principal's identity policies, as the decision sees them.
pub(crate) enum Identity<'a> {
    /// The account root: not limited by identity policies.
    Root,
    /// No identity policy configured: `kms:*` on `*` is allowed.
    Unrestricted,
    Policies(Vec<&'a PolicyDocument>),
}

impl Identity<'_> {
    pub(crate) fn denies(
        &self,
        action: &str,
        resource: &str,
        ctx: policy::ConditionValues<'_>,
    ) -> bool {
        match self {
            Self::Root | Self::Unrestricted => false,
            Self::Policies(docs) => docs.iter().any(|d| {
                d.statements
                    .iter()
                    .any(|s| s.effect == Effect::Deny && s.applies(action, resource, ctx))
            }),
        }
    }

    pub(crate) fn allows(
        &self,
        action: &str,
        resource: &str,
        ctx: policy::ConditionValues<'_>,
    ) -> bool {
        match self {
            Self::Root | Self::Unrestricted => true,
            Self::Policies(docs) => docs.iter().any(|d| {
                d.statements
                    .iter()
                    .any(|s| s.effect == Effect::Allow && s.applies(action, resource, ctx))
            }),
        }
    }
}

/// Steps 1-3 of the decision for a key-policy action: `Ok` when the
/// policies allow; the denial otherwise, `explicit` meaning grants cannot
/// help.
pub(crate) fn evaluate_key_policy(
    caller: &Principal,
    identity: &Identity<'_>,
    key_policy: &PolicyDocument,
    key_account: &str,
    action: &str,
    key_arn: &str,
    ctx: policy::ConditionValues<'_>,
) -> Result<(), Denial> {
    let kp = |effect: Effect| {
        key_policy
            .statements
            .iter()
            .filter(move |s| s.effect == effect && s.applies(action, key_arn, ctx))
            .map(|s| s.principal_match(caller))
    };
    if kp(Effect::Deny).any(|m| m != PrincipalMatch::None) {
        return Err(Denial::ExplicitResource);
    }
    if identity.denies(action, key_arn, ctx) {
        return Err(Denial::ExplicitIdentity);
    }
    let best = kp(Effect::Allow).max().unwrap_or(PrincipalMatch::None);
    let iam = || identity.allows(action, key_arn, ctx);
    let allowed = if caller.account() == key_account {
        best == PrincipalMatch::Direct || (best == PrincipalMatch::Account && iam())
    } else {
        best != PrincipalMatch::None && iam()
    };
    match (allowed, best) {
        (true, _) => Ok(()),
        (false, PrincipalMatch::None) => Err(Denial::NoResource),
        (false, _) => Err(Denial::NoIdentity),
    }
}

/// The value of `k` (lower-cased) among `pairs` (tags, an encryption
/// context): the name after `aws:ResourceTag/`, `aws:RequestTag/` or
/// `kms:EncryptionContext:` matches case-insensitively, as the condition key
/// it is part of. Two names that fold to `k` make the value
/// [`Ambiguous`](policy::Ambiguous): the request must not pick the value a
/// condition sees.
fn folded_value<'t>(
    pairs: impl IntoIterator<Item = (&'t String, &'t String)>,
    k: &str,
) -> Result<Vec<String>, policy::Ambiguous> {
    let mut found = pairs
        .into_iter()
        .filter(|(name, _)| policy::fold_condition_key(name) == k);
    match (found.next(), found.next()) {
        (None, _) => Ok(Vec::new()),
        (Some((_, v)), None) => Ok(vec![v.clone()]),
        (Some(_), Some(_)) => Err(policy::Ambiguous),
    }
}

impl Ops<'_> {
    /// The caller's identity policies.
    pub(crate) fn identity_of<'p>(&'p self, p: &Principal) -> Identity<'p> {
        if p.is_root() {
            return Identity::Root;
        }
        let own = self.inner.identity_policies.get(p.arn());
        let role = p
            .role_arn()
            .and_then(|r| self.inner.identity_policies.get(r));
        if own.is_none() && role.is_none() {
            return Identity::Unrestricted;
        }
        Identity::Policies(own.into_iter().chain(role).flatten().collect())
    }

    /// The values of condition key `name` (lower-cased) for this request;
    /// `store` gives a key's aliases (`kms:ResourceAliases`).
    pub(crate) fn condition_values(
        &self,
        p: &Principal,
        key: Option<&Key>,
        store: Option<&Store>,
        access: &Access<'_>,
        name: &str,
    ) -> Result<Vec<String>, policy::Ambiguous> {
        // The keys KMS still evaluates under their former names.
        let name = match name {
            "kms:customermasterkeyspec" => "kms:keyspec",
            "kms:customermasterkeyusage" => "kms:keyusage",
            other => other,
        };
        if let Some((_, v)) = access.conditions.iter().find(|(k, _)| *k == name) {
            return Ok(v.clone());
        }
        let ctx = access.context;
        if let Some(k) = name.strip_prefix("aws:resourcetag/") {
            return key.map_or(Ok(Vec::new()), |key| folded_value(&key.tags, k));
        }
        if let Some(k) = name.strip_prefix("aws:requesttag/") {
            return access.request_tags.map_or(Ok(Vec::new()), |t| {
                folded_value(t.iter().map(|(k, v)| (k, v)), k)
            });
        }
        if let (Some(k), Some(c)) = (name.strip_prefix("kms:encryptioncontext:"), ctx) {
            return folded_value(c, k);
        }
        Ok(match name {
            "aws:requestedregion" => vec![self.scope.region.clone()],
            "aws:viaawsservice" | "aws:principalisawsservice" => vec!["false".to_string()],
            "aws:resourceaccount" => key
                .map(|k| vec![k.account().to_string()])
                .unwrap_or_default(),
            "aws:tagkeys" => access
                .request_tags
                .map(|t| t.iter().map(|(k, _)| k.clone()).collect())
                .unwrap_or_default(),
            "kms:resourcealiases" => match (key, store) {
                (Some(key), Some(store)) => store
                    .aliases
                    .iter()
                    .filter(|(_, a)| a.key_id == key.id)
                    .map(|((_, name), _)| name.clone())
                    .collect(),
                _ => Vec::new(),
            },
            "aws:principalarn" => vec![p.condition_arn().to_string()],
            "aws:principalaccount" => vec![p.account().to_string()],
            "kms:calleraccount" => vec![p.account().to_string()],
            "kms:encryptioncontextkeys" => {
                ctx.map(|c| c.keys().cloned().collect()).unwrap_or_default()
            }
            "kms:encryptionalgorithm" => access
                .algorithm
                .map(|a| vec![a.to_string()])
                .unwrap_or_default(),
            "kms:keyspec" => key
                .map(|k| vec![k.spec.as_str().to_string()])
                .unwrap_or_default(),
            "kms:keyusage" => key
                .map(|k| vec![k.usage.as_str().to_string()])
                .unwrap_or_default(),
            "kms:keyorigin" => key.map(|_| vec!["AWS_KMS".to_string()]).unwrap_or_default(),
            "kms:multiregion" => key.map(|_| vec!["false".to_string()]).unwrap_or_default(),
            _ => Vec::new(),
        })
    }

    /// Authorizes `access` on `key` (see the module documentation),
    /// locking the store.
    pub(crate) fn authorize(&self, key: &Key, access: &Access<'_>) -> Result<(), LocalKmsError> {
        let store = self.store();
        self.authorize_in(&store, key, access)
    }

    /// [`Ops::authorize`] with the store already locked.
    pub(crate) fn authorize_in(
        &self,
        store: &Store,
        key: &Key,
        access: &Access<'_>,
    ) -> Result<(), LocalKmsError> {
        self.authorized.set(true);
        let Some(p) = self.caller.principal() else {
            return Ok(());
        };
        if key.account() != p.account() && !CROSS_ACCOUNT.contains(&access.action) {
            return Err(LocalKmsError::not_found(format!(
                "Key '{}' does not exist",
                key.arn
            )));
        }
        let default_policy;
        let key_policy = match store.authz.policies.get(&key.id) {
            Some(kp) => &kp.doc,
            None => {
                default_policy = KeyPolicy::default_for(key.account())?;
                &default_policy.doc
            }
        };
        let identity = self.identity_of(p);
        let values = |name: &str| self.condition_values(p, Some(key), Some(store), access, name);
        let denial = match evaluate_key_policy(
            p,
            &identity,
            key_policy,
            key.account(),
            access.action,
            &key.arn,
            &values,
        ) {
            Ok(()) => return Ok(()),
            Err(d) => d,
        };
        if matches!(denial, Denial::NoResource | Denial::NoIdentity)
            && let Some(op) = access.grant_operation()
        {
            let iam = identity.allows(access.action, &key.arn, &values);
            if store.authz.grants.allow(
                key,
                p,
                op,
                access,
                iam,
                self.now,
                self.inner.grant_propagation,
                &self.presented_grants,
            ) {
                return Ok(());
            }
        }
        Err(access_denied(p, access.action, &key.arn, denial))
    }

    /// Authorizes an action KMS checks in identity policies only, on
    /// `resource` (`*`, or an alias ARN).
    pub(crate) fn authorize_identity(
        &self,
        action: &'static str,
        resource: &str,
        access: Access<'_>,
    ) -> Result<(), LocalKmsError> {
        self.authorized.set(true);
        let Some(p) = self.caller.principal() else {
            return Ok(());
        };
        let identity = self.identity_of(p);
        let values = |name: &str| self.condition_values(p, None, None, &access, name);
        let denial = if identity.denies(action, resource, &values) {
            Denial::ExplicitIdentity
        } else if identity.allows(action, resource, &values) {
            return Ok(());
        } else {
            Denial::NoIdentity
        };
        Err(access_denied(p, action, resource, denial))
    }

    /// Marks a request that needs no authorization of its own (a set-up
    /// path, or one whose checks were made another way).
    pub(crate) fn mark_authorized(&self) {
        self.authorized.set(true);
    }

    // ----- key policies ---------------------------------------------

    /// The key policy of a new key: authorizes `kms:CreateKey` (identity
    /// policies only), then validates `Policy` and runs the lockout safety
    /// check; KMS's default key policy when there is none.
    pub(crate) fn plan_key_policy(
        &self,
        policy: Option<String>,
        bypass: Option<bool>,
        spec: KeySpec,
        usage: KeyUsage,
        tags: Option<&[(String, String)]>,
    ) -> Result<KeyPolicy, LocalKmsError> {
        let mut access = Access::new("kms:CreateKey")
            .condition("kms:keyspec", vec![spec.as_str().to_string()])
            .condition("kms:keyusage", vec![usage.as_str().to_string()])
            .condition("kms:keyorigin", vec!["AWS_KMS".to_string()])
            .condition("kms:multiregion", vec!["false".to_string()]);
        if let Some(b) = bypass {
            access = access.condition("kms:bypasspolicylockoutsafetycheck", vec![b.to_string()]);
        }
        if let Some(tags) = tags {
            access = access.request_tags(tags);
        }
        self.authorize_identity("kms:CreateKey", "*", access)?;
        let account = self.scope.account.clone();
        let Some(text) = policy else {
            return KeyPolicy::default_for(&account);
        };
        check_policy_text(&text)?;
        let doc = policy::parse(&text, PolicyKind::Key)?;
        if bypass != Some(true) {
            // The key does not exist yet; its ARN does not matter to a key
            // policy (whose resource is the key itself).
            self.lockout_check(&doc, &account, &self.scope.key_arn("*"))?;
        }
        Ok(KeyPolicy { text, doc })
    }

    /// `MalformedPolicyDocumentException` unless `doc` lets the caller call
    /// `PutKeyPolicy` later (its identity policies included).
    fn lockout_check(
        &self,
        doc: &PolicyDocument,
        key_account: &str,
        key_arn: &str,
    ) -> Result<(), LocalKmsError> {
        let Some(p) = self.caller.principal() else {
            return Ok(());
        };
        let access = Access::new("kms:PutKeyPolicy")
            .condition("kms:policyname", vec!["default".to_string()]);
        let identity = self.identity_of(p);
        let values = |name: &str| self.condition_values(p, None, None, &access, name);
        evaluate_key_policy(
            p,
            &identity,
            doc,
            key_account,
            "kms:PutKeyPolicy",
            key_arn,
            &values,
        )
        .map_err(|_| LocalKmsError::new("MalformedPolicyDocumentException", LOCKOUT))
    }

    pub(crate) fn put_key_policy(&self, r: Value) -> Result<Value, LocalKmsError> {
        let r: PutKeyPolicyRequest = parse(r)?;
        let id = r.key_id.ok_or_else(|| LocalKmsError::missing("keyId"))?;
        let text = r.policy.ok_or_else(|| LocalKmsError::missing("policy"))?;
        let name = r.policy_name.unwrap_or_else(|| "default".to_string());
        check_policy_name(&name)?;
        check_policy_shape(&text)?;
        let mut store = self.store();
        let key = store.resolve(&self.scope, &id, false)?;
        let mut access =
            Access::new("kms:PutKeyPolicy").condition("kms:policyname", vec![name.clone()]);
        if let Some(b) = r.bypass_policy_lockout_safety_check {
            access = access.condition("kms:bypasspolicylockoutsafetycheck", vec![b.to_string()]);
        }
        self.authorize_in(&store, &key, &access)?;
        check_writable_policy_name(&name)?;
        check_policy_size(&text)?;
        let doc = policy::parse(&text, PolicyKind::Key)?;
        if r.bypass_policy_lockout_safety_check != Some(true) {
            self.lockout_check(&doc, key.account(), &key.arn)?;
        }
        store
            .authz
            .policies
            .insert(key.id.clone(), KeyPolicy { text, doc });
        Ok(json!({}))
    }

    pub(crate) fn get_key_policy(&self, r: Value) -> Result<Value, LocalKmsError> {
        let r: GetKeyPolicyRequest = parse(r)?;
        let id = r.key_id.ok_or_else(|| LocalKmsError::missing("keyId"))?;
        let name = r.policy_name.unwrap_or_else(|| "default".to_string());
        check_policy_name(&name)?;
        let store = self.store();
        let key = store.resolve(&self.scope, &id, false)?;
        let access =
            Access::new("kms:GetKeyPolicy").condition("kms:policyname", vec![name.clone()]);
        self.authorize_in(&store, &key, &access)?;
        if name != "default" {
            return Err(no_such_policy(&name, &key.arn));
        }
        let text = match store.authz.policies.get(&key.id) {
            Some(kp) => kp.text.clone(),
            None => default_key_policy(key.account()),
        };
        Ok(json!({ "Policy": text, "PolicyName": name }))
    }

    pub(crate) fn list_key_policies(&self, r: Value) -> Result<Value, LocalKmsError> {
        let r: ListKeyPoliciesRequest = parse(r)?;
        let id = r.key_id.ok_or_else(|| LocalKmsError::missing("keyId"))?;
        let limit = r.limit.unwrap_or(100);
        if !(1..=1000).contains(&limit) {
            return Err(LocalKmsError::validation(format!(
                "1 validation error detected: Value '{limit}' at 'limit' failed to satisfy constraint: Member must have value between 1 and 1000"
            )));
        }
        let start = match r.marker.as_deref() {
            None => 0,
            Some(m) => m.parse::<usize>().map_err(|_| invalid_marker())?,
        };
        let store = self.store();
        let key = store.resolve(&self.scope, &id, false)?;
        self.authorize_in(&store, &key, &Access::new("kms:ListKeyPolicies"))?;
        Ok(paged(
            "PolicyNames",
            vec![json!("default")],
            start,
            limit as usize,
        ))
    }
}

pub(crate) fn invalid_marker() -> LocalKmsError {
    LocalKmsError::new(
        "InvalidMarkerException",
        "The marker that specifies where to start is not valid.",
    )
}

fn no_such_policy(name: &str, key_arn: &str) -> LocalKmsError {
    LocalKmsError::not_found(format!("No policy named {name} exists for {key_arn}."))
}

/// `PolicyName`: `[\w]+`, 1 to 128 characters.
fn check_policy_name(name: &str) -> Result<(), LocalKmsError> {
    if name.is_empty()
        || name.len() > 128
        || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        return Err(LocalKmsError::validation(format!(
            "1 validation error detected: Value '{name}' at 'policyName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w]+"
        )));
    }
    Ok(())
}

/// Only `default` can be written (`AWS_RAM` belongs to RAM).
fn check_writable_policy_name(name: &str) -> Result<(), LocalKmsError> {
    match name {
        "default" => Ok(()),
        "AWS_RAM" => Err(LocalKmsError::validation(
            "The AWS_RAM policy can only be managed by the RAM service",
        )),
        other => Err(LocalKmsError::not_found(format!(
            "No policy named {other} can be set; the key policy is named default."
        ))),
    }
}

/// The `PolicyType` shape: 1 to 131072 characters of tab, line feed,
/// carriage return and U+0020..U+00FF.
pub(crate) fn check_policy_shape(text: &str) -> Result<(), LocalKmsError> {
    let chars = text.chars().count();
    if chars == 0 || chars > 131_072 {
        return Err(LocalKmsError::validation(
            "1 validation error detected: Value at 'policy' failed to satisfy constraint: Member must have length between 1 and 131072",
        ));
    }
    if !text
        .chars()
        .all(|c| matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{ff}'))
    {
        return Err(LocalKmsError::validation(
            "1 validation error detected: Value at 'policy' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\u0009\\u000A\\u000D\\u0020-\\u00FF]+",
        ));
    }
    Ok(())
}

/// KMS's key policy quota: 32 KB.
pub(crate) fn check_policy_size(text: &str) -> Result<(), LocalKmsError> {
    if text.len() > MAX_KEY_POLICY_BYTES {
        return Err(LocalKmsError::new(
            "LimitExceededException",
            format!(
                "The key policy is {} bytes; the limit is {MAX_KEY_POLICY_BYTES} bytes.",
                text.len()
            ),
        ));
    }
    Ok(())
}

/// Shape, size and document checks of a key policy given to `CreateKey`.
pub(crate) fn check_policy_text(text: &str) -> Result<(), LocalKmsError> {
    check_policy_shape(text)?;
    check_policy_size(text)
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct PutKeyPolicyRequest {
    key_id: Option<String>,
    policy: Option<String>,
    policy_name: Option<String>,
    bypass_policy_lockout_safety_check: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct GetKeyPolicyRequest {
    key_id: Option<String>,
    policy_name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct ListKeyPoliciesRequest {
    key_id: Option<String>,
    limit: Option<i64>,
    marker: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(arn: &str) -> Principal {
        Principal::from_arn(arn).unwrap()
    }

    fn doc(text: &str, kind: PolicyKind) -> PolicyDocument {
        policy::parse(text, kind).unwrap()
    }

    const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/k";

    #[test]
    fn default_key_policy_is_kms_text() {
        let text = default_key_policy("111122223333");
        assert!(text.contains("\"Id\" : \"key-default-1\""));
        assert!(text.contains("\"Statement\" : [ {\n"));
        assert!(text.ends_with("  } ]\n}"));
        let kp = KeyPolicy::default_for("111122223333").unwrap();
        assert_eq!(kp.doc.statements.len(), 1);
        // Never a policy that silently names nobody.
        let e = KeyPolicy::default_for("1234").unwrap_err();
        assert_eq!(e.code, "KMSInternalException");
        assert!(e.message.contains("\"1234\""), "{}", e.message);
    }

    #[test]
    fn decision_table() {
        let none = |_: &str| Ok(Vec::new());
        let default = KeyPolicy::default_for("111122223333").unwrap().doc;
        let user = p("arn:aws:iam::111122223333:user/u");
        let root = p("arn:aws:iam::111122223333:root");
        let foreign = p("arn:aws:iam::444455556666:user/f");
        let allow_encrypt = doc(
            r#"{"Statement":{"Effect":"Allow","Action":"kms:Encrypt","Resource":"*"}}"#,
            PolicyKind::Identity,
        );
        let deny_encrypt = doc(
            r#"{"Statement":{"Effect":"Deny","Action":"kms:Encrypt","Resource":"*"}}"#,
            PolicyKind::Identity,
        );
        let eval = |caller: &Principal, id: &Identity<'_>, kp: &PolicyDocument| {
            evaluate_key_policy(caller, id, kp, "111122223333", "kms:Encrypt", KEY, &none)
        };
        // Root delegation: the account principal plus an identity allow.
        assert_eq!(eval(&user, &Identity::Unrestricted, &default), Ok(()));
        assert_eq!(
            eval(&user, &Identity::Policies(vec![&allow_encrypt]), &default),
            Ok(())
        );
        assert_eq!(
            eval(&user, &Identity::Policies(vec![]), &default),
            Err(Denial::NoIdentity)
        );
        assert_eq!(eval(&root, &Identity::Root, &default), Ok(()));
        assert_eq!(
            eval(&user, &Identity::Policies(vec![&deny_encrypt]), &default),
            Err(Denial::ExplicitIdentity)
        );
        // A foreign account is not named.
        assert_eq!(
            eval(&foreign, &Identity::Unrestricted, &default),
            Err(Denial::NoResource)
        );
        // Direct: no identity policy needed in the same account, needed across.
        let direct = doc(
            r#"{"Statement":[
                {"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::111122223333:user/u","arn:aws:iam::444455556666:user/f"]},"Action":"kms:Encrypt","Resource":"*"},
                {"Effect":"Deny","Principal":"*","Action":"kms:Decrypt","Resource":"*"}]}"#,
            PolicyKind::Key,
        );
        assert_eq!(eval(&user, &Identity::Policies(vec![]), &direct), Ok(()));
        assert_eq!(
            eval(&foreign, &Identity::Policies(vec![]), &direct),
            Err(Denial::NoIdentity)
        );
        assert_eq!(
            eval(&foreign, &Identity::Policies(vec![&allow_encrypt]), &direct),
            Ok(())
        );
        assert_eq!(
            evaluate_key_policy(
                &root,
                &Identity::Root,
                &direct,
                "111122223333",
                "kms:Decrypt",
                KEY,
                &none
            ),
            Err(Denial::ExplicitResource)
        );
    }

    #[test]
    fn messages() {
        let u = p("arn:aws:sts::111122223333:assumed-role/app/s1");
        assert_eq!(
            access_denied(&u, "kms:ReEncryptFrom", KEY, Denial::NoResource).message(),
            "User: arn:aws:sts::111122223333:assumed-role/app/s1 is not authorized to perform: kms:ReEncryptFrom on resource: arn:aws:kms:us-east-1:111122223333:key/k because no resource-based policy allows the kms:ReEncryptFrom action"
        );
        assert!(
            access_denied(&u, "kms:Decrypt", KEY, Denial::ExplicitIdentity)
                .message()
                .ends_with("key/k with an explicit deny in an identity-based policy")
        );
        let e = access_denied(&u, "kms:Decrypt", KEY, Denial::ExplicitResource);
        assert_eq!(e.code(), "AccessDeniedException");
        assert_eq!(e.status(), 400);
    }

    #[test]
    fn policy_shape_and_size() {
        assert_eq!(
            check_policy_shape("").unwrap_err().code(),
            "ValidationException"
        );
        assert_eq!(
            check_policy_shape("{\"a\":\"\u{263a}\"}")
                .unwrap_err()
                .code(),
            "ValidationException"
        );
        assert!(check_policy_shape("{\"a\":\"\u{e9}\"}\t\r\n").is_ok());
        assert!(check_policy_size(&"x".repeat(MAX_KEY_POLICY_BYTES)).is_ok());
        assert_eq!(
            check_policy_size(&"x".repeat(MAX_KEY_POLICY_BYTES + 1))
                .unwrap_err()
                .code(),
            "LimitExceededException"
        );
        assert_eq!(check_policy_name("default"), Ok(()));
        assert!(check_policy_name("bad-name").is_err());
        assert_eq!(
            check_writable_policy_name("AWS_RAM").unwrap_err().code(),
            "ValidationException"
        );
        assert_eq!(
            check_writable_policy_name("other").unwrap_err().code(),
            "NotFoundException"
        );
    }
}
