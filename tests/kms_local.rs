//! End-to-end tests of the `kms-local` binary (the `kms-local` feature) as a
//! child process on 127.0.0.1: every flag at once with a seed and a state
//! file, the log line per request, SIGTERM (the state flushed, the summary,
//! exit 0) and a restart from the state; SIGKILL in the middle of a burst of
//! writes, then a restart that holds every acknowledged change; bad state
//! files, seeds and policy files stopping it at start; `--help` and usage
//! errors.
#![cfg(feature = "kms-local")]

#[path = "local/common.rs"]
mod common;

use std::io::{BufRead as _, BufReader, Read as _};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

use common::{Sig, TempDir, b64, unb64};

const BIN: &str = env!("CARGO_BIN_EXE_kms-local");
/// How long any one step may take on a slow, busy machine.
const PATIENCE: Duration = Duration::from_secs(120);

/// A running `kms-local`: its stdout, line by line, and its stderr.
struct Server {
    child: Child,
    url: String,
    lines: mpsc::Receiver<String>,
    /// Every stdout line read so far.
    seen: Vec<String>,
    stderr: Arc<Mutex<String>>,
}

fn spawn(args: &[&str]) -> (Child, mpsc::Receiver<String>, Arc<Mutex<String>>) {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, lines) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let stderr = Arc::new(Mutex::new(String::new()));
    let sink = stderr.clone();
    let mut pipe = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = pipe.read_to_string(&mut text);
        sink.lock().unwrap().push_str(&text);
    });
    (child, lines, stderr)
}

impl Server {
    /// Starts `kms-local` on a free port and waits for its
    /// `local KMS at URL` line.
    fn start(args: &[&str]) -> Self {
        let mut all = vec!["--listen", "127.0.0.1:0"];
        all.extend_from_slice(args);
        let (child, lines, stderr) = spawn(&all);
        let mut server = Self {
            child,
            url: String::new(),
            lines,
            seen: Vec::new(),
            stderr,
        };
        let line = server.wait_for(|l| l.starts_with("local KMS at "));
        server.url = line
            .strip_prefix("local KMS at ")
            .and_then(|rest| rest.split(' ').next())
            .unwrap()
            .to_string();
        server
    }

    /// The next stdout line that `matches` (lines before it are kept in
    /// `seen`); panics with everything printed if the process ends first.
    fn wait_for(&mut self, matches: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if matches(&line) {
                        return line;
                    }
                }
                Err(_) => {
                    let status = self.child.try_wait();
                    panic!(
                        "no such line from kms-local ({status:?}); stdout:\n{}\nstderr:\n{}",
                        self.seen.join("\n"),
                        self.stderr.lock().unwrap()
                    );
                }
            }
        }
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the process to end; its status and the rest of stdout.
    fn wait(mut self) -> (ExitStatus, Vec<String>) {
        let status = self.child.wait().unwrap();
        let deadline = Instant::now() + PATIENCE;
        while let Ok(line) = self
            .lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            self.seen.push(line);
        }
        (status, std::mem::take(&mut self.seen))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // A test that failed half-way: stop the child it started.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Runs `kms-local` to its end (a start-up error, `--help`): status, stdout,
/// stderr.
fn run_to_end(args: &[&str]) -> (ExitStatus, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status,
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

type HttpClient = Client<HttpConnector, Full<Bytes>>;

fn client() -> HttpClient {
    Client::builder(TokioExecutor::new()).build_http()
}

/// A signed request; `Err` when the connection fails (a killed server).
async fn try_call(
    http: &HttpClient,
    url: &str,
    op: &str,
    body: Value,
    sig: &Sig,
) -> Result<(u16, Value), String> {
    let bytes = serde_json::to_vec(&body).unwrap();
    let req = common::signed(&format!("{url}/"), op, &bytes, sig);
    let resp = http.request(req).await.map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    let value = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
    Ok((status, value))
}

async fn call(http: &HttpClient, url: &str, op: &str, body: Value, sig: &Sig) -> (u16, Value) {
    try_call(http, url, op, body, sig).await.unwrap()
}

#[track_caller]
fn ok(reply: (u16, Value)) -> Value {
    assert_eq!(reply.0, 200, "{}", reply.1);
    reply.1
}

#[track_caller]
fn err(reply: (u16, Value), code: &str) {
    assert_eq!(
        (reply.0, reply.1["__type"].as_str()),
        (400, Some(code)),
        "{}",
        reply.1
    );
}

fn who(akid: &str, secret: &str) -> Sig {
    Sig {
        access_key: akid.into(),
        secret: secret.into(),
        region: "eu-west-1".into(),
        ..Sig::default()
    }
}

const B: &str = "444455556666";
const ORDERS: &str = "11111111-2222-4333-8444-555555555555";

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_flag_then_sigterm_flushes_and_a_restart_has_it_all() {
    let dir = TempDir::new("kms-local-e2e");
    let state = dir.join("kms.state");
    let seed = dir.join("seed.json");
    let eve_policy = dir.join("eve.json");
    write(
        &seed,
        &json!({
            "principals": [
                { "Arn": format!("arn:aws:sts::{B}:assumed-role/app/test"),
                  "AccessKeyId": "AKIDAPP", "SecretAccessKey": "app-secret" },
                { "Arn": format!("arn:aws:iam::{B}:role/app"),
                  "IdentityPolicies": [{ "Version": "2012-10-17",
                    "Statement": { "Effect": "Allow", "Action": "kms:DescribeKey", "Resource": "*" } }] }
            ],
            "keys": [{ "KeyId": ORDERS, "KeyMaterial": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=" }],
            "aliases": [{ "AliasName": "alias/orders", "TargetKeyId": ORDERS }],
            "grants": [{ "KeyId": ORDERS, "GranteePrincipal": format!("arn:aws:iam::{B}:role/app"),
                         "Operations": ["Decrypt"] }]
        })
        .to_string(),
    );
    write(
        &eve_policy,
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"kms:ListAliases","Resource":"*"}}"#,
    );
    let (state_arg, seed_arg) = (state.to_str().unwrap(), seed.to_str().unwrap());
    let eve_arn = format!("arn:aws:iam::{B}:user/eve");
    let eve_credentials = format!("AKIDEVE:eve-secret:{eve_arn}");
    let identity = format!("{eve_arn}={}", eve_policy.display());
    let mut server = Server::start(&[
        "--region",
        "eu-west-1",
        "--account",
        B,
        "--credentials",
        "AKIDADMIN:admin-secret",
        "--credentials",
        &eve_credentials,
        "--identity-policy",
        &identity,
        "--grant-propagation-ms",
        "0",
        "--state",
        state_arg,
        "--seed",
        seed_arg,
        "--quota",
        "CreateKey=0.001",
        "--header-read-timeout-ms",
        "10000",
        "--body-read-timeout-ms",
        "10000",
        "--idle-timeout-ms",
        "60000",
        "--max-connections",
        "16",
        "--shutdown-grace-ms",
        "10000",
    ]);
    assert!(
        server.url.starts_with("http://127.0.0.1:"),
        "{}",
        server.url
    );
    let start_up = server.seen.join("\n");
    for wanted in [
        format!("state: {state_arg} (created; key material in plaintext)"),
        format!("seed: {seed_arg} applied"),
        "quotas (requests per second): CreateKey=0.001".to_string(),
        format!("local KMS at {} (region eu-west-1)", server.url),
    ] {
        assert!(start_up.contains(&wanted), "{wanted} missing:\n{start_up}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&state).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    let http = client();
    let url = server.url.clone();
    let admin = who("AKIDADMIN", "admin-secret");
    let app = who("AKIDAPP", "app-secret");
    let eve = who("AKIDEVE", "eve-secret");
    let orders_arn = format!("arn:aws:kms:eu-west-1:{B}:key/{ORDERS}");

    // --account and --region: the seeded key is in B, in eu-west-1.
    let keys = ok(call(&http, &url, "ListKeys", json!({}), &admin).await);
    assert_eq!(keys["Keys"][0]["KeyArn"], orders_arn.as_str());
    // --quota CreateKey=0.001: one, then throttled.
    let created = ok(call(&http, &url, "CreateKey", json!({}), &admin).await);
    let created = created["KeyMetadata"]["Arn"].as_str().unwrap().to_string();
    err(
        call(&http, &url, "CreateKey", json!({}), &admin).await,
        "ThrottlingException",
    );
    // --identity-policy: eve may only ListAliases.
    err(
        call(&http, &url, "ListKeys", json!({}), &eve).await,
        "AccessDeniedException",
    );
    ok(call(&http, &url, "ListAliases", json!({}), &eve).await);
    // --credentials given: test/test is not accepted.
    err(
        call(&http, &url, "ListKeys", json!({}), &who("test", "test")).await,
        "UnrecognizedClientException",
    );
    // The seed: the app decrypts through its grant.
    let blob = ok(call(
        &http,
        &url,
        "Encrypt",
        json!({ "KeyId": "alias/orders", "Plaintext": b64(b"kept") }),
        &admin,
    )
    .await)["CiphertextBlob"]
        .clone();
    let out = ok(call(
        &http,
        &url,
        "Decrypt",
        json!({ "CiphertextBlob": blob }),
        &app,
    )
    .await);
    assert_eq!(unb64(&out["Plaintext"]), b"kept");
    // --grant-propagation-ms 0: a new grant works at once without its token.
    err(
        call(
            &http,
            &url,
            "Encrypt",
            json!({ "KeyId": ORDERS, "Plaintext": b64(b"x") }),
            &app,
        )
        .await,
        "AccessDeniedException",
    );
    ok(call(
        &http,
        &url,
        "CreateGrant",
        json!({ "KeyId": ORDERS, "GranteePrincipal": format!("arn:aws:iam::{B}:role/app"),
                "Operations": ["Encrypt"] }),
        &admin,
    )
    .await);
    ok(call(
        &http,
        &url,
        "Encrypt",
        json!({ "KeyId": ORDERS, "Plaintext": b64(b"x") }),
        &app,
    )
    .await);

    // One log line per request: id, operation, status, code, principal, latency.
    let fields = |line: &str| line.split(' ').map(str::to_string).collect::<Vec<_>>();
    let throttled = server.wait_for(|l| l.contains(" CreateKey 400 ThrottlingException "));
    let f = fields(&throttled);
    assert_eq!(f.len(), 6, "{throttled}");
    assert_eq!(f[0].len(), 36);
    assert_eq!(f[4], format!("arn:aws:iam::{B}:user/AKIDADMIN"));
    assert!(f[5].ends_with("ms") && f[5].trim_end_matches("ms").parse::<f64>().is_ok());
    let denied = server.wait_for(|l| l.contains(" ListKeys 400 AccessDeniedException "));
    assert_eq!(fields(&denied)[4], eve_arn);
    let unknown = server.wait_for(|l| l.contains(" UnrecognizedClientException "));
    assert_eq!(fields(&unknown)[4], "-");
    let success = server.wait_for(|l| l.contains(" Decrypt 200 - "));
    assert_eq!(
        fields(&success)[4],
        format!("arn:aws:sts::{B}:assumed-role/app/test")
    );

    // SIGTERM: requests finished, state flushed, the summary, exit 0.
    server.signal("TERM");
    let (status, out) = server.wait();
    assert!(status.success(), "{status:?}\n{}", out.join("\n"));
    let out = out.join("\n");
    assert!(out.contains("stopping (SIGTERM)"), "{out}");
    let summary = out
        .lines()
        .find(|l| l.starts_with("summary: "))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        summary.contains("| CreateKey served=1 throttled=1 |"),
        "{summary}"
    );
    assert!(out.ends_with("stopped"), "{out}");

    // Started again from the state alone: the seed's principals are gone
    // (test/test is back), its keys and everything made over HTTP are not.
    let mut server = Server::start(&[
        "--region",
        "eu-west-1",
        "--account",
        B,
        "--state",
        state_arg,
    ]);
    assert!(
        server.seen.contains(&format!(
            "state: {state_arg} (loaded; key material in plaintext)"
        )),
        "{:?}",
        server.seen
    );
    let url = server.url.clone();
    let test = who("test", "test");
    let keys = ok(call(&http, &url, "ListKeys", json!({}), &test).await);
    let arns: Vec<&str> = keys["Keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["KeyArn"].as_str().unwrap())
        .collect();
    assert_eq!(arns, [orders_arn.as_str(), created.as_str()]);
    let out = ok(call(
        &http,
        &url,
        "Decrypt",
        json!({ "CiphertextBlob": blob }),
        &test,
    )
    .await);
    assert_eq!(unb64(&out["Plaintext"]), b"kept");
    let grants = ok(call(&http, &url, "ListGrants", json!({ "KeyId": ORDERS }), &test).await);
    assert_eq!(grants["Grants"].as_array().unwrap().len(), 2);
    // SIGINT stops it the same way.
    server.wait_for(|l| l.contains(" ListGrants 200 "));
    server.signal("INT");
    let (status, out) = server.wait();
    assert!(status.success(), "{status:?}");
    assert!(out.contains(&"stopping (SIGINT)".to_string()), "{out:?}");

    // The state of eu-west-1 is refused in another region.
    let (status, _, stderr) = run_to_end(&["--listen", "127.0.0.1:0", "--state", state_arg]);
    assert_eq!(status.code(), Some(1));
    assert_eq!(
        stderr,
        format!(
            "kms-local: state file {state_arg} holds the state of a local KMS in region eu-west-1, not us-east-1\n"
        )
    );
}

/// A write acknowledged by the server before it was killed.
#[derive(Debug)]
enum Ack {
    Key(String),
    Grant(String),
    Alias(String, String),
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_in_a_burst_of_writes_loses_nothing_acknowledged() {
    let dir = TempDir::new("kms-local-kill");
    let state = dir.join("kms.state");
    let state_arg = state.to_str().unwrap();
    let mut server = Server::start(&[
        "--state",
        state_arg,
        "--grant-propagation-ms",
        "0",
        "--quiet",
    ]);
    let http = client();
    let url = server.url.clone();
    let sig = Sig::default;
    let anchor =
        ok(call(&http, &url, "CreateKey", json!({}), &sig()).await)["KeyMetadata"]["KeyId"]
            .as_str()
            .unwrap()
            .to_string();

    // Eight clients write as fast as they can; each records what was
    // acknowledged (a 200 read in full).
    let acks = Arc::new(Mutex::new(Vec::new()));
    let count = Arc::new(AtomicUsize::new(0));
    let enough = Arc::new(tokio::sync::Notify::new());
    let mut clients = tokio::task::JoinSet::new();
    for c in 0..8 {
        let (http, url, anchor) = (http.clone(), url.clone(), anchor.clone());
        let (acks, count, enough) = (acks.clone(), count.clone(), enough.clone());
        clients.spawn(async move {
            let ack = |a: Ack| {
                acks.lock().unwrap().push(a);
                if count.fetch_add(1, Ordering::SeqCst) + 1 == 60 {
                    enough.notify_one();
                }
            };
            for i in 0.. {
                let Ok((200, key)) = try_call(&http, &url, "CreateKey", json!({}), &sig()).await
                else {
                    return;
                };
                let key = key["KeyMetadata"]["KeyId"].as_str().unwrap().to_string();
                ack(Ack::Key(key.clone()));
                let grant = json!({ "KeyId": anchor, "GranteePrincipal": "111122223333",
                                    "Operations": ["Encrypt"] });
                let Ok((200, grant)) = try_call(&http, &url, "CreateGrant", grant, &sig()).await
                else {
                    return;
                };
                ack(Ack::Grant(grant["GrantId"].as_str().unwrap().to_string()));
                let alias = format!("alias/c{c}-{i}");
                let body = json!({ "AliasName": alias, "TargetKeyId": key });
                let Ok((200, _)) = try_call(&http, &url, "CreateAlias", body, &sig()).await else {
                    return;
                };
                ack(Ack::Alias(alias, key));
            }
        });
    }
    tokio::time::timeout(PATIENCE, enough.notified())
        .await
        .expect("the clients made 60 changes");
    // kill -9, with requests in flight.
    server.child.kill().unwrap();
    let (status, _) = server.wait();
    assert!(!status.success());
    while let Some(done) = clients.join_next().await {
        done.unwrap();
    }
    let acks = std::mem::take(&mut *acks.lock().unwrap());
    assert!(acks.len() >= 60, "{}", acks.len());

    // Started again: the file loads, and holds every acknowledged change.
    let server = Server::start(&["--state", state_arg, "--quiet"]);
    assert!(server.seen.iter().any(|l| l.contains("(loaded;")));
    let url = server.url.clone();
    let mut grants = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let mut body = json!({ "KeyId": anchor, "Limit": 100 });
        if let Some(m) = &marker {
            body["Marker"] = json!(m);
        }
        let page = ok(call(&http, &url, "ListGrants", body, &sig()).await);
        for g in page["Grants"].as_array().unwrap() {
            grants.push(g["GrantId"].as_str().unwrap().to_string());
        }
        match page["NextMarker"].as_str() {
            Some(m) => marker = Some(m.to_string()),
            None => break,
        }
    }
    let keys = ok(call(&http, &url, "ListKeys", json!({ "Limit": 1000 }), &sig()).await);
    let keys: Vec<&str> = keys["Keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["KeyId"].as_str().unwrap())
        .collect();
    let (mut key_acks, mut grant_acks, mut alias_acks) = (0, 0, 0);
    for a in &acks {
        match a {
            Ack::Key(id) => {
                key_acks += 1;
                assert!(keys.contains(&id.as_str()), "key {id} lost");
            }
            Ack::Grant(id) => {
                grant_acks += 1;
                assert!(grants.contains(id), "grant {id} lost");
            }
            Ack::Alias(alias, key) => {
                alias_acks += 1;
                let d = ok(call(
                    &http,
                    &url,
                    "DescribeKey",
                    json!({ "KeyId": alias }),
                    &sig(),
                )
                .await);
                assert_eq!(d["KeyMetadata"]["KeyId"], key.as_str(), "alias {alias}");
            }
        }
    }
    assert!(key_acks > 0 && grant_acks > 0 && alias_acks > 0, "{acks:?}");
    // Changes may be there that were never acknowledged (their answers were
    // lost with the process), never fewer than were.
    assert!(keys.len() > key_acks);
    assert!(grants.len() >= grant_acks);
    server.signal("TERM");
    let (status, _) = server.wait();
    assert!(status.success());
}

#[test]
fn bad_state_files_seeds_and_policy_files_stop_it_at_start() {
    let dir = TempDir::new("kms-local-bad");
    let state = dir.join("kms.state");
    let state_arg = state.to_str().unwrap();
    // A good state file to spoil.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let server = Server::start(&["--state", state_arg, "--quiet"]);
        server.signal("TERM");
        assert!(server.wait().0.success());
    });
    let good = std::fs::read(&state).unwrap();

    std::fs::write(&state, &good[..good.len() - 3]).unwrap();
    let (status, stdout, stderr) = run_to_end(&["--listen", "127.0.0.1:0", "--state", state_arg]);
    assert_eq!(status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stderr.starts_with(&format!("kms-local: state file {state_arg} is truncated: ")),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&state).unwrap(), &good[..good.len() - 3]);
    assert!(!stdout.contains("local KMS at"), "{stdout}");

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::write(&state, &good).unwrap();
        std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o604)).unwrap();
        let (status, _, stderr) = run_to_end(&["--listen", "127.0.0.1:0", "--state", state_arg]);
        assert_eq!(status.code(), Some(1));
        assert!(
            stderr.starts_with(&format!(
                "kms-local: state file {state_arg} may be read or written by other users (mode 0604)"
            )),
            "{stderr}"
        );
    }

    let seed = dir.join("seed.json");
    write(
        &seed,
        &json!({ "keys": [{ "KeyId": ORDERS }, { "KeyId": ORDERS, "KeySpec": "RSA_1024" }] })
            .to_string(),
    );
    let (status, _, stderr) =
        run_to_end(&["--listen", "127.0.0.1:0", "--seed", seed.to_str().unwrap()]);
    assert_eq!(status.code(), Some(1));
    assert!(
        stderr.starts_with(&format!(
            "kms-local: seed {}: keys[1].KeyId: {ORDERS} is the key id of keys[0] already",
            seed.display()
        )),
        "{stderr}"
    );

    let missing = dir.join("missing.json");
    let flag = format!("arn:aws:iam::111122223333:user/a={}", missing.display());
    let (status, _, stderr) = run_to_end(&["--listen", "127.0.0.1:0", "--identity-policy", &flag]);
    assert_eq!(status.code(), Some(1));
    assert!(
        stderr.starts_with(&format!(
            "kms-local: --identity-policy {flag}: cannot read {}: ",
            missing.display()
        )),
        "{stderr}"
    );
    let not_policy = dir.join("not-policy.json");
    write(&not_policy, r#"{"Statement":[]}"#);
    let flag = format!("arn:aws:iam::111122223333:user/a={}", not_policy.display());
    let (status, _, stderr) = run_to_end(&["--listen", "127.0.0.1:0", "--identity-policy", &flag]);
    assert_eq!(status.code(), Some(1));
    assert!(
        stderr.starts_with(&format!(
            "kms-local: --identity-policy {flag}: not an identity policy: "
        )),
        "{stderr}"
    );
}

#[test]
fn help_version_and_usage_errors() {
    let (status, stdout, _) = run_to_end(&["--help"]);
    assert!(status.success());
    for flag in [
        "--state <PATH>",
        "--seed <PATH>",
        "--credentials <AKID:SECRET[:PRINCIPAL_ARN]>",
        "PLAINTEXT",
    ] {
        assert!(stdout.contains(flag), "{flag}:\n{stdout}");
    }
    let (status, stdout, _) = run_to_end(&["--version"]);
    assert!(status.success());
    assert_eq!(stdout, format!("kms-local {}\n", env!("CARGO_PKG_VERSION")));
    let (status, _, stderr) = run_to_end(&["--quota", "Encrypt=5"]);
    assert_eq!(status.code(), Some(2));
    assert!(
        stderr.contains("Encrypt has no quota of its own"),
        "{stderr}"
    );
}
