//! A standalone local KMS on 127.0.0.1 that logs one line per request.
//!
//! ```text
//! cargo run --example local_kms -- [--listen 127.0.0.1:4599] [--region us-east-1]
//!     [--credentials AKID:SECRET]... [--no-demo-key]
//! ```
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

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use tower_kms::local::{LocalKms, RequestLog};

/// The port the example listens on by default.
const DEFAULT_LISTEN: &str = "127.0.0.1:4599";

const USAGE: &str = "usage: local_kms [--listen 127.0.0.1:PORT] [--region REGION] [--credentials AKID:SECRET]... [--no-demo-key]";

struct Args {
    listen: SocketAddr,
    region: Option<String>,
    credentials: Vec<(String, String)>,
    demo_key: bool,
}

fn parse(args: &[String]) -> Result<Args, String> {
    let mut out = Args {
        listen: DEFAULT_LISTEN.parse().expect("valid default"),
        region: None,
        credentials: Vec::new(),
        demo_key: true,
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{flag} needs a value"))
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
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(out)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args = match parse(&args) {
        Ok(a) => a,
        Err(msg) => {
            if !msg.is_empty() {
                eprintln!("error: {msg}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let mut builder = LocalKms::builder().on_request(Arc::new(|log: &RequestLog| {
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
    let kms = builder.build();
    let listener = match tokio::net::TcpListener::bind(args.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: cannot listen on {}: {e}", args.listen);
            return ExitCode::FAILURE;
        }
    };
    let demo_key = if args.demo_key {
        match kms.create_key("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT") {
            Ok(arn) => Some(arn),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        None
    };
    let region = kms.region().to_owned();
    let server = kms.serve(listener);
    println!("local KMS at {} (region {region})", server.endpoint_url());
    if let Some(arn) = demo_key {
        println!("demo key {arn}");
    }
    if let Err(e) = tokio::signal::ctrl_c().await {
        eprintln!("error: waiting for Ctrl-C: {e}");
    }
    server.shutdown().await;
    println!("stopped");
    ExitCode::SUCCESS
}
