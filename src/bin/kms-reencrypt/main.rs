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
//! each produces exactly one output line with its id and input line number: the
//! new ciphertext, destination context and key ARN, or the error code and message.
//! Run `kms-reencrypt --help` for every option, the record shapes and the exit
//! statuses.
//!
//! # How it is put together
//!
//! ```text
//! reader thread    JSON Lines -> validated ReEncryptRequests; bad lines, duplicate ids
//!      │           and records the output already holds are handled here
//!      ▼
//! driver           svc.ready().await; svc.call(job) -> spawned
//!      │ ConcurrencyLimit     --concurrency records in flight (tower::limit)
//!      │ RateLimit            --rate records started per second (tower::limit)
//!      │ service_fn           one record: KmsClient call + hand the line to the writer
//!      ▼ KmsClient            grant tokens, timeouts, standard retries, SigV4 ...
//!          connector: Buffer -> RateLimit -> HyperConnector
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
//! The output is append-only and locked while a run uses it. On start, a partial
//! last line (a crash or power loss mid-write) is truncated away, and the ids in
//! the complete lines are skipped, so a run killed at any point (SIGKILL, power
//! loss) and started again with the same arguments loses and duplicates nothing.
//! SIGINT/SIGTERM stop intake, let in-flight records finish, flush and exit
//! 130/143; a second signal exits at once (still safe).
//!
//! Errors that indict the configuration rather than the record (credentials,
//! signatures, an unreachable endpoint) stop the run without writing a record for
//! the records they hit, so fixing the configuration and running again finishes
//! the job. Every other KMS error is that record's final result.

mod args;
mod input;
mod output;

use std::convert::Infallible;
use std::io::{BufRead, BufReader, IsTerminal as _};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tower::buffer::Buffer;
use tower::limit::{RateLimit, RateLimitLayer};
use tower::{Service, ServiceBuilder, ServiceExt};
use tower_kms::connector::HyperConnector;
use tower_kms::{EncryptRequest, KmsClient, KmsError, TimeoutKind, TransportKind};

use crate::args::Args;
use crate::input::{Item, Job, Reader};
use crate::output::{IdHasher, Record};

/// Counters shared by the reader, the writer and the progress line.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    /// Records written as ok in this run.
    pub(crate) ok: AtomicU64,
    /// Records written as failed in this run.
    pub(crate) failed: AtomicU64,
    /// Records skipped because the output already has them.
    pub(crate) skipped: AtomicU64,
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

/// Errors that say the client's configuration or environment is wrong, not the
/// record: they stop the run and the record is retried by the next run.
fn is_fatal(e: &KmsError) -> bool {
    match e {
        KmsError::Credentials(_)
        | KmsError::Signing(_)
        | KmsError::UnrecognizedClient(_)
        | KmsError::InvalidSignature(_)
        | KmsError::ExpiredToken(_)
        | KmsError::Authentication(_) => true,
        KmsError::Transport(t) => t.kind() == TransportKind::Connect,
        KmsError::Timeout(t) => t.kind() == TimeoutKind::Connect,
        _ => false,
    }
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

fn build_client(args: &Args) -> Result<KmsClient, String> {
    let mut b = KmsClient::builder();
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
    b.env().build().map_err(|e| e.to_string())
}

/// Checks the destination key with an `Encrypt` dry run before touching anything.
async fn preflight(client: &KmsClient, args: &Args) -> Result<(), String> {
    let req = EncryptRequest::builder()
        .key_id(args.destination_key_id.clone())
        .plaintext(vec![0u8])
        .dry_run(true)
        .set_grant_tokens(args.grant_tokens.clone())
        .build_unchecked();
    match client.send(req).await {
        Ok(_) | Err(KmsError::DryRunOperation(_)) => Ok(()),
        Err(e) if is_fatal(&e) => Err(chain(&e)),
        Err(
            e @ (KmsError::NotFound(_)
            | KmsError::Disabled(_)
            | KmsError::KmsInvalidState(_)
            | KmsError::InvalidKeyUsage(_)),
        ) => Err(format!(
            "destination key {:?} cannot be used: {}",
            args.destination_key_id,
            chain(&e)
        )),
        Err(e) => {
            eprintln!(
                "kms-reencrypt: warning: could not check the destination key: {}",
                chain(&e)
            );
            Ok(())
        }
    }
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

/// Why intake stopped early.
enum Stop {
    Signal(u8),
    Fatal(String),
    Input(String),
    Writer,
}

async fn run(args: Arc<Args>) -> Result<u8, String> {
    let started = Instant::now();
    let mut signals = Signals::new()?;
    let client = build_client(&args)?;
    let hasher = IdHasher::new();
    let (file, existing) = output::open(&args.output, &args, &hasher)?;
    if existing.truncated > 0 {
        eprintln!(
            "kms-reencrypt: dropped a partial last line ({} bytes) from {}",
            existing.truncated,
            args.output.display()
        );
    }
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
    preflight(&client, &args).await?;

    let stats = Arc::new(Stats::default());
    let (prior_ok, prior_failed) = (existing.ok, existing.failed);
    let mut codes = existing.codes.clone();

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

    // Reader.
    let (jobs_tx, mut jobs) = mpsc::channel::<Item>(1024);
    {
        let reader = Reader {
            args: args.clone(),
            existing,
            hasher,
            stats: stats.clone(),
        };
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

    // Progress line.
    let progress = std::io::stderr().is_terminal().then(|| {
        let stats = stats.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.tick().await;
            loop {
                tick.tick().await;
                eprint!("\r\x1b[K{}", progress_line(&stats, started, input_len));
            }
        })
    });

    // One record = one call of this service, behind tower's limits.
    let fatal: Arc<Mutex<Option<String>>> = Arc::default();
    let work = {
        let (client, tx, args, fatal) =
            (client.clone(), out_tx.clone(), args.clone(), fatal.clone());
        tower::service_fn(move |job: Box<Job>| {
            let (client, tx, args, fatal) =
                (client.clone(), tx.clone(), args.clone(), fatal.clone());
            async move {
                let Job {
                    id,
                    line,
                    request,
                    destination_context,
                } = *job;
                let record = match client.oneshot(request).await {
                    Ok(out) => {
                        let out = (!args.dry_run).then_some(&out);
                        Record::ok(&args, id, line, destination_context, out)
                    }
                    Err(KmsError::DryRunOperation(_)) if args.dry_run => {
                        Record::ok(&args, id, line, destination_context, None)
                    }
                    Err(e) if is_fatal(&e) => {
                        let mut slot = fatal.lock().unwrap_or_else(|p| p.into_inner());
                        slot.get_or_insert_with(|| chain(&e));
                        return Ok(());
                    }
                    Err(e) => {
                        let (code, message) = describe(&e);
                        Record::failed(&args, id, line, code, message)
                    }
                };
                // Fails only when the writer has stopped (an I/O error, reported
                // below); the record is then simply not done.
                let _ = tx.send(record).await;
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

    let is_fatal_set = || fatal.lock().map(|s| s.is_some()).unwrap_or(true);
    let mut inflight = JoinSet::new();
    let mut stop = None;
    'intake: loop {
        let item = tokio::select! {
            biased;
            code = signals.recv() => { stop = Some(Stop::Signal(code)); break 'intake; }
            item = jobs.recv() => item,
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
    if let Some(fatal) = fatal.lock().ok().and_then(|s| s.clone()) {
        stop = Some(Stop::Fatal(fatal));
    }

    // Drain: no new records; in-flight ones finish and are written.
    drop(jobs);
    drop(svc);
    if let Some(Stop::Signal(_)) = stop {
        eprintln!(
            "\r\x1b[Kkms-reencrypt: interrupted; finishing {} records in flight (signal again to exit now)",
            inflight.len()
        );
        tokio::spawn(async move {
            let code = signals.recv().await;
            eprintln!("kms-reencrypt: exiting now; run again to continue");
            std::process::exit(i32::from(code));
        });
    }
    while inflight.join_next().await.is_some() {}
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
         {} skipped as already done, {:.1} s, {:.0} records/s",
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
        secs,
        (ok + failed) as f64 / secs.max(1e-9),
    );
    Ok(match stop {
        Some(Stop::Signal(code)) => {
            eprintln!("kms-reencrypt: interrupted; run again with the same arguments to continue");
            code
        }
        Some(Stop::Fatal(e)) => {
            eprintln!(
                "kms-reencrypt: stopped: {e}\nkms-reencrypt: the records it hit were not \
                 recorded; fix the configuration and run again with the same arguments"
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
