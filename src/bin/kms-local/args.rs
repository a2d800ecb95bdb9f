//! The command line of `kms-local`, with clap's derive API. Help is laid out
//! by hand (clap is built without `wrap_help`).

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use tower_kms::local::{
    DEFAULT_ACCOUNT_ID, DEFAULT_GRANT_PROPAGATION_DELAY, DEFAULT_REGION, Principal, Quota,
    RequestRate, ServerConfig,
};

/// The address `kms-local` listens on by default.
pub(crate) const DEFAULT_LISTEN: &str = "127.0.0.1:4599";

const SERVER: &str = "Server";
const IDENTITY: &str = "Accounts and callers";
const STATE: &str = "State";
const LIMITS: &str = "Connection limits";
const TOOLS: &str = "Benchmarks";

const ABOUT: &str = "\
kms-local: a local AWS KMS over HTTP/1.1 for tests and development.

It speaks the KMS wire protocol (awsJson1.1), verifies every SigV4 signature,
authorizes as KMS does (key policies, identity policies, grants) and uses real
cryptography. Any AWS SDK or CLI works against it:

    AWS_ENDPOINT_URL_KMS=http://127.0.0.1:4599 AWS_REGION=us-east-1 \\
    AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test aws kms list-keys

Without --state its keys live in memory and go with the process.";

const AFTER_HELP: &str = "\
State and seed:
    --state PATH keeps every key (with its key material, in PLAINTEXT: anyone who
    can read the file can decrypt what its keys encrypted), alias, key policy and
    grant in PATH, created with mode 0600; a file others may read is refused.
    A request is answered only once its change is in the file, so kill -9 loses
    nothing that was acknowledged. A truncated, corrupt or foreign file is
    refused with a message saying what is wrong, never half-loaded.
    --seed PATH creates the keys, aliases, key policies and grants of a JSON
    fixture file (documented in tower_kms::local::Seed) when the state is new:
    always without --state, and with it only when PATH does not exist yet (then
    the state file is the truth; delete it to seed again). The seed's principals
    (credentials, identity policies) are configured at every start.

Output:
    On stdout, a start-up block (`local KMS at http://127.0.0.1:PORT (region R)`,
    the state and seed lines), then one line per request:
        REQUEST_ID OPERATION STATUS ERROR_CODE PRINCIPAL LATENCY
    (`-` for a missing field), and on SIGINT or SIGTERM, after the requests in
    flight finished and the state was flushed:
        summary: served=N throttled=N | Operation served=N throttled=N ...
        stopped

Exit status:
    0  stopped by SIGINT or SIGTERM
    1  it could not start (address in use, bad state file or seed, ...) or the
       state could not be flushed when stopping
    2  usage error";

/// Validated arguments.
#[derive(Debug, Clone)]
pub(crate) struct Args {
    pub(crate) listen: SocketAddr,
    pub(crate) region: String,
    pub(crate) account: String,
    pub(crate) credentials: Vec<Credential>,
    pub(crate) identity_policies: Vec<(Principal, PathBuf)>,
    pub(crate) grant_propagation: Duration,
    pub(crate) state: Option<PathBuf>,
    pub(crate) seed: Option<PathBuf>,
    pub(crate) quotas: Vec<(Quota, RequestRate)>,
    pub(crate) server: ServerConfig,
    pub(crate) demo_key: bool,
    pub(crate) write_records: Option<(u64, PathBuf)>,
    pub(crate) quiet: bool,
}

/// One `--credentials AKID:SECRET[:PRINCIPAL_ARN]`.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Credential {
    pub(crate) access_key_id: String,
    pub(crate) secret: String,
    pub(crate) principal: Option<Principal>,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("access_key_id", &self.access_key_id)
            .field("principal", &self.principal)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Parser)]
#[group(skip)]
#[command(
    name = "kms-local",
    version,
    about = ABOUT,
    long_about = None,
    after_help = AFTER_HELP,
    args_override_self = true
)]
struct Cli {
    #[arg(
        long,
        value_name = "IP:PORT",
        default_value = DEFAULT_LISTEN,
        help_heading = SERVER,
        help = "address to listen on (port 0: a free port, printed at start)"
    )]
    listen: SocketAddr,

    #[arg(
        long,
        value_name = "REGION",
        default_value = DEFAULT_REGION,
        value_parser = region,
        help_heading = SERVER,
        help = "region of the ARNs and of SigV4's credential scope"
    )]
    region: String,

    #[arg(
        long,
        value_name = "QUOTA=RATE",
        value_parser = quota,
        help_heading = SERVER,
        help = "throttle like KMS: at most RATE requests per second (a token\n\
                bucket holding one second's worth, per account) for QUOTA:\n\
                crypto (all cryptographic operations together) or another\n\
                operation (CreateKey, DescribeKey, ListKeys, ...); repeatable\n\
                (default: no quotas)"
    )]
    quota: Vec<(Quota, RequestRate)>,

    #[arg(
        long,
        help_heading = SERVER,
        help = "no line per request (the start-up lines and the summary stay)"
    )]
    quiet: bool,

    #[arg(
        long,
        value_name = "ACCOUNT",
        default_value = DEFAULT_ACCOUNT_ID,
        value_parser = account,
        help_heading = IDENTITY,
        help = "the default account (12 digits): of --credentials without a\n\
                principal, and of seeded keys without an Account"
    )]
    account: String,

    #[arg(
        long = "credentials",
        value_name = "AKID:SECRET[:PRINCIPAL_ARN]",
        value_parser = credential,
        help_heading = IDENTITY,
        help = "accept this credential pair, for PRINCIPAL_ARN (a user, role\n\
                session or account root of any account) or else the user\n\
                arn:aws:iam::ACCOUNT:user/AKID; repeatable. The pair test:test\n\
                is accepted only when no credentials are given here or in\n\
                the seed. SECRET cannot contain ':'"
    )]
    credentials: Vec<Credential>,

    #[arg(
        long = "identity-policy",
        value_name = "PRINCIPAL_ARN=PATH",
        value_parser = identity_policy,
        help_heading = IDENTITY,
        help = "attach the IAM policy document in the file PATH to the\n\
                principal (or role); repeatable. A principal without one may\n\
                do everything its account's key policies allow"
    )]
    identity_policy: Vec<(Principal, PathBuf)>,

    #[arg(
        long,
        value_name = "MS",
        value_parser = clap::value_parser!(u64),
        allow_negative_numbers = true,
        help_heading = IDENTITY,
        help = "time before a new grant, or a grant's retirement, takes effect\n\
                for requests without its grant token (default 5000)"
    )]
    grant_propagation_ms: Option<u64>,

    #[arg(
        long,
        value_name = "PATH",
        help_heading = STATE,
        help = "keep the state in this file (see below); created if missing"
    )]
    state: Option<PathBuf>,

    #[arg(
        long,
        value_name = "PATH",
        help_heading = STATE,
        help = "start a new state from this JSON fixture file (see below)"
    )]
    seed: Option<PathBuf>,

    #[arg(
        long,
        value_name = "MS",
        value_parser = clap::value_parser!(u64),
        allow_negative_numbers = true,
        help_heading = LIMITS,
        help = "first byte of a request to the end of its head (default 30000)"
    )]
    header_read_timeout_ms: Option<u64>,

    #[arg(
        long,
        value_name = "MS",
        value_parser = clap::value_parser!(u64),
        allow_negative_numbers = true,
        help_heading = LIMITS,
        help = "end of the head to the end of the body; then 408 (default 60000)"
    )]
    body_read_timeout_ms: Option<u64>,

    #[arg(
        long,
        value_name = "MS",
        value_parser = clap::value_parser!(u64),
        allow_negative_numbers = true,
        help_heading = LIMITS,
        help = "close a connection with no request after this (default 120000)"
    )]
    idle_timeout_ms: Option<u64>,

    #[arg(
        long,
        value_name = "MS",
        value_parser = clap::value_parser!(u64),
        allow_negative_numbers = true,
        help_heading = LIMITS,
        help = "close a connection whose client does not take its responses\n\
                for this long (default 30000)"
    )]
    response_write_timeout_ms: Option<u64>,

    #[arg(
        long,
        value_name = "N",
        value_parser = clap::value_parser!(u64).range(1..=1_000_000),
        allow_negative_numbers = true,
        help_heading = LIMITS,
        help = "connections served at once; at the cap the longest idle one is\n\
                closed for a newcomer (default 4096)"
    )]
    max_connections: Option<u64>,

    #[arg(
        long,
        value_name = "MS",
        value_parser = clap::value_parser!(u64),
        allow_negative_numbers = true,
        help_heading = LIMITS,
        help = "on SIGINT or SIGTERM, time given to requests in flight\n\
                (default 10000)"
    )]
    shutdown_grace_ms: Option<u64>,

    #[arg(
        long,
        help_heading = TOOLS,
        help = "create a symmetric key at start and print `demo key ARN`\n\
                (with --state, one more key at every start)"
    )]
    demo_key: bool,

    #[arg(
        long,
        value_name = "N:PATH",
        value_parser = records,
        help_heading = TOOLS,
        help = "before serving, write N kms-reencrypt input records encrypted\n\
                under the demo key (implies --demo-key) to PATH, without\n\
                spending quota"
    )]
    write_records: Option<(u64, PathBuf)>,
}

/// Parses the command line (without the program name).
pub(crate) fn parse<I, T>(args: I) -> Result<Args, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = Cli::try_parse_from(
        std::iter::once(OsString::from("kms-local")).chain(args.into_iter().map(Into::into)),
    )?;
    let ms = Duration::from_millis;
    let mut server = ServerConfig::new();
    if let Some(v) = cli.header_read_timeout_ms {
        server = server.header_read_timeout(ms(v));
    }
    if let Some(v) = cli.body_read_timeout_ms {
        server = server.body_read_timeout(ms(v));
    }
    if let Some(v) = cli.idle_timeout_ms {
        server = server.idle_timeout(ms(v));
    }
    if let Some(v) = cli.response_write_timeout_ms {
        server = server.response_write_timeout(ms(v));
    }
    if let Some(v) = cli.max_connections {
        server = server.max_connections(usize::try_from(v).unwrap_or(usize::MAX));
    }
    if let Some(v) = cli.shutdown_grace_ms {
        server = server.shutdown_grace(ms(v));
    }
    Ok(Args {
        listen: cli.listen,
        region: cli.region,
        account: cli.account,
        credentials: cli.credentials,
        identity_policies: cli.identity_policy,
        grant_propagation: cli
            .grant_propagation_ms
            .map_or(DEFAULT_GRANT_PROPAGATION_DELAY, ms),
        state: cli.state,
        seed: cli.seed,
        quotas: cli.quota,
        server,
        demo_key: cli.demo_key || cli.write_records.is_some(),
        write_records: cli.write_records,
        quiet: cli.quiet,
    })
}

fn region(v: &str) -> Result<String, String> {
    let ok = !v.is_empty()
        && v.len() <= 64
        && v.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(v.to_string())
    } else {
        Err("a region is lower-case letters, digits and '-', e.g. us-east-1".to_string())
    }
}

fn account(v: &str) -> Result<String, String> {
    if v.len() == 12 && v.bytes().all(|b| b.is_ascii_digit()) {
        Ok(v.to_string())
    } else {
        Err("an account id is 12 digits".to_string())
    }
}

/// `AKID:SECRET` or `AKID:SECRET:PRINCIPAL_ARN` (the ARN has colons of its
/// own: everything after the second colon is the ARN).
pub(crate) fn credential(v: &str) -> Result<Credential, String> {
    const FORM: &str = "takes ACCESS_KEY_ID:SECRET or ACCESS_KEY_ID:SECRET:PRINCIPAL_ARN";
    let (id, rest) = v.split_once(':').ok_or_else(|| FORM.to_string())?;
    let (secret, arn) = match rest.split_once(':') {
        Some((secret, arn)) => (secret, Some(arn)),
        None => (rest, None),
    };
    if id.is_empty() || secret.is_empty() || arn == Some("") {
        return Err(FORM.to_string());
    }
    let principal = arn
        .map(|a| Principal::from_arn(a).map_err(|e| e.to_string()))
        .transpose()?;
    Ok(Credential {
        access_key_id: id.to_string(),
        secret: secret.to_string(),
        principal,
    })
}

/// `PRINCIPAL_ARN=PATH`: the ARN is everything before the first `=` (IAM
/// names may hold `=`; give such principals their policies in a seed).
pub(crate) fn identity_policy(v: &str) -> Result<(Principal, PathBuf), String> {
    let (arn, path) = v
        .split_once('=')
        .filter(|(a, p)| !a.is_empty() && !p.is_empty())
        .ok_or_else(|| "takes PRINCIPAL_ARN=PATH".to_string())?;
    let principal = Principal::from_arn(arn).map_err(|e| e.to_string())?;
    Ok((principal, PathBuf::from(path)))
}

/// `NAME=RATE`, e.g. `crypto=2000` or `CreateKey=5`.
pub(crate) fn quota(v: &str) -> Result<(Quota, RequestRate), String> {
    let (name, rate) = v
        .split_once('=')
        .ok_or_else(|| "takes NAME=RATE, e.g. crypto=2000 or CreateKey=5".to_string())?;
    let quota: Quota = name.parse().map_err(|e| format!("{e}"))?;
    let rate: RequestRate = rate.parse().map_err(|e| format!("{e}"))?;
    Ok((quota, rate))
}

/// `N:PATH`.
pub(crate) fn records(v: &str) -> Result<(u64, PathBuf), String> {
    v.split_once(':')
        .filter(|(_, p)| !p.is_empty())
        .and_then(|(n, p)| Some((n.parse::<u64>().ok()?, PathBuf::from(p))))
        .ok_or_else(|| "takes N:PATH, e.g. 100000:in.jsonl".to_string())
}

/// The help text, for tests.
#[cfg(test)]
pub(crate) fn help() -> String {
    use clap::CommandFactory as _;
    Cli::command().render_help().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(list: &[&str]) -> Args {
        parse(list).unwrap_or_else(|e| panic!("{list:?}: {e}"))
    }

    fn refused(list: &[&str]) -> String {
        match parse(list) {
            Ok(a) => panic!("{list:?} accepted: {a:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn defaults() {
        let a = ok(&[]);
        assert_eq!(a.listen, DEFAULT_LISTEN.parse().unwrap());
        assert_eq!(a.region, "us-east-1");
        assert_eq!(a.account, "111122223333");
        assert!(a.credentials.is_empty() && a.identity_policies.is_empty());
        assert_eq!(a.grant_propagation, Duration::from_secs(5));
        assert_eq!((a.state, a.seed), (None, None));
        assert!(a.quotas.is_empty());
        assert_eq!(a.server, ServerConfig::new());
        assert!(!a.demo_key && !a.quiet && a.write_records.is_none());
    }

    #[test]
    fn every_flag() {
        let a = ok(&[
            "--listen",
            "127.0.0.1:0",
            "--region",
            "eu-west-1",
            "--account",
            "444455556666",
            "--credentials",
            "AKIDA:secret-a",
            "--credentials",
            "AKIDB:secret-b:arn:aws:sts::111122223333:assumed-role/app/s1",
            "--identity-policy",
            "arn:aws:iam::111122223333:role/app=/tmp/p.json",
            "--grant-propagation-ms",
            "0",
            "--state",
            "/tmp/kms.state",
            "--seed",
            "/tmp/seed.json",
            "--quota",
            "crypto=2000",
            "--quota",
            "CreateKey=5",
            "--header-read-timeout-ms",
            "1",
            "--body-read-timeout-ms",
            "2",
            "--idle-timeout-ms",
            "3",
            "--response-write-timeout-ms",
            "6",
            "--max-connections",
            "4",
            "--shutdown-grace-ms",
            "5",
            "--write-records",
            "10:/tmp/in.jsonl",
            "--quiet",
        ]);
        assert_eq!(a.listen.port(), 0);
        assert_eq!(
            (a.region.as_str(), a.account.as_str()),
            ("eu-west-1", "444455556666")
        );
        assert_eq!(a.credentials.len(), 2);
        assert_eq!(a.credentials[0].access_key_id, "AKIDA");
        assert_eq!(a.credentials[0].secret, "secret-a");
        assert_eq!(a.credentials[0].principal, None);
        assert_eq!(a.credentials[1].secret, "secret-b");
        assert_eq!(
            a.credentials[1].principal.as_ref().map(Principal::arn),
            Some("arn:aws:sts::111122223333:assumed-role/app/s1")
        );
        assert_eq!(
            a.identity_policies[0].0.arn(),
            "arn:aws:iam::111122223333:role/app"
        );
        assert_eq!(a.identity_policies[0].1, PathBuf::from("/tmp/p.json"));
        assert_eq!(a.grant_propagation, Duration::ZERO);
        assert_eq!(a.state, Some(PathBuf::from("/tmp/kms.state")));
        assert_eq!(a.seed, Some(PathBuf::from("/tmp/seed.json")));
        let quotas: Vec<String> = a.quotas.iter().map(|(q, r)| format!("{q}={r}")).collect();
        assert_eq!(quotas, ["crypto=2000", "CreateKey=5"]);
        let ms = Duration::from_millis;
        let want = ServerConfig::new()
            .header_read_timeout(ms(1))
            .body_read_timeout(ms(2))
            .idle_timeout(ms(3))
            .response_write_timeout(ms(6))
            .max_connections(4)
            .shutdown_grace(ms(5));
        assert_eq!(a.server, want);
        assert_eq!(a.write_records, Some((10, PathBuf::from("/tmp/in.jsonl"))));
        // --write-records encrypts under the demo key.
        assert!(a.demo_key && a.quiet);
        // A later single flag replaces an earlier one.
        assert_eq!(ok(&["--region", "a-1", "--region", "b-2"]).region, "b-2");
    }

    #[test]
    fn bad_values_name_the_flag() {
        for (list, wanted) in [
            (&["--listen", "localhost"][..], "--listen <IP:PORT>"),
            (&["--region", "US_EAST"], "a region is lower-case letters"),
            (&["--account", "1234"], "an account id is 12 digits"),
            (&["--credentials", "AKID"], "takes ACCESS_KEY_ID:SECRET"),
            (&["--credentials", ":secret"], "takes ACCESS_KEY_ID:SECRET"),
            (&["--credentials", "AKID:"], "takes ACCESS_KEY_ID:SECRET"),
            (&["--credentials", "AKID:s:"], "takes ACCESS_KEY_ID:SECRET"),
            (
                &["--credentials", "AKID:s:arn:aws:iam::1:user/x"],
                "is not a principal ARN",
            ),
            (
                &["--identity-policy", "arn:aws:iam::111122223333:user/a"],
                "takes PRINCIPAL_ARN=PATH",
            ),
            (
                &["--identity-policy", "bob=/tmp/p.json"],
                "is not a principal ARN",
            ),
            (&["--quota", "crypto"], "takes NAME=RATE"),
            (
                &["--quota", "crypto=0"],
                "a quota must be a positive number",
            ),
            (&["--quota", "Encrypt=5"], "Encrypt has no quota of its own"),
            (
                &["--quota", "TagResources=1"],
                "no quota named \"TagResources\"",
            ),
            (&["--max-connections", "0"], "--max-connections <N>"),
            (
                &["--grant-propagation-ms", "-1"],
                "--grant-propagation-ms <MS>",
            ),
            (&["--idle-timeout-ms", "soon"], "--idle-timeout-ms <MS>"),
            (&["--write-records", "5"], "takes N:PATH"),
            (&["--write-records", "x:/tmp/a"], "takes N:PATH"),
            (&["--write-records", "5:"], "takes N:PATH"),
            (&["--state"], "a value is required for '--state <PATH>'"),
            (&["--no-such-flag"], "unexpected argument '--no-such-flag'"),
        ] {
            let e = refused(list);
            assert!(e.contains(wanted), "{list:?}: {e}");
        }
    }

    #[test]
    fn help_lists_every_flag() {
        let help = help();
        for flag in [
            "--listen <IP:PORT>",
            "--region <REGION>",
            "--account <ACCOUNT>",
            "--credentials <AKID:SECRET[:PRINCIPAL_ARN]>",
            "--identity-policy <PRINCIPAL_ARN=PATH>",
            "--grant-propagation-ms <MS>",
            "--state <PATH>",
            "--seed <PATH>",
            "--quota <QUOTA=RATE>",
            "--header-read-timeout-ms <MS>",
            "--body-read-timeout-ms <MS>",
            "--idle-timeout-ms <MS>",
            "--response-write-timeout-ms <MS>",
            "--max-connections <N>",
            "--shutdown-grace-ms <MS>",
            "--write-records <N:PATH>",
            "--demo-key",
            "--quiet",
            "PLAINTEXT",
            "[default: 127.0.0.1:4599]",
        ] {
            assert!(help.contains(flag), "{flag} missing from:\n{help}");
        }
        let e = parse(["--help"]).unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::DisplayHelp);
    }
}
