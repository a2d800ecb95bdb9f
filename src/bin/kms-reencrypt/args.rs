//! The command line: parsing, validation and the `--help` text.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use tower_kms::{EncryptionContext, ReEncryptRequest};

/// One line, printed with usage errors.
pub(crate) const USAGE: &str = "usage: kms-reencrypt --destination-key-id ID --output PATH \
[--input PATH] [OPTIONS]  (see --help)";

/// The `--help` text.
pub(crate) const HELP: &str = "\
kms-reencrypt: re-encrypt stored KMS ciphertexts under another key, in bulk.

Reads JSON Lines (one record per line: an id, a base64 ciphertext and optionally
its encryption context), calls KMS ReEncrypt for each record and appends one JSON
line per input record to --output. Killed at any point and run again with the same
arguments, it continues where it stopped: records already in the output are
skipped, nothing is lost or written twice.

USAGE:
    kms-reencrypt --destination-key-id ID --output PATH [--input PATH] [OPTIONS]

INPUT AND OUTPUT:
    --input PATH              JSON Lines to read; `-` or absent: standard input
    --output PATH             JSON Lines to append results to (required; the
                              resume state: use the same PATH to continue a run)
    --id-field NAME           field with the record id (default `id`); ids are
                              non-empty strings or numbers, unique in the input
    --ciphertext-field NAME   field with the base64 ciphertext (default `ciphertext`)
    --context-field NAME      field with the encryption context, an object of
                              strings; absent or null: no context (default `context`)
    --sync-interval-ms MS     fsync the output at least this often (default 200)

KMS REQUEST:
    --destination-key-id ID   key to re-encrypt under (key id, ARN, alias) (required)
    --source-key-id ID        key the ciphertexts must be under (default: inferred)
    --context-mode MODE       destination encryption context (default keep):
                                keep     the record's own context
                                replace  exactly the --destination-context pairs
                                map      the record's context, with the
                                         --destination-context pairs added/overriding
    --destination-context K=V a destination context pair (repeatable; replace/map)
    --grant-token TOKEN       grant token sent with every request (repeatable, max 10)
    --dry-run                 ask KMS whether each record would succeed (DryRun);
                              writes `dry_run` records, no ciphertexts; use another
                              --output for the real run

THROUGHPUT AND RESILIENCE:
    --concurrency N           requests in flight at most (default 64)
    --threads N               runtime threads for the KMS client (default 1: one
                              core signs and drives tens of thousands of requests
                              per second; more threads add cross-thread wake-ups)
    --rate N                  KMS requests per second at most, retries included,
                              over the whole run (default: unlimited). Set it below
                              your account's ReEncrypt quota in the region.
    --max-attempts N          attempts per record, 1 = no retries (default
                              AWS_MAX_ATTEMPTS or 3)
    --attempt-timeout-ms MS   deadline of each attempt (default 10000; 0 = none)
    --operation-timeout-ms MS deadline over all attempts of a record (default
                              30000; 0 = none)

    Region, endpoint and credentials come from the standard environment variables
    (AWS_REGION, AWS_ENDPOINT_URL_KMS, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
    AWS_SESSION_TOKEN, ...).

OUTPUT RECORDS (one line each, in completion order; `line` is the input line):
    {\"id\":\"a\",\"line\":1,\"status\":\"ok\",\"ciphertext\":\"...\",\"context\":{...},
     \"key_id\":\"arn:...\",\"source_key_id\":\"arn:...\"}
    {\"id\":\"b\",\"line\":2,\"status\":\"failed\",\"code\":\"InvalidCiphertextException\",
     \"message\":\"...\"}
    Bad input lines (not JSON, missing or wrong field, bad base64, duplicate id) are
    failed records with code `InvalidInput` (id null when there is none). The id,
    ciphertext and context fields use the configured names, so the output of one
    rotation can be the input of the next. Failed records are final: a run does not
    retry them (feed them to a new run with another --output to retry).

    Errors that say the configuration is wrong rather than the record (credentials,
    signature, unreachable endpoint) stop the run without recording that record.

EXIT STATUS:
    0    every record succeeded (this run and earlier runs on the same output)
    1    at least one record failed
    2    usage, configuration or I/O error; the run stopped (run again to continue)
    130  interrupted by SIGINT (143 for SIGTERM): in-flight records were finished
         and written; run again to continue. A second signal exits at once.

While stderr is a terminal a progress line shows records done, failed, rate and ETA;
a summary is printed on stderr at the end.
";

/// How the destination encryption context is formed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ContextMode {
    /// The record's own context.
    Keep,
    /// The fixed pairs only.
    Replace,
    /// The record's context merged with (overridden by) the fixed pairs.
    Map,
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
    pub(crate) fields: Fields,
    pub(crate) max_attempts: Option<u32>,
    pub(crate) attempt_timeout: Option<Option<Duration>>,
    pub(crate) operation_timeout: Option<Option<Duration>>,
    pub(crate) sync_interval: Duration,
}

/// The configurable field names.
#[derive(Debug, Clone)]
pub(crate) struct Fields {
    pub(crate) id: String,
    pub(crate) ciphertext: String,
    pub(crate) context: String,
}

/// What the command line asks for.
#[derive(Debug)]
pub(crate) enum Command {
    Run(Box<Args>),
    Help,
}

fn number<T>(flag: &str, v: &str, min: T, max: T) -> Result<T, String>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
{
    v.parse::<T>()
        .ok()
        .filter(|n| *n >= min && *n <= max)
        .ok_or_else(|| format!("{flag} takes a whole number from {min} to {max}, got {v:?}"))
}

fn millis(flag: &str, v: &str) -> Result<Option<Duration>, String> {
    let ms: u64 = number(flag, v, 0, 86_400_000)?;
    Ok((ms > 0).then(|| Duration::from_millis(ms)))
}

/// Parses the arguments (without the program name).
pub(crate) fn parse(raw: impl IntoIterator<Item = OsString>) -> Result<Command, String> {
    let mut input = None;
    let mut output = None;
    let mut destination_key_id = None;
    let mut source_key_id = None;
    let mut context_mode = None;
    let mut destination_context = EncryptionContext::new();
    let mut grant_tokens = Vec::new();
    let mut dry_run = false;
    let mut concurrency = 64;
    let mut threads = 1;
    let mut rate = None;
    let mut fields = Fields {
        id: "id".into(),
        ciphertext: "ciphertext".into(),
        context: "context".into(),
    };
    let mut max_attempts = None;
    let mut attempt_timeout = None;
    let mut operation_timeout = None;
    let mut sync_interval = Duration::from_millis(200);

    let mut it = raw.into_iter();
    while let Some(arg) = it.next() {
        let arg = arg
            .into_string()
            .map_err(|a| format!("argument {a:?} is not valid UTF-8"))?;
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
            _ => (arg.clone(), None),
        };
        let mut value = || -> Result<String, String> {
            if let Some(v) = inline.clone() {
                return Ok(v);
            }
            it.next()
                .ok_or_else(|| format!("{flag} needs a value"))?
                .into_string()
                .map_err(|a| format!("{flag}: {a:?} is not valid UTF-8"))
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "--input" => {
                let v = value()?;
                input = (v != "-").then(|| PathBuf::from(v));
            }
            "--output" => output = Some(PathBuf::from(value()?)),
            "--destination-key-id" => destination_key_id = Some(value()?),
            "--source-key-id" => source_key_id = Some(value()?),
            "--context-mode" => {
                let v = value()?;
                context_mode = Some(match v.as_str() {
                    "keep" => ContextMode::Keep,
                    "replace" => ContextMode::Replace,
                    "map" => ContextMode::Map,
                    _ => {
                        return Err(format!(
                            "--context-mode takes keep, replace or map, got {v:?}"
                        ));
                    }
                });
            }
            "--destination-context" => {
                let v = value()?;
                let (k, val) = v
                    .split_once('=')
                    .ok_or_else(|| format!("--destination-context takes KEY=VALUE, got {v:?}"))?;
                if k.is_empty() {
                    return Err(format!("--destination-context: empty key in {v:?}"));
                }
                destination_context.insert(k.to_owned(), val.to_owned());
            }
            "--grant-token" => grant_tokens.push(value()?),
            "--dry-run" if inline.is_none() => dry_run = true,
            "--concurrency" => concurrency = number(&flag, &value()?, 1, 100_000)?,
            "--threads" => threads = number(&flag, &value()?, 1, 256)?,
            "--rate" => rate = Some(number(&flag, &value()?, 1u64, 10_000_000)?),
            "--id-field" => fields.id = value()?,
            "--ciphertext-field" => fields.ciphertext = value()?,
            "--context-field" => fields.context = value()?,
            "--max-attempts" => max_attempts = Some(number(&flag, &value()?, 1u32, 100)?),
            "--attempt-timeout-ms" => attempt_timeout = Some(millis(&flag, &value()?)?),
            "--operation-timeout-ms" => operation_timeout = Some(millis(&flag, &value()?)?),
            "--sync-interval-ms" => {
                sync_interval = Duration::from_millis(number(&flag, &value()?, 1u64, 60_000)?);
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }

    let output = output.ok_or("--output PATH is required (it is also the resume state)")?;
    let destination_key_id = destination_key_id.ok_or("--destination-key-id is required")?;
    let context_mode = context_mode.unwrap_or(ContextMode::Keep);
    if context_mode == ContextMode::Keep && !destination_context.is_empty() {
        return Err(
            "--destination-context needs --context-mode replace or map (keep copies the \
             source context)"
                .into(),
        );
    }
    if context_mode == ContextMode::Map && destination_context.is_empty() {
        return Err("--context-mode map needs at least one --destination-context K=V".into());
    }
    for (name, flag) in [
        (&fields.id, "--id-field"),
        (&fields.ciphertext, "--ciphertext-field"),
        (&fields.context, "--context-field"),
    ] {
        if name.is_empty() {
            return Err(format!("{flag} must not be empty"));
        }
        if RESERVED_FIELDS.contains(&name.as_str()) {
            return Err(format!(
                "{flag} {name:?} clashes with an output field ({})",
                RESERVED_FIELDS.join(", ")
            ));
        }
    }
    if fields.id == fields.ciphertext
        || fields.id == fields.context
        || fields.ciphertext == fields.context
    {
        return Err("--id-field, --ciphertext-field and --context-field must differ".into());
    }
    if let Some(input) = &input
        && same_file(input, &output)
    {
        return Err("--input and --output must be different files".into());
    }
    // Let the library check what it can (key id lengths, grant tokens, context) now,
    // rather than once per record.
    ReEncryptRequest::builder()
        .ciphertext_blob(vec![0u8])
        .destination_key_id(destination_key_id.clone())
        .set_source_key_id(source_key_id.clone())
        .set_grant_tokens(grant_tokens.clone())
        .set_destination_encryption_context(
            (!destination_context.is_empty()).then(|| destination_context.clone()),
        )
        .build()
        .map_err(|e| e.to_string())?;

    Ok(Command::Run(Box::new(Args {
        input,
        output,
        destination_key_id,
        source_key_id,
        context_mode,
        destination_context,
        grant_tokens,
        dry_run,
        concurrency,
        threads,
        rate,
        fields,
        max_attempts,
        attempt_timeout,
        operation_timeout,
        sync_interval,
    })))
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

    fn args(v: &[&str]) -> Result<Command, String> {
        parse(v.iter().map(OsString::from))
    }

    #[test]
    fn rates() {
        assert_eq!(rate(25), (2, Duration::from_millis(80)));
        assert_eq!(rate(1), (1, Duration::from_secs(1)));
        assert_eq!(rate(50_000), (5_000, Duration::from_millis(100)));
    }

    #[test]
    fn validation() {
        let base = ["--output", "o", "--destination-key-id", "k"];
        assert!(matches!(args(&base), Ok(Command::Run(_))));
        assert!(args(&["--destination-key-id", "k"]).is_err());
        let mut v = base.to_vec();
        v.extend(["--destination-context", "a=b"]);
        assert!(args(&v).is_err(), "keep with pairs");
        v.extend(["--context-mode=map"]);
        assert!(matches!(args(&v), Ok(Command::Run(_))));
        let mut v = base.to_vec();
        v.extend(["--id-field", "line"]);
        assert!(args(&v).is_err());
        assert!(matches!(args(&["--help"]), Ok(Command::Help)));
    }
}
