//! The policy language of key policies and identity (IAM) policies: parsing
//! with KMS's validation, and matching a statement against a request.
//!
//! Everything here is plain data (strings and vectors), so a parsed policy
//! can be rebuilt from its text at any time.

use serde_json::{Map, Value};

use super::error::LocalKmsError;
use super::principal::{Principal, is_account_id, root_account};

/// An identity (IAM) policy document, to attach to a principal with
/// [`LocalKmsBuilder::identity_policy`].
///
/// The policy language is the one of key policies without `Principal`:
/// `Effect`, `Action` / `NotAction` (wildcards, e.g. `kms:ReEncrypt*`),
/// `Resource` / `NotResource` (`*` or key and alias ARN patterns such as
/// `arn:aws:kms:*:111122223333:key/*`) and `Condition`.
///
/// ```
/// use tower_kms::local::IdentityPolicy;
///
/// let p = IdentityPolicy::from_json(
///     r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"kms:Decrypt","Resource":"*"}}"#,
/// )
/// .unwrap();
/// assert!(p.as_json().contains("Deny"));
/// let e = IdentityPolicy::from_json(r#"{"Statement":[]}"#).unwrap_err();
/// assert_eq!(e.code(), "MalformedPolicyDocumentException");
/// ```
///
/// [`LocalKmsBuilder::identity_policy`]: crate::local::LocalKmsBuilder::identity_policy
#[derive(Debug, Clone)]
pub struct IdentityPolicy {
    text: String,
    doc: PolicyDocument,
}

impl IdentityPolicy {
    /// Parses and validates an identity policy.
    ///
    /// # Errors
    /// `MalformedPolicyDocumentException` for a document IAM would refuse
    /// (not JSON, no statements, a `Principal`, a statement without `Effect`,
    /// `Action` or `Resource`, an unknown condition operator, ...);
    /// `UnsupportedOperationException` for a condition operator this local
    /// KMS does not evaluate (`Numeric*`, `Date*`, `IpAddress`, ...) or a
    /// condition key it does not know (`aws:ResourceTag/<k>`, ...; see
    /// [`LocalKms`](crate::local::LocalKms)).
    pub fn from_json(text: &str) -> Result<Self, LocalKmsError> {
        let doc = parse(text, PolicyKind::Identity)?;
        Ok(Self {
            text: text.to_string(),
            doc,
        })
    }

    /// The document as given.
    pub fn as_json(&self) -> &str {
        &self.text
    }

    pub(crate) fn into_document(self) -> PolicyDocument {
        self.doc
    }
}

/// Which kind of policy a document is: they differ in `Principal`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PolicyKind {
    /// A key policy: every statement names principals.
    Key,
    /// An identity policy: no `Principal`, resources are ARNs.
    Identity,
}

/// A parsed policy document.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PolicyDocument {
    pub(crate) statements: Vec<Statement>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Effect {
    Allow,
    Deny,
}

/// One statement.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Statement {
    pub(crate) effect: Effect,
    /// `Principal` / `NotPrincipal`; `None` in identity policies.
    principals: Option<Principals>,
    /// `Action` / `NotAction`, lower-cased.
    actions: Patterns,
    /// `Resource` / `NotResource`.
    resources: Patterns,
    conditions: Vec<Condition>,
}

#[derive(Debug, Clone, PartialEq)]
struct Patterns {
    negated: bool,
    items: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
struct Principals {
    negated: bool,
    entries: Vec<PrincipalEntry>,
}

#[derive(Debug, Clone, PartialEq)]
enum PrincipalEntry {
    /// `"*"` or `{"AWS": "*"}`.
    Any,
    /// `"A"` or `arn:aws:iam::A:root`.
    Account(String),
    /// A user, role, session or federated-user ARN.
    Arn(String),
    /// `Service`, `Federated` or `CanonicalUser`: never a direct caller here.
    Other,
}

/// How a statement's principals name a caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum PrincipalMatch {
    /// Not named.
    None,
    /// Through the caller's account (`arn:aws:iam::A:root` or `"A"`): a
    /// delegation to the account's identity policies.
    Account,
    /// The caller itself: its ARN, its role, `*`, or (for the account's root
    /// user) its account.
    Direct,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operator {
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    ArnEquals,
    ArnNotEquals,
    ArnLike,
    ArnNotLike,
    Bool,
    Null,
}

impl Operator {
    fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "StringEquals" => Self::StringEquals,
            "StringNotEquals" => Self::StringNotEquals,
            "StringEqualsIgnoreCase" => Self::StringEqualsIgnoreCase,
            "StringNotEqualsIgnoreCase" => Self::StringNotEqualsIgnoreCase,
            "StringLike" => Self::StringLike,
            "StringNotLike" => Self::StringNotLike,
            "ArnEquals" => Self::ArnEquals,
            "ArnNotEquals" => Self::ArnNotEquals,
            "ArnLike" => Self::ArnLike,
            "ArnNotLike" => Self::ArnNotLike,
            "Bool" => Self::Bool,
            "Null" => Self::Null,
            _ => return None,
        })
    }

    fn negated(self) -> bool {
        matches!(
            self,
            Self::StringNotEquals
                | Self::StringNotEqualsIgnoreCase
                | Self::StringNotLike
                | Self::ArnNotEquals
                | Self::ArnNotLike
        )
    }

    /// Whether request value `r` matches policy value `p` (before negation).
    fn compare(self, r: &str, p: &str) -> bool {
        match self {
            Self::StringEquals | Self::StringNotEquals => r == p,
            Self::StringEqualsIgnoreCase | Self::StringNotEqualsIgnoreCase => {
                r.to_lowercase() == p.to_lowercase()
            }
            Self::StringLike | Self::StringNotLike => wildcard(p, r),
            Self::ArnEquals | Self::ArnNotEquals | Self::ArnLike | Self::ArnNotLike => {
                arn_like(p, r)
            }
            Self::Bool => r.eq_ignore_ascii_case(p),
            Self::Null => false,
        }
    }
}

/// IAM operators this local KMS does not evaluate.
const UNSUPPORTED_OPERATORS: &[&str] = &[
    "NumericEquals",
    "NumericNotEquals",
    "NumericLessThan",
    "NumericLessThanEquals",
    "NumericGreaterThan",
    "NumericGreaterThanEquals",
    "DateEquals",
    "DateNotEquals",
    "DateLessThan",
    "DateLessThanEquals",
    "DateGreaterThan",
    "DateGreaterThanEquals",
    "IpAddress",
    "NotIpAddress",
    "BinaryEquals",
];

/// Condition keys (lower-cased) the local KMS evaluates: each has its
/// values in [`Ops::condition_values`](super::authz), from the caller, the
/// key or the request, and is absent only where KMS leaves it absent (an
/// operation-specific key in another operation, `kms:EncryptionAlgorithm`
/// without an algorithm, ...).
pub(crate) const EVALUATED_KEYS: &[&str] = &[
    "aws:principalaccount",
    "aws:principalarn",
    "aws:principalisawsservice",
    "aws:requestedregion",
    "aws:resourceaccount",
    "aws:tagkeys",
    "aws:viaawsservice",
    "kms:bypasspolicylockoutsafetycheck",
    "kms:calleraccount",
    "kms:customermasterkeyspec",
    "kms:customermasterkeyusage",
    "kms:datakeypairspec",
    "kms:encryptionalgorithm",
    "kms:encryptioncontextkeys",
    "kms:grantconstrainttype",
    "kms:granteeprincipal",
    "kms:grantisforawsresource",
    "kms:grantoperations",
    "kms:keyagreementalgorithm",
    "kms:keyorigin",
    "kms:keyspec",
    "kms:keyusage",
    "kms:macalgorithm",
    "kms:messagetype",
    "kms:multiregion",
    "kms:policyname",
    "kms:reencryptonsamekey",
    "kms:resourcealiases",
    "kms:retiringprincipal",
    "kms:signingalgorithm",
];

/// Prefixes of evaluated condition keys that end in a name of the request's.
const EVALUATED_PREFIXES: &[&str] = &[
    "aws:requesttag/",
    "aws:resourcetag/",
    "kms:encryptioncontext:",
];

/// Condition keys that are truthfully absent from every request to this local
/// KMS: no call comes through another AWS service, a VPC endpoint, an
/// organization or a Nitro enclave, no key is multi-Region or has imported
/// material. A condition on one of them is evaluated as on an absent key.
const ABSENT_KEYS: &[&str] = &[
    "aws:calledvia",
    "aws:calledviafirst",
    "aws:calledvialast",
    "aws:principalorgid",
    "aws:principalorgpaths",
    "aws:principalservicename",
    "aws:principalservicenameslist",
    "aws:resourceorgid",
    "aws:resourceorgpaths",
    "aws:sourceaccount",
    "aws:sourcearn",
    "aws:sourceorgid",
    "aws:sourceorgpaths",
    "aws:sourcevpc",
    "aws:sourcevpce",
    "aws:vpcsourceip",
    "kms:expirationmodel",
    "kms:multiregionkeytype",
    "kms:primaryregion",
    "kms:replicaregion",
    "kms:validto",
    "kms:viaservice",
    "kms:wrappingalgorithm",
    "kms:wrappingkeyspec",
];

/// Prefixes of truthfully absent condition keys.
const ABSENT_PREFIXES: &[&str] = &["kms:recipientattestation:"];

/// Whether the local KMS knows condition key `key` (lower-cased): it
/// evaluates it, or it is truthfully absent here.
pub(crate) fn is_known_condition_key(key: &str) -> bool {
    is_evaluated_condition_key(key)
        || ABSENT_KEYS.contains(&key)
        || ABSENT_PREFIXES
            .iter()
            .any(|p| key.strip_prefix(p).is_some_and(|rest| !rest.is_empty()))
}

/// Whether the local KMS gives condition key `key` (lower-cased) values.
pub(crate) fn is_evaluated_condition_key(key: &str) -> bool {
    EVALUATED_KEYS.contains(&key)
        || EVALUATED_PREFIXES
            .iter()
            .any(|p| key.strip_prefix(p).is_some_and(|rest| !rest.is_empty()))
}

/// Refuses a condition key the local KMS does not know, as it refuses an
/// operator it does not evaluate: treating the key as absent would make a
/// `Deny` on it silently not apply.
fn check_condition_key(key: &str, label: &str) -> Result<(), LocalKmsError> {
    if is_known_condition_key(key) {
        return Ok(());
    }
    if !key
        .split_once(':')
        .is_some_and(|(vendor, name)| !vendor.is_empty() && !name.is_empty())
    {
        return Err(malformed(format!(
            "{label}: Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc. Got {key:?}."
        )));
    }
    Err(LocalKmsError::new(
        "UnsupportedOperationException",
        format!(
            "{label} uses the condition key {key:?}, which the local KMS does not evaluate. It evaluates the keys of the caller (aws:PrincipalArn, aws:PrincipalAccount, kms:CallerAccount), of the key (aws:ResourceTag/*, aws:ResourceAccount, kms:ResourceAliases, kms:KeySpec, kms:KeyUsage, kms:KeyOrigin, kms:MultiRegion) and of the request (aws:RequestTag/*, aws:TagKeys, aws:RequestedRegion, kms:EncryptionContext:*, kms:EncryptionContextKeys, kms:EncryptionAlgorithm, the grant keys, ...)."
        ),
    ))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SetQualifier {
    None,
    ForAllValues,
    ForAnyValue,
}

#[derive(Debug, Clone, PartialEq)]
struct Condition {
    operator: Operator,
    set: SetQualifier,
    if_exists: bool,
    /// Folded with [`fold_condition_key`]: condition key names are
    /// case-insensitive.
    key: String,
    values: Vec<String>,
}

/// A condition key name, or the request's name that ends one (an encryption
/// context key, a tag key), in the case-insensitive form both sides are
/// compared in: Unicode lower case, so `kms:EncryptionContext:RÉGION` and a
/// context key `région` meet whichever side has which case.
pub(crate) fn fold_condition_key(name: &str) -> String {
    name.to_lowercase()
}

/// The request's values of a condition key (lower-cased name); empty when
/// the key is absent, [`Ambiguous`] when the request gives it more than one
/// candidate value (two encryption context keys, or tag keys, that differ
/// only in case).
pub(crate) type ConditionValues<'a> = &'a dyn Fn(&str) -> Result<Vec<String>, Ambiguous>;

/// A condition key whose value the request does not determine: several of
/// the request's names fold to it. A condition on it fails closed: it holds
/// in a `Deny` statement and not in an `Allow` statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ambiguous;

/// KMS's refusal of `ForAllValues` with `kms:EncryptionContext:<k>`.
pub(crate) const OVERLY_PERMISSIVE_EC: &str = "OverlyPermissiveCondition:EncryptionContext: Using the ForAllValues set operator with a single-valued condition key matches requests without the specified encryption context or with an unspecified encryption context. To fix, remove ForAllValues.";

/// KMS's message for a principal it does not accept.
pub(crate) const INVALID_PRINCIPALS: &str =
    "Policy contains a statement with one or more invalid principals.";

impl Condition {
    /// Whether the condition holds for the request, in a statement of
    /// `effect` (which decides an [`Ambiguous`] key: failing closed, the
    /// condition holds for a `Deny` and not for an `Allow`).
    fn holds(&self, effect: Effect, ctx: ConditionValues<'_>) -> bool {
        let Ok(values) = ctx(&self.key) else {
            return effect == Effect::Deny;
        };
        if self.operator == Operator::Null {
            let absent = values.is_empty();
            return self
                .values
                .iter()
                .any(|v| v.eq_ignore_ascii_case("true") == absent);
        }
        let one = |r: &String| {
            let hit = self.values.iter().any(|p| self.operator.compare(r, p));
            hit != self.operator.negated()
        };
        if values.is_empty() {
            return match self.set {
                SetQualifier::ForAllValues => true,
                SetQualifier::ForAnyValue => self.if_exists,
                SetQualifier::None => self.if_exists || self.operator.negated(),
            };
        }
        match self.set {
            SetQualifier::ForAllValues => values.iter().all(one),
            SetQualifier::ForAnyValue | SetQualifier::None => values.iter().any(one),
        }
    }
}

impl Patterns {
    fn matches(&self, value: &str, fold_case: bool) -> bool {
        let hit = if fold_case {
            let value = value.to_ascii_lowercase();
            self.items.iter().any(|p| wildcard(p, &value))
        } else {
            self.items.iter().any(|p| wildcard(p, value))
        };
        hit != self.negated
    }
}

impl PrincipalEntry {
    fn matches(&self, caller: &Principal) -> PrincipalMatch {
        match self {
            Self::Any => PrincipalMatch::Direct,
            Self::Account(a) if a == caller.account() => {
                if caller.is_root() {
                    PrincipalMatch::Direct
                } else {
                    PrincipalMatch::Account
                }
            }
            Self::Arn(arn) if caller.is_named_by(arn) => PrincipalMatch::Direct,
            _ => PrincipalMatch::None,
        }
    }
}

impl Principals {
    /// Whether the list names every identity IAM sees in a request of
    /// `caller`: its own ARN, the role of a role session, and its account
    /// (the root user is its account alone). `NotPrincipal` leaves a caller
    /// out only then, as IAM evaluates it: a `NotPrincipal` naming a user but
    /// not the user's account still applies to the user through its account
    /// (which is why IAM's documentation says to list the account too).
    /// This is the `Deny` side; an `Allow` uses [`Self::allow_match`].
    fn lists_every_identity_of(&self, caller: &Principal) -> bool {
        self.lists_account_of(caller)
            && (caller.is_root() || self.lists_arn(caller.arn()))
            && caller.role_arn().is_none_or(|r| self.lists_arn(r))
    }

    /// Whether the list names `arn` (or everyone).
    fn lists_arn(&self, arn: &str) -> bool {
        self.entries.iter().any(|e| {
            matches!(e, PrincipalEntry::Any) || matches!(e, PrincipalEntry::Arn(a) if a == arn)
        })
    }

    /// Whether the list names `caller`'s account (or everyone).
    fn lists_account_of(&self, caller: &Principal) -> bool {
        self.entries.iter().any(|e| {
            matches!(e, PrincipalEntry::Any)
                || matches!(e, PrincipalEntry::Account(a) if a == caller.account())
        })
    }

    /// How an `Allow` with this `NotPrincipal` list names `caller`: directly
    /// when the caller itself is not listed (neither its ARN nor, for a role
    /// session, its role; the root user is its account); through its account
    /// (a delegation to its identity policies, as a `Principal` naming the
    /// account) when only the account is left out; not at all otherwise. An
    /// `Allow` never grants more than the identities it leaves out.
    fn allow_match(&self, caller: &Principal) -> PrincipalMatch {
        let lists_caller = if caller.is_root() {
            self.lists_account_of(caller)
        } else {
            self.lists_arn(caller.arn()) || caller.role_arn().is_some_and(|r| self.lists_arn(r))
        };
        if !lists_caller {
            PrincipalMatch::Direct
        } else if !self.lists_account_of(caller) {
            PrincipalMatch::Account
        } else {
            PrincipalMatch::None
        }
    }
}

impl Statement {
    /// How this statement's principals name `caller` (always `Direct` in an
    /// identity policy, which applies to its own principal).
    pub(crate) fn principal_match(&self, caller: &Principal) -> PrincipalMatch {
        let Some(p) = &self.principals else {
            return PrincipalMatch::Direct;
        };
        if p.negated {
            return match self.effect {
                Effect::Allow => p.allow_match(caller),
                Effect::Deny if p.lists_every_identity_of(caller) => PrincipalMatch::None,
                Effect::Deny => PrincipalMatch::Direct,
            };
        }
        p.entries
            .iter()
            .map(|e| e.matches(caller))
            .max()
            .unwrap_or(PrincipalMatch::None)
    }

    /// Action (case-insensitive, wildcards), resource (wildcards) and
    /// conditions all match.
    pub(crate) fn applies(&self, action: &str, resource: &str, ctx: ConditionValues<'_>) -> bool {
        self.actions.matches(action, true)
            && self.resources.matches(resource, false)
            && self.conditions.iter().all(|c| c.holds(self.effect, ctx))
    }
}

/// `*` (any run) and `?` (any one character) glob match of `value` against
/// `pattern`.
pub(crate) fn wildcard(pattern: &str, value: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let v: Vec<char> = value.chars().collect();
    let (mut pi, mut vi) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while vi < v.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == v[vi]) {
            pi += 1;
            vi += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, vi));
            pi += 1;
        } else if let Some((sp, sv)) = star {
            pi = sp + 1;
            vi = sv + 1;
            star = Some((sp, sv + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// `ArnLike`: each of the six colon-separated parts matched on its own.
fn arn_like(pattern: &str, value: &str) -> bool {
    let p: Vec<&str> = pattern.splitn(6, ':').collect();
    let v: Vec<&str> = value.splitn(6, ':').collect();
    p.len() == 6 && v.len() == 6 && p.iter().zip(&v).all(|(p, v)| wildcard(p, v))
}

fn malformed(message: impl Into<String>) -> LocalKmsError {
    LocalKmsError::new("MalformedPolicyDocumentException", message)
}

/// Parses and validates a policy document as KMS (key policies) or IAM
/// (identity policies) would: `MalformedPolicyDocumentException` for what
/// they refuse, `UnsupportedOperationException` for IAM features this local
/// KMS does not evaluate.
pub(crate) fn parse(text: &str, kind: PolicyKind) -> Result<PolicyDocument, LocalKmsError> {
    let value: Value = serde_json::from_str(text)
        .map_err(|e| malformed(format!("The policy document is not valid JSON: {e}.")))?;
    let Value::Object(doc) = value else {
        return Err(malformed("The policy document must be a JSON object."));
    };
    for (k, v) in &doc {
        match k.as_str() {
            "Version" => match v.as_str() {
                Some("2012-10-17" | "2008-10-17") => {}
                _ => {
                    return Err(malformed(format!(
                        "The policy document has an invalid Version {v}: expected \"2012-10-17\" or \"2008-10-17\"."
                    )));
                }
            },
            "Id" if v.is_string() => {}
            "Id" => return Err(malformed("The policy Id must be a string.")),
            "Statement" => {}
            other => {
                return Err(malformed(format!(
                    "The policy document has an unknown element {other:?}."
                )));
            }
        }
    }
    let statements = match doc.get("Statement") {
        None => {
            return Err(malformed(
                "The policy document is missing the required element Statement.",
            ));
        }
        Some(Value::Array(items)) => items.iter().collect::<Vec<_>>(),
        Some(one @ Value::Object(_)) => vec![one],
        Some(_) => {
            return Err(malformed(
                "Statement must be a statement object or an array of them.",
            ));
        }
    };
    if statements.is_empty() {
        return Err(malformed("The policy document has no statements."));
    }
    let statements = statements
        .into_iter()
        .enumerate()
        .map(|(i, s)| parse_statement(i, s, kind))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(PolicyDocument { statements })
}

fn parse_statement(index: usize, v: &Value, kind: PolicyKind) -> Result<Statement, LocalKmsError> {
    let Value::Object(s) = v else {
        return Err(malformed(format!(
            "Statement {} must be a JSON object.",
            index + 1
        )));
    };
    let label = match s.get("Sid").and_then(Value::as_str) {
        Some(sid) => format!("Statement {sid:?}"),
        None => format!("Statement {}", index + 1),
    };
    for k in s.keys() {
        if !matches!(
            k.as_str(),
            "Sid"
                | "Effect"
                | "Principal"
                | "NotPrincipal"
                | "Action"
                | "NotAction"
                | "Resource"
                | "NotResource"
                | "Condition"
        ) {
            return Err(malformed(format!("{label} has an unknown element {k:?}.")));
        }
    }
    if s.get("Sid").is_some_and(|v| !v.is_string()) {
        return Err(malformed(format!("{label}: Sid must be a string.")));
    }
    let effect = match s.get("Effect") {
        Some(Value::String(e)) if e == "Allow" => Effect::Allow,
        Some(Value::String(e)) if e == "Deny" => Effect::Deny,
        None => {
            return Err(malformed(format!(
                "{label} is missing the required element Effect."
            )));
        }
        Some(other) => {
            return Err(malformed(format!(
                "{label} has an invalid Effect {other}: expected \"Allow\" or \"Deny\"."
            )));
        }
    };
    let principals = match (kind, s.get("Principal"), s.get("NotPrincipal")) {
        (PolicyKind::Identity, None, None) => None,
        (PolicyKind::Identity, _, _) => {
            return Err(malformed("Policy document should not specify a principal."));
        }
        (PolicyKind::Key, Some(_), Some(_)) => {
            return Err(malformed(format!(
                "{label} has both Principal and NotPrincipal."
            )));
        }
        (PolicyKind::Key, None, None) => {
            return Err(malformed(format!(
                "{label} is missing the required element Principal: each statement in a key policy must name one or more principals."
            )));
        }
        (PolicyKind::Key, Some(p), None) => Some(parse_principals(p, false)?),
        (PolicyKind::Key, None, Some(p)) => Some(parse_principals(p, true)?),
    };
    let actions = patterns(s, "Action", "NotAction", &label)?;
    for a in &actions.items {
        if a != "*"
            && !a
                .split_once(':')
                .is_some_and(|(svc, name)| !svc.is_empty() && !name.is_empty())
        {
            return Err(malformed(format!(
                "{label}: Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc. Got {a:?}."
            )));
        }
    }
    let actions = Patterns {
        negated: actions.negated,
        items: actions
            .items
            .iter()
            .map(|a| a.to_ascii_lowercase())
            .collect(),
    };
    let resources = patterns(s, "Resource", "NotResource", &label)?;
    let conditions = match s.get("Condition") {
        None => Vec::new(),
        Some(Value::Object(c)) => parse_conditions(c, &label)?,
        Some(_) => {
            return Err(malformed(format!(
                "{label}: Condition must be a JSON object."
            )));
        }
    };
    for c in &conditions {
        check_condition_key(&c.key, &label)?;
    }
    Ok(Statement {
        effect,
        principals,
        actions,
        resources,
        conditions,
    })
}

/// A string or a non-empty array of strings.
fn strings(v: &Value) -> Option<Vec<String>> {
    match v {
        Value::String(s) => Some(vec![s.clone()]),
        Value::Array(items) if !items.is_empty() => items
            .iter()
            .map(|i| i.as_str().map(str::to_string))
            .collect(),
        _ => None,
    }
}

fn patterns(
    s: &Map<String, Value>,
    name: &str,
    not_name: &str,
    label: &str,
) -> Result<Patterns, LocalKmsError> {
    let (negated, v) = match (s.get(name), s.get(not_name)) {
        (Some(_), Some(_)) => {
            return Err(malformed(format!(
                "{label} has both {name} and {not_name}."
            )));
        }
        (None, None) => {
            return Err(malformed(format!(
                "{label} is missing the required element {name} (or {not_name})."
            )));
        }
        (Some(v), None) => (false, v),
        (None, Some(v)) => (true, v),
    };
    let element = if negated { not_name } else { name };
    let items = strings(v)
        .filter(|items| items.iter().all(|i| !i.is_empty()))
        .ok_or_else(|| {
            malformed(format!(
                "{label}: {element} must be a non-empty string or a non-empty array of them."
            ))
        })?;
    Ok(Patterns { negated, items })
}

fn parse_principals(v: &Value, negated: bool) -> Result<Principals, LocalKmsError> {
    let invalid = || malformed(INVALID_PRINCIPALS);
    let mut entries = Vec::new();
    match v {
        Value::String(s) if s == "*" => entries.push(PrincipalEntry::Any),
        Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                let values = strings(v).ok_or_else(invalid)?;
                match k.as_str() {
                    "AWS" => {
                        for p in values {
                            entries.push(aws_principal(&p).ok_or_else(invalid)?);
                        }
                    }
                    "Service" | "Federated" | "CanonicalUser" => {
                        if values.iter().any(String::is_empty) {
                            return Err(invalid());
                        }
                        entries.push(PrincipalEntry::Other);
                    }
                    _ => return Err(invalid()),
                }
            }
        }
        _ => return Err(invalid()),
    }
    Ok(Principals { negated, entries })
}

fn aws_principal(p: &str) -> Option<PrincipalEntry> {
    if p == "*" {
        return Some(PrincipalEntry::Any);
    }
    if is_account_id(p) {
        return Some(PrincipalEntry::Account(p.to_string()));
    }
    if let Some(account) = root_account(p) {
        return Some(PrincipalEntry::Account(account.to_string()));
    }
    Principal::from_arn(p)
        .ok()
        .map(|_| PrincipalEntry::Arn(p.to_string()))
}

fn parse_conditions(
    block: &Map<String, Value>,
    label: &str,
) -> Result<Vec<Condition>, LocalKmsError> {
    let mut out = Vec::new();
    for (name, keys) in block {
        let (set, rest) = if let Some(r) = name.strip_prefix("ForAllValues:") {
            (SetQualifier::ForAllValues, r)
        } else if let Some(r) = name.strip_prefix("ForAnyValue:") {
            (SetQualifier::ForAnyValue, r)
        } else {
            (SetQualifier::None, name.as_str())
        };
        let (base, if_exists) = match rest.strip_suffix("IfExists") {
            Some(b) => (b, true),
            None => (rest, false),
        };
        let operator = match Operator::parse(base) {
            Some(Operator::Null) if if_exists || set != SetQualifier::None => {
                return Err(malformed(format!(
                    "{label} has an invalid condition operator {name:?}: Null takes no IfExists and no set qualifier."
                )));
            }
            Some(op) => op,
            None if UNSUPPORTED_OPERATORS.contains(&base) => {
                return Err(LocalKmsError::new(
                    "UnsupportedOperationException",
                    format!(
                        "{label} uses the condition operator {name:?}, which the local KMS does not evaluate. It evaluates the String*, Arn*, Bool and Null operators, with ForAllValues:/ForAnyValue: and IfExists."
                    ),
                ));
            }
            None => {
                return Err(malformed(format!(
                    "{label} has an unknown condition operator {name:?}."
                )));
            }
        };
        let Value::Object(keys) = keys else {
            return Err(malformed(format!(
                "{label}: the condition {name:?} must map condition keys to values."
            )));
        };
        for (key, v) in keys {
            let values = match v {
                Value::Array(items) => items.iter().map(scalar).collect::<Option<Vec<_>>>(),
                other => scalar(other).map(|s| vec![s]),
            }
            .ok_or_else(|| {
                malformed(format!(
                    "{label}: the values of {key:?} under {name:?} must be strings, booleans or numbers."
                ))
            })?;
            let key = fold_condition_key(key);
            if key.is_empty() {
                return Err(malformed(format!(
                    "{label} has an empty condition key under {name:?}."
                )));
            }
            if set == SetQualifier::ForAllValues && key.starts_with("kms:encryptioncontext:") {
                return Err(malformed(OVERLY_PERMISSIVE_EC));
            }
            out.push(Condition {
                operator,
                set,
                if_exists,
                key,
                values,
            });
        }
    }
    Ok(out)
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_policy(statements: &str) -> Result<PolicyDocument, LocalKmsError> {
        parse(
            &format!(r#"{{"Version":"2012-10-17","Statement":{statements}}}"#),
            PolicyKind::Key,
        )
    }

    fn ctx(
        pairs: &'static [(&'static str, &'static [&'static str])],
    ) -> impl Fn(&str) -> Result<Vec<String>, Ambiguous> {
        move |k: &str| {
            Ok(pairs
                .iter()
                .find(|(name, _)| *name == k)
                .map(|(_, v)| v.iter().map(|s| s.to_string()).collect())
                .unwrap_or_default())
        }
    }

    fn cond(operator: &str, key: &str, values: Value) -> Condition {
        let block = serde_json::json!({ operator: { key: values } });
        let Value::Object(block) = block else {
            unreachable!()
        };
        parse_conditions(&block, "S").unwrap().remove(0)
    }

    #[test]
    fn wildcards() {
        assert!(wildcard("*", ""));
        assert!(wildcard("kms:reencrypt*", "kms:reencryptfrom"));
        assert!(wildcard("kms:re?ncrypt*", "kms:reencryptto"));
        assert!(!wildcard("kms:reencrypt?", "kms:reencryptto"));
        assert!(wildcard("a*b*c", "aXXbYYc"));
        assert!(!wildcard("a*b*c", "aXXbYY"));
        assert!(wildcard("**", "x"));
        assert!(!wildcard("", "x"));
        assert!(arn_like(
            "arn:aws:iam::*:role/app-*",
            "arn:aws:iam::111122223333:role/app-1"
        ));
        assert!(!arn_like(
            "arn:aws:iam::*",
            "arn:aws:iam::111122223333:role/x"
        ));
    }

    #[test]
    fn operators_and_missing_keys() {
        let present = ctx(&[("k", &["Value"]), ("set", &["a", "b"])]);
        let absent = ctx(&[]);
        let cases: &[(&str, &str, Value, bool, bool)] = &[
            // operator, key, values, result when present, result when absent
            ("StringEquals", "k", serde_json::json!("Value"), true, false),
            (
                "StringEquals",
                "k",
                serde_json::json!(["x", "Value"]),
                true,
                false,
            ),
            (
                "StringEquals",
                "k",
                serde_json::json!("value"),
                false,
                false,
            ),
            (
                "StringNotEquals",
                "k",
                serde_json::json!("Value"),
                false,
                true,
            ),
            (
                "StringNotEquals",
                "k",
                serde_json::json!(["x", "y"]),
                true,
                true,
            ),
            (
                "StringEqualsIgnoreCase",
                "k",
                serde_json::json!("VALUE"),
                true,
                false,
            ),
            (
                "StringNotEqualsIgnoreCase",
                "k",
                serde_json::json!("VALUE"),
                false,
                true,
            ),
            ("StringLike", "k", serde_json::json!("V*e"), true, false),
            ("StringLike", "k", serde_json::json!("v*"), false, false),
            ("StringNotLike", "k", serde_json::json!("V*"), false, true),
            (
                "StringEqualsIfExists",
                "k",
                serde_json::json!("nope"),
                false,
                true,
            ),
            (
                "StringEqualsIfExists",
                "k",
                serde_json::json!("Value"),
                true,
                true,
            ),
            ("Null", "k", serde_json::json!("true"), false, true),
            ("Null", "k", serde_json::json!("false"), true, false),
            ("Null", "k", serde_json::json!(false), true, false),
            (
                "ForAnyValue:StringEquals",
                "set",
                serde_json::json!("a"),
                true,
                false,
            ),
            (
                "ForAnyValue:StringEquals",
                "set",
                serde_json::json!("z"),
                false,
                false,
            ),
            (
                "ForAllValues:StringEquals",
                "set",
                serde_json::json!(["a", "b", "c"]),
                true,
                true,
            ),
            (
                "ForAllValues:StringEquals",
                "set",
                serde_json::json!("a"),
                false,
                true,
            ),
            (
                "ForAnyValue:StringNotEquals",
                "set",
                serde_json::json!("a"),
                true,
                false,
            ),
            (
                "ForAllValues:StringNotEquals",
                "set",
                serde_json::json!("c"),
                true,
                true,
            ),
            (
                "ForAllValues:StringNotEquals",
                "set",
                serde_json::json!("a"),
                false,
                true,
            ),
            (
                "ForAnyValue:StringLikeIfExists",
                "set",
                serde_json::json!("z*"),
                false,
                true,
            ),
        ];
        for (op, key, values, when_present, when_absent) in cases {
            let c = cond(op, key, values.clone());
            assert_eq!(
                c.holds(Effect::Allow, &present),
                *when_present,
                "{op} {key} {values} present"
            );
            assert_eq!(
                c.holds(Effect::Allow, &absent),
                *when_absent,
                "{op} {key} {values} absent"
            );
        }
        let b = ctx(&[("flag", &["false"])]);
        assert!(cond("Bool", "flag", serde_json::json!(false)).holds(Effect::Allow, &b));
        assert!(cond("Bool", "flag", serde_json::json!("FALSE")).holds(Effect::Allow, &b));
        assert!(!cond("Bool", "flag", serde_json::json!("true")).holds(Effect::Allow, &b));
        assert!(!cond("Bool", "flag", serde_json::json!("true")).holds(Effect::Allow, &absent));
        // An ambiguous key fails closed: a Deny's condition holds, an
        // Allow's does not, whatever the operator (#12).
        let ambiguous = |_: &str| Err(Ambiguous);
        for op in [
            "StringEquals",
            "StringNotEquals",
            "StringLikeIfExists",
            "Null",
        ] {
            let c = cond(op, "kms:encryptioncontext:k", serde_json::json!("true"));
            assert!(c.holds(Effect::Deny, &ambiguous), "{op}");
            assert!(!c.holds(Effect::Allow, &ambiguous), "{op}");
        }
        // Condition key names are case-insensitive.
        assert_eq!(
            cond("Bool", "KMS:Flag", serde_json::json!(1)).key,
            "kms:flag"
        );
    }

    #[test]
    fn principals() {
        let doc = key_policy(
            r#"[{"Effect":"Allow","Principal":{"AWS":["111122223333","arn:aws:iam::444455556666:role/app","arn:aws:iam::777788889999:root"]},"Action":"kms:*","Resource":"*"}]"#,
        )
        .unwrap();
        let s = &doc.statements[0];
        let p = |arn: &str| Principal::from_arn(arn).unwrap();
        assert_eq!(
            s.principal_match(&p("arn:aws:iam::111122223333:user/u")),
            PrincipalMatch::Account
        );
        assert_eq!(
            s.principal_match(&p("arn:aws:iam::111122223333:root")),
            PrincipalMatch::Direct
        );
        assert_eq!(
            s.principal_match(&p("arn:aws:sts::444455556666:assumed-role/app/s")),
            PrincipalMatch::Direct
        );
        assert_eq!(
            s.principal_match(&p("arn:aws:iam::444455556666:user/app")),
            PrincipalMatch::None
        );
        assert_eq!(
            s.principal_match(&p("arn:aws:iam::777788889999:user/x")),
            PrincipalMatch::Account
        );
        let any =
            key_policy(r#"{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}"#)
                .unwrap();
        assert_eq!(
            any.statements[0].principal_match(&p("arn:aws:iam::999999999999:user/x")),
            PrincipalMatch::Direct
        );
        let not = key_policy(
            r#"{"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:user/admin"},"Action":"kms:*","Resource":"*"}"#,
        )
        .unwrap();
        // IAM sees the user and its account; only the user is listed, so the
        // statement still applies to the user through its account.
        assert_eq!(
            not.statements[0].principal_match(&p("arn:aws:iam::111122223333:user/admin")),
            PrincipalMatch::Direct
        );
        assert_eq!(
            not.statements[0].principal_match(&p("arn:aws:iam::111122223333:user/other")),
            PrincipalMatch::Direct
        );
        // Listing the user and its account leaves the user out, and only it.
        let not = key_policy(
            r#"{"Effect":"Deny","NotPrincipal":{"AWS":["arn:aws:iam::111122223333:user/admin","arn:aws:iam::111122223333:root"]},"Action":"kms:*","Resource":"*"}"#,
        )
        .unwrap();
        let s = &not.statements[0];
        assert_eq!(
            s.principal_match(&p("arn:aws:iam::111122223333:user/admin")),
            PrincipalMatch::None
        );
        assert_eq!(
            s.principal_match(&p("arn:aws:iam::111122223333:user/other")),
            PrincipalMatch::Direct
        );
        // The account's root user is its account: listed.
        assert_eq!(
            s.principal_match(&p("arn:aws:iam::111122223333:root")),
            PrincipalMatch::None
        );
        // A session needs its own ARN, its role and its account.
        let session = "arn:aws:sts::111122223333:assumed-role/app/s1";
        let role = "arn:aws:iam::111122223333:role/app";
        for (listed, left_out) in [
            (vec![session, "111122223333"], false),
            (vec![role, "111122223333"], false),
            (vec![session, role], false),
            (vec![session, role, "111122223333"], true),
        ] {
            let doc = key_policy(
                &serde_json::json!({"Effect":"Deny","NotPrincipal":{"AWS":listed},"Action":"kms:*","Resource":"*"})
                    .to_string(),
            )
            .unwrap();
            let want = if left_out {
                PrincipalMatch::None
            } else {
                PrincipalMatch::Direct
            };
            assert_eq!(
                doc.statements[0].principal_match(&p(session)),
                want,
                "{listed:?}"
            );
        }
        // An Allow leaves out what it lists: the caller itself listed but not
        // its account is a delegation to the account, as a Principal naming
        // the account (#12).
        for (listed, user, session_match) in [
            (
                vec!["arn:aws:iam::111122223333:user/admin"],
                PrincipalMatch::Account,
                PrincipalMatch::Direct,
            ),
            (
                vec![session],
                PrincipalMatch::Direct,
                PrincipalMatch::Account,
            ),
            (vec![role], PrincipalMatch::Direct, PrincipalMatch::Account),
            (
                vec![role, "111122223333"],
                PrincipalMatch::Direct,
                PrincipalMatch::None,
            ),
            (
                vec!["arn:aws:iam::111122223333:user/admin", "111122223333"],
                PrincipalMatch::None,
                PrincipalMatch::Direct,
            ),
            (vec!["*"], PrincipalMatch::None, PrincipalMatch::None),
        ] {
            let doc = key_policy(
                &serde_json::json!({"Effect":"Allow","NotPrincipal":{"AWS":listed},"Action":"kms:*","Resource":"*"})
                    .to_string(),
            )
            .unwrap();
            let s = &doc.statements[0];
            assert_eq!(
                s.principal_match(&p("arn:aws:iam::111122223333:user/admin")),
                user,
                "{listed:?}"
            );
            assert_eq!(s.principal_match(&p(session)), session_match, "{listed:?}");
        }
        let doc = key_policy(
            r#"{"Effect":"Allow","NotPrincipal":{"AWS":"111122223333"},"Action":"kms:*","Resource":"*"}"#,
        )
        .unwrap();
        assert_eq!(
            doc.statements[0].principal_match(&p("arn:aws:iam::111122223333:root")),
            PrincipalMatch::None
        );
        assert_eq!(
            doc.statements[0].principal_match(&p("arn:aws:iam::444455556666:root")),
            PrincipalMatch::Direct
        );
        // "*" lists everyone.
        let all = key_policy(
            r#"{"Effect":"Deny","NotPrincipal":{"AWS":"*"},"Action":"kms:*","Resource":"*"}"#,
        )
        .unwrap();
        assert_eq!(
            all.statements[0].principal_match(&p(session)),
            PrincipalMatch::None
        );
        let service = key_policy(
            r#"{"Effect":"Allow","Principal":{"Service":"logs.amazonaws.com"},"Action":"kms:*","Resource":"*"}"#,
        )
        .unwrap();
        assert_eq!(
            service.statements[0].principal_match(&p("arn:aws:iam::111122223333:root")),
            PrincipalMatch::None
        );
    }

    #[test]
    fn actions_and_resources() {
        let doc = key_policy(
            r#"[{"Effect":"Allow","Principal":"*","Action":["KMS:ReEncrypt*","kms:Describe?ey"],"Resource":"*"},
               {"Effect":"Allow","Principal":"*","NotAction":"kms:Decrypt","Resource":"arn:aws:kms:*:111122223333:key/*"}]"#,
        )
        .unwrap();
        let none = |_: &str| Ok(Vec::new());
        let key = "arn:aws:kms:us-east-1:111122223333:key/k";
        let (a, b) = (&doc.statements[0], &doc.statements[1]);
        assert!(a.applies("kms:ReEncryptFrom", key, &none));
        assert!(a.applies("kms:reencryptto", key, &none));
        assert!(a.applies("kms:DescribeKey", key, &none));
        assert!(!a.applies("kms:Decrypt", key, &none));
        assert!(b.applies("kms:Encrypt", key, &none));
        assert!(!b.applies("kms:Decrypt", key, &none));
        assert!(!b.applies(
            "kms:Encrypt",
            "arn:aws:kms:us-east-1:444455556666:key/k",
            &none
        ));
    }

    /// The obvious recursive glob, as the reference for `wildcard`.
    fn glob_reference(p: &[char], v: &[char]) -> bool {
        match p.split_first() {
            None => v.is_empty(),
            Some(('*', rest)) => (0..=v.len()).any(|i| glob_reference(rest, &v[i..])),
            Some((c, rest)) => v
                .split_first()
                .is_some_and(|(x, vr)| (*c == '?' || c == x) && glob_reference(rest, vr)),
        }
    }

    /// Arbitrary JSON, biased towards policy-shaped documents.
    fn json_value() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| serde_json::json!(n)),
            prop_oneof![
                Just("*".to_string()),
                Just("Allow".to_string()),
                Just("Deny".to_string()),
                Just("kms:*".to_string()),
                Just("111122223333".to_string()),
                Just("arn:aws:iam::111122223333:root".to_string()),
                "[a-zA-Z:*?/ -]{0,12}",
            ]
            .prop_map(Value::String),
        ];
        let keys = prop_oneof![
            Just("Version".to_string()),
            Just("Statement".to_string()),
            Just("Effect".to_string()),
            Just("Principal".to_string()),
            Just("NotPrincipal".to_string()),
            Just("AWS".to_string()),
            Just("Action".to_string()),
            Just("NotAction".to_string()),
            Just("Resource".to_string()),
            Just("Condition".to_string()),
            Just("StringEquals".to_string()),
            Just("ForAllValues:StringLikeIfExists".to_string()),
            Just("Null".to_string()),
            Just("kms:EncryptionContext:a".to_string()),
            "[A-Za-z:]{1,8}",
        ];
        leaf.prop_recursive(4, 48, 6, move |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::btree_map(keys.clone(), inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(400))]

        #[test]
        fn wildcard_matches_the_reference(p in "[ab*?]{0,8}", v in "[ab]{0,8}") {
            let pc: Vec<char> = p.chars().collect();
            let vc: Vec<char> = v.chars().collect();
            proptest::prop_assert_eq!(wildcard(&p, &v), glob_reference(&pc, &vc));
        }

        /// Any document parses or is refused with KMS's errors, never a
        /// panic; a parsed one evaluates without panicking.
        #[test]
        fn any_document_parses_or_is_refused(doc in json_value(), text in "\\PC{0,64}") {
            let caller = Principal::from_arn("arn:aws:iam::111122223333:user/u").unwrap();
            let none = |_: &str| Ok(vec!["x".to_string()]);
            for input in [doc.to_string(), text] {
                for kind in [PolicyKind::Key, PolicyKind::Identity] {
                    match parse(&input, kind) {
                        Ok(d) => {
                            for s in &d.statements {
                                let _ = s.principal_match(&caller);
                                let _ = s.applies("kms:Encrypt", "arn:aws:kms:us-east-1:111122223333:key/k", &none);
                            }
                        }
                        Err(e) => proptest::prop_assert!(
                            matches!(e.code(), "MalformedPolicyDocumentException" | "UnsupportedOperationException"),
                            "{e}"
                        ),
                    }
                }
            }
        }
    }

    #[test]
    fn malformed_documents() {
        let m = |text: &str, kind: PolicyKind| parse(text, kind).unwrap_err();
        let key = PolicyKind::Key;
        for (text, needle) in [
            ("not json", "not valid JSON"),
            ("[]", "must be a JSON object"),
            (
                r#"{"Version":"2012-10-17"}"#,
                "missing the required element Statement",
            ),
            (r#"{"Statement":[]}"#, "no statements"),
            (
                r#"{"Version":"2020-01-01","Statement":[]}"#,
                "invalid Version",
            ),
            (r#"{"Statement":[1]}"#, "must be a JSON object"),
            (
                r#"{"Statement":{"Effect":"allow","Principal":"*","Action":"kms:*","Resource":"*"}}"#,
                "invalid Effect",
            ),
            (
                r#"{"Statement":{"Principal":"*","Action":"kms:*","Resource":"*"}}"#,
                "missing the required element Effect",
            ),
            (
                r#"{"Statement":{"Effect":"Allow","Action":"kms:*","Resource":"*"}}"#,
                "missing the required element Principal",
            ),
            (
                r#"{"Statement":{"Effect":"Allow","Principal":"*","Resource":"*"}}"#,
                "missing the required element Action",
            ),
            (
                r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*"}}"#,
                "missing the required element Resource",
            ),
            (
                r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"Encrypt","Resource":"*"}}"#,
                "prefaced by a vendor",
            ),
            (
                r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":[],"Resource":"*"}}"#,
                "non-empty",
            ),
            (
                r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"bob"},"Action":"kms:*","Resource":"*"}}"#,
                INVALID_PRINCIPALS,
            ),
            (
                r#"{"Statement":{"Effect":"Allow","Principal":{"IAM":"*"},"Action":"kms:*","Resource":"*"}}"#,
                INVALID_PRINCIPALS,
            ),
            (
                r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringEqualz":{"a":"b"}}}}"#,
                "unknown condition operator",
            ),
            (
                r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"NullIfExists":{"a":"true"}}}}"#,
                "Null takes no IfExists",
            ),
            (
                r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringEquals":{"a":{"b":1}}}}}"#,
                "must be strings",
            ),
            (
                r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"ForAllValues:StringEquals":{"kms:EncryptionContext:app":"x"}}}}"#,
                "OverlyPermissiveCondition",
            ),
            (
                r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Extra":1}}"#,
                "unknown element",
            ),
        ] {
            let e = m(text, key);
            assert_eq!(e.code(), "MalformedPolicyDocumentException", "{text}");
            assert!(e.message().contains(needle), "{text}: {}", e.message());
        }
        let e = m(
            r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"NumericLessThan":{"a":"1"}}}}"#,
            key,
        );
        assert_eq!(e.code(), "UnsupportedOperationException");
        let e = m(
            r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}}"#,
            PolicyKind::Identity,
        );
        assert_eq!(
            e.message(),
            "Policy document should not specify a principal."
        );
        assert!(
            parse(
                r#"{"Statement":{"Effect":"Allow","Action":"kms:*","Resource":"*"}}"#,
                PolicyKind::Identity
            )
            .is_ok()
        );
    }
}
