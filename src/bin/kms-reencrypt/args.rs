//! The command line: flags, validation and the `--help` text, with clap's derive
//! API. Help is laid out by hand (clap is built without `wrap_help`), so the
//! explanations keep their line breaks.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{CommandFactory as _, Parser, ValueEnum};
use tower_kms::{EncryptionContext, ReEncryptRequest};

const IO: &str = "Input and output";
const REQUEST: &str = "KMS request";
const THROUGHPUT: &str = "Throughput and resilience";

/// Above the usage line.
const ABOUT: &str = "\
kms-reencrypt: re-encrypt stored KMS ciphertexts under another key, in bulk.

Reads JSON Lines (one record per line: an id, a base64 ciphertext and optionally
its encryption context), calls KMS ReEncrypt for each record and appends a JSON
line to --output for each record finished. Killed at any point and run again
with the same arguments, it continues where it stopped: records already in the
output are skipped, nothing is lost or written twice.";

/// Below the options.
const AFTER_HELP: &str = "\
Environment:
    Region, endpoint and credentials come from the standard environment variables
    (AWS_REGION, AWS_ENDPOINT_URL_KMS, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
    AWS_SESSION_TOKEN, ...). --concurrency, --threads and --rate fall back to the
    KMS_REENCRYPT_* variables shown above (the flag wins): they set how hard a run
    pushes, never what it writes, so a resumed run may change them. So does
    --retry-mode, which falls back to AWS_RETRY_MODE, then adaptive (unlike the
    AWS SDKs, whose default is standard); AWS_MAX_ATTEMPTS applies as usual.

Output (a header line, then one line per record, in completion order; `line` is
the input line, `input_sha256` the hash of the record's ciphertext and context):
    {\"kms_reencrypt\":{\"format\":2,\"destination_key_id\":\"alias/new\",...}}
    {\"id\":\"a\",\"line\":1,\"status\":\"ok\",\"input_sha256\":\"...\",\"ciphertext\":\"...\",
     \"context\":{...},\"key_id\":\"arn:...\",\"source_key_id\":\"arn:...\"}
    {\"id\":\"b\",\"line\":2,\"status\":\"failed\",\"input_sha256\":\"...\",
     \"code\":\"InvalidCiphertextException\",\"message\":\"...\"}
    The header records the destination and source keys, the context mode and
    pairs, --dry-run and the field names: resuming with other values, or over an
    input whose record for an id already written changed, is refused (exit 2,
    the output untouched), and so is an output that is not a kms-reencrypt one.
    An output without a header (older versions) is adopted as it is and given
    one. A damaged line (a power loss) is cut off with all that follows it, and
    those records are done again. A header line in the input is skipped.
    Bad input lines (not JSON, missing or wrong field, bad base64, duplicate id) are
    failed records with code `InvalidInput` (id null when there is none). The id,
    ciphertext and context fields use the configured names, so the output of one
    rotation can be the input of the next. A success without a ciphertext is a
    failed record with code `UnexpectedResponse`.

    Only answers about the record itself are failed records (InvalidCiphertext,
    IncorrectKey, a missing, disabled or pending-deletion source key, ...), and
    they are final. Throttling, server errors (5xx), timeouts and broken
    connections are never final: the record is tried again, with a backoff
    (full jitter, at most 20 s), until it succeeds or the run is stopped. On
    resume, records whose last line holds such an error (as older versions
    wrote them) are done again; the later line of a record wins.

    Errors that say the configuration is wrong rather than the record (credentials,
    signature, AccessDenied, an invalid grant token, an endpoint that cannot be
    reached before KMS first answered, a missing or unusable destination key)
    stop the run without recording the records they hit; once KMS has answered,
    a connection that cannot be made is a blip, tried again like throttling. Before anything is written, a ReEncrypt DryRun of the first
    record (the next ones if it fails on its own) checks the permissions
    (kms:ReEncryptFrom, kms:ReEncryptTo) and the destination key. So do records
    failing in a row with one error code: --max-same-failures of them (50) stop
    the run, and are not written (a wrong --source-key-id or context fails
    every record; run again once it is fixed).

Exit status:
    0    every record succeeded (this run and earlier runs on the same output)
    1    at least one record failed
    2    usage, configuration or I/O error; the run stopped (run again to continue)
    130  interrupted by SIGINT (143 for SIGTERM): records in a KMS call were
         finished and written, records waiting to be tried again were left for
         the next run; run again to continue. A second signal exits at once.

While stderr is a terminal a progress line shows records done, failed, rate, ETA,
records waiting to be tried again, throttled attempts and the adaptive rate; a
summary is printed on stderr at the end. Terminal or log, while a record has
waited 30 s or more to be tried again (throttling, an outage), a warning line
every 30 s says how many are waiting, for how long, and the last error.";

/// How the destination encryption context is formed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ContextMode {
    /// The record's own context.
    Keep,
    /// The fixed pairs only.
    Replace,
    /// The record's context merged with (overridden by) the fixed pairs.
    Map,
}

/// The client's retry mode (`--retry-mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum RetryMode {
    /// The AWS SDKs' standard retries.
    Standard,
    /// The standard retries plus the client-side adaptive rate limiter.
    Adaptive,
}

/// Output field names the tool uses itself.
pub(crate) const RESERVED_FIELDS: &[&str] = &[
    "line",
    "status",
    "dry_run",
    "key_id",
    "source_key_id",
    "code",
    "message",
    "duplicate_of_line",
    "input_sha256",
    "kms_reencrypt",
];

/// Validated arguments.
#[derive(Debug, Clone)]
pub(crate) struct Args {
    pub(crate) input: Option<PathBuf>,
    pub(crate) output: PathBuf,
    pub(crate) destination_key_id: String,
    pub(crate) source_key_id: Option<String>,
    pub(crate) context_mode: ContextMode,
    pub(crate) destination_context: EncryptionContext,
    pub(crate) grant_tokens: Vec<String>,
    pub(crate) dry_run: bool,
    pub(crate) concurrency: usize,
    pub(crate) threads: usize,
    pub(crate) rate: Option<u64>,
    /// `None`: `AWS_RETRY_MODE`, else adaptive.
    pub(crate) retry_mode: Option<RetryMode>,
    pub(crate) fields: Fields,
    pub(crate) max_attempts: Option<u32>,
    pub(crate) attempt_timeout: Option<Option<Duration>>,
    pub(crate) operation_timeout: Option<Option<Duration>>,
    pub(crate) sync_interval: Duration,
    /// `--max-same-failures` (0: never).
    pub(crate) max_same_failures: usize,
}

/// The configurable field names.
#[derive(Debug, Clone)]
pub(crate) struct Fields {
    pub(crate) id: String,
    pub(crate) ciphertext: String,
    pub(crate) context: String,
}

/// The flags as clap parses them; [`Cli::validate`] checks what spans several
/// flags and turns them into [`Args`].
///
/// Help strings are `help = ..` rather than doc comments, and nothing has a long
/// help (no possible values with help either): `-h` and `--help` print the same
/// two-column text. Spec values (`[default: ..]`) go at the end of the last line,
/// so the `[env: ..]` notes are written by hand on a line of their own.
#[derive(Debug, Parser)]
// No ArgGroup of all the flags: clap would print it as the usage line of some errors.
#[group(skip)]
#[command(
    name = "kms-reencrypt",
    version,
    about = ABOUT,
    // Not the doc comment above: one help for `-h` and `--help`.
    long_about = None,
    after_help = AFTER_HELP,
    // A later flag replaces an earlier one (`kms-reencrypt --rate 100 "$@"` in a
    // wrapper script); repeatable flags still add up.
    args_override_self = true
)]
struct Cli {
    #[arg(
        long,
        value_name = "PATH",
        help_heading = IO,
        help = "JSON Lines to read; `-` or absent: standard input"
    )]
    input: Option<PathBuf>,

    #[arg(
        long,
        value_name = "PATH",
        help_heading = IO,
        help = "JSON Lines to append results to (required); it is also\n\
                the resume state: use the same PATH to continue a run"
    )]
    output: PathBuf,

    #[arg(
        long,
        value_name = "NAME",
        default_value = "id",
        value_parser = field_name,
        help_heading = IO,
        help = "field with the record id; ids are non-empty strings or\n\
                numbers, unique in the input"
    )]
    id_field: String,

    #[arg(
        long,
        value_name = "NAME",
        default_value = "ciphertext",
        value_parser = field_name,
        help_heading = IO,
        help = "field with the base64 ciphertext"
    )]
    ciphertext_field: String,

    #[arg(
        long,
        value_name = "NAME",
        default_value = "context",
        value_parser = field_name,
        help_heading = IO,
        help = "field with the encryption context, an object of strings;\n\
                absent or null: no context"
    )]
    context_field: String,

    #[arg(
        long,
        value_name = "MS",
        default_value = "200",
        value_parser = whole::<u64, 1, 60_000>,
        allow_negative_numbers = true,
        help_heading = IO,
        help = "fsync the output at least this often"
    )]
    sync_interval_ms: u64,

    #[arg(
        long,
        value_name = "ID",
        help_heading = REQUEST,
        help = "key to re-encrypt under (key id, ARN, alias) (required)"
    )]
    destination_key_id: String,

    #[arg(
        long,
        value_name = "ID",
        help_heading = REQUEST,
        help = "key the ciphertexts must be under (default: inferred)"
    )]
    source_key_id: Option<String>,

    #[arg(
        long,
        value_name = "MODE",
        value_enum,
        default_value_t = ContextMode::Keep,
        hide_default_value = true,
        hide_possible_values = true,
        help_heading = REQUEST,
        help = "destination encryption context (default keep):\n  \
                keep     the record's own context\n  \
                replace  exactly the --destination-context pairs\n  \
                map      the record's context, with the\n           \
                --destination-context pairs added/overriding"
    )]
    context_mode: ContextMode,

    #[arg(
        long,
        value_name = "K=V",
        value_parser = pair,
        required_if_eq("context_mode", "map"),
        help_heading = REQUEST,
        help = "a destination context pair (repeatable; replace/map)"
    )]
    destination_context: Vec<(String, String)>,

    #[arg(
        long = "grant-token",
        value_name = "TOKEN",
        help_heading = REQUEST,
        help = "grant token sent with every request (repeatable, max 10)"
    )]
    grant_tokens: Vec<String>,

    #[arg(
        long,
        help_heading = REQUEST,
        help = "ask KMS whether each record would succeed (DryRun);\n\
                writes `dry_run` records, no ciphertexts; use another\n\
                --output for the real run"
    )]
    dry_run: bool,

    #[arg(
        long,
        value_name = "N",
        default_value = "64",
        env = "KMS_REENCRYPT_CONCURRENCY",
        hide_env = true,
        value_parser = whole::<usize, 1, 100_000>,
        allow_negative_numbers = true,
        help_heading = THROUGHPUT,
        help = "requests in flight at most\n[env: KMS_REENCRYPT_CONCURRENCY]"
    )]
    concurrency: usize,

    #[arg(
        long,
        value_name = "N",
        default_value = "1",
        env = "KMS_REENCRYPT_THREADS",
        hide_env = true,
        value_parser = whole::<usize, 1, 256>,
        allow_negative_numbers = true,
        help_heading = THROUGHPUT,
        help = "runtime threads for the KMS client (1: one core signs and\n\
                drives tens of thousands of requests per second; more\n\
                threads add cross-thread wake-ups)\n\
                [env: KMS_REENCRYPT_THREADS]"
    )]
    threads: usize,

    #[arg(
        long,
        value_name = "N",
        env = "KMS_REENCRYPT_RATE",
        hide_env = true,
        value_parser = whole::<u64, 1, 10_000_000>,
        allow_negative_numbers = true,
        help_heading = THROUGHPUT,
        help = "KMS requests per second at most, retries included, over\n\
                the whole run (default: unlimited). Set it below your\n\
                account's ReEncrypt quota in the region.\n\
                [env: KMS_REENCRYPT_RATE]"
    )]
    rate: Option<u64>,

    #[arg(
        long,
        value_name = "MODE",
        value_enum,
        hide_possible_values = true,
        help_heading = THROUGHPUT,
        help = "the client's retry mode (default: AWS_RETRY_MODE, else\n\
                adaptive):\n  \
                adaptive  standard retries, and a client-side rate that\n            \
                follows KMS's throttling (the AWS SDKs' CUBIC)\n  \
                standard  standard retries only\n\
                --rate stays a hard cap on top of either"
    )]
    retry_mode: Option<RetryMode>,

    #[arg(
        long,
        value_name = "N",
        value_parser = whole::<u32, 1, 100>,
        allow_negative_numbers = true,
        help_heading = THROUGHPUT,
        help = "attempts per KMS call, 1 = no retries (default\n\
                AWS_MAX_ATTEMPTS or 3); a record whose call still\n\
                fails transiently is tried again after a backoff"
    )]
    max_attempts: Option<u32>,

    #[arg(
        long,
        value_name = "MS",
        value_parser = whole::<u64, 0, 86_400_000>,
        allow_negative_numbers = true,
        help_heading = THROUGHPUT,
        help = "deadline of each attempt (default 10000; 0 = none)"
    )]
    attempt_timeout_ms: Option<u64>,

    #[arg(
        long,
        value_name = "MS",
        value_parser = whole::<u64, 0, 86_400_000>,
        allow_negative_numbers = true,
        help_heading = THROUGHPUT,
        help = "deadline over all attempts of a record (default\n\
                30000; 0 = none)"
    )]
    operation_timeout_ms: Option<u64>,

    #[arg(
        long,
        value_name = "N",
        default_value_t = crate::outcome::SAME_FAILURES,
        value_parser = whole::<usize, 0, 100_000>,
        allow_negative_numbers = true,
        help_heading = THROUGHPUT,
        help = "stop the run (exit 2) when N records in a row\n\
                (as they finish) fail with one error code: the\n\
                configuration (source key, context) is wrong, not\n\
                the records; those N are not written, the next\n\
                run does them (0 = never, also in the preflight)"
    )]
    max_same_failures: usize,
}

/// A whole number from `MIN` to `MAX`.
fn whole<T: TryFrom<u64>, const MIN: u64, const MAX: u64>(v: &str) -> Result<T, String> {
    v.parse::<u64>()
        .ok()
        .filter(|n| (MIN..=MAX).contains(n))
        .and_then(|n| T::try_from(n).ok())
        .ok_or_else(|| format!("takes a whole number from {MIN} to {MAX}"))
}

/// `KEY=VALUE`, with a non-empty key.
fn pair(v: &str) -> Result<(String, String), String> {
    match v.split_once('=') {
        None => Err("takes KEY=VALUE".into()),
        Some(("", _)) => Err("the key is empty (takes KEY=VALUE)".into()),
        Some((k, val)) => Ok((k.to_owned(), val.to_owned())),
    }
}

/// A record field name: not empty, not one the tool writes itself.
fn field_name(v: &str) -> Result<String, String> {
    if v.is_empty() {
        return Err("must not be empty".into());
    }
    if RESERVED_FIELDS.contains(&v) {
        return Err(format!(
            "clashes with an output field ({})",
            RESERVED_FIELDS.join(", ")
        ));
    }
    Ok(v.to_owned())
}

/// `0` means no deadline.
fn millis(ms: Option<u64>) -> Option<Option<Duration>> {
    ms.map(|ms| (ms > 0).then(|| Duration::from_millis(ms)))
}

impl Cli {
    /// Checks what spans several flags.
    fn validate(self) -> Result<Args, clap::Error> {
        let usage = |kind, msg: &str| Cli::command().error(kind, msg);
        let destination_context: EncryptionContext = self.destination_context.into_iter().collect();
        if self.context_mode == ContextMode::Keep && !destination_context.is_empty() {
            return Err(usage(
                ErrorKind::ArgumentConflict,
                "--destination-context needs --context-mode replace or map (keep copies \
                 the source context)",
            ));
        }
        let fields = Fields {
            id: self.id_field,
            ciphertext: self.ciphertext_field,
            context: self.context_field,
        };
        if fields.id == fields.ciphertext
            || fields.id == fields.context
            || fields.ciphertext == fields.context
        {
            return Err(usage(
                ErrorKind::ArgumentConflict,
                "--id-field, --ciphertext-field and --context-field must differ",
            ));
        }
        let input = self.input.filter(|p| p.as_os_str() != "-");
        if let Some(input) = &input
            && same_file(input, &self.output)
        {
            return Err(usage(
                ErrorKind::ArgumentConflict,
                "--input and --output must be different files",
            ));
        }
        // Let the library check what it can (key id lengths, grant tokens, context)
        // now, rather than once per record.
        ReEncryptRequest::builder()
            .ciphertext_blob(vec![0u8])
            .destination_key_id(self.destination_key_id.clone())
            .set_source_key_id(self.source_key_id.clone())
            .set_grant_tokens(self.grant_tokens.clone())
            .set_destination_encryption_context(
                (!destination_context.is_empty()).then(|| destination_context.clone()),
            )
            .build()
            .map_err(|e| usage(ErrorKind::ValueValidation, &e.to_string()))?;

        Ok(Args {
            input,
            output: self.output,
            destination_key_id: self.destination_key_id,
            source_key_id: self.source_key_id,
            context_mode: self.context_mode,
            destination_context,
            grant_tokens: self.grant_tokens,
            dry_run: self.dry_run,
            concurrency: self.concurrency,
            threads: self.threads,
            rate: self.rate,
            retry_mode: self.retry_mode,
            fields,
            max_attempts: self.max_attempts,
            attempt_timeout: millis(self.attempt_timeout_ms),
            operation_timeout: millis(self.operation_timeout_ms),
            sync_interval: Duration::from_millis(self.sync_interval_ms),
            max_same_failures: self.max_same_failures,
        })
    }
}

/// Parses the arguments (without the program name). `--help` and `--version`
/// come back as errors too: [`clap::Error::print`] writes them to standard output
/// and [`clap::Error::exit_code`] is 0 for them, 2 for usage errors.
pub(crate) fn parse(raw: impl IntoIterator<Item = OsString>) -> Result<Args, clap::Error> {
    let raw: Vec<OsString> = raw.into_iter().collect();
    let argv = std::iter::once(OsString::from("kms-reencrypt")).chain(raw.iter().cloned());
    Cli::try_parse_from(argv)
        .map_err(|e| env_tip(e, &raw))?
        .validate()
}

/// Adds "tip: the value comes from KMS_REENCRYPT_.." to an invalid value of a
/// flag that was not on the command line: clap names the flag either way.
fn env_tip(mut e: clap::Error, raw: &[OsString]) -> clap::Error {
    let Some(ContextValue::String(arg)) = e.get(ContextKind::InvalidArg) else {
        return e;
    };
    let flag = arg.split(' ').next().unwrap_or_default().to_owned();
    let given = raw.iter().any(|r| {
        r.to_str()
            .is_some_and(|r| r == flag || r.strip_prefix(&flag).is_some_and(|v| v.starts_with('=')))
    });
    let var = Cli::command()
        .get_arguments()
        .find(|a| a.get_long().map(|l| format!("--{l}")).as_deref() == Some(flag.as_str()))
        .and_then(|a| a.get_env().map(|v| v.to_string_lossy().into_owned()));
    if let Some(var) = var
        && !given
        && std::env::var_os(&var).is_some()
    {
        let tip = format!("the value comes from the environment variable {var}");
        e.insert(
            ContextKind::Suggested,
            ContextValue::StyledStrs(vec![tip.into()]),
        );
    }
    e
}

fn same_file(a: &std::path::Path, b: &std::path::Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// The tower rate for `per_second` requests per second: windows of about 100 ms
/// (at least one request each), so a burst is at most a tenth of a second's worth,
/// closer to how KMS meters its per-second quota than one-second windows.
pub(crate) fn rate(per_second: u64) -> (u64, Duration) {
    let num = (per_second / 10).max(1);
    let per = Duration::from_nanos(num.saturating_mul(1_000_000_000) / per_second);
    (num, per.max(Duration::from_nanos(1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Result<Args, clap::Error> {
        parse(v.iter().map(OsString::from))
    }

    fn kind(v: &[&str]) -> ErrorKind {
        args(v).expect_err("should be refused").kind()
    }

    const BASE: [&str; 4] = ["--output", "o", "--destination-key-id", "k"];

    fn with<'a>(extra: &[&'a str]) -> Vec<&'a str> {
        let mut v = BASE.to_vec();
        v.extend_from_slice(extra);
        v
    }

    #[test]
    fn rates() {
        assert_eq!(rate(25), (2, Duration::from_millis(80)));
        assert_eq!(rate(1), (1, Duration::from_secs(1)));
        assert_eq!(rate(50_000), (5_000, Duration::from_millis(100)));
    }

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn defaults_and_values() {
        let a = args(&BASE).unwrap();
        assert_eq!(a.input, None);
        assert_eq!(a.context_mode, ContextMode::Keep);
        assert_eq!(
            (a.fields.id.as_str(), a.fields.ciphertext.as_str()),
            ("id", "ciphertext")
        );
        assert_eq!(a.fields.context, "context");
        assert_eq!(a.sync_interval, Duration::from_millis(200));
        assert_eq!(
            (a.max_attempts, a.attempt_timeout, a.operation_timeout),
            (None, None, None)
        );
        assert!(!a.dry_run);
        assert_eq!(a.retry_mode, None);
        assert_eq!(a.max_same_failures, 50);

        let a = args(&with(&[
            "--retry-mode",
            "standard",
            "--input=-",
            "--attempt-timeout-ms",
            "0",
            "--operation-timeout-ms=2500",
            "--max-attempts",
            "1",
            "--rate",
            "7",
            "--concurrency",
            "3",
            "--threads",
            "2",
            "--dry-run",
            "--max-same-failures",
            "0",
        ]))
        .unwrap();
        assert_eq!(a.max_same_failures, 0, "0 = never");
        assert_eq!(a.input, None, "`-` is standard input");
        assert_eq!(a.attempt_timeout, Some(None), "0 = no deadline");
        assert_eq!(a.operation_timeout, Some(Some(Duration::from_millis(2500))));
        assert_eq!((a.max_attempts, a.rate), (Some(1), Some(7)));
        assert_eq!((a.concurrency, a.threads), (3, 2));
        assert!(a.dry_run);
        assert_eq!(a.retry_mode, Some(RetryMode::Standard));
        let a = args(&with(&["--retry-mode=adaptive"])).unwrap();
        assert_eq!(a.retry_mode, Some(RetryMode::Adaptive));
    }

    #[test]
    fn repeatable_flags_add_up_and_others_take_the_last_value() {
        let a = args(&with(&[
            "--context-mode",
            "replace",
            "--destination-context",
            "a=1",
            "--destination-context=b=x=y",
            "--grant-token",
            "t1",
            "--grant-token",
            "t2",
            "--concurrency",
            "5",
            "--concurrency",
            "6",
            "--output",
            "p",
        ]))
        .unwrap();
        assert_eq!(a.grant_tokens, ["t1", "t2"]);
        let pairs: Vec<_> = a.destination_context.iter().collect();
        assert_eq!(
            pairs,
            [(&"a".into(), &"1".into()), (&"b".into(), &"x=y".into())]
        );
        assert_eq!(a.concurrency, 6);
        assert_eq!(a.output, PathBuf::from("p"));
    }

    #[test]
    fn validation() {
        assert_eq!(
            kind(&["--destination-key-id", "k"]),
            ErrorKind::MissingRequiredArgument
        );
        assert_eq!(kind(&["--output", "o"]), ErrorKind::MissingRequiredArgument);
        assert_eq!(
            kind(&with(&["--destination-context", "a=b"])),
            ErrorKind::ArgumentConflict
        );
        assert_eq!(
            kind(&with(&[
                "--context-mode",
                "keep",
                "--destination-context",
                "a=b"
            ])),
            ErrorKind::ArgumentConflict
        );
        assert!(
            args(&with(&[
                "--destination-context",
                "a=b",
                "--context-mode=map"
            ]))
            .is_ok()
        );
        assert_eq!(
            kind(&with(&["--context-mode", "map"])),
            ErrorKind::MissingRequiredArgument
        );
        assert!(
            args(&with(&["--context-mode", "replace"])).is_ok(),
            "replace with nothing"
        );
        assert_eq!(
            kind(&with(&["--context-mode", "merge"])),
            ErrorKind::InvalidValue
        );
        for bad in ["a", "=b"] {
            let mut v = with(&["--context-mode", "replace", "--destination-context"]);
            v.push(bad);
            assert_eq!(kind(&v), ErrorKind::ValueValidation, "{bad}");
        }
        for (flag, bad) in [
            ("--concurrency", "0"),
            ("--concurrency", "100001"),
            ("--threads", "257"),
            ("--rate", "x"),
            ("--max-attempts", "101"),
            ("--max-same-failures", "-1"),
            ("--max-same-failures", "100001"),
            ("--attempt-timeout-ms", "86400001"),
            ("--sync-interval-ms", "0"),
            ("--id-field", "line"),
            ("--context-field", ""),
        ] {
            assert_eq!(
                kind(&with(&[flag, bad])),
                ErrorKind::ValueValidation,
                "{flag} {bad}"
            );
        }
        assert_eq!(
            kind(&with(&["--id-field", "x", "--context-field", "x"])),
            ErrorKind::ArgumentConflict
        );
        assert_eq!(kind(&with(&["--input", "o"])), ErrorKind::ArgumentConflict);
        let tokens: Vec<&str> = (0..11).flat_map(|_| ["--grant-token", "t"]).collect();
        assert_eq!(
            kind(&with(&tokens)),
            ErrorKind::ValueValidation,
            "more than 10"
        );
        assert_eq!(kind(&with(&["--dry-run=yes"])), ErrorKind::TooManyValues);
        assert_eq!(
            kind(&with(&["--retry-mode", "legacy"])),
            ErrorKind::InvalidValue
        );
        assert_eq!(kind(&with(&["--bogus"])), ErrorKind::UnknownArgument);
        assert_eq!(kind(&with(&["--rate"])), ErrorKind::InvalidValue);
        assert_eq!(kind(&["--help"]), ErrorKind::DisplayHelp);
        assert_eq!(kind(&["-h"]), ErrorKind::DisplayHelp);
        assert_eq!(kind(&["--version"]), ErrorKind::DisplayVersion);
    }
}
