//! `kms-reencrypt`: bulk re-encryption of stored KMS ciphertexts under another key
//! (key rotation, retiring a key, changing encryption contexts), resumable and
//! crash-safe. Built with the `cli` feature:
//!
//! ```text
//! cargo install tower-kms --features cli      # or: cargo run --release --features cli --bin kms-reencrypt --
//! kms-reencrypt --input old.jsonl --output new.jsonl --destination-key-id alias/new \
//!     [--source-key-id alias/old] [--context-mode keep|replace|map] [--destination-context K=V]... \
//!     [--rate 5000] [--concurrency 64] [--dry-run]
//! ```
//!
//! Input and output are JSON Lines. Each input record has an id, a base64
//! ciphertext and optionally its encryption context (field names configurable);
//! each record finished is an output line with its id and input line number: the
//! new ciphertext, destination context and key ARN, or the error code and message
//! (see [`output`]: a record the run stops on gets no line, and a record done
//! again on resume gets another).
//! Run `kms-reencrypt --help` for every option, the record shapes and the exit
//! statuses.
//!
//! # How it is put together
//!
//! ```text
//! reader thread    JSON Lines -> validated ReEncryptRequests; bad lines, duplicate ids
//!      │           and records the output already holds are handled here
//!      ▼
//! driver           preflight (a DryRun of the first record); then
//!                  svc.ready().await; svc.call(job) -> spawned
//!      │ ConcurrencyLimit     --concurrency records in flight (tower::limit)
//!      │ RateLimit            --rate records started per second (tower::limit)
//!      │ service_fn           one record: KmsClient calls until a final answer
//!      │                      (backoff between them) + hand the line to the writer
//!      ▼ KmsClient            grant tokens, timeouts, retries (adaptive), SigV4 ...
//!          connector: Metered -> Buffer -> RateLimit -> HyperConnector
//!                             Metered counts attempts and throttled answers;
//!                             --rate again, on every HTTP attempt (retries included):
//!                             that is what KMS meters. tower's RateLimit is not
//!                             Clone, and the client clones its connector per
//!                             request, so a Buffer in front makes one limiter shared
//!                             by the whole run.
//! writer thread    appends whole lines, batches writes, fdatasync every 200 ms
//! ```
//!
//! A record holds its concurrency permit until its line is queued for the
//! writer, so a slow disk slows intake instead of filling memory.
//!
//! # Crash safety and resuming
//!
//! The output is append-only and locked while a run uses it. Its first line is
//! a header naming the run's arguments, and every record line carries the hash
//! of its input, so resuming with other arguments or over a changed input is
//! refused (see [`output`]). On start, a partial last line (a crash mid-write)
//! or a damaged line (power loss) and everything after it are truncated away,
//! and the ids in the remaining lines are skipped, so a run killed at any point
//! (SIGKILL, power loss) and started again with the same arguments loses and
//! duplicates nothing.
//! SIGINT/SIGTERM stop intake, let records in a KMS call finish (records
//! waiting to be tried again are abandoned, unwritten), flush and exit 130/143;
//! a second signal exits at once (still safe).
//!
//! # Errors
//!
//! See [`outcome`]: answers about the record itself are its final, `failed`
//! line. Throttling, server faults, timeouts and broken connections are never
//! final: after the client's own attempts, the record waits out a backoff (full
//! jitter, capped at 20 s) holding its place and concurrency permit, and is
//! tried again until it succeeds or the run stops; so is a connection that
//! cannot be made once KMS has answered in this run. Errors that indict the
//! configuration (credentials, signatures, AccessDenied, an endpoint that
//! cannot be reached before KMS first answered, the destination key) stop the
//! run without writing a record for the records they hit, so fixing the
//! configuration and running again finishes the job; before anything is
//! written, a ReEncrypt `DryRun` of the first record (the preflight) catches
//! most of them. And when `--max-same-failures` records (50) in a row fail with
//! one error code, the run stops too, without writing those records
//! ([`outcome::Breaker`]): a wrong source key or context fails every record,
//! and is no fault of theirs. The client runs in the adaptive retry mode by
//! default, so a throttling KMS slows the run down to the rate it allows.

mod args;
mod input;
mod meter;
mod outcome;
mod output;

use std::collections::VecDeque;
use std::convert::Infallible;
use std::io::{BufRead, BufReader, IsTerminal as _};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tower::buffer::Buffer;
use tower::limit::{RateLimit, RateLimitLayer};
use tower::{Service, ServiceBuilder, ServiceExt};
use tower_kms::client::BoxConnector;
use tower_kms::connector::HyperConnector;
use tower_kms::retry::RetryConfig;
use tower_kms::{DescribeKeyRequest, KmsClient, KmsError, ReEncryptResponse};

use crate::args::{Args, RetryMode};
use crate::input::{Item, Job, Reader};
use crate::meter::{Attempts, Metered};
use crate::outcome::{Breaker, Control, Destination, Step, Verdict};
use crate::output::{IdHasher, Record, Start};

/// Counters shared by the reader, the writer and the progress line.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    /// Records written as ok in this run.
    pub(crate) ok: AtomicU64,
    /// Records written as failed in this run.
    pub(crate) failed: AtomicU64,
    /// Records skipped because the output already has them.
    pub(crate) skipped: AtomicU64,
    /// Records done again because the output holds a transient failure of theirs.
    pub(crate) redone: AtomicU64,
    /// Input bytes read.
    pub(crate) bytes_read: AtomicU64,
}

fn main() -> ExitCode {
    let args = match args::parse(std::env::args_os().skip(1)) {
        Ok(a) => Arc::new(a),
        Err(e) => {
            // `--help` and `--version` to stdout with status 0, usage errors to
            // stderr with status 2. A closed stdout (`--help | head`) is no error.
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    // One thread by default: the client's per-request work is a few tens of
    // microseconds, and a multi-thread runtime mostly adds wake-ups across threads
    // (measured: 13k records/s with two workers, 20k with one, against the local KMS).
    let mut builder = if args.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(args.threads);
        b
    };
    let rt = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("kms-reencrypt: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let code = match rt.block_on(run(args)) {
        Ok(code) => code,
        Err(msg) => {
            eprintln!("kms-reencrypt: {msg}");
            2
        }
    };
    // The reader thread may still be blocked on standard input: do not wait for it.
    rt.shutdown_timeout(Duration::from_secs(1));
    ExitCode::from(code)
}

/// The code and message of a failed record.
fn describe(e: &KmsError) -> (String, String) {
    if let Some(s) = e.service_error() {
        let message = s.message.clone().unwrap_or_else(|| chain(e));
        return (s.code.clone(), message);
    }
    let code = match e {
        KmsError::Validation(_) => "ValidationError",
        KmsError::Transport(_) => "TransportError",
        KmsError::Timeout(_) => "TimeoutError",
        KmsError::UnexpectedResponse(_) => "UnexpectedResponse",
        KmsError::Credentials(_) => "CredentialsError",
        KmsError::Signing(_) => "SigningError",
        _ => "Error",
    };
    (code.to_owned(), chain(e))
}

/// The error and its causes, each once.
fn chain(e: &KmsError) -> String {
    tower_kms::DisplayChain(e).to_string()
}

/// The retry configuration: `--retry-mode`, else `AWS_RETRY_MODE`, else adaptive;
/// `AWS_MAX_ATTEMPTS` and `AWS_NEW_RETRIES_2026` apply as for any client.
fn retry_config(
    flag: Option<RetryMode>,
    get: impl Fn(&str) -> Option<String>,
) -> Result<RetryConfig, String> {
    // With the flag, AWS_RETRY_MODE is not read at all (not even checked).
    let get = |k: &str| {
        if k == "AWS_RETRY_MODE" && flag.is_some() {
            None
        } else {
            get(k)
        }
    };
    let env_mode = get("AWS_RETRY_MODE").is_some_and(|v| !v.trim().is_empty());
    let cfg = RetryConfig::from_env_with(get).map_err(|e| e.to_string())?;
    let adaptive = match flag {
        Some(mode) => mode == RetryMode::Adaptive,
        None if env_mode => cfg.is_adaptive(),
        None => true,
    };
    Ok(cfg.with_adaptive(adaptive))
}

fn build_client(args: &Args, attempts: Arc<Attempts>) -> Result<KmsClient, String> {
    let mut b = KmsClient::builder()
        .retry_config(retry_config(args.retry_mode, |k| std::env::var(k).ok())?);
    if let Some(n) = args.max_attempts {
        b = b.max_attempts(n);
    }
    if let Some(t) = args.attempt_timeout {
        b = b.attempt_timeout(t);
    }
    if let Some(t) = args.operation_timeout {
        b = b.operation_timeout(t);
    }
    if let Some(rps) = args.rate {
        // Every HTTP attempt, retries included, goes through one shared limiter.
        let http = HyperConnector::new().map_err(|e| e.to_string())?;
        let bound = args.concurrency.saturating_mul(2).saturating_add(16);
        let (num, per) = args::rate(rps);
        let limited = RateLimit::new(http, tower::limit::rate::Rate::new(num, per));
        b = b.connector(Buffer::new(limited, bound));
    }
    // Outermost on the connector: every attempt is counted, including those the
    // rate limit holds.
    b = b.map_connector(move |c| BoxConnector::new(Metered::new(c, attempts)));
    b.env().build().map_err(|e| e.to_string())
}

/// How many input items the preflight may read ahead to find records, and how
/// many records it tries before giving up on checking.
const PREFLIGHT_LOOKAHEAD: usize = 4096;
const PREFLIGHT_RECORDS: usize = 8;

/// The preflight's verdict.
enum Preflight {
    Go,
    Stop(String),
    Signal(u8),
}

/// The next item: one read ahead (by the preflight), else the next from the reader.
async fn next_item(ahead: &mut VecDeque<Item>, jobs: &mut mpsc::Receiver<Item>) -> Option<Item> {
    match ahead.pop_front() {
        Some(item) => Some(item),
        None => jobs.recv().await,
    }
}

/// Best effort, before the preflight: the destination key's ARN from
/// `DescribeKey`, so that the errors KMS names it in (by ARN) are recognised
/// as the destination's when it is given as an alias. Without
/// `kms:DescribeKey`, or when KMS cannot answer now, the run goes on with what
/// it knows (the name given, and the ARN of the first success).
async fn resolve_destination(
    client: &KmsClient,
    args: &Args,
    destination: &Destination,
    control: &Control,
) {
    let Ok(request) = DescribeKeyRequest::builder()
        .key_id(args.destination_key_id.clone())
        .set_grant_tokens(args.grant_tokens.clone())
        .build()
    else {
        return;
    };
    let out = match client.clone().oneshot(request).await {
        Ok(out) => out,
        Err(e) => {
            // Denied or not found: still an answer of KMS.
            if e.service_error().is_some() {
                control.answered();
            }
            return;
        }
    };
    control.answered();
    if let Some(meta) = out.key_metadata {
        destination.learn(Some(meta.arn.as_deref().unwrap_or(&meta.key_id)));
    }
}

/// Before anything is written: a ReEncrypt `DryRun` of the first record, so a
/// missing `kms:ReEncryptFrom` / `kms:ReEncryptTo` permission or a missing,
/// disabled or unusable destination key stops the run at once. KMS answers a
/// good dry run with `DryRunOperationException`; an emulator that ignores
/// `DryRun` answers 200 with a ciphertext (discarded): both mean go on. The dry
/// run is retried on transient errors like any call; when it fails for the
/// record's own sake (a bad ciphertext), the next record is tried, up to
/// [`PREFLIGHT_RECORDS`] (or `--max-same-failures`, if smaller, but at least
/// two). When all of them failed with the same error code,
/// the run stops too: that is the configuration's doing (a destination key the
/// errors name by an ARN it could not learn, a wrong `--source-key-id`, context
/// or field), not each record's. An input with fewer records than that goes
/// on (the records are tried for real, and written failed), and so does every
/// input with `--max-same-failures 0`; a smaller `--max-same-failures` is the
/// number of records that must fail alike. Items read meanwhile are kept in
/// `ahead`.
async fn preflight(
    client: &KmsClient,
    max_same_failures: usize,
    destination: &Destination,
    control: &Control,
    signals: &mut Signals,
    jobs: &mut mpsc::Receiver<Item>,
    ahead: &mut VecDeque<Item>,
) -> Preflight {
    let (mut next, mut tried) = (0usize, 0usize);
    let mut last_failure = String::new();
    // The error code all the records tried failed with, if it is one.
    let mut same_code: Option<Option<String>> = None;
    // How many records to try, and how many failing alike stop the run.
    let most = match max_same_failures {
        0 => PREFLIGHT_RECORDS,
        n => PREFLIGHT_RECORDS.min(n.max(2)),
    };
    while tried < most {
        // The next record, reading ahead as needed.
        let request = loop {
            let found = ahead
                .iter()
                .enumerate()
                .skip(next)
                .find_map(|(i, item)| match item {
                    Item::Job(job) => Some((i, job.request.clone(), job.line)),
                    _ => None,
                });
            if let Some((i, request, line)) = found {
                next = i + 1;
                break Some((request, line));
            }
            next = ahead.len();
            if ahead.len() >= PREFLIGHT_LOOKAHEAD || matches!(ahead.back(), Some(Item::Error(_))) {
                break None;
            }
            let item = tokio::select! {
                biased;
                code = signals.recv() => return Preflight::Signal(code),
                item = jobs.recv() => item,
            };
            match item {
                Some(item) => ahead.push_back(item),
                None => break None,
            }
        };
        let Some((request, line)) = request else {
            break;
        };
        tried += 1;
        let request = request.into_builder().dry_run(true).build_unchecked();
        let mut tries = 0u32;
        let mut waiting = control.waiting.record(line);
        loop {
            let answer = tokio::select! {
                biased;
                code = signals.recv() => return Preflight::Signal(code),
                answer = client.clone().oneshot(request.clone()) => answer,
            };
            let e = match answer {
                Ok(_) | Err(KmsError::DryRunOperation(_)) => {
                    control.answered();
                    return Preflight::Go;
                }
                Err(e) => e,
            };
            match control.classify(&e, destination) {
                Verdict::Stop(msg) => {
                    return Preflight::Stop(format!(
                        "the dry run of the record on input line {line} says {msg}"
                    ));
                }
                Verdict::Final => {
                    let (code, _) = describe(&e);
                    same_code = match same_code {
                        None => Some(Some(code)),
                        Some(Some(c)) if c == code => Some(Some(c)),
                        Some(_) => Some(None),
                    };
                    last_failure = chain(&e);
                    break;
                }
                Verdict::Retry => {
                    waiting.failed(&describe(&e).0);
                    tries = tries.saturating_add(1);
                    let wait = outcome::backoff(tries, e.is_throttling(), control.jitter.next());
                    tokio::select! {
                        biased;
                        code = signals.recv() => return Preflight::Signal(code),
                        () = tokio::time::sleep(wait) => {}
                    }
                }
            }
        }
    }
    if max_same_failures != 0
        && tried >= most
        && let Some(Some(code)) = same_code
    {
        return Preflight::Stop(format!(
            "the dry run of each of the {tried} records tried failed with {code} (the last: \
             {last_failure}); every record failing the same way points at the configuration \
             (the destination or source key, the encryption context, the input's fields)"
        ));
    }
    if tried > 0 {
        eprintln!(
            "kms-reencrypt: warning: could not check the permissions and the destination key: \
             the dry run of each of the first {tried} records failed for that record's own \
             sake (the last: {last_failure})"
        );
    }
    Preflight::Go
}

/// The output line of a record KMS answered, or a failed `UnexpectedResponse`
/// record for a success without a ciphertext.
fn answered(
    args: &Args,
    id: serde_json::Value,
    line: u64,
    digest: &input::Digest,
    context: Option<tower_kms::EncryptionContext>,
    out: &ReEncryptResponse,
) -> Record {
    if args.dry_run {
        return Record::ok(args, id, line, digest, context, None);
    }
    match &out.ciphertext_blob {
        Some(blob) if !blob.is_empty() => Record::ok(args, id, line, digest, context, Some(out)),
        _ => Record::failed(
            args,
            id,
            line,
            digest,
            "UnexpectedResponse".into(),
            "KMS answered ReEncrypt with success but no CiphertextBlob".into(),
        ),
    }
}

/// Why the run stops when `count` records in a row failed with `code`
/// (`--max-same-failures`); `last`: the last one's error.
fn same_failures(code: &str, count: usize, last: Option<&str>) -> String {
    format!(
        "{count} records in a row failed with {code}{}: the same failure for every record \
         points at the configuration (--source-key-id, --context-mode, the encryption context, \
         the input's fields) rather than at the records, so they were not written as failed \
         (--max-same-failures is {count}; 0 turns this off). After fixing a key, its policy or \
         grants, run again with the same arguments to do them; other arguments \
         (--source-key-id, the context) need a new --output",
        last.map(|l| format!(" (the last: {l})"))
            .unwrap_or_default()
    )
}

/// SIGINT and SIGTERM.
struct Signals {
    int: Signal,
    term: Signal,
}

impl Signals {
    fn new() -> Result<Self, String> {
        let err = |e: std::io::Error| format!("cannot handle signals: {e}");
        Ok(Self {
            int: signal(SignalKind::interrupt()).map_err(err)?,
            term: signal(SignalKind::terminate()).map_err(err)?,
        })
    }

    /// The exit status for the next signal: 130 (SIGINT) or 143 (SIGTERM).
    async fn recv(&mut self) -> u8 {
        tokio::select! {
            _ = self.int.recv() => 130,
            _ = self.term.recv() => 143,
        }
    }
}

/// Says that a signal stopped the run, and what happens now.
fn interrupted_now(in_flight: usize) {
    eprintln!(
        "\r\x1b[Kkms-reencrypt: interrupted; finishing {in_flight} records in flight (signal \
         again to exit now)"
    );
}

/// The second signal: exits at once with its status (still safe: a line
/// the writer had not finished is cut off on resume).
fn exit_now(code: u8) -> ! {
    eprintln!("kms-reencrypt: exiting now; run again to continue");
    std::process::exit(i32::from(code));
}

/// Aborts a task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Why the run stopped early.
enum Stop {
    Signal(u8),
    Fatal(String),
    Input(String),
    Writer,
}

async fn run(args: Arc<Args>) -> Result<u8, String> {
    let started = Instant::now();
    let mut signals = Signals::new()?;
    let attempts = Arc::new(Attempts::default());
    let client = build_client(&args, attempts.clone())?;
    let hasher = IdHasher::new();
    let mut opened = output::open(&args.output, &args, &hasher)?;
    let input = match &args.input {
        Some(p) => Some(
            std::fs::File::open(p)
                .map_err(|e| format!("cannot open --input {}: {e}", p.display()))?,
        ),
        None => None,
    };
    let input_len = input
        .as_ref()
        .and_then(|f| f.metadata().ok())
        .map(|m| m.len());

    let stats = Arc::new(Stats::default());
    let prior = opened.existing.tally();
    let reader = Arc::new(Reader {
        args: args.clone(),
        existing: std::mem::take(&mut opened.existing),
        hasher,
        stats: stats.clone(),
    });
    // Resuming from a file: check the whole input against the output before
    // anything is written (from standard input, records are checked as they are
    // read, and a changed one stops the run there).
    if let Some(path) = args.input.as_ref().filter(|_| !reader.existing.is_empty()) {
        let f = std::fs::File::open(path)
            .map_err(|e| format!("cannot open --input {}: {e}", path.display()))?;
        let r = reader.clone();
        let check =
            tokio::task::spawn_blocking(move || r.check(BufReader::with_capacity(1 << 20, f)));
        tokio::select! {
            code = signals.recv() => return Ok(code),
            checked = check => checked.map_err(|e| format!("the input check failed: {e}"))??,
        }
    }

    // Reader.
    let (jobs_tx, mut jobs) = mpsc::channel::<Item>(1024);
    {
        std::thread::Builder::new()
            .name("kms-reencrypt-input".into())
            .spawn(move || {
                let input: Box<dyn BufRead> = match input {
                    Some(f) => Box::new(BufReader::with_capacity(1 << 20, f)),
                    None => Box::new(BufReader::with_capacity(1 << 20, std::io::stdin())),
                };
                reader.run(input, jobs_tx)
            })
            .map_err(|e| format!("cannot start the input thread: {e}"))?;
    }

    let control = Arc::new(Control::default());
    let destination = Arc::new(Destination::new(&args.destination_key_id));
    // Says, whether stderr is a terminal or a log, that records are waiting
    // to be tried again rather than the run hung.
    let tty = std::io::stderr().is_terminal();
    let watchdog = {
        let control = control.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(outcome::WAITING_WARNING);
            tick.tick().await;
            loop {
                tick.tick().await;
                let warning = control
                    .waiting
                    .warning(Instant::now(), outcome::WAITING_WARNING);
                if let Some(w) = warning {
                    eprintln!(
                        "{}kms-reencrypt: warning: {w}",
                        if tty { "\r\x1b[K" } else { "" }
                    );
                }
            }
        })
    };
    // Stops the watchdog however `run` ends.
    let _watchdog = AbortOnDrop(watchdog);
    tokio::select! {
        biased;
        code = signals.recv() => {
            eprintln!("kms-reencrypt: interrupted before anything was written");
            return Ok(code);
        }
        () = resolve_destination(&client, &args, &destination, &control) => {}
    }
    let mut ahead = VecDeque::new();
    match preflight(
        &client,
        args.max_same_failures,
        &destination,
        &control,
        &mut signals,
        &mut jobs,
        &mut ahead,
    )
    .await
    {
        Preflight::Go => {}
        Preflight::Stop(msg) => {
            return Err(format!("stopped before writing anything: {msg}"));
        }
        Preflight::Signal(code) => {
            eprintln!("kms-reencrypt: interrupted before anything was written");
            return Ok(code);
        }
    }

    let (start, cut) = (opened.start, opened.cut.clone());
    let file = opened.prepare(&args)?;
    let shown = args.output.display();
    if start == Start::Older {
        eprintln!(
            "kms-reencrypt: {shown} has no header: an older kms-reencrypt wrote it and did not \
             record its arguments or inputs; adopted for this run's arguments (its {} records \
             are not checked against the input) and rewritten with a header first",
            prior.ok + prior.failed + prior.redo
        );
    }
    match cut {
        Some(c @ output::Cut { damage: None, .. }) => eprintln!(
            "kms-reencrypt: dropped a partial last line ({} bytes) from {shown}",
            c.bytes
        ),
        Some(
            c @ output::Cut {
                damage: Some(_), ..
            },
        ) => eprintln!(
            "kms-reencrypt: line {} of {shown} was damaged ({}): cut the output there \
             ({} bytes, {} complete lines); the records from there on are done again",
            c.line,
            c.damage.as_deref().unwrap_or(""),
            c.bytes,
            c.lines
        ),
        None => {}
    }

    let (prior_ok, prior_failed) = (prior.ok, prior.failed);
    let mut codes = prior.codes;
    if prior.redo > 0 {
        eprintln!(
            "kms-reencrypt: {} records of {shown} failed with a transient error (throttling, a \
             server fault, a timeout, a broken connection) or a configuration error \
             (AccessDenied, ...): doing them again",
            prior.redo,
        );
    }

    // Writer.
    let (out_tx, out_rx) = mpsc::channel::<Record>(8192);
    let writer = {
        let (stats, rt, interval) = (
            stats.clone(),
            tokio::runtime::Handle::current(),
            args.sync_interval,
        );
        tokio::task::spawn_blocking(move || output::write_loop(file, out_rx, interval, stats, rt))
    };

    // Progress line.
    let progress = tty.then(|| {
        let (stats, client, attempts) = (stats.clone(), client.clone(), attempts.clone());
        let control = control.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.tick().await;
            loop {
                tick.tick().await;
                let mut line = progress_line(&stats, started, input_len);
                line.push_str(&format!(
                    ", {} retrying, {}",
                    control.retrying.load(Ordering::Relaxed),
                    pacing(&client, &attempts, Wording::Progress)
                ));
                eprint!("\r\x1b[K{line}");
            }
        })
    });

    // One record = one call of this service, behind tower's limits. A record
    // keeps its place and its concurrency permit while it waits to be tried
    // again: the records in flight stay bounded, and a struggling KMS slows
    // intake instead of growing a queue of records to retry.
    let breaker = Arc::new(Breaker::new(args.max_same_failures));
    let work = {
        let (client, tx, args, control, destination, breaker) = (
            client.clone(),
            out_tx.clone(),
            args.clone(),
            control.clone(),
            destination.clone(),
            breaker.clone(),
        );
        tower::service_fn(move |job: Box<Job>| {
            let (client, tx, args, control, destination, breaker) = (
                client.clone(),
                tx.clone(),
                args.clone(),
                control.clone(),
                destination.clone(),
                breaker.clone(),
            );
            async move {
                let Job {
                    id,
                    line,
                    digest,
                    request,
                    destination_context,
                    ..
                } = *job;
                let mut tries = 0u32;
                let mut waiting = control.waiting.record(line);
                // The record's line, and for a KMS error, the error.
                let (record, why) = loop {
                    let e = match client.clone().oneshot(request.clone()).await {
                        Ok(out) => {
                            control.answered();
                            destination.learn(out.key_id.as_deref());
                            let record =
                                answered(&args, id, line, &digest, destination_context, &out);
                            break (record, None);
                        }
                        Err(KmsError::DryRunOperation(_)) if args.dry_run => {
                            control.answered();
                            let record =
                                Record::ok(&args, id, line, &digest, destination_context, None);
                            break (record, None);
                        }
                        Err(e) => e,
                    };
                    match control.classify(&e, &destination) {
                        Verdict::Final => {
                            let (code, message) = describe(&e);
                            let record = Record::failed(&args, id, line, &digest, code, message);
                            break (record, Some(chain(&e)));
                        }
                        Verdict::Stop(msg) => {
                            control.fatal(msg);
                            control.abandoned.fetch_add(1, Ordering::Relaxed);
                            return Ok(());
                        }
                        Verdict::Retry => {
                            waiting.failed(&describe(&e).0);
                            tries = tries.saturating_add(1);
                            let wait =
                                outcome::backoff(tries, e.is_throttling(), control.jitter.next());
                            if !control.pause(wait).await {
                                // Stopped: abandoned, unwritten; the next run does it.
                                control.abandoned.fetch_add(1, Ordering::Relaxed);
                                return Ok(());
                            }
                        }
                    }
                };
                drop(waiting);
                let code = record.code().map(str::to_owned);
                let records = match breaker.finished(line, code.as_deref(), record) {
                    Step::Write(records) => records,
                    Step::Tripped { code, count } => {
                        control.fatal(same_failures(&code, count, why.as_deref()));
                        control.abandoned.fetch_add(count as u64, Ordering::Relaxed);
                        return Ok(());
                    }
                    Step::Dropped => {
                        control.abandoned.fetch_add(1, Ordering::Relaxed);
                        return Ok(());
                    }
                };
                // Fails only when the writer has stopped (an I/O error, reported
                // below); the records are then simply not done.
                for record in records {
                    if tx.send(record).await.is_err() {
                        break;
                    }
                }
                Ok::<(), Infallible>(())
            }
        })
    };
    let mut svc = ServiceBuilder::new()
        .concurrency_limit(args.concurrency)
        .option_layer(args.rate.map(|r| {
            let (num, per) = args::rate(r);
            RateLimitLayer::new(num, per)
        }))
        .service(work);

    let is_fatal_set = || control.fatal_error().is_some();
    let mut inflight = JoinSet::new();
    let mut stop = None;
    'intake: loop {
        let item = tokio::select! {
            biased;
            code = signals.recv() => { stop = Some(Stop::Signal(code)); break 'intake; }
            item = next_item(&mut ahead, &mut jobs) => item,
        };
        match item {
            None => break,
            Some(Item::Error(e)) => {
                stop = Some(Stop::Input(e));
                break;
            }
            Some(Item::Invalid(r)) => {
                if out_tx.send(r).await.is_err() {
                    stop = Some(Stop::Writer);
                    break;
                }
            }
            Some(Item::Job(job)) => {
                tokio::select! {
                    biased;
                    code = signals.recv() => { stop = Some(Stop::Signal(code)); break 'intake; }
                    ready = svc.ready() => match ready { Ok(_) => {}, Err(e) => match e {} },
                }
                if is_fatal_set() {
                    break;
                }
                inflight.spawn(svc.call(job));
            }
        }
        while inflight.try_join_next().is_some() {}
        if is_fatal_set() {
            break;
        }
        if out_tx.is_closed() {
            stop = Some(Stop::Writer);
            break;
        }
    }
    if let Some(fatal) = control.fatal_error() {
        stop = Some(Stop::Fatal(fatal));
    }
    if stop.is_some() {
        // Records waiting to be tried again are abandoned; records in a KMS call
        // finish it (and are written if it succeeds). At the end of the input,
        // every record goes on until it is done.
        control.stop();
    }

    // Drain: no new records; in-flight ones finish and are written. Signals
    // still stop the run here (the whole run, for an input no larger than
    // --concurrency), and so does a configuration error a record runs into.
    drop(ahead);
    drop(jobs);
    drop(svc);
    let mut interrupted = matches!(stop, Some(Stop::Signal(_)));
    if interrupted {
        interrupted_now(inflight.len());
    }
    loop {
        let code = tokio::select! {
            biased;
            code = signals.recv() => code,
            joined = inflight.join_next() => match joined {
                Some(_) => continue,
                None => break,
            },
        };
        if interrupted {
            exit_now(code);
        }
        interrupted = true;
        stop.get_or_insert(Stop::Signal(code));
        control.stop();
        interrupted_now(inflight.len());
    }
    if stop.is_none()
        && let Some(fatal) = control.fatal_error()
    {
        stop = Some(Stop::Fatal(fatal));
    }
    // The failures of a streak short of --max-same-failures are theirs when the
    // run ended by itself; after a stop (a signal, a configuration error, ...)
    // they are left to the next run, which does them again: the streak may be
    // why the run was stopped.
    let held = breaker.take();
    if stop.is_none() {
        for record in held {
            if out_tx.send(record).await.is_err() {
                break;
            }
        }
    } else {
        control
            .abandoned
            .fetch_add(held.len() as u64, Ordering::Relaxed);
    }
    // Only the writer's last lines are left: a signal now exits at once.
    tokio::spawn(async move { exit_now(signals.recv().await) });
    drop(out_tx);
    let written = writer
        .await
        .map_err(|e| format!("the output writer failed: {e}"))?;
    if let Some(p) = progress {
        p.abort();
        eprint!("\r\x1b[K");
    }
    let written = match written {
        Ok(c) => c,
        Err(e) => {
            return Err(format!(
                "cannot write --output {}: {e}",
                args.output.display()
            ));
        }
    };
    for (c, n) in written {
        *codes.entry(c).or_default() += n;
    }

    let (ok, failed) = (
        stats.ok.load(Ordering::Relaxed),
        stats.failed.load(Ordering::Relaxed),
    );
    let skipped = stats.skipped.load(Ordering::Relaxed);
    let secs = started.elapsed().as_secs_f64();
    let codes_text = codes
        .iter()
        .map(|(c, n)| format!("{c} {n}"))
        .collect::<Vec<_>>()
        .join(", ");
    eprintln!(
        "kms-reencrypt: {}{} records in {}: {} ok, {} failed{}; this run: {} ok, {} failed, \
         {} skipped as already done{}, {:.1} s, {:.0} records/s; {}",
        if args.dry_run { "dry run: " } else { "" },
        prior_ok + prior_failed + ok + failed,
        args.output.display(),
        prior_ok + ok,
        prior_failed + failed,
        if codes_text.is_empty() {
            String::new()
        } else {
            format!(" ({codes_text})")
        },
        ok,
        failed,
        skipped,
        match stats.redone.load(Ordering::Relaxed) {
            0 => String::new(),
            n => format!(", {n} done again after a transient failure"),
        },
        secs,
        (ok + failed) as f64 / secs.max(1e-9),
        pacing(&client, &attempts, Wording::Summary),
    );
    let abandoned = control.abandoned.load(Ordering::Relaxed);
    Ok(match stop {
        Some(Stop::Signal(code)) => {
            if let Some(e) = control.fatal_error() {
                eprintln!("kms-reencrypt: stopped meanwhile: {e}");
            }
            eprintln!(
                "kms-reencrypt: interrupted ({abandoned} records waiting to be tried again were \
                 left for the next run); run again with the same arguments to continue"
            );
            code
        }
        Some(Stop::Fatal(e)) => {
            eprintln!(
                "kms-reencrypt: stopped: {e}\nkms-reencrypt: the {abandoned} records it hit or \
                 that were waiting to be tried again were not recorded; fix the configuration \
                 and run again with the same arguments"
            );
            2
        }
        Some(Stop::Input(e)) => {
            eprintln!("kms-reencrypt: stopped: {e}");
            2
        }
        Some(Stop::Writer) => 2,
        None if prior_failed + failed > 0 => 1,
        None => 0,
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Wording {
    Progress,
    Summary,
}

/// Throttled attempts and the client-side rate: `throttled attempts 41 of 1089;
/// adaptive rate 96/s` (summary) or `throttled 41 of 1089 attempts, rate 96/s`
/// (progress line). The rate is "unlimited" until KMS first throttles.
fn pacing(client: &KmsClient, attempts: &Attempts, wording: Wording) -> String {
    let (throttled, sent) = attempts.get();
    let rate = match client.rate_limiter().map(|l| l.snapshot().fill_rate) {
        None => "standard retry mode".to_owned(),
        Some(None) => "adaptive rate unlimited".to_owned(),
        Some(Some(r)) => format!("adaptive rate {r:.0}/s"),
    };
    match wording {
        Wording::Summary => format!("throttled attempts {throttled} of {sent}; {rate}"),
        Wording::Progress => format!("throttled {throttled} of {sent} attempts, {rate}"),
    }
}

fn progress_line(stats: &Stats, started: Instant, input_len: Option<u64>) -> String {
    let ok = stats.ok.load(Ordering::Relaxed);
    let failed = stats.failed.load(Ordering::Relaxed);
    let skipped = stats.skipped.load(Ordering::Relaxed);
    let read = stats.bytes_read.load(Ordering::Relaxed);
    let secs = started.elapsed().as_secs_f64().max(1e-9);
    let rate = (ok + failed) as f64 / secs;
    let mut line = format!(
        "{} done, {failed} failed, {skipped} skipped, {rate:.0}/s",
        ok + failed
    );
    if let Some(total) = input_len.filter(|&t| t > 0 && read > 0) {
        let frac = (read as f64 / total as f64).min(1.0);
        line.push_str(&format!(", {:.0}% read", frac * 100.0));
        // Records expected in the whole input, from the bytes per record so far.
        let seen = ok + failed + skipped;
        if rate > 0.0 && seen > 0 {
            let expected = seen as f64 / frac;
            let left = (expected - seen as f64).max(0.0) / rate;
            line.push_str(&format!(
                ", ETA {}:{:02}",
                left as u64 / 60,
                left as u64 % 60
            ));
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    }

    #[test]
    fn retry_mode_is_the_flag_then_aws_retry_mode_then_adaptive() {
        let adaptive = |flag, vars: &[(&str, &str)]| {
            retry_config(flag, env(vars))
                .map(|c| c.is_adaptive())
                .map_err(|e| e.to_string())
        };
        let (std, ada) = (Some(RetryMode::Standard), Some(RetryMode::Adaptive));
        assert_eq!(adaptive(None, &[]), Ok(true), "default");
        assert_eq!(adaptive(None, &[("AWS_RETRY_MODE", " ")]), Ok(true));
        assert_eq!(adaptive(None, &[("AWS_RETRY_MODE", "standard")]), Ok(false));
        assert_eq!(adaptive(None, &[("AWS_RETRY_MODE", "Adaptive")]), Ok(true));
        assert_eq!(adaptive(std, &[("AWS_RETRY_MODE", "adaptive")]), Ok(false));
        assert_eq!(adaptive(ada, &[("AWS_RETRY_MODE", "standard")]), Ok(true));
        // A bad variable is an error, unless the flag makes it moot.
        let err = adaptive(None, &[("AWS_RETRY_MODE", "legacy")]).unwrap_err();
        assert!(err.contains("AWS_RETRY_MODE"), "{err}");
        assert_eq!(adaptive(std, &[("AWS_RETRY_MODE", "legacy")]), Ok(false));
        // The other retry variables still apply.
        let c = retry_config(ada, env(&[("AWS_MAX_ATTEMPTS", "5")])).unwrap();
        assert_eq!(c.max_attempts(), 5);
        let c = retry_config(None, env(&[("AWS_NEW_RETRIES_2026", "true")])).unwrap();
        assert!(c.is_2026_revision() && c.is_adaptive());
    }

    #[test]
    fn pacing_says_throttled_attempts_and_the_rate() {
        let attempts = Attempts::default();
        attempts.sent.store(1089, Ordering::Relaxed);
        attempts.throttled.store(41, Ordering::Relaxed);
        let client = |cfg: RetryConfig| {
            KmsClient::builder()
                .region("us-east-1")
                .retry_config(cfg)
                .build()
                .unwrap()
        };
        let adaptive = client(RetryConfig::adaptive());
        assert_eq!(
            pacing(&adaptive, &attempts, Wording::Summary),
            "throttled attempts 41 of 1089; adaptive rate unlimited"
        );
        assert_eq!(
            pacing(&adaptive, &attempts, Wording::Progress),
            "throttled 41 of 1089 attempts, adaptive rate unlimited"
        );
        let standard = client(RetryConfig::standard());
        assert_eq!(
            pacing(&standard, &attempts, Wording::Summary),
            "throttled attempts 41 of 1089; standard retry mode"
        );
    }
}
