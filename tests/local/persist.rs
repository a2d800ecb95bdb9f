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
        "Version": 2,
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
            // Version 1 came before the data plane; it was never released,
            // so it is refused, not migrated.
            "version 1",
            text.replacen("\"Version\":2", "\"Version\":1", 1)
                .into_bytes(),
            StateErrorKind::Version,
            format!(
                "state file {shown} is in state format version 1; this version of tower-kms reads version 2 only"
            ),
        ),
        (
            "a later version",
            text.replacen("\"Version\":2", "\"Version\":3", 1)
                .into_bytes(),
            StateErrorKind::Version,
            format!(
                "state file {shown} is in state format version 3; this version of tower-kms reads version 2 only"
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

/// `CreateAlias` is not a cross-account operation: an alias of one account
/// for a key of another is `NotFoundException` for every caller, the
/// set-up methods included, so no state file can hold one (the loader
/// refuses such a file).
#[test]
fn an_alias_for_another_accounts_key_is_refused_and_the_file_still_opens() {
    let dir = TempDir::new("foreign-alias");
    let path = dir.join("kms.state");
    let clock = TestClock::new();
    let kms = open(&clock, &path);
    let foreign = kms
        .create_key_in(B, KeySpec::SymmetricDefault, KeyUsageType::EncryptDecrypt)
        .unwrap();
    let e = kms.create_alias("alias/foreign", &foreign).unwrap_err();
    assert_eq!(e.code(), "NotFoundException", "{e}");
    assert_eq!(e.message(), format!("Key '{foreign}' does not exist"));
    let root = principal("arn:aws:iam::111122223333:root");
    let e = kms
        .invoke_as(
            &root,
            "CreateAlias",
            json!({ "AliasName": "alias/foreign", "TargetKeyId": foreign }),
        )
        .unwrap_err();
    assert_eq!(e.code(), "NotFoundException", "{e}");
    // The key's own account may name it.
    kms.invoke_as(
        &principal(&format!("arn:aws:iam::{B}:root")),
        "CreateAlias",
        json!({ "AliasName": "alias/foreign", "TargetKeyId": foreign }),
    )
    .unwrap();
    let listed = kms.invoke("ListAliases", json!({})).unwrap();
    assert_eq!(listed["Aliases"], json!([]), "{listed}");
    drop(kms);

    let kms = open(&clock, &path);
    assert_eq!(kms.opened(), Opened::Loaded);
    assert_eq!(
        kms.describe_key(&format!("arn:aws:kms:us-east-1:{B}:alias/foreign"))
            .unwrap()
            .arn
            .as_deref(),
        Some(foreign.as_str())
    );
}

/// Every key spec and key usage the local KMS makes (#13).
const KINDS: [(&str, &str); 18] = [
    ("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT"),
    ("RSA_2048", "ENCRYPT_DECRYPT"),
    ("RSA_3072", "ENCRYPT_DECRYPT"),
    ("RSA_4096", "ENCRYPT_DECRYPT"),
    ("RSA_2048", "SIGN_VERIFY"),
    ("RSA_3072", "SIGN_VERIFY"),
    ("RSA_4096", "SIGN_VERIFY"),
    ("ECC_NIST_P256", "SIGN_VERIFY"),
    ("ECC_NIST_P384", "SIGN_VERIFY"),
    ("ECC_NIST_P521", "SIGN_VERIFY"),
    ("ECC_SECG_P256K1", "SIGN_VERIFY"),
    ("ECC_NIST_P256", "KEY_AGREEMENT"),
    ("ECC_NIST_P384", "KEY_AGREEMENT"),
    ("ECC_NIST_P521", "KEY_AGREEMENT"),
    ("HMAC_224", "GENERATE_VERIFY_MAC"),
    ("HMAC_256", "GENERATE_VERIFY_MAC"),
    ("HMAC_384", "GENERATE_VERIFY_MAC"),
    ("HMAC_512", "GENERATE_VERIFY_MAC"),
];

/// One signed request over 127.0.0.1 at the test clock's time: the answer
/// and its `x-amzn-RequestId`.
async fn signed(t: &Transport, clock: &TestClock, op: &str, body: Value) -> (Value, String) {
    let sig = Sig {
        time: clock.now(),
        ..Sig::default()
    };
    let reply = t.call_with(op, body, &sig).await;
    let id = reply.headers["x-amzn-requestid"]
        .to_str()
        .unwrap()
        .to_string();
    (reply.ok(), id)
}

/// The state file's body as it is on disk now.
fn on_disk(path: &Path) -> Value {
    let bytes = std::fs::read(path).unwrap();
    let newline = bytes.iter().position(|b| *b == b'\n').unwrap();
    serde_json::from_slice(&bytes[newline + 1..]).unwrap()
}

/// The entry of key `id` in the state file's body.
fn key_entry<'a>(body: &'a Value, id: &str) -> &'a Value {
    body["Keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["KeyId"] == id)
        .unwrap_or_else(|| panic!("{id} is not in the state file"))
}

/// What the read operations answer about a key (nothing of it may change
/// with a restart): its metadata, tags, last use and public key.
fn key_reads(kms: &LocalKms, id: &str, asymmetric: bool) -> Vec<Value> {
    let mut out = vec![
        kms.invoke("DescribeKey", json!({ "KeyId": id })).unwrap(),
        kms.invoke("ListResourceTags", json!({ "KeyId": id }))
            .unwrap(),
        kms.invoke("GetKeyLastUsage", json!({ "KeyId": id }))
            .unwrap(),
    ];
    if asymmetric {
        out.push(kms.invoke("GetPublicKey", json!({ "KeyId": id })).unwrap());
    }
    out
}

fn ecdh_of(spec: &str) -> &'static aws_lc_rs::agreement::Algorithm {
    match spec {
        "ECC_NIST_P256" => &aws_lc_rs::agreement::ECDH_P256,
        "ECC_NIST_P384" => &aws_lc_rs::agreement::ECDH_P384,
        _ => &aws_lc_rs::agreement::ECDH_P521,
    }
}

/// What was done with a key before the restart, to check after it.
enum Made {
    Ciphertext {
        blob: Value,
        algorithm: &'static str,
    },
    Signature {
        algorithm: String,
        signature: Value,
    },
    Secret {
        peer: aws_lc_rs::agreement::PrivateKey,
        peer_spki: Vec<u8>,
        secret: Value,
    },
    Mac {
        algorithm: String,
        mac: Value,
    },
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_of_key_works_after_a_restart() {
    use aws_lc_rs::encoding::AsDer as _;
    use aws_lc_rs::signature::KeyPair as _;

    let dir = TempDir::new("kinds");
    let path = dir.join("kms.state");
    let clock = TestClock::new();
    let kms = open(&clock, &path);
    let t = Transport::socket(&kms).await;
    let message = b64(b"signed before the restart");

    // ----- the first life: one key of each kind, tagged, each used once
    // over signed HTTP.
    let mut keys = Vec::new();
    for (spec, usage) in KINDS {
        let (out, _) = signed(
            &t,
            &clock,
            "CreateKey",
            json!({
                "KeySpec": spec, "KeyUsage": usage,
                "Tags": [{ "TagKey": "spec", "TagValue": spec }],
            }),
        )
        .await;
        let meta = &out["KeyMetadata"];
        let id = meta["KeyId"].as_str().unwrap().to_string();
        signed(
            &t,
            &clock,
            "TagResource",
            json!({ "KeyId": id, "Tags": [{ "TagKey": "usage", "TagValue": usage }] }),
        )
        .await;
        let (made, request_id) = match usage {
            "ENCRYPT_DECRYPT" => {
                let algorithm = if spec == "SYMMETRIC_DEFAULT" {
                    "SYMMETRIC_DEFAULT"
                } else {
                    "RSAES_OAEP_SHA_256"
                };
                let (out, rid) = signed(
                    &t,
                    &clock,
                    "Encrypt",
                    json!({ "KeyId": id, "Plaintext": b64(b"kept"), "EncryptionAlgorithm": algorithm }),
                )
                .await;
                let blob = out["CiphertextBlob"].clone();
                (Made::Ciphertext { blob, algorithm }, rid)
            }
            "SIGN_VERIFY" => {
                let algorithm = meta["SigningAlgorithms"][0].as_str().unwrap().to_string();
                let (out, rid) = signed(
                    &t,
                    &clock,
                    "Sign",
                    json!({ "KeyId": id, "Message": message, "SigningAlgorithm": algorithm }),
                )
                .await;
                let signature = out["Signature"].clone();
                (
                    Made::Signature {
                        algorithm,
                        signature,
                    },
                    rid,
                )
            }
            "KEY_AGREEMENT" => {
                let peer = aws_lc_rs::agreement::PrivateKey::generate(ecdh_of(spec)).unwrap();
                let peer_spki = peer
                    .compute_public_key()
                    .unwrap()
                    .as_der()
                    .unwrap()
                    .as_ref()
                    .to_vec();
                let (out, rid) = signed(
                    &t,
                    &clock,
                    "DeriveSharedSecret",
                    json!({ "KeyId": id, "KeyAgreementAlgorithm": "ECDH", "PublicKey": b64(&peer_spki) }),
                )
                .await;
                let secret = out["SharedSecret"].clone();
                (
                    Made::Secret {
                        peer,
                        peer_spki,
                        secret,
                    },
                    rid,
                )
            }
            _ => {
                let algorithm = meta["MacAlgorithms"][0].as_str().unwrap().to_string();
                let (out, rid) = signed(
                    &t,
                    &clock,
                    "GenerateMac",
                    json!({ "KeyId": id, "Message": message, "MacAlgorithm": algorithm }),
                )
                .await;
                let mac = out["Mac"].clone();
                (Made::Mac { algorithm, mac }, rid)
            }
        };
        // The key's kind, material and tags are on disk; its last use goes
        // with the next write or flush (the cryptographic request did not
        // wait for the disk), and is there after one.
        kms.flush().unwrap();
        let body = on_disk(&path);
        let entry = key_entry(&body, &id);
        assert_eq!(
            (entry["KeySpec"].as_str(), entry["KeyUsage"].as_str()),
            (Some(spec), Some(usage))
        );
        let material = match spec {
            "SYMMETRIC_DEFAULT" => "KeyMaterials",
            s if s.starts_with("HMAC") => "HmacKey",
            _ => "PrivateKey",
        };
        for member in ["KeyMaterials", "HmacKey", "PrivateKey"] {
            assert_eq!(
                entry.get(member).is_some(),
                member == material,
                "{spec} {member}"
            );
        }
        assert_eq!(
            entry["Tags"],
            json!([{ "TagKey": "spec", "TagValue": spec }, { "TagKey": "usage", "TagValue": usage }])
        );
        assert_eq!(
            entry["KeyLastUsage"]["KmsRequestId"],
            request_id.as_str(),
            "{spec} {usage}"
        );
        keys.push((spec, usage, id, made));
    }
    let sym = keys[0].2.clone();

    // Data key pairs under the symmetric key, on the blocking path; their
    // last use reaches the disk with a flush.
    let mut pairs = Vec::new();
    for pair_spec in ["RSA_2048", "ECC_NIST_P384", "ECC_SECG_P256K1"] {
        let (out, rid) = signed(
            &t,
            &clock,
            "GenerateDataKeyPair",
            json!({ "KeyId": sym, "KeyPairSpec": pair_spec, "EncryptionContext": { "pair": pair_spec } }),
        )
        .await;
        kms.flush().unwrap();
        let last = key_entry(&on_disk(&path), &sym)["KeyLastUsage"].clone();
        assert_eq!(last["Operation"], "GenerateDataKeyPair");
        assert_eq!(last["KmsRequestId"], rid.as_str());
        pairs.push((pair_spec, out));
    }
    let (without, _) = signed(
        &t,
        &clock,
        "GenerateDataKeyPairWithoutPlaintext",
        json!({ "KeyId": sym, "KeyPairSpec": "ECC_NIST_P256" }),
    )
    .await;

    // Cryptography does not wait for the disk: a use through `invoke` leaves
    // the file as it was; the next flush writes its record (no request id).
    let hmac = &keys[15].2;
    let before = std::fs::read(&path).unwrap();
    kms.invoke(
        "GenerateMac",
        json!({ "KeyId": hmac, "Message": message, "MacAlgorithm": "HMAC_SHA_256" }),
    )
    .unwrap();
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "a cryptographic use wrote the file"
    );
    kms.flush().unwrap();
    assert_ne!(std::fs::read(&path).unwrap(), before);
    let last = key_entry(&on_disk(&path), hmac)["KeyLastUsage"].clone();
    assert_eq!(last["Operation"], "GenerateMac");
    assert!(last.get("KmsRequestId").is_none(), "{last}");

    // An alias created, then moved a minute later to another key of its
    // kind and usage: two dates.
    let (rsa_signer, ecc_signer) = (&keys[4].2, &keys[7].2);
    kms.create_alias("alias/signer", rsa_signer).unwrap();
    kms.create_alias("alias/mac", hmac).unwrap();
    clock.advance(Duration::from_secs(60));
    signed(
        &t,
        &clock,
        "UpdateAlias",
        json!({ "AliasName": "alias/signer", "TargetKeyId": ecc_signer }),
    )
    .await;
    let aliases = kms.invoke("ListAliases", json!({})).unwrap();
    let signer_alias = aliases["Aliases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["AliasName"] == "alias/signer")
        .unwrap()
        .clone();
    assert_eq!(signer_alias["TargetKeyId"], ecc_signer.as_str());
    assert!(
        signer_alias["LastUpdatedDate"].as_f64().unwrap()
            >= signer_alias["CreationDate"].as_f64().unwrap() + 60.0,
        "{signer_alias}"
    );

    let seen: Vec<Vec<Value>> = keys
        .iter()
        .map(|(spec, _, id, _)| {
            key_reads(
                &kms,
                id,
                *spec != "SYMMETRIC_DEFAULT" && !spec.starts_with("HMAC"),
            )
        })
        .collect();
    for (reads, (spec, usage, ..)) in seen.iter().zip(&keys) {
        assert_eq!(
            reads[1]["Tags"].as_array().unwrap().len(),
            2,
            "{spec} {usage}"
        );
        assert!(
            reads[2]["KeyLastUsage"]["Operation"].is_string(),
            "{spec} {usage}"
        );
    }
    t.shutdown().await;
    drop(kms);

    // ----- the second life: the same metadata, tags, last uses, public keys
    // and aliases (dates included) before anything is used again...
    let kms = open(&clock, &path);
    assert_eq!(kms.opened(), Opened::Loaded);
    for (before, (spec, usage, id, _)) in seen.iter().zip(&keys) {
        let after = key_reads(&kms, id, before.len() == 4);
        assert_eq!(before, &after, "{spec} {usage}");
    }
    assert_eq!(kms.invoke("ListAliases", json!({})).unwrap(), aliases);

    // ...and every key does what it did.
    for (spec, usage, id, made) in &keys {
        match made {
            Made::Ciphertext { blob, algorithm } => {
                let out = kms
                    .invoke(
                        "Decrypt",
                        json!({ "KeyId": id, "CiphertextBlob": blob, "EncryptionAlgorithm": algorithm }),
                    )
                    .unwrap_or_else(|e| panic!("{spec} {usage}: {e}"));
                assert_eq!(unb64(&out["Plaintext"]), b"kept", "{spec}");
            }
            Made::Signature {
                algorithm,
                signature,
            } => {
                let verify = |message: &str| {
                    kms.invoke(
                        "Verify",
                        json!({
                            "KeyId": id, "Message": message, "Signature": signature,
                            "SigningAlgorithm": algorithm,
                        }),
                    )
                };
                let out = verify(&message).unwrap_or_else(|e| panic!("{spec} {usage}: {e}"));
                assert_eq!(out["SignatureValid"], true, "{spec}");
                assert_eq!(
                    verify(&b64(b"another message")).unwrap_err().code(),
                    "KMSInvalidSignatureException",
                    "{spec}"
                );
            }
            Made::Secret {
                peer,
                peer_spki,
                secret,
            } => {
                let out = kms
                    .invoke(
                        "DeriveSharedSecret",
                        json!({ "KeyId": id, "KeyAgreementAlgorithm": "ECDH", "PublicKey": b64(peer_spki) }),
                    )
                    .unwrap_or_else(|e| panic!("{spec} {usage}: {e}"));
                assert_eq!(&out["SharedSecret"], secret, "{spec}");
                // And the peer, with the public key of the second life,
                // computes it too.
                let public = unb64(
                    &kms.invoke("GetPublicKey", json!({ "KeyId": id })).unwrap()["PublicKey"],
                );
                let theirs = aws_lc_rs::agreement::agree(
                    peer,
                    aws_lc_rs::agreement::UnparsedPublicKey::new(ecdh_of(spec), &public),
                    (),
                    |s| Ok(s.to_vec()),
                )
                .unwrap();
                assert_eq!(theirs, unb64(secret), "{spec}");
            }
            Made::Mac { algorithm, mac } => {
                let out = kms
                    .invoke(
                        "VerifyMac",
                        json!({ "KeyId": id, "Message": message, "Mac": mac, "MacAlgorithm": algorithm }),
                    )
                    .unwrap_or_else(|e| panic!("{spec} {usage}: {e}"));
                assert_eq!(out["MacValid"], true, "{spec}");
                // HMAC is deterministic: the same key makes the same MAC.
                let again = kms
                    .invoke(
                        "GenerateMac",
                        json!({ "KeyId": id, "Message": message, "MacAlgorithm": algorithm }),
                    )
                    .unwrap();
                assert_eq!(&again["Mac"], mac, "{spec}");
            }
        }
    }
    // The private keys of the data key pairs decrypt to what they were.
    for (pair_spec, out) in &pairs {
        let back = kms
            .invoke(
                "Decrypt",
                json!({
                    "CiphertextBlob": out["PrivateKeyCiphertextBlob"],
                    "EncryptionContext": { "pair": pair_spec },
                }),
            )
            .unwrap_or_else(|e| panic!("{pair_spec}: {e}"));
        assert_eq!(back["Plaintext"], out["PrivateKeyPlaintext"], "{pair_spec}");
    }
    let back = kms
        .invoke(
            "Decrypt",
            json!({ "CiphertextBlob": without["PrivateKeyCiphertextBlob"] }),
        )
        .unwrap();
    let pkcs8 = unb64(&back["Plaintext"]);
    let pair = aws_lc_rs::signature::EcdsaKeyPair::from_pkcs8(
        &aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
        &pkcs8,
    )
    .unwrap();
    assert_eq!(
        pair.public_key().as_der().unwrap().as_ref(),
        unb64(&without["PublicKey"])
    );
    // The moved alias still names the key it was moved to.
    assert_eq!(
        kms.describe_key("alias/signer").unwrap().key_id,
        ecc_signer.as_str()
    );
}

/// A state file whose keys' materials, tags, last uses or aliases do not
/// check is refused, naming the entry (#13's members of the format).
#[test]
fn a_state_file_with_a_key_that_does_not_check_is_refused() {
    let dir = TempDir::new("refused-v2");
    let path = dir.join("kms.state");
    let clock = TestClock::new();
    let kms = open(&clock, &path);
    let hmac = kms
        .create_key(KeySpec::Hmac256, KeyUsageType::GenerateVerifyMac)
        .unwrap();
    let p384 = kms
        .create_key(KeySpec::EccNistP384, KeyUsageType::SignVerify)
        .unwrap();
    let rsa = kms
        .create_key(KeySpec::Rsa2048, KeyUsageType::SignVerify)
        .unwrap();
    kms.invoke(
        "TagResource",
        json!({ "KeyId": hmac, "Tags": [{ "TagKey": "team", "TagValue": "a" }] }),
    )
    .unwrap();
    kms.invoke(
        "GenerateMac",
        json!({ "KeyId": hmac, "Message": b64(b"m"), "MacAlgorithm": "HMAC_SHA_256" }),
    )
    .unwrap();
    kms.create_alias("alias/mac", &hmac).unwrap();
    drop(kms);

    let good = std::fs::read(&path).unwrap();
    let newline = good.iter().position(|b| *b == b'\n').unwrap();
    let body: Value = serde_json::from_slice(&good[newline + 1..]).unwrap();
    let index = |arn: &str| {
        body["Keys"]
            .as_array()
            .unwrap()
            .iter()
            .position(|k| k["Arn"] == arn)
            .unwrap()
    };
    let (h, e, r) = (index(&hmac), index(&p384), index(&rsa));
    let p256 = aws_lc_rs::signature::EcdsaKeyPair::generate_pkcs8(
        &aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
        &aws_lc_rs::rand::SystemRandom::new(),
    )
    .unwrap();
    let tags51: Vec<Value> = (0..51)
        .map(|i| json!({ "TagKey": format!("t{i}"), "TagValue": "" }))
        .collect();
    type Edit = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(Edit, String)> = vec![
        (
            Box::new(move |b| b["Keys"][h]["HmacKey"] = json!(b64(&[7; 16]))),
            format!("Keys[{h}].HmacKey: 16 bytes, not the 32 bytes of an HMAC_256 key"),
        ),
        (
            Box::new(move |b| {
                b["Keys"][h].as_object_mut().unwrap().remove("HmacKey");
            }),
            format!("Keys[{h}]: an HMAC_256 key without HmacKey"),
        ),
        (
            Box::new(move |b| {
                let private = b["Keys"][e]["PrivateKey"].clone();
                b["Keys"][h]["PrivateKey"] = private;
            }),
            format!("Keys[{h}].PrivateKey: HMAC_256 keys have HmacKey, not PrivateKey"),
        ),
        (
            Box::new(move |b| b["Keys"][e]["PrivateKey"] = json!(b64(p256.as_ref()))),
            format!("Keys[{e}].PrivateKey: not an unencrypted PKCS#8 ECC NIST P-384 private key"),
        ),
        (
            Box::new(move |b| b["Keys"][r]["KeyUsage"] = json!("KEY_AGREEMENT")),
            format!("Keys[{r}].KeyUsage: KEY_AGREEMENT is not a usage of RSA_2048"),
        ),
        (
            Box::new(move |b| b["Keys"][h]["Tags"][0]["TagKey"] = json!("aws:team")),
            format!("Keys[{h}].Tags: Tag key \"aws:team\" starts with aws:"),
        ),
        (
            Box::new(move |b| b["Keys"][h]["Tags"] = json!(tags51)),
            format!("Keys[{h}].Tags: holds 51 tags; a key holds at most 50"),
        ),
        (
            Box::new(move |b| b["Keys"][h]["KeyLastUsage"]["Operation"] = json!("CreateKey")),
            format!(
                "Keys[{h}].KeyLastUsage.Operation: \"CreateKey\" is not a KeyLastUsageTrackingOperation"
            ),
        ),
        (
            Box::new(move |b| b["Keys"][h]["KeyLastUsage"]["Timestamp"] = json!("yesterday")),
            format!("Keys[{h}].KeyLastUsage.Timestamp: \"yesterday\" is not an RFC 3339 UTC time"),
        ),
        (
            Box::new(|b| {
                b["Aliases"][0]
                    .as_object_mut()
                    .unwrap()
                    .remove("LastUpdatedDate");
            }),
            "its state is not readable: missing field `LastUpdatedDate`".to_string(),
        ),
        // A next sequence number at its maximum leaves no number for a new
        // key or grant: refused at load, not an overflow at the next create.
        (
            Box::new(|b| b["NextKeySequence"] = json!(u64::MAX)),
            "NextKeySequence: is at its maximum".to_string(),
        ),
        (
            Box::new(|b| b["NextGrantSequence"] = json!(u64::MAX)),
            "NextGrantSequence: is at its maximum".to_string(),
        ),
    ];
    let shown = path.display().to_string();
    for (edit, message) in cases {
        let mut changed = body.clone();
        edit(&mut changed);
        let bytes = state_file(changed.to_string().as_bytes());
        write_private(&path, &bytes);
        let e = builder(&clock).open(Storage::file(&path)).unwrap_err();
        assert_eq!(e.kind(), StateErrorKind::Corrupt, "{message}: {e}");
        let wanted = format!("state file {shown} is invalid: {message}");
        assert!(e.to_string().starts_with(&wanted), "\n{e}\n{wanted}");
        assert_eq!(std::fs::read(&path).unwrap(), bytes);
    }

    // The file as written opens, with everything in it.
    write_private(&path, &good);
    let kms = open(&clock, &path);
    assert_eq!(
        kms.describe_key("alias/mac").unwrap().arn.as_deref(),
        Some(hmac.as_str())
    );
    let last = kms
        .invoke("GetKeyLastUsage", json!({ "KeyId": hmac }))
        .unwrap();
    assert_eq!(last["KeyLastUsage"]["Operation"], "GenerateMac");
}

#[test]
fn an_invalid_account_id_is_refused_when_the_kms_is_made() {
    let dir = TempDir::new("bad-account");
    let path = dir.join("kms.state");
    for bad in ["1234", "44445555666a", "4444555566667", ""] {
        // In memory or with a state file: an error naming the value, and no
        // file is made.
        for storage in [Storage::memory(), Storage::file(&path)] {
            let e = LocalKms::builder()
                .account_id(bad)
                .open(storage)
                .unwrap_err();
            assert_eq!(e.kind(), StateErrorKind::Config, "{bad:?}: {e}");
            assert_eq!(
                e.to_string(),
                format!("invalid local KMS account id {bad:?}: an account id is 12 digits")
            );
            assert_eq!(e.path(), None);
        }
        assert!(!path.exists());
        // build() has no error to return: it panics with the same message.
        let panicked =
            std::panic::catch_unwind(|| LocalKms::builder().account_id(bad).build()).unwrap_err();
        let message = panicked
            .downcast_ref::<String>()
            .cloned()
            .unwrap_or_default();
        assert_eq!(
            message,
            format!("invalid local KMS account id {bad:?}: an account id is 12 digits")
        );
    }
    let kms = LocalKms::builder()
        .account_id(B)
        .open(Storage::memory())
        .unwrap();
    assert_eq!(kms.account_id(), B);
}

/// A grant with encryption-context constraints on a key that takes no
/// encryption context (which CreateGrant and seeds now refuse, but an older
/// state file may hold) allows nothing: constraints fail closed.
#[test]
fn context_constraints_on_an_asymmetric_key_grant_fail_closed() {
    let dir = TempDir::new("rsa-constraints");
    let path = dir.join("kms.state");
    let clock = TestClock::new();
    let kms = open(&clock, &path);
    let rsa = kms
        .create_key(KeySpec::Rsa2048, KeyUsageType::EncryptDecrypt)
        .unwrap();
    let blob = kms
        .invoke(
            "Encrypt",
            json!({ "KeyId": rsa, "Plaintext": b64(b"hi"), "EncryptionAlgorithm": "RSAES_OAEP_SHA_256" }),
        )
        .unwrap()["CiphertextBlob"]
        .clone();
    let grant = kms
        .invoke(
            "CreateGrant",
            json!({ "KeyId": rsa, "GranteePrincipal": APP_ROLE, "Operations": ["Decrypt"] }),
        )
        .unwrap();
    let app = principal(APP_SESSION);
    let decrypt = json!({
        "KeyId": rsa, "CiphertextBlob": blob, "EncryptionAlgorithm": "RSAES_OAEP_SHA_256",
        "GrantTokens": [grant["GrantToken"]],
    });
    kms.invoke_as(&app, "Decrypt", decrypt.clone()).unwrap();
    drop(kms);

    let good = std::fs::read(&path).unwrap();
    let newline = good.iter().position(|b| *b == b'\n').unwrap();
    let mut body: Value = serde_json::from_slice(&good[newline + 1..]).unwrap();
    body["Grants"][0]["EncryptionContextSubset"] = json!({ "a": "b" });
    write_private(&path, &state_file(body.to_string().as_bytes()));
    let kms = open(&clock, &path);
    let e = kms.invoke_as(&app, "Decrypt", decrypt).unwrap_err();
    assert_eq!(e.code(), "AccessDeniedException", "{e:?}");
}
