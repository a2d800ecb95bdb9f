//! A standalone local KMS on 127.0.0.1 that logs one line per request.
//!
//! ```text
//! cargo run --example local_kms -- [--listen 127.0.0.1:4599] [--region us-east-1]
//!     [--credentials AKID:SECRET]... [--no-demo-key]
//!     [--header-read-timeout-ms MS] [--body-read-timeout-ms MS]
//!     [--idle-timeout-ms MS] [--max-connections N] [--shutdown-grace-ms MS]
//!     [--quota NAME=RATE]... [--quiet] [--write-records N:PATH]
//! ```
//!
//! `--help` lists every flag with its default (the server limits are those of
//! `tower_kms::local::ServerConfig`).
//!
//! Any AWS SDK or CLI works against it:
//!
//! ```text
//! AWS_ENDPOINT_URL_KMS=http://127.0.0.1:4599 AWS_REGION=us-east-1 \
//! AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test aws kms list-keys
//! ```
//!
//! Without `--credentials` the pair `test` / `test` is accepted. It creates one
//! symmetric key at start (unless `--no-demo-key`) and prints its ARN. Ctrl-C
//! stops it gracefully.
//!
//! `--quota crypto=2000 --quota CreateKey=5` makes it throttle like KMS (see
//! `tower_kms::local::LocalKmsBuilder::quota`): over-quota requests get
//! `ThrottlingException`, and the log line of each says so. On Ctrl-C it
//! prints a summary line of the requests served and throttled, in total and
//! per operation:
//!
//! ```text
//! summary: served=12 throttled=3 | CreateKey served=5 throttled=2 | Encrypt served=7 throttled=1
//! ```
//!
//! `--write-records 100000:in.jsonl` writes that many `kms-reencrypt` input
//! records (`{"id":"r0","ciphertext":"...","context":{"n":"0"}}`), encrypted
//! under the demo key, before it starts serving (directly, not over HTTP: no
//! quota is spent); `benches/throttle.sh` uses it. `--quiet` drops the line per
//! request (the summary stays).

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use tower_kms::local::{LocalKms, Quota, RequestLog, RequestRate, RequestStats, ServerConfig};
use tower_kms::{KeySpec, KeyUsageType};

/// The port the example listens on by default.
const DEFAULT_LISTEN: &str = "127.0.0.1:4599";

const USAGE: &str = "usage: local_kms [--listen 127.0.0.1:PORT] [--region REGION] [--credentials AKID:SECRET]... [--no-demo-key] [--header-read-timeout-ms MS] [--body-read-timeout-ms MS] [--idle-timeout-ms MS] [--max-connections N] [--shutdown-grace-ms MS] [--quota NAME=RATE]... [--quiet] [--write-records N:PATH]";

fn help() -> String {
    let ms = |d: Duration| d.as_millis();
    format!(
        "{USAGE}

A local AWS KMS over HTTP/1.1, logging one line per request.

  --listen IP:PORT              address to listen on (default {DEFAULT_LISTEN})
  --region REGION               region of the ARNs and of SigV4 (default us-east-1)
  --credentials AKID:SECRET     accept this pair; repeatable (default test:test)
  --no-demo-key                 do not create a symmetric key at start
  --header-read-timeout-ms MS   first byte of a request to the end of its head (default {})
  --body-read-timeout-ms MS     end of the head to the end of the body; then 408 (default {})
  --idle-timeout-ms MS          close a connection with no request after this (default {})
  --max-connections N           connections served at once; at the cap the longest idle
                                one is closed for a newcomer (default {})
  --shutdown-grace-ms MS        on Ctrl-C, time given to requests in flight (default {})
  --quota NAME=RATE             throttle like KMS: at most RATE requests per second (a
                                token bucket holding one second's worth) for NAME, which
                                is crypto (all cryptographic operations together) or one
                                other operation (CreateKey, DescribeKey, ListKeys, ...);
                                repeatable (default: no quotas)
  --quiet                       no log line per request (the summary stays)
  --write-records N:PATH        before serving, write N kms-reencrypt input records
                                encrypted under the demo key to PATH (no quota spent)
  -h, --help                    this help",
        ms(ServerConfig::DEFAULT_HEADER_READ_TIMEOUT),
        ms(ServerConfig::DEFAULT_BODY_READ_TIMEOUT),
        ms(ServerConfig::DEFAULT_IDLE_TIMEOUT),
        ServerConfig::DEFAULT_MAX_CONNECTIONS,
        ms(ServerConfig::DEFAULT_SHUTDOWN_GRACE),
    )
}

struct Args {
    listen: SocketAddr,
    region: Option<String>,
    credentials: Vec<(String, String)>,
    demo_key: bool,
    server: ServerConfig,
    quotas: Vec<(Quota, RequestRate)>,
    quiet: bool,
    write_records: Option<(u64, String)>,
}

enum Parsed {
    Run(Box<Args>),
    Help,
}

fn parse(args: &[String]) -> Result<Parsed, String> {
    let mut out = Args {
        listen: DEFAULT_LISTEN.parse().expect("valid default"),
        region: None,
        credentials: Vec::new(),
        demo_key: true,
        server: ServerConfig::new(),
        quotas: Vec::new(),
        quiet: false,
        write_records: None,
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        let number = |v: String| {
            v.parse::<u64>()
                .map_err(|_| format!("{flag} takes a whole number, got {v:?}"))
        };
        match flag.as_str() {
            "--listen" => {
                let v = value()?;
                out.listen = v
                    .parse()
                    .map_err(|_| format!("--listen takes IP:PORT, got {v:?}"))?;
            }
            "--region" => out.region = Some(value()?),
            "--credentials" => {
                let v = value()?;
                let (id, secret) = v
                    .split_once(':')
                    .filter(|(a, b)| !a.is_empty() && !b.is_empty())
                    .ok_or_else(|| "--credentials takes ACCESS_KEY_ID:SECRET".to_owned())?;
                out.credentials.push((id.to_owned(), secret.to_owned()));
            }
            "--no-demo-key" => out.demo_key = false,
            "--header-read-timeout-ms" => {
                let ms = number(value()?)?;
                out.server = out.server.header_read_timeout(Duration::from_millis(ms));
            }
            "--body-read-timeout-ms" => {
                let ms = number(value()?)?;
                out.server = out.server.body_read_timeout(Duration::from_millis(ms));
            }
            "--idle-timeout-ms" => {
                let ms = number(value()?)?;
                out.server = out.server.idle_timeout(Duration::from_millis(ms));
            }
            "--max-connections" => {
                let n = number(value()?)?;
                let n = usize::try_from(n)
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| format!("--max-connections takes 1 or more, got {n}"))?;
                out.server = out.server.max_connections(n);
            }
            "--shutdown-grace-ms" => {
                let ms = number(value()?)?;
                out.server = out.server.shutdown_grace(Duration::from_millis(ms));
            }
            "--quota" => {
                let v = value()?;
                out.quotas.push(parse_quota(&v)?);
            }
            "--quiet" => out.quiet = true,
            "--write-records" => {
                let v = value()?;
                let (n, path) = v
                    .split_once(':')
                    .filter(|(_, p)| !p.is_empty())
                    .ok_or_else(|| format!("--write-records takes N:PATH, got {v:?}"))?;
                let n = n
                    .parse::<u64>()
                    .map_err(|_| format!("--write-records takes N:PATH, got {v:?}"))?;
                out.write_records = Some((n, path.to_owned()));
            }
            "-h" | "--help" => return Ok(Parsed::Help),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if out.write_records.is_some() && !out.demo_key {
        return Err("--write-records needs the demo key (drop --no-demo-key)".into());
    }
    Ok(Parsed::Run(Box::new(out)))
}

/// Writes `n` kms-reencrypt input records encrypted under `key` to `path`.
fn write_records(kms: &LocalKms, key: &str, n: u64, path: &str) -> Result<(), String> {
    use std::io::Write as _;
    let file = std::fs::File::create(path).map_err(|e| format!("cannot create {path}: {e}"))?;
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
        writeln!(w, "{record}").map_err(|e| format!("cannot write {path}: {e}"))?;
    }
    w.flush().map_err(|e| format!("cannot write {path}: {e}"))
}

/// `NAME=RATE`, e.g. `crypto=2000` or `CreateKey=5`.
fn parse_quota(v: &str) -> Result<(Quota, RequestRate), String> {
    let (name, rate) = v.split_once('=').ok_or_else(|| {
        format!("--quota takes NAME=RATE, e.g. crypto=2000 or CreateKey=5, got {v:?}")
    })?;
    let quota: Quota = name.parse().map_err(|e| format!("--quota {v}: {e}"))?;
    let rate: RequestRate = rate.parse().map_err(|e| format!("--quota {v}: {e}"))?;
    Ok((quota, rate))
}

/// One line: requests served and throttled, in total and per operation.
fn summary(stats: &RequestStats) -> String {
    let mut line = format!(
        "summary: served={} throttled={}",
        stats.served, stats.throttled
    );
    for (op, s) in &stats.operations {
        line.push_str(&format!(
            " | {op} served={} throttled={}",
            s.served, s.throttled
        ));
    }
    line
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args = match parse(&args) {
        Ok(Parsed::Run(a)) => a,
        Ok(Parsed::Help) => {
            println!("{}", help());
            return ExitCode::SUCCESS;
        }
        Err(msg) => {
            eprintln!("error: {msg}");
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let quiet = args.quiet;
    let mut builder = LocalKms::builder().on_request(Arc::new(move |log: &RequestLog| {
        if quiet {
            return;
        }
        let op = if log.operation.is_empty() {
            "-"
        } else {
            &log.operation
        };
        println!(
            "{} {op} {} {} {:.1}ms",
            log.request_id,
            log.status.as_u16(),
            log.error_code.as_deref().unwrap_or("-"),
            log.elapsed.as_secs_f64() * 1000.0
        );
    }));
    if let Some(region) = &args.region {
        builder = builder.region(region);
    }
    for (id, secret) in &args.credentials {
        builder = builder.credentials(id, secret);
    }
    for (quota, rate) in &args.quotas {
        builder = builder.quota(*quota, *rate);
    }
    let kms = builder.build();
    let listener = match tokio::net::TcpListener::bind(args.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: cannot listen on {}: {e}", args.listen);
            return ExitCode::FAILURE;
        }
    };
    let demo_key = if args.demo_key {
        match kms.create_key(KeySpec::SymmetricDefault, KeyUsageType::EncryptDecrypt) {
            Ok(arn) => Some(arn),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        None
    };
    if let (Some((n, path)), Some(key)) = (&args.write_records, &demo_key) {
        if let Err(e) = write_records(&kms, key, *n, path) {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
        println!("wrote {n} records to {path}");
    }
    let region = kms.region().to_owned();
    let counts = kms.clone();
    let server = kms.serve_with(listener, args.server);
    println!("local KMS at {} (region {region})", server.endpoint_url());
    if !args.quotas.is_empty() {
        let quotas: Vec<String> = args
            .quotas
            .iter()
            .map(|(q, r)| format!("{q}={r}"))
            .collect();
        println!("quotas (requests per second): {}", quotas.join(" "));
    }
    if let Some(arn) = demo_key {
        println!("demo key {arn}");
    }
    if let Err(e) = tokio::signal::ctrl_c().await {
        eprintln!("error: waiting for Ctrl-C: {e}");
    }
    server.shutdown().await;
    println!("{}", summary(&counts.stats()));
    println!("stopped");
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower_kms::local::OperationStats;

    fn args(list: &[&str]) -> Result<Parsed, String> {
        parse(&list.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    fn quotas(list: &[&str]) -> Vec<(String, f64)> {
        match args(list) {
            Ok(Parsed::Run(a)) => a
                .quotas
                .iter()
                .map(|(q, r)| (q.to_string(), r.as_per_second()))
                .collect(),
            Ok(Parsed::Help) => panic!("help"),
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn quota_flags() {
        assert!(quotas(&[]).is_empty());
        assert_eq!(
            quotas(&["--quota", "crypto=2000", "--quota", "CreateKey=5"]),
            [("crypto".to_owned(), 2000.0), ("CreateKey".to_owned(), 5.0)]
        );
        assert_eq!(
            quotas(&["--quota", "cryptographic=0.5", "--no-demo-key"]),
            [("crypto".to_owned(), 0.5)]
        );
        let (q, r) = parse_quota("ListKeys=100").unwrap();
        assert_eq!(
            (q, r),
            (
                Quota::operation("ListKeys").unwrap(),
                RequestRate::per_second(100.0).unwrap()
            )
        );
    }

    #[test]
    fn bad_quota_flags() {
        for (list, message) in [
            (&["--quota"][..], "--quota needs a value"),
            (
                &["--quota", "crypto"],
                "--quota takes NAME=RATE, e.g. crypto=2000 or CreateKey=5, got \"crypto\"",
            ),
            (
                &["--quota", "crypto=0"],
                "--quota crypto=0: a quota must be a positive number of requests per second, got 0",
            ),
            (
                &["--quota", "crypto=-5"],
                "--quota crypto=-5: a quota must be a positive number of requests per second, got -5",
            ),
            (
                &["--quota", "crypto=NaN"],
                "--quota crypto=NaN: a quota must be a positive number of requests per second, got NaN",
            ),
            (
                &["--quota", "crypto=fast"],
                "--quota crypto=fast: a quota must be a number of requests per second, got \"fast\"",
            ),
            (
                &["--quota", "crypto="],
                "--quota crypto=: a quota must be a number of requests per second, got \"\"",
            ),
            (
                &["--quota", "Encrypt=5"],
                "--quota Encrypt=5: Encrypt has no quota of its own: it is a cryptographic operation, counted against the shared quota (crypto)",
            ),
        ] {
            match args(list) {
                Err(e) => assert_eq!(e, message, "{list:?}"),
                Ok(_) => panic!("{list:?} accepted"),
            }
        }
        match args(&["--quota", "TagResources=1"]) {
            Err(e) => assert!(
                e.starts_with("--quota TagResources=1: no quota named \"TagResources\": expected crypto or one of "),
                "{e}"
            ),
            Ok(_) => panic!("accepted"),
        }
    }

    #[test]
    fn record_flags() {
        match args(&["--quiet", "--write-records", "5:/tmp/x.jsonl"]) {
            Ok(Parsed::Run(a)) => {
                assert!(a.quiet);
                assert_eq!(a.write_records, Some((5, "/tmp/x.jsonl".to_owned())));
            }
            _ => panic!("refused"),
        }
        for bad in [
            &["--write-records", "5"][..],
            &["--write-records", "x:/tmp/a"],
            &["--write-records", "5:"],
            &["--write-records", "5:/tmp/a", "--no-demo-key"],
        ] {
            assert!(args(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn written_records_decrypt() {
        let kms = LocalKms::new();
        let key = kms
            .create_key(KeySpec::SymmetricDefault, KeyUsageType::EncryptDecrypt)
            .unwrap();
        let path = std::env::temp_dir().join(format!("local-kms-records-{}", std::process::id()));
        let path = path.to_str().unwrap();
        write_records(&kms, &key, 3, path).unwrap();
        let text = std::fs::read_to_string(path).unwrap();
        let _ = std::fs::remove_file(path);
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
    }

    #[test]
    fn help_lists_quota() {
        assert!(help().contains("--quota NAME=RATE"));
        assert!(USAGE.contains("[--quota NAME=RATE]..."));
        assert!(matches!(
            args(&["--quota", "crypto=1", "--help"]),
            Ok(Parsed::Help)
        ));
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
}
