//! `kms-local`: the local KMS of `tower_kms::local` as a standalone server on
//! 127.0.0.1 (the `kms-local` feature).
//!
//! ```text
//! cargo install tower-kms --features kms-local
//! kms-local --state kms.state --seed fixtures.json
//! ```
//!
//! `kms-local --help` documents every flag. It logs one line per request
//! (request id, operation, status, error code, principal, latency), keeps its
//! state in `--state PATH` if given (see `tower_kms::local::Storage`: a
//! request is answered once its change is on disk), starts a new state from
//! `--seed PATH` (see `tower_kms::local::Seed`), and stops cleanly on SIGINT
//! or SIGTERM: it stops accepting, lets the requests in flight finish (up to
//! `--shutdown-grace-ms`), flushes the state, prints the served/throttled
//! summary and exits 0.

mod args;

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use tower_kms::local::{IdentityPolicy, LocalKms, Opened, RequestLog, RequestStats, Seed, Storage};
use tower_kms::{KeySpec, KeyUsageType};

use crate::args::Args;

fn main() -> ExitCode {
    let args = match args::parse(std::env::args_os().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            // `--help` and `--version` to stdout with status 0, usage errors to
            // stderr with status 2.
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("kms-local: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("kms-local: {msg}");
            ExitCode::FAILURE
        }
    }
}

/// An error and its causes, on one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut next = e.source();
    while let Some(cause) = next {
        let _ = write!(out, ": {cause}");
        next = cause.source();
    }
    out
}

/// The line logged for one request.
fn log_line(log: &RequestLog) -> String {
    let or_dash = |s: Option<&str>| s.filter(|s| !s.is_empty()).unwrap_or("-").to_string();
    format!(
        "{} {} {} {} {} {:.1}ms",
        log.request_id,
        or_dash(Some(&log.operation)),
        log.status.as_u16(),
        or_dash(log.error_code.as_deref()),
        or_dash(log.principal.as_deref()),
        log.elapsed.as_secs_f64() * 1000.0
    )
}

/// One line: requests served and throttled, in total and per operation.
fn summary(stats: &RequestStats) -> String {
    let mut line = format!(
        "summary: served={} throttled={}",
        stats.served, stats.throttled
    );
    for (op, s) in &stats.operations {
        let _ = write!(
            line,
            " | {op} served={} throttled={}",
            s.served, s.throttled
        );
    }
    line
}

/// The local KMS the flags describe, opened (state loaded or created, seed
/// applied).
fn open(args: &Args) -> Result<LocalKms, String> {
    let quiet = args.quiet;
    let mut builder = LocalKms::builder()
        .region(&args.region)
        .account_id(&args.account)
        .grant_propagation_delay(args.grant_propagation)
        .on_request(Arc::new(move |log: &RequestLog| {
            if !quiet {
                println!("{}", log_line(log));
            }
        }));
    for c in &args.credentials {
        builder = match &c.principal {
            Some(p) => builder.credentials_for(&c.access_key_id, &c.secret, p.clone()),
            None => builder.credentials(&c.access_key_id, &c.secret),
        };
    }
    for (principal, path) in &args.identity_policies {
        let flag = format!("--identity-policy {}={}", principal.arn(), path.display());
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("{flag}: cannot read {}: {e}", path.display()))?;
        let policy = IdentityPolicy::from_json(&text)
            .map_err(|e| format!("{flag}: not an identity policy: {}", e.message()))?;
        builder = builder.identity_policy(principal, policy);
    }
    for (quota, rate) in &args.quotas {
        builder = builder.quota(*quota, *rate);
    }
    let mut storage = match &args.state {
        Some(path) => Storage::file(path),
        None => Storage::memory(),
    };
    if let Some(path) = &args.seed {
        storage = storage.seed(Seed::from_file(path).map_err(|e| chain(&e))?);
    }
    builder.open(storage).map_err(|e| chain(&e))
}

/// Writes `n` kms-reencrypt input records encrypted under `key` to `path`.
fn write_records(kms: &LocalKms, key: &str, n: u64, path: &Path) -> Result<(), String> {
    use std::io::Write as _;
    let shown = path.display();
    let file = std::fs::File::create(path).map_err(|e| format!("cannot create {shown}: {e}"))?;
    let mut w = std::io::BufWriter::new(file);
    for i in 0..n {
        let context = serde_json::json!({ "n": i.to_string() });
        let plaintext = format!("secret number {i:024}");
        let out = kms
            .invoke(
                "Encrypt",
                serde_json::json!({
                    "KeyId": key,
                    "Plaintext": base64::Engine::encode(
                        &base64::engine::general_purpose::STANDARD,
                        plaintext,
                    ),
                    "EncryptionContext": context,
                }),
            )
            .map_err(|e| format!("cannot encrypt record {i}: {e}"))?;
        let record = serde_json::json!({
            "id": format!("r{i}"),
            "ciphertext": out["CiphertextBlob"],
            "context": context,
        });
        writeln!(w, "{record}").map_err(|e| format!("cannot write {shown}: {e}"))?;
    }
    w.flush().map_err(|e| format!("cannot write {shown}: {e}"))
}

/// SIGINT or SIGTERM, whichever comes first (Ctrl-C elsewhere). Installed
/// before the server says it is ready, so a signal right after that line is
/// never the default (killing) action.
struct Stop {
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
}

impl Stop {
    fn new() -> Result<Self, String> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let err = |e: std::io::Error| format!("cannot handle signals: {e}");
            Ok(Self {
                int: signal(SignalKind::interrupt()).map_err(err)?,
                term: signal(SignalKind::terminate()).map_err(err)?,
            })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    async fn recv(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.int.recv() => "SIGINT",
                _ = self.term.recv() => "SIGTERM",
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            "Ctrl-C"
        }
    }
}

async fn run(args: Args) -> Result<(), String> {
    let mut stop = Stop::new()?;
    let kms = open(&args)?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let demo_key = if args.demo_key {
        Some(
            kms.create_key(KeySpec::SymmetricDefault, KeyUsageType::EncryptDecrypt)
                .map_err(|e| format!("cannot create the demo key: {e}"))?,
        )
    } else {
        None
    };
    if let (Some((n, path)), Some(key)) = (&args.write_records, &demo_key) {
        write_records(&kms, key, *n, path)?;
        println!("wrote {n} records to {}", path.display());
    }
    match (kms.state_file(), kms.opened()) {
        (Some(path), Opened::Loaded) => println!(
            "state: {} (loaded; key material in plaintext)",
            path.display()
        ),
        (Some(path), _) => println!(
            "state: {} (created; key material in plaintext)",
            path.display()
        ),
        (None, _) => println!("state: in memory (--state PATH keeps it)"),
    }
    if let Some(path) = &args.seed {
        if kms.opened() == Opened::Loaded {
            println!(
                "seed: {}: principals configured; keys, aliases and grants not applied (the state file exists)",
                path.display()
            );
        } else {
            println!("seed: {} applied", path.display());
        }
    }
    if !args.quotas.is_empty() {
        let quotas: Vec<String> = args
            .quotas
            .iter()
            .map(|(q, r)| format!("{q}={r}"))
            .collect();
        println!("quotas (requests per second): {}", quotas.join(" "));
    }
    let counts = kms.clone();
    let server = kms.clone().serve_with(listener, args.server.clone());
    println!(
        "local KMS at {} (region {})",
        server.endpoint_url(),
        kms.region()
    );
    if let Some(arn) = &demo_key {
        println!("demo key {arn}");
    }
    let signal = stop.recv().await;
    println!("stopping ({signal})");
    server.shutdown().await;
    let flushed = kms.flush();
    println!("{}", summary(&counts.stats()));
    flushed.map_err(|e| format!("the state could not be flushed: {}", chain(&e)))?;
    println!("stopped");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower_kms::local::OperationStats;

    #[test]
    fn written_records_decrypt() {
        let kms = LocalKms::new();
        let key = kms
            .create_key(KeySpec::SymmetricDefault, KeyUsageType::EncryptDecrypt)
            .unwrap();
        let path = std::env::temp_dir().join(format!("kms-local-records-{}", std::process::id()));
        write_records(&kms, &key, 3, &path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let _ = std::fs::remove_file(&path);
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[2]["id"], "r2");
        let out = kms
            .invoke(
                "Decrypt",
                serde_json::json!({
                    "CiphertextBlob": lines[2]["ciphertext"],
                    "EncryptionContext": lines[2]["context"],
                }),
            )
            .unwrap();
        assert_eq!(out["KeyId"], key.as_str());
        let e = write_records(&kms, &key, 1, Path::new("/nonexistent/dir/x")).unwrap_err();
        assert!(e.starts_with("cannot create /nonexistent/dir/x: "), "{e}");
    }

    #[test]
    fn summary_line() {
        assert_eq!(
            summary(&RequestStats::default()),
            "summary: served=0 throttled=0"
        );
        let op = |served, throttled| {
            let mut o = OperationStats::default();
            o.served = served;
            o.throttled = throttled;
            o
        };
        let mut stats = RequestStats::default();
        stats.served = 12;
        stats.throttled = 3;
        stats.operations.insert("Encrypt", op(7, 1));
        stats.operations.insert("CreateKey", op(5, 2));
        assert_eq!(
            summary(&stats),
            "summary: served=12 throttled=3 | CreateKey served=5 throttled=2 | Encrypt served=7 throttled=1"
        );
    }

    #[test]
    fn log_lines() {
        let logs = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = logs.clone();
        let kms = LocalKms::builder()
            .on_request(Arc::new(move |l: &RequestLog| {
                sink.lock().unwrap().push(log_line(l))
            }))
            .build();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        // An unsigned request: no principal, an error code.
        let request = http::Request::post("http://127.0.0.1/")
            .header("x-amz-target", "TrentService.ListKeys")
            .header("content-type", "application/x-amz-json-1.1")
            .body(http_body_util::Full::new(bytes::Bytes::from_static(b"{}")))
            .unwrap();
        let response = rt
            .block_on(tower::ServiceExt::oneshot(kms, request))
            .unwrap();
        assert_eq!(response.status(), 400);
        let line = logs.lock().unwrap()[0].clone();
        let fields: Vec<&str> = line.split(' ').collect();
        assert_eq!(fields.len(), 6, "{line}");
        assert_eq!(fields[0].len(), 36, "{line}");
        assert_eq!(
            &fields[1..5],
            [
                "ListKeys",
                "400",
                "MissingAuthenticationTokenException",
                "-"
            ]
        );
        assert!(fields[5].ends_with("ms"), "{line}");
    }

    #[test]
    fn errors_print_their_causes() {
        let e = Seed::from_file("/nonexistent/seed.json").unwrap_err();
        let line = chain(&e);
        assert!(
            line.starts_with("seed /nonexistent/seed.json: cannot be read: "),
            "{line}"
        );
        assert!(line.len() > "seed /nonexistent/seed.json: cannot be read: ".len());
    }
}
