//! Who is calling: the principal behind each credential, and who a key
//! policy or a grant names.

use std::fmt;
use std::str::FromStr;

/// An AWS principal, named by its ARN: the identity behind a credential of
/// the local KMS (see [`LocalKmsBuilder::credentials_for`]), and what
/// [identity policies](crate::local::IdentityPolicy) attach to.
///
/// Accepted forms, with a 12-digit account id `A`:
///
/// | ARN | what it is |
/// |---|---|
/// | `arn:aws:iam::A:root` | the account itself (its root user); not limited by identity policies |
/// | `arn:aws:iam::A:user/NAME` (or `user/PATH/NAME`) | an IAM user |
/// | `arn:aws:sts::A:assumed-role/ROLE/SESSION` | a session of role `ROLE`; `aws:PrincipalArn` is `arn:aws:iam::A:role/ROLE`, and identity policies of the role apply |
/// | `arn:aws:iam::A:role/NAME` | a role: the target of identity policies shared by its sessions (as a caller it acts as the role itself, which real AWS never sees) |
/// | `arn:aws:sts::A:federated-user/NAME` | a federated user |
///
/// Other partitions (`aws-cn`, `aws-us-gov`, ...) are accepted too.
///
/// ```
/// use tower_kms::local::Principal;
///
/// let p: Principal = "arn:aws:sts::444455556666:assumed-role/app/worker-1".parse().unwrap();
/// assert_eq!(p.account(), "444455556666");
/// assert!("arn:aws:iam::4444:user/x".parse::<Principal>().is_err());
/// ```
///
/// [`LocalKmsBuilder::credentials_for`]: crate::local::LocalKmsBuilder::credentials_for
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Principal {
    arn: String,
    account: String,
    kind: Kind,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    Root,
    User,
    Role,
    /// A role session; the ARN of its role.
    AssumedRole(String),
    FederatedUser,
}

/// A string that is not a principal ARN [`Principal`] accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrincipalError {
    arn: String,
}

impl fmt::Display for PrincipalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} is not a principal ARN (arn:aws:iam::ACCOUNT:root, :user/NAME, :role/NAME, \
             arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION or :federated-user/NAME, with a 12-digit ACCOUNT)",
            self.arn
        )
    }
}

impl std::error::Error for PrincipalError {}

impl Principal {
    /// Parses a principal ARN (see the [type documentation](Self) for the
    /// forms).
    ///
    /// # Errors
    /// [`PrincipalError`] for anything else, an account id that is not 12
    /// digits, or a name with characters IAM does not allow.
    pub fn from_arn(arn: &str) -> Result<Self, PrincipalError> {
        parse(arn).ok_or_else(|| PrincipalError {
            arn: arn.to_string(),
        })
    }

    /// The ARN, exactly as given.
    pub fn arn(&self) -> &str {
        &self.arn
    }

    /// The 12-digit account the principal belongs to.
    pub fn account(&self) -> &str {
        &self.account
    }

    /// The default principal of a credential: `arn:aws:iam::ACCOUNT:user/AKID`.
    pub(crate) fn default_user(account: &str, access_key_id: &str) -> Self {
        Self {
            arn: format!("arn:aws:iam::{account}:user/{access_key_id}"),
            account: account.to_string(),
            kind: Kind::User,
        }
    }

    pub(crate) fn is_root(&self) -> bool {
        self.kind == Kind::Root
    }

    /// The role of a role session.
    pub(crate) fn role_arn(&self) -> Option<&str> {
        match &self.kind {
            Kind::AssumedRole(role) => Some(role),
            _ => None,
        }
    }

    /// `aws:PrincipalArn`: the role ARN for a role session, else the ARN.
    pub(crate) fn condition_arn(&self) -> &str {
        self.role_arn().unwrap_or(&self.arn)
    }

    /// Whether a principal named in a grant or policy (`named`, an ARN) is
    /// this principal: the same ARN, or the role of this role session.
    pub(crate) fn is_named_by(&self, named: &str) -> bool {
        named == self.arn || self.role_arn() == Some(named)
    }
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.arn)
    }
}

impl FromStr for Principal {
    type Err = PrincipalError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_arn(s)
    }
}

/// A 12-digit account id.
pub(crate) fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// The account of `arn:aws:iam::A:root`.
pub(crate) fn root_account(arn: &str) -> Option<&str> {
    let rest = arn.strip_prefix("arn:")?;
    let (partition, rest) = rest.split_once(':')?;
    let account = rest.strip_prefix("iam::")?.strip_suffix(":root")?;
    (valid_partition(partition) && is_account_id(account)).then_some(account)
}

/// The account a principal string names: a 12-digit id or any principal ARN.
pub(crate) fn account_of(principal: &str) -> Option<&str> {
    if is_account_id(principal) {
        return Some(principal);
    }
    let rest = principal.strip_prefix("arn:")?;
    let mut parts = rest.splitn(5, ':');
    let (_, _, _, account) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    is_account_id(account).then_some(account)
}

fn valid_partition(p: &str) -> bool {
    p.strip_prefix("aws")
        .is_some_and(|rest| rest.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'))
}

/// IAM names and paths: `[\w+=,.@-]`, `/` between path parts.
fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('/')
        && !s.ends_with('/')
        && !s.contains("//")
        && s.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(b, b'_' | b'+' | b'=' | b',' | b'.' | b'@' | b'-' | b'/')
        })
}

fn parse(arn: &str) -> Option<Principal> {
    if arn.len() > 2048 {
        return None;
    }
    let rest = arn.strip_prefix("arn:")?;
    let mut parts = rest.splitn(5, ':');
    let (partition, service, region, account, resource) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    if !valid_partition(partition) || !region.is_empty() || !is_account_id(account) {
        return None;
    }
    let kind = match (service, resource) {
        ("iam", "root") => Kind::Root,
        ("iam", r) if r.strip_prefix("user/").is_some_and(valid_name) => Kind::User,
        ("iam", r) if r.strip_prefix("role/").is_some_and(valid_name) => Kind::Role,
        ("sts", r) if r.strip_prefix("federated-user/").is_some_and(valid_name) => {
            Kind::FederatedUser
        }
        ("sts", r) => {
            let (role, session) = r.strip_prefix("assumed-role/")?.split_once('/')?;
            if !valid_name(role)
                || role.contains('/')
                || !valid_name(session)
                || session.contains('/')
            {
                return None;
            }
            Kind::AssumedRole(format!("arn:{partition}:iam::{account}:role/{role}"))
        }
        _ => return None,
    };
    Some(Principal {
        arn: arn.to_string(),
        account: account.to_string(),
        kind,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let root = Principal::from_arn("arn:aws:iam::111122223333:root").unwrap();
        assert!(root.is_root());
        assert_eq!(root.condition_arn(), "arn:aws:iam::111122223333:root");
        let user = Principal::from_arn("arn:aws:iam::111122223333:user/ops/alice").unwrap();
        assert_eq!(user.kind, Kind::User);
        assert_eq!(user.account(), "111122223333");
        let session =
            Principal::from_arn("arn:aws:sts::444455556666:assumed-role/app/i-0abc").unwrap();
        assert_eq!(
            session.role_arn(),
            Some("arn:aws:iam::444455556666:role/app")
        );
        assert_eq!(
            session.condition_arn(),
            "arn:aws:iam::444455556666:role/app"
        );
        assert!(session.is_named_by("arn:aws:iam::444455556666:role/app"));
        assert!(session.is_named_by(session.arn()));
        assert!(!session.is_named_by("arn:aws:iam::444455556666:role/other"));
        let gov = Principal::from_arn("arn:aws-us-gov:iam::111122223333:role/r").unwrap();
        assert_eq!(gov.kind, Kind::Role);
        assert_eq!(
            Principal::from_arn("arn:aws:sts::111122223333:federated-user/bob")
                .unwrap()
                .kind,
            Kind::FederatedUser
        );
        for bad in [
            "",
            "arn:aws:iam::1111:root",
            "arn:aws:iam::111122223333:group/g",
            "arn:aws:iam:us-east-1:111122223333:user/x",
            "arn:aws:iam::111122223333:user/",
            "arn:aws:iam::111122223333:user/a//b",
            "arn:aws:iam::111122223333:user/a b",
            "arn:aws:sts::111122223333:assumed-role/r",
            "arn:aws:sts::111122223333:assumed-role/r/s/t",
            "arn:aws:kms:us-east-1:111122223333:key/x",
            "arn:gcp:iam::111122223333:root",
            "111122223333",
        ] {
            let e = Principal::from_arn(bad).unwrap_err();
            assert!(e.to_string().contains("is not a principal ARN"), "{bad}");
        }
    }

    #[test]
    fn accounts() {
        assert_eq!(
            root_account("arn:aws:iam::111122223333:root"),
            Some("111122223333")
        );
        assert_eq!(root_account("arn:aws:iam::111122223333:user/root"), None);
        assert_eq!(account_of("111122223333"), Some("111122223333"));
        assert_eq!(
            account_of("arn:aws:sts::444455556666:assumed-role/r/s"),
            Some("444455556666")
        );
        assert_eq!(account_of("arn:aws:iam::44:root"), None);
        assert_eq!(account_of("dynamodb.amazonaws.com"), None);
    }
}
