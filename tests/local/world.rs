//! A local KMS with several principals in two accounts, a clock the test
//! moves, served on 127.0.0.1: requests are signed by aws-sigv4 with each
//! principal's own credentials, at the clock's time.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};
use tower_kms::local::{IdentityPolicy, LocalKms, LocalKmsBuilder, Principal, RequestLog};
use tower_kms::{KeySpec, KeyUsageType};

use crate::common::{Reply, Sig, Transport, b64};

/// The default account.
pub const A: &str = "111122223333";
/// A second account.
pub const B: &str = "444455556666";

/// The default principal of the `test` credentials: it may do everything
/// in account A (no identity policy, default key policies).
pub const ADMIN: &str = "arn:aws:iam::111122223333:user/test";

/// An identity policy that allows nothing KMS needs here.
pub const NOTHING: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"kms:ListAliases","Resource":"*"}}"#;

/// A clock the test moves, starting at the real time.
#[derive(Clone)]
pub struct TestClock {
    start: SystemTime,
    offset_nanos: Arc<AtomicI64>,
}

impl TestClock {
    pub fn new() -> Self {
        Self {
            start: SystemTime::now(),
            offset_nanos: Arc::default(),
        }
    }

    pub fn now(&self) -> SystemTime {
        let off = self.offset_nanos.load(Ordering::SeqCst);
        let d = Duration::from_nanos(off.unsigned_abs());
        if off >= 0 {
            self.start + d
        } else {
            self.start - d
        }
    }

    pub fn advance(&self, d: Duration) {
        let nanos = i64::try_from(d.as_nanos()).unwrap();
        self.offset_nanos.fetch_add(nanos, Ordering::SeqCst);
    }
}

/// Principals (by a short name) and their identity policies.
pub struct Setup {
    principals: Vec<(String, String)>,
    policies: Vec<(String, String)>,
    delay: Option<Duration>,
}

impl Setup {
    pub fn new() -> Self {
        Self {
            principals: Vec::new(),
            policies: Vec::new(),
            delay: None,
        }
    }

    /// A principal `name` with credentials `AKID<NAME>` / `secret-<name>`.
    pub fn principal(mut self, name: &str, arn: &str) -> Self {
        self.principals.push((name.to_string(), arn.to_string()));
        self
    }

    /// An identity policy for the principal (or role) `arn`.
    pub fn identity(mut self, arn: &str, policy: &str) -> Self {
        self.policies.push((arn.to_string(), policy.to_string()));
        self
    }

    pub fn delay(mut self, d: Duration) -> Self {
        self.delay = Some(d);
        self
    }

    fn builder(&self, clock: &TestClock, log: &Arc<Mutex<Vec<RequestLog>>>) -> LocalKmsBuilder {
        let c = clock.clone();
        let l = log.clone();
        let mut b = LocalKms::builder()
            .clock(Arc::new(move || c.now()))
            .on_request(Arc::new(move |r: &RequestLog| {
                l.lock().unwrap().push(r.clone())
            }))
            .credentials("test", "test");
        for (name, arn) in &self.principals {
            b = b.credentials_for(akid(name), secret(name), Principal::from_arn(arn).unwrap());
        }
        for (arn, policy) in &self.policies {
            let target = Principal::from_arn(arn).unwrap();
            b = b.identity_policy(&target, IdentityPolicy::from_json(policy).unwrap());
        }
        if let Some(d) = self.delay {
            b = b.grant_propagation_delay(d);
        }
        b
    }

    /// The local KMS, served on a loopback socket.
    pub async fn build(self) -> World {
        let clock = TestClock::new();
        let log = Arc::default();
        let kms = self.builder(&clock, &log).build();
        let t = Transport::socket(&kms).await;
        let mut names: HashMap<String, String> = self.principals.into_iter().collect();
        names.insert("admin".into(), ADMIN.into());
        World {
            clock,
            kms,
            t,
            names,
            log,
        }
    }
}

fn akid(name: &str) -> String {
    if name == "admin" {
        "test".into()
    } else {
        format!("AKID{}", name.to_uppercase())
    }
}

fn secret(name: &str) -> String {
    if name == "admin" {
        "test".into()
    } else {
        format!("secret-{name}")
    }
}

pub struct World {
    pub clock: TestClock,
    pub kms: LocalKms,
    pub t: Transport,
    names: HashMap<String, String>,
    pub log: Arc<Mutex<Vec<RequestLog>>>,
}

impl World {
    /// The ARN of principal `name`.
    pub fn arn(&self, name: &str) -> String {
        self.names[name].clone()
    }

    /// The endpoint URL of the loopback server.
    pub fn endpoint(&self) -> String {
        match &self.t {
            Transport::Socket { server, .. } => server.endpoint_url(),
            Transport::InProcess(_) => unreachable!("World always serves on a socket"),
        }
    }

    /// The credentials of principal `name`.
    pub fn credentials(&self, name: &str) -> aws_credential_types::Credentials {
        aws_credential_types::Credentials::new(akid(name), secret(name), None, None, "world")
    }

    /// A request of `op` signed by principal `name` at the clock's time.
    pub async fn call(&self, name: &str, op: &str, body: Value) -> Reply {
        let sig = Sig {
            access_key: akid(name),
            secret: secret(name),
            time: self.clock.now(),
            ..Sig::default()
        };
        self.t.call_with(op, body, &sig).await
    }

    /// A symmetric key in account A, with the default key policy.
    pub fn key(&self) -> String {
        self.kms
            .create_key(KeySpec::SymmetricDefault, KeyUsageType::EncryptDecrypt)
            .unwrap()
    }

    /// A symmetric key in `account`.
    pub fn key_in(&self, account: &str) -> String {
        self.kms
            .create_key_in(
                account,
                KeySpec::SymmetricDefault,
                KeyUsageType::EncryptDecrypt,
            )
            .unwrap()
    }

    /// A key in account A with this key policy (set up, no lockout check).
    pub fn key_with_policy(&self, policy: &str) -> String {
        let k = self.key();
        self.kms.put_key_policy(&k, policy).unwrap();
        k
    }

    /// A ciphertext of `key` under `ctx`, made by set-up.
    pub fn blob(&self, key: &str, ctx: Value) -> String {
        let out = self
            .kms
            .invoke(
                "Encrypt",
                json!({ "KeyId": key, "Plaintext": b64(b"secret"), "EncryptionContext": ctx }),
            )
            .unwrap();
        out["CiphertextBlob"].as_str().unwrap().to_string()
    }

    /// Encrypt by `name` under `ctx` with `tokens`.
    pub async fn encrypt(&self, name: &str, key: &str, ctx: Value, tokens: &[&str]) -> Reply {
        let mut body = json!({ "KeyId": key, "Plaintext": b64(b"x"), "EncryptionContext": ctx });
        if !tokens.is_empty() {
            body["GrantTokens"] = json!(tokens);
        }
        self.call(name, "Encrypt", body).await
    }

    /// A grant made by the admin; returns (grant id, token).
    pub async fn grant(&self, body: Value) -> (String, String) {
        let out = self.call("admin", "CreateGrant", body).await.ok();
        (
            out["GrantId"].as_str().unwrap().to_string(),
            out["GrantToken"].as_str().unwrap().to_string(),
        )
    }
}

/// KMS's AccessDenied message.
pub fn denied(who: &str, action: &str, resource: &str, why: &str) -> String {
    let tail = match why {
        "resource" => format!("because no resource-based policy allows the {action} action"),
        "identity" => format!("because no identity-based policy allows the {action} action"),
        "explicit-resource" => "with an explicit deny in a resource-based policy".to_string(),
        "explicit-identity" => "with an explicit deny in an identity-based policy".to_string(),
        other => panic!("{other}"),
    };
    format!("User: {who} is not authorized to perform: {action} on resource: {resource} {tail}")
}

/// Asserts an AccessDeniedException with exactly this message.
#[track_caller]
pub fn assert_denied(r: &Reply, message: &str) {
    let v = r.err(400, "AccessDeniedException");
    assert_eq!(v["Message"], message, "{:?}", r.body);
}

/// A key policy of these statements, plus one letting the admin manage it.
pub fn policy(statements: &[Value]) -> String {
    let mut all = vec![json!({
        "Sid": "admin",
        "Effect": "Allow",
        "Principal": { "AWS": ADMIN },
        "Action": "kms:*",
        "Resource": "*",
    })];
    all.extend_from_slice(statements);
    json!({ "Version": "2012-10-17", "Statement": all }).to_string()
}

/// An identity policy of these statements.
pub fn identity(statements: &[Value]) -> String {
    json!({ "Version": "2012-10-17", "Statement": statements }).to_string()
}
