//! State that outlives the process (`Storage::file`): everything survives a
//! restart (keys and every key material, key states and deletion dates,
//! rotation schedules, aliases of each account, key policies, grants and
//! their tokens, the numbering of keys); concurrent writers over 127.0.0.1
//! lose no acknowledged change; a write that fails is an error for the
//! requests that depend on it and is made good later; a state file that
//! cannot be trusted is refused whole, with a message naming it.

use crate::common::{Sig, TempDir, Transport, b64, unb64};
use crate::world::TestClock;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use sha2::Digest as _;
use tower_kms::local::{
    IdentityPolicy, LocalKms, LocalKmsBuilder, Opened, Principal, StateErrorKind, Storage,
};
use tower_kms::{KeySpec, KeyUsageType};

const B: &str = "444455556666";
const APP_SESSION: &str = "arn:aws:sts::111122223333:assumed-role/app/s1";
const APP_ROLE: &str = "arn:aws:iam::111122223333:role/app";
const EVE: &str = "arn:aws:iam::111122223333:user/eve";
const DESCRIBE_ONLY: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"kms:DescribeKey","Resource":"*"}}"#;
const DAY: u64 = 86_400;

/// The same configuration at every start: the test's clock, a grant
/// propagation delay of an hour (so only tokens make new grants work), an
/// admin, the app's role session (its role may only DescribeKey) and eve.
fn builder(clock: &TestClock) -> LocalKmsBuilder {
    let c = clock.clone();
    LocalKms::builder()
        .clock(Arc::new(move || c.now()))
        .grant_propagation_delay(Duration::from_secs(3600))
        .credentials("test", "test")
        .credentials_for(
            "AKIDAPP",
            "app-secret",
            Principal::from_arn(APP_SESSION).unwrap(),
        )
        .credentials_for("AKIDEVE", "eve-secret", Principal::from_arn(EVE).unwrap())
        .identity_policy(
            &Principal::from_arn(APP_ROLE).unwrap(),
            IdentityPolicy::from_json(DESCRIBE_ONLY).unwrap(),
        )
}

fn open(clock: &TestClock, path: &Path) -> LocalKms {
    builder(clock)
        .open(Storage::file(path))
        .unwrap_or_else(|e| panic!("{e}"))
}

fn principal(arn: &str) -> Principal {
    Principal::from_arn(arn).unwrap()
}

struct Keys {
    sym: String,
    rsa: String,
    ecc: String,
    doomed: String,
    in_b: String,
    over_http: String,
}

/// What the read operations answer about every key, alias, grant and policy.
fn reads(kms: &LocalKms, k: &Keys) -> Vec<Value> {
    let b_root = principal(&format!("arn:aws:iam::{B}:root"));
    let mut out = Vec::new();
    for key in [&k.sym, &k.rsa, &k.ecc, &k.doomed, &k.in_b, &k.over_http] {
        out.push(kms.invoke("DescribeKey", json!({ "KeyId": key })).unwrap());
    }
    out.push(kms.invoke("ListKeys", json!({})).unwrap());
    out.push(kms.invoke_as(&b_root, "ListKeys", json!({})).unwrap());
    out.push(kms.invoke("ListAliases", json!({})).unwrap());
    out.push(kms.invoke_as(&b_root, "ListAliases", json!({})).unwrap());
    out.push(kms.invoke("ListGrants", json!({ "KeyId": k.sym })).unwrap());
    out.push(
        kms.invoke(
            "ListRetirableGrants",
            json!({ "RetiringPrincipal": "arn:aws:iam::111122223333:user/test" }),
        )
        .unwrap(),
    );
    out.push(
        kms.invoke("GetKeyPolicy", json!({ "KeyId": k.sym }))
            .unwrap(),
    );
    out.push(
        kms.invoke("GetKeyPolicy", json!({ "KeyId": k.in_b }))
            .unwrap(),
    );
    out.push(
        kms.invoke("GetKeyRotationStatus", json!({ "KeyId": k.sym }))
            .unwrap(),
    );
    out.push(
        kms.invoke(
            "ListKeyRotations",
            json!({ "KeyId": k.sym, "IncludeKeyMaterial": "ALL_KEY_MATERIAL" }),
        )
        .unwrap(),
    );
    out.push(
        kms.invoke("GetPublicKey", json!({ "KeyId": k.rsa }))
            .unwrap(),
    );
    out
}

fn policy_denying_eve() -> String {
    json!({
        "Version": "2012-10-17",
        "Statement": [
            { "Effect": "Allow", "Principal": { "AWS": "arn:aws:iam::111122223333:root" },
              "Action": "kms:*", "Resource": "*" },
            { "Effect": "Deny", "Principal": { "AWS": EVE },
              "Action": "kms:Decrypt", "Resource": "*" }
        ]
    })
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everything_survives_a_restart() {
    let dir = TempDir::new("restart");
    let path = dir.join("kms.state");
    let clock = TestClock::new();
    let ctx = json!({ "tenant": "a" });

    // ----- the first life: set-up calls, and signed requests over 127.0.0.1.
    let kms = open(&clock, &path);
    assert_eq!(kms.opened(), Opened::Created);
    assert_eq!(kms.state_file(), Some(path.as_path()));
    let create = |spec, usage| kms.create_key(spec, usage).unwrap();
    let sym = create(KeySpec::SymmetricDefault, KeyUsageType::EncryptDecrypt);
    let rsa = create(KeySpec::Rsa2048, KeyUsageType::EncryptDecrypt);
    let ecc = create(KeySpec::EccNistP256, KeyUsageType::SignVerify);
    let doomed = create(KeySpec::SymmetricDefault, KeyUsageType::EncryptDecrypt);
    let in_b = kms
        .create_key_in(B, KeySpec::SymmetricDefault, KeyUsageType::EncryptDecrypt)
        .unwrap();
    let t = Transport::socket(&kms).await;
    let sig = || Sig {
        time: clock.now(),
        ..Sig::default()
    };
    let over_http = t
        .call_with(
            "CreateKey",
            json!({ "Description": "made over HTTP", "Policy": policy_denying_eve() }),
            &sig(),
        )
        .await
        .ok()["KeyMetadata"]["Arn"]
        .as_str()
        .unwrap()
        .to_string();
    t.call_with(
        "CreateAlias",
        json!({ "AliasName": "alias/app", "TargetKeyId": sym }),
        &sig(),
    )
    .await
    .ok();
    let b_root = principal(&format!("arn:aws:iam::{B}:root"));
    kms.invoke_as(
        &b_root,
        "CreateAlias",
        json!({ "AliasName": "alias/app", "TargetKeyId": in_b }),
    )
    .unwrap();
    kms.put_key_policy(&sym, &policy_denying_eve()).unwrap();

    let encrypt = |key: &str, ctx: &Value| {
        kms.invoke(
            "Encrypt",
            json!({ "KeyId": key, "Plaintext": b64(b"kept"), "EncryptionContext": ctx }),
        )
        .unwrap()
    };
    let before_rotation = encrypt(&sym, &ctx);
    kms.invoke("RotateKeyOnDemand", json!({ "KeyId": sym }))
        .unwrap();
    let after_rotation = encrypt(&sym, &ctx);
    let material_of = |blob: &Value| {
        kms.invoke(
            "Decrypt",
            json!({ "CiphertextBlob": blob["CiphertextBlob"], "EncryptionContext": ctx }),
        )
        .unwrap()["KeyMaterialId"]
            .clone()
    };
    let materials = [material_of(&before_rotation), material_of(&after_rotation)];
    assert!(materials[0].is_string());
    assert_ne!(materials[0], materials[1]);
    kms.invoke(
        "EnableKeyRotation",
        json!({ "KeyId": sym, "RotationPeriodInDays": 90 }),
    )
    .unwrap();
    let rsa_blob = kms
        .invoke(
            "Encrypt",
            json!({ "KeyId": rsa, "Plaintext": b64(b"rsa"), "EncryptionAlgorithm": "RSAES_OAEP_SHA_256" }),
        )
        .unwrap();
    let in_b_blob = encrypt(&in_b, &json!({}));

    // A grant to the app's role (its token is the only way to use it for an
    // hour), one made over HTTP, and a retired one still propagating.
    let grant = t
        .call_with(
            "CreateGrant",
            json!({
                "KeyId": sym, "GranteePrincipal": APP_ROLE, "Operations": ["Decrypt"],
                "Constraints": { "EncryptionContextSubset": ctx }, "Name": "app-decrypt",
            }),
            &sig(),
        )
        .await
        .ok();
    let token = grant["GrantToken"].as_str().unwrap().to_string();
    let retired = kms
        .invoke(
            "CreateGrant",
            json!({
                "KeyId": sym, "GranteePrincipal": APP_ROLE, "Operations": ["Encrypt"],
                "RetiringPrincipal": "arn:aws:iam::111122223333:user/test",
            }),
        )
        .unwrap();
    kms.invoke(
        "RetireGrant",
        json!({ "GrantToken": retired["GrantToken"] }),
    )
    .unwrap();
    kms.invoke(
        "CreateGrant",
        json!({
            "KeyId": sym, "GranteePrincipal": EVE, "Operations": ["Encrypt", "Decrypt"],
            "RetiringPrincipal": "arn:aws:iam::111122223333:user/test", "Name": "eve",
        }),
    )
    .unwrap();

    kms.disable_key(&ecc).unwrap();
    kms.schedule_key_deletion(&doomed, 7).unwrap();

    let keys = Keys {
        sym: sym.clone(),
        rsa: rsa.clone(),
        ecc,
        doomed: doomed.clone(),
        in_b: in_b.clone(),
        over_http,
    };
    let seen = reads(&kms, &keys);
    // Every change is on disk before its request is answered: nothing to flush.
    let on_disk = std::fs::read(&path).unwrap();
    kms.flush().unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), on_disk);
    t.shutdown().await;
    drop(kms);

    // ----- the second life: the same answers, the same materials, tokens and
    // policies.
    let kms = open(&clock, &path);
    assert_eq!(kms.opened(), Opened::Loaded);
    let again = reads(&kms, &keys);
    for (before, after) in seen.iter().zip(&again) {
        assert_eq!(before, after);
    }
    for (blob, material) in [&before_rotation, &after_rotation]
        .into_iter()
        .map(|b| b["CiphertextBlob"].clone())
        .zip(&materials)
    {
        let out = kms
            .invoke(
                "Decrypt",
                json!({ "CiphertextBlob": blob, "EncryptionContext": ctx }),
            )
            .unwrap();
        assert_eq!(unb64(&out["Plaintext"]), b"kept");
        assert_eq!(&out["KeyMaterialId"], material);
    }
    let out = kms
        .invoke(
            "Decrypt",
            json!({
                "CiphertextBlob": rsa_blob["CiphertextBlob"], "KeyId": rsa,
                "EncryptionAlgorithm": "RSAES_OAEP_SHA_256",
            }),
        )
        .unwrap();
    assert_eq!(unb64(&out["Plaintext"]), b"rsa");
    let out = kms
        .invoke_as(
            &b_root,
            "Decrypt",
            json!({ "CiphertextBlob": in_b_blob["CiphertextBlob"] }),
        )
        .unwrap();
    assert_eq!(unb64(&out["Plaintext"]), b"kept");

    // The grant works with the token given out before the restart (the
    // grant-token key was kept) and not without it (the grant has not
    // propagated: its creation date was kept too).
    let app = principal(APP_SESSION);
    let app_decrypt = |tokens: Vec<&str>| {
        kms.invoke_as(
            &app,
            "Decrypt",
            json!({
                "CiphertextBlob": after_rotation["CiphertextBlob"],
                "EncryptionContext": ctx, "GrantTokens": tokens,
            }),
        )
    };
    assert_eq!(
        app_decrypt(vec![]).unwrap_err().code(),
        "AccessDeniedException"
    );
    assert_eq!(
        unb64(&app_decrypt(vec![token.as_str()]).unwrap()["Plaintext"]),
        b"kept"
    );
    // The key policy still denies eve, grant or not.
    let e = kms
        .invoke_as(
            &principal(EVE),
            "Decrypt",
            json!({ "CiphertextBlob": after_rotation["CiphertextBlob"], "EncryptionContext": ctx }),
        )
        .unwrap_err();
    assert_eq!(e.code(), "AccessDeniedException");
    assert!(e.message().contains("explicit deny"), "{}", e.message());

    // New keys are numbered after the old ones.
    let newest = kms
        .create_key(KeySpec::SymmetricDefault, KeyUsageType::EncryptDecrypt)
        .unwrap();
    let listed = kms.invoke("ListKeys", json!({})).unwrap();
    let arns: Vec<&str> = listed["Keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["KeyArn"].as_str().unwrap())
        .collect();
    assert_eq!(arns.last(), Some(&newest.as_str()));
    assert_eq!(arns.len(), 6);

    // ----- the clock moves 91 days: the rotation schedule was kept (the key
    // rotates), the deletion date was kept (the key is gone), the retired
    // grant's retirement has propagated (it is gone). The first request that
    // sees it saves it.
    let current = |kms: &LocalKms| {
        kms.invoke("DescribeKey", json!({ "KeyId": sym })).unwrap()["KeyMetadata"]
            ["CurrentKeyMaterialId"]
            .clone()
    };
    let rotated_before = current(&kms);
    clock.advance(Duration::from_secs(91 * DAY));
    let rotated = current(&kms);
    assert_ne!(rotated, rotated_before);
    assert_eq!(
        kms.describe_key(&doomed).unwrap_err().code(),
        "NotFoundException"
    );
    drop(kms);

    // ----- the third life: what the clock did was saved.
    let kms = open(&clock, &path);
    assert_eq!(current(&kms), rotated);
    assert_eq!(
        kms.describe_key(&doomed).unwrap_err().code(),
        "NotFoundException"
    );
    let grants = kms.invoke("ListGrants", json!({ "KeyId": sym })).unwrap();
    assert_eq!(grants["Grants"].as_array().unwrap().len(), 2);
    let rotations = kms
        .invoke("ListKeyRotations", json!({ "KeyId": sym }))
        .unwrap();
    let types: Vec<&str> = rotations["Rotations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["RotationType"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["ON_DEMAND", "AUTOMATIC"]);
    // And the blobs of the first life still decrypt.
    let out = kms
        .invoke(
            "Decrypt",
            json!({ "CiphertextBlob": before_rotation["CiphertextBlob"], "EncryptionContext": ctx }),
        )
        .unwrap();
    assert_eq!(unb64(&out["Plaintext"]), b"kept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_lose_no_acknowledged_change() {
    let dir = TempDir::new("writers");
    let path = dir.join("kms.state");
    let clock = TestClock::new();
    let kms = open(&clock, &path);
    let t = Arc::new(Transport::socket(&kms).await);
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..12 {
        let t = t.clone();
        let clock = clock.clone();
        tasks.spawn(async move {
            let sig = || Sig {
                time: clock.now(),
                ..Sig::default()
            };
            let mut made = Vec::new();
            for i in 0..8 {
                let key = t.call_with("CreateKey", json!({}), &sig()).await.ok()["KeyMetadata"]
                    ["KeyId"]
                    .as_str()
                    .unwrap()
                    .to_string();
                let alias = format!("alias/w{w}-{i}");
                t.call_with(
                    "CreateAlias",
                    json!({ "AliasName": alias, "TargetKeyId": key }),
                    &sig(),
                )
                .await
                .ok();
                let grant = t
                    .call_with(
                        "CreateGrant",
                        json!({ "KeyId": key, "GranteePrincipal": APP_ROLE, "Operations": ["Encrypt"] }),
                        &sig(),
                    )
                    .await
                    .ok();
                made.push((key, alias, grant["GrantId"].as_str().unwrap().to_string()));
            }
            made
        });
    }
    let mut acknowledged = Vec::new();
    while let Some(made) = tasks.join_next().await {
        acknowledged.extend(made.unwrap());
    }
    let t = Arc::into_inner(t).unwrap();
    t.shutdown().await;
    drop(kms);

    let kms = open(&clock, &path);
    assert_eq!(acknowledged.len(), 96);
    for (key, alias, grant) in &acknowledged {
        let by_alias = kms.describe_key(alias).unwrap();
        assert_eq!(&by_alias.key_id, key);
        let grants = kms.invoke("ListGrants", json!({ "KeyId": key })).unwrap();
        assert_eq!(grants["Grants"][0]["GrantId"], grant.as_str());
    }
    let listed = kms.invoke("ListKeys", json!({ "Limit": 1000 })).unwrap();
    assert_eq!(listed["Keys"].as_array().unwrap().len(), 96);
}

#[test]
fn a_failed_write_fails_the_requests_that_depend_on_it_until_one_succeeds() {
    let dir = TempDir::new("failed-write");
    let live = dir.join("live");
    let moved = dir.join("moved");
    std::fs::create_dir(&live).unwrap();
    let path = live.join("kms.state");
    let clock = TestClock::new();
    let kms = open(&clock, &path);
    let first = kms
        .create_key(KeySpec::SymmetricDefault, KeyUsageType::EncryptDecrypt)
        .unwrap();

    // The directory goes away: the write fails, the request is answered
    // KMSInternalException naming the file and the cause.
    std::fs::rename(&live, &moved).unwrap();
    let e = kms
        .create_key(KeySpec::SymmetricDefault, KeyUsageType::EncryptDecrypt)
        .unwrap_err();
    assert_eq!(e.code(), "KMSInternalException");
    let tmp = live.join(".kms.state.tmp");
    assert!(
        e.message().starts_with(&format!(
            "The change could not be saved: {} cannot be written: ",
            tmp.display()
        )),
        "{}",
        e.message()
    );
    // A request that sees the unsaved change fails too; one that saw only
    // saved state would not have to, but every one sees it here.
    assert_eq!(
        kms.invoke("ListKeys", json!({})).unwrap_err().code(),
        "KMSInternalException"
    );
    let flushed = kms.flush().unwrap_err();
    assert_eq!(flushed.kind(), StateErrorKind::Io);

    // Back: the next write holds the change that failed.
    std::fs::rename(&moved, &live).unwrap();
    let listed = kms.invoke("ListKeys", json!({})).unwrap();
    assert_eq!(listed["Keys"].as_array().unwrap().len(), 2);
    drop(kms);
    let kms = open(&clock, &path);
    let listed = kms.invoke("ListKeys", json!({})).unwrap();
    assert_eq!(listed["Keys"].as_array().unwrap().len(), 2);
    assert!(kms.describe_key(&first).is_ok());
}

/// A state file's header line and body, as the crate writes them.
fn state_file(body: &[u8]) -> Vec<u8> {
    let header = json!({
        "Format": "tower-kms local KMS state",
        "Version": 1,
        "Length": body.len(),
        "Sha256": hex::encode(sha2::Sha256::digest(body)),
    });
    let mut out = header.to_string().into_bytes();
    out.push(b'\n');
    out.extend_from_slice(body);
    out
}

fn write_private(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
}

#[test]
fn a_state_file_that_cannot_be_trusted_is_refused_whole() {
    let dir = TempDir::new("refused");
    let path = dir.join("kms.state");
    let clock = TestClock::new();
    let kms = open(&clock, &path);
    let ecc = kms
        .create_key(KeySpec::EccNistP256, KeyUsageType::SignVerify)
        .unwrap();
    kms.create_alias("alias/ecc", &ecc).unwrap();

    // In use by the running local KMS.
    let e = builder(&clock).open(Storage::file(&path)).unwrap_err();
    assert_eq!(e.kind(), StateErrorKind::InUse);
    assert_eq!(e.path(), Some(path.as_path()));
    assert_eq!(
        e.to_string(),
        format!(
            "state file {} is in use by another local KMS (it holds the lock {})",
            path.display(),
            dir.join(".kms.state.lock").display()
        )
    );
    drop(kms);

    let good = std::fs::read(&path).unwrap();
    let newline = good.iter().position(|b| *b == b'\n').unwrap();
    let body: Value = serde_json::from_slice(&good[newline + 1..]).unwrap();
    let shown = path.display().to_string();
    let mut flipped = good.clone();
    let middle = newline + (good.len() - newline) / 2;
    flipped[middle] ^= 0x01;
    let mut bad_key = body.clone();
    bad_key["Keys"][0]["PrivateKey"] = json!("AAAA");
    let mut bad_alias = body.clone();
    bad_alias["Aliases"][0]["TargetKeyId"] = json!("00000000-0000-4000-8000-000000000000");
    let text = String::from_utf8(good.clone()).unwrap();
    let cases: Vec<(&str, Vec<u8>, StateErrorKind, String)> = vec![
        (
            "truncated",
            good[..good.len() - 10].to_vec(),
            StateErrorKind::Corrupt,
            format!(
                "state file {shown} is truncated: its header announces {} bytes of state, it holds {} (a half-written or cut file)",
                good.len() - newline - 1,
                good.len() - newline - 11
            ),
        ),
        (
            "a flipped bit",
            flipped,
            StateErrorKind::Corrupt,
            format!(
                "state file {shown} is corrupt: the SHA-256 of its state does not match its header"
            ),
        ),
        (
            "another version",
            text.replacen("\"Version\":1", "\"Version\":2", 1)
                .into_bytes(),
            StateErrorKind::Version,
            format!(
                "state file {shown} is in state format version 2; this version of tower-kms reads version 1 only"
            ),
        ),
        (
            "not a state file",
            b"{\"Keys\": []}\n".to_vec(),
            StateErrorKind::Corrupt,
            format!(
                "state file {shown} is not a local KMS state file (its first line is not a \"tower-kms local KMS state\" header)"
            ),
        ),
        (
            "empty",
            Vec::new(),
            StateErrorKind::Corrupt,
            format!(
                "state file {shown} is empty (a state file is never written empty: it was cut or replaced)"
            ),
        ),
        (
            "a private key that is not one",
            state_file(bad_key.to_string().as_bytes()),
            StateErrorKind::Corrupt,
            format!(
                "state file {shown} is invalid: Keys[0].PrivateKey: not an unencrypted PKCS#8 ECC NIST P-256 private key"
            ),
        ),
        (
            "an alias of no key",
            state_file(bad_alias.to_string().as_bytes()),
            StateErrorKind::Corrupt,
            format!(
                "state file {shown} is invalid: Aliases[0].TargetKeyId: names no key of the state"
            ),
        ),
    ];
    for (what, bytes, kind, message) in cases {
        write_private(&path, &bytes);
        let e = builder(&clock).open(Storage::file(&path)).unwrap_err();
        assert_eq!(e.kind(), kind, "{what}: {e}");
        assert!(
            e.to_string().starts_with(&message),
            "{what}:\n{e}\n{message}"
        );
        // Refused untouched.
        assert_eq!(std::fs::read(&path).unwrap(), bytes, "{what}");
    }

    // Written for another region.
    write_private(&path, &good);
    let e = builder(&clock)
        .region("eu-west-1")
        .open(Storage::file(&path))
        .unwrap_err();
    assert_eq!(e.kind(), StateErrorKind::Region);
    assert_eq!(
        e.to_string(),
        format!(
            "state file {shown} holds the state of a local KMS in region us-east-1, not eu-west-1"
        )
    );

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = builder(&clock).open(Storage::file(&path)).unwrap_err();
        assert_eq!(e.kind(), StateErrorKind::Permissions);
        assert_eq!(
            e.to_string(),
            format!(
                "state file {shown} may be read or written by other users (mode 0644), and it holds key material in plaintext: make it private (chmod 600) after checking who read it"
            )
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }

    // The good file still opens, with its key and alias.
    let kms = open(&clock, &path);
    assert_eq!(
        kms.describe_key("alias/ecc").unwrap().arn.as_deref(),
        Some(ecc.as_str())
    );
}
