//! Seeds (`Seed`, `Storage::seed`): fixed key ids, states, descriptions,
//! key policies, aliases, grants (effective at once) and principals; fixed
//! key material makes ciphertexts a fixture can hold; fixed private keys make
//! fixed public keys; every mistake names its entry; how a seed and a state
//! file combine.

use crate::common::{Sig, TempDir, Transport, b64, unb64};

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::signature::KeyPair as _;
use serde_json::{Value, json};
use tower_kms::local::{LocalKms, Opened, Principal, Seed, StateErrorKind, Storage};
use tower_kms::{KeySpec, KeyState};

const ORDERS: &str = "11111111-2222-4333-8444-555555555555";
const SIGNER: &str = "66666666-7777-4888-9999-aaaaaaaaaaaa";
const DOOMED: &str = "0b7e2a04-7c3d-4a6e-9d4b-3f2d1c0b9a88";
/// Bytes 0 to 31, in base64.
const MATERIAL: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const GRANT_ID: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90";

/// `Encrypt` of "fixture" under the context `{"purpose": "test"}` by the key
/// `ORDERS` with the material `MATERIAL`, made once by a local KMS and kept
/// here: what a test fixture holds. Any local KMS seeded with that key must
/// decrypt it (a change of the ciphertext format must fail this test).
const FIXTURE_BLOB: &str = "ohEREREiIkMzhERVVVVVVVU4BBe7zkBa2617PzQsVn17ZU8u5348Y1MsqMf2jeJ4wke0qhMqcP2G2O/l4VC2J4Mxiblbu+UAyqhx/CD//Uuv+Dpb";

fn seed_json() -> Value {
    json!({
        "version": 1,
        "principals": [
            { "Arn": "arn:aws:iam::111122223333:user/admin",
              "AccessKeyId": "AKIDADMIN", "SecretAccessKey": "admin-secret" },
            { "Arn": "arn:aws:sts::111122223333:assumed-role/app/test",
              "AccessKeyId": "AKIDAPP", "SecretAccessKey": "app-secret" },
            { "Arn": "arn:aws:iam::111122223333:role/app",
              "IdentityPolicies": [
                { "Version": "2012-10-17",
                  "Statement": { "Effect": "Allow", "Action": "kms:DescribeKey", "Resource": "*" } } ] }
        ],
        "keys": [
            { "KeyId": ORDERS, "Description": "orders", "KeyMaterial": MATERIAL,
              "RotationPeriodInDays": 180,
              "Policy": {
                  "Version": "2012-10-17",
                  "Statement": [
                      { "Effect": "Allow", "Principal": { "AWS": "arn:aws:iam::111122223333:root" },
                        "Action": "kms:*", "Resource": "*" },
                      { "Effect": "Deny", "Principal": { "AWS": "arn:aws:iam::111122223333:user/admin" },
                        "Action": "kms:Decrypt", "Resource": "*" } ] } },
            { "KeyId": SIGNER.to_uppercase(), "KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY",
              "KeyState": "Disabled", "Account": "444455556666" },
            { "KeyId": DOOMED, "KeyState": "PendingDeletion", "PendingWindowInDays": 7 }
        ],
        "aliases": [
            { "AliasName": "alias/orders", "TargetKeyId": ORDERS },
            { "AliasName": "alias/orders", "TargetKeyId": SIGNER }
        ],
        "grants": [
            { "KeyId": ORDERS, "GrantId": GRANT_ID, "Name": "orders-app",
              "GranteePrincipal": "arn:aws:iam::111122223333:role/app",
              "RetiringPrincipal": "arn:aws:iam::111122223333:user/admin",
              "Operations": ["Encrypt", "Decrypt", "Encrypt"],
              "Constraints": { "EncryptionContextSubset": { "tenant": "a" } } }
        ]
    })
}

fn seed() -> Seed {
    Seed::from_json(&seed_json().to_string()).unwrap_or_else(|e| panic!("{e}"))
}

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

fn open_at(now: SystemTime, storage: Storage) -> LocalKms {
    LocalKms::builder()
        .clock(Arc::new(move || now))
        .grant_propagation_delay(Duration::from_secs(3600))
        .open(storage)
        .unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn a_seed_makes_its_keys_aliases_policies_grants_and_principals() {
    let start = SystemTime::now();
    let kms = open_at(start, Storage::memory().seed(seed()));
    assert_eq!(kms.opened(), Opened::Memory);
    assert_eq!(
        seed().key_ids().collect::<Vec<_>>(),
        [ORDERS, SIGNER, DOOMED]
    );

    // Fixed ids, accounts, states, descriptions, dates.
    let orders = kms.describe_key(ORDERS).unwrap();
    assert_eq!(
        orders.arn.as_deref(),
        Some(format!("arn:aws:kms:us-east-1:111122223333:key/{ORDERS}").as_str())
    );
    assert_eq!(orders.description.as_deref(), Some("orders"));
    assert_eq!(orders.key_state, Some(KeyState::Enabled));
    // Dated at the start (KMS's dates have milliseconds, in a float).
    let millis = |t: SystemTime| t.duration_since(UNIX_EPOCH).unwrap().as_millis();
    let near = |a: Option<SystemTime>, b: SystemTime| {
        a.is_some_and(|a| millis(a).abs_diff(millis(b)) <= 1)
    };
    assert!(near(orders.creation_date, start));
    let signer_arn = format!("arn:aws:kms:us-east-1:444455556666:key/{SIGNER}");
    let signer = kms.describe_key(&signer_arn).unwrap();
    assert_eq!(signer.key_state, Some(KeyState::Disabled));
    assert_eq!(signer.key_spec, Some(KeySpec::EccNistP256));
    // Not in the default account: a bare id does not find it.
    assert!(kms.describe_key(SIGNER).is_err());
    let doomed = kms.describe_key(DOOMED).unwrap();
    assert_eq!(doomed.key_state, Some(KeyState::PendingDeletion));
    assert!(near(
        doomed.deletion_date,
        start + Duration::from_secs(7 * 86_400)
    ));

    // Rotation from the start, the key policy as given, aliases per account.
    let status = kms
        .invoke("GetKeyRotationStatus", json!({ "KeyId": ORDERS }))
        .unwrap();
    assert_eq!(status["RotationPeriodInDays"], 180);
    let policy: Value = serde_json::from_str(&kms.key_policy(ORDERS).unwrap()).unwrap();
    assert_eq!(policy, seed_json()["keys"][0]["Policy"]);
    assert_eq!(kms.describe_key("alias/orders").unwrap().key_id, ORDERS);
    let b_root = Principal::from_arn("arn:aws:iam::444455556666:root").unwrap();
    let in_b = kms
        .invoke_as(&b_root, "DescribeKey", json!({ "KeyId": "alias/orders" }))
        .unwrap();
    assert_eq!(in_b["KeyMetadata"]["KeyId"], SIGNER);

    // The grant: its fixed id and name, its operations once each.
    let grants = kms
        .invoke("ListGrants", json!({ "KeyId": ORDERS }))
        .unwrap();
    let g = &grants["Grants"][0];
    assert_eq!(g["GrantId"], GRANT_ID);
    assert_eq!(g["Name"], "orders-app");
    assert_eq!(g["Operations"], json!(["Encrypt", "Decrypt"]));
    assert_eq!(
        g["Constraints"],
        json!({ "EncryptionContextSubset": { "tenant": "a" } })
    );

    // The principals, over 127.0.0.1 with their own credentials; `test` is not
    // accepted any more (the seed configured credentials).
    let t = Transport::socket(&kms).await;
    let sig = |akid: &str, secret: &str| Sig {
        access_key: akid.into(),
        secret: secret.into(),
        ..Sig::default()
    };
    let admin = sig("AKIDADMIN", "admin-secret");
    let app = sig("AKIDAPP", "app-secret");
    t.call_with("ListKeys", json!({}), &Sig::default())
        .await
        .err(400, "UnrecognizedClientException");
    let ctx = json!({ "tenant": "a" });
    let blob = t
        .call_with(
            "Encrypt",
            json!({ "KeyId": "alias/orders", "Plaintext": b64(b"hi"), "EncryptionContext": ctx }),
            &admin,
        )
        .await
        .ok()["CiphertextBlob"]
        .clone();
    // The key policy denies the admin Decrypt.
    t.call_with(
        "Decrypt",
        json!({ "CiphertextBlob": blob, "EncryptionContext": ctx }),
        &admin,
    )
    .await
    .err(400, "AccessDeniedException");
    // The app's role may only DescribeKey, but the seeded grant allows it
    // Decrypt under its constraint, at once, without a token.
    let out = t
        .call_with(
            "Decrypt",
            json!({ "CiphertextBlob": blob, "EncryptionContext": ctx }),
            &app,
        )
        .await
        .ok();
    assert_eq!(unb64(&out["Plaintext"]), b"hi");
    t.call_with("Decrypt", json!({ "CiphertextBlob": blob }), &app)
        .await
        .err(400, "AccessDeniedException");
    // A token for the seeded grant: CreateGrant again with its Name.
    let again = kms
        .invoke(
            "CreateGrant",
            json!({
                "KeyId": ORDERS, "Name": "orders-app",
                "GranteePrincipal": "arn:aws:iam::111122223333:role/app",
                "RetiringPrincipal": "arn:aws:iam::111122223333:user/admin",
                "Operations": ["Decrypt", "Encrypt"],
                "Constraints": { "EncryptionContextSubset": { "tenant": "a" } },
            }),
        )
        .unwrap();
    assert_eq!(again["GrantId"], GRANT_ID);
    t.call_with(
        "RetireGrant",
        json!({ "GrantToken": again["GrantToken"] }),
        &admin,
    )
    .await
    .ok();
    t.shutdown().await;
}

#[test]
fn fixed_material_makes_ciphertexts_a_fixture_can_hold() {
    let one = open_at(at(1_700_000_000), Storage::memory().seed(seed()));
    let other = open_at(at(1_800_000_000), Storage::memory().seed(seed()));
    let ctx = json!({ "purpose": "test" });
    let made = one
        .invoke(
            "Encrypt",
            json!({ "KeyId": ORDERS, "Plaintext": b64(b"fixture"), "EncryptionContext": ctx }),
        )
        .unwrap();
    // The KeyMaterialId is the documented HMAC of the material over the key id.
    let mut material = [0u8; 32];
    for (i, b) in material.iter_mut().enumerate() {
        *b = i as u8;
    }
    let raw_id: Vec<u8> = hex::decode(ORDERS.replace('-', "")).unwrap();
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &material);
    let mut mac = aws_lc_rs::hmac::Context::with_key(&key);
    mac.update(b"tower-kms local key material id");
    mac.update(&raw_id);
    let material_id = hex::encode(mac.sign().as_ref());
    for (kms, blob) in [
        (&other, made["CiphertextBlob"].clone()),
        (&one, json!(FIXTURE_BLOB)),
        (&other, json!(FIXTURE_BLOB)),
    ] {
        let out = kms
            .invoke(
                "Decrypt",
                json!({ "CiphertextBlob": blob, "EncryptionContext": ctx }),
            )
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(unb64(&out["Plaintext"]), b"fixture");
        assert_eq!(out["KeyMaterialId"], material_id.as_str());
    }
    // The same material under another key id is another material: the
    // fixture names its key.
    let moved = json!({ "keys": [{ "KeyId": DOOMED, "KeyMaterial": MATERIAL }] }).to_string();
    let moved = open_at(
        at(1_700_000_000),
        Storage::memory().seed(Seed::from_json(&moved).unwrap()),
    );
    let mut blob = unb64(&json!(FIXTURE_BLOB));
    blob[1..17].copy_from_slice(&hex::decode(DOOMED.replace('-', "")).unwrap());
    let e = moved
        .invoke(
            "Decrypt",
            json!({ "CiphertextBlob": b64(&blob), "EncryptionContext": ctx }),
        )
        .unwrap_err();
    assert_eq!(e.code(), "InvalidCiphertextException");
}

#[test]
fn a_fixed_private_key_makes_a_fixed_public_key() {
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let alg = &aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1_SIGNING;
    let pkcs8 = aws_lc_rs::signature::EcdsaKeyPair::generate_pkcs8(alg, &rng).unwrap();
    let pair = aws_lc_rs::signature::EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref()).unwrap();
    let public = pair.public_key().as_der().unwrap();
    let text = json!({ "keys": [{
        "KeyId": SIGNER, "KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY",
        "PrivateKey": b64(pkcs8.as_ref()),
    }]})
    .to_string();
    for _ in 0..2 {
        let kms = open_at(
            at(1_700_000_000),
            Storage::memory().seed(Seed::from_json(&text).unwrap()),
        );
        let out = kms
            .invoke("GetPublicKey", json!({ "KeyId": SIGNER }))
            .unwrap();
        assert_eq!(unb64(&out["PublicKey"]), public.as_ref());
    }
}

#[test]
fn every_mistake_names_its_entry() {
    let key = |extra: Value| {
        let mut k = json!({ "KeyId": ORDERS });
        for (name, v) in extra.as_object().unwrap() {
            k[name] = v.clone();
        }
        json!({ "keys": [k] })
    };
    let two_keys = |aliases: Value, grants: Value| {
        json!({
            "keys": [{ "KeyId": ORDERS }, { "KeyId": DOOMED, "KeyState": "PendingDeletion" }],
            "aliases": aliases, "grants": grants,
        })
    };
    let grant = |extra: Value| {
        let mut g = json!({ "KeyId": ORDERS, "GranteePrincipal": "111122223333", "Operations": ["Encrypt"] });
        for (name, v) in extra.as_object().unwrap() {
            g[name] = v.clone();
        }
        two_keys(json!([]), json!([g]))
    };
    let cases: Vec<(String, &str, &str)> = vec![
        ("not json".into(), "", "is not JSON: expected ident at line 1 column 2"),
        ("[]".into(), "", "a seed is a JSON object"),
        (json!({ "kyes": [] }).to_string(), "kyes", "is not a member of a seed (its members are version, principals, keys, aliases, grants)"),
        (json!({ "version": 2 }).to_string(), "version", "is 2; this version of tower-kms reads seed version 1"),
        (json!({ "keys": {} }).to_string(), "keys", "must be an array"),
        (json!({ "keys": [{}] }).to_string(), "keys[0].KeyId", "is required"),
        (json!({ "keys": [{ "KeyId": 7 }] }).to_string(), "keys[0].KeyId", "must be a string"),
        (key(json!({ "KeyId": "orders" })).to_string(), "keys[0].KeyId", "\"orders\" is not a key id"),
        (
            json!({ "keys": [{ "KeyId": ORDERS }, { "KeyId": SIGNER }, { "KeyId": DOOMED, "KeySpec": "AES" }] }).to_string(),
            "keys[2].KeySpec",
            "1 validation error detected: Value 'AES' at 'keySpec' failed to satisfy constraint",
        ),
        (key(json!({ "KeySpec": "SM2" })).to_string(), "keys[0].KeySpec", "KeySpec SM2 is not supported by the local KMS."),
        (key(json!({ "KeyUsage": "SIGN_VERIFY" })).to_string(), "keys[0].KeyUsage", "SIGN_VERIFY is not compatible with KeySpec SYMMETRIC_DEFAULT, which takes ENCRYPT_DECRYPT"),
        (json!({ "keys": [{ "KeyId": ORDERS }, { "KeyId": ORDERS.to_uppercase() }] }).to_string(), "keys[1].KeyId", "11111111-2222-4333-8444-555555555555 is the key id of keys[0] already"),
        (key(json!({ "KeySepc": "RSA_2048" })).to_string(), "keys[0].KeySepc", "is not a member of a key entry (its members are KeyId, Account,"),
        (key(json!({ "Account": "1234" })).to_string(), "keys[0].Account", "is not a 12-digit account id"),
        (key(json!({ "Description": "x".repeat(8193) })).to_string(), "keys[0].Description", "is longer than 8192 characters"),
        (key(json!({ "KeyState": "Gone" })).to_string(), "keys[0].KeyState", "\"Gone\" is not Enabled, Disabled or PendingDeletion"),
        (key(json!({ "PendingWindowInDays": 7 })).to_string(), "keys[0].PendingWindowInDays", "is only for a key whose KeyState is PendingDeletion"),
        (key(json!({ "KeyState": "PendingDeletion", "PendingWindowInDays": 31 })).to_string(), "keys[0].PendingWindowInDays", "must be a whole number from 7 to 30"),
        (key(json!({ "KeyMaterial": "AAECAwQFBgcICQoLDA0ODw==" })).to_string(), "keys[0].KeyMaterial", "is 16 bytes; AES-256 key material is 32"),
        (key(json!({ "KeyMaterial": "not base64!" })).to_string(), "keys[0].KeyMaterial", "is not base64"),
        (key(json!({ "KeySpec": "RSA_2048", "KeyMaterial": MATERIAL })).to_string(), "keys[0].KeyMaterial", "is for symmetric encryption and HMAC keys; RSA_2048 takes PrivateKey"),
        (key(json!({ "PrivateKey": "AAAA" })).to_string(), "keys[0].PrivateKey", "is for asymmetric keys (RSA and ECC); SYMMETRIC_DEFAULT takes KeyMaterial"),
        (key(json!({ "KeySpec": "RSA_2048", "PrivateKey": "AAAA" })).to_string(), "keys[0].PrivateKey", "is not an unencrypted PKCS#8 RSA private key"),
        (key(json!({ "RotationPeriodInDays": 30 })).to_string(), "keys[0].RotationPeriodInDays", "must be a whole number from 90 to 2560"),
        (key(json!({ "KeySpec": "RSA_2048", "RotationPeriodInDays": 90 })).to_string(), "keys[0].RotationPeriodInDays", "only symmetric keys rotate, not RSA_2048"),
        (key(json!({ "Policy": { "Statement": [] } })).to_string(), "keys[0].Policy", "The policy document has no statements."),
        (key(json!({ "Policy": 5 })).to_string(), "keys[0].Policy", "must be a policy document (a JSON object or a string)"),
        (two_keys(json!([{ "AliasName": "orders", "TargetKeyId": ORDERS }]), json!([])).to_string(), "aliases[0].AliasName", "Alias must start with the prefix \"alias/\""),
        (two_keys(json!([{ "AliasName": "alias/aws/x", "TargetKeyId": ORDERS }]), json!([])).to_string(), "aliases[0].AliasName", "alias/aws/ is reserved"),
        (two_keys(json!([{ "AliasName": "alias/x", "TargetKeyId": SIGNER }]), json!([])).to_string(), "aliases[0].TargetKeyId", "is not the KeyId of a seeded key"),
        (two_keys(json!([{ "AliasName": "alias/x", "TargetKeyId": DOOMED }]), json!([])).to_string(), "aliases[0].TargetKeyId", "keys[1] is pending deletion"),
        (
            two_keys(json!([{ "AliasName": "alias/x", "TargetKeyId": ORDERS }, { "AliasName": "alias/x", "TargetKeyId": ORDERS }]), json!([])).to_string(),
            "aliases[1].AliasName",
            "alias/x is an alias of the same account already",
        ),
        (grant(json!({ "KeyId": DOOMED })).to_string(), "grants[0].KeyId", "keys[1] is pending deletion"),
        (grant(json!({ "Operations": ["Encrypt", "Sign"] })).to_string(), "grants[0].Operations[1]", "Sign is not an operation of keys[0] (KeySpec SYMMETRIC_DEFAULT, KeyUsage ENCRYPT_DECRYPT)"),
        (grant(json!({ "Operations": ["Fly"] })).to_string(), "grants[0].Operations[0]", "\"Fly\" is not a grant operation"),
        (grant(json!({ "Operations": [] })).to_string(), "grants[0].Operations", "is required (not empty)"),
        (grant(json!({ "GranteePrincipal": "bob" })).to_string(), "grants[0].GranteePrincipal", "bob is not a valid principal"),
        (grant(json!({ "RetiringPrincipal": "arn:aws:iam::1:user/x" })).to_string(), "grants[0].RetiringPrincipal", "is not a valid principal"),
        (grant(json!({ "GrantId": "abc" })).to_string(), "grants[0].GrantId", "The specified GrantId is not valid: abc"),
        (grant(json!({ "Name": "no spaces" })).to_string(), "grants[0].Name", "is 1 to 256 letters, digits"),
        (grant(json!({ "Constraints": { "EncryptionContextSubset": { "a": 1 } } })).to_string(), "grants[0].Constraints.EncryptionContextSubset.a", "must be a string"),
        (grant(json!({ "Constraints": { "SourceArn": "x" } })).to_string(), "grants[0].Constraints.SourceArn", "is not a member of grant constraints"),
        (
            json!({
                "keys": [{ "KeyId": ORDERS, "KeySpec": "RSA_2048" }],
                "grants": [{ "KeyId": ORDERS, "GranteePrincipal": "111122223333", "Operations": ["Decrypt"],
                             "Constraints": { "EncryptionContextSubset": { "a": "b" } } }],
            })
            .to_string(),
            "grants[0].Constraints.EncryptionContextSubset",
            "Grant constraints EncryptionContextEquals and EncryptionContextSubset are supported only for symmetric encryption KMS keys (KeySpec SYMMETRIC_DEFAULT), not RSA_2048.",
        ),
        (json!({ "principals": [{ "Arn": "bob", "AccessKeyId": "A", "SecretAccessKey": "s" }] }).to_string(), "principals[0].Arn", "\"bob\" is not a principal ARN"),
        (json!({ "principals": [{ "Arn": "arn:aws:iam::111122223333:user/a", "AccessKeyId": "A" }] }).to_string(), "principals[0].SecretAccessKey", "is required with AccessKeyId"),
        (json!({ "principals": [{ "Arn": "arn:aws:iam::111122223333:user/a", "AccessKeyId": "A/B", "SecretAccessKey": "s" }] }).to_string(), "principals[0].AccessKeyId", "is 1 to 128 letters, digits"),
        (
            json!({ "principals": [
                { "Arn": "arn:aws:iam::111122223333:user/a", "AccessKeyId": "A", "SecretAccessKey": "s" },
                { "Arn": "arn:aws:iam::111122223333:user/b", "AccessKeyId": "A", "SecretAccessKey": "t" } ] }).to_string(),
            "principals[1].AccessKeyId",
            "A is the access key id of principals[0] already",
        ),
        (json!({ "principals": [{ "Arn": "arn:aws:iam::111122223333:user/a" }] }).to_string(), "principals[0]", "has neither credentials"),
        (
            json!({ "principals": [{ "Arn": "arn:aws:iam::111122223333:user/a", "IdentityPolicies": [
                { "Statement": { "Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "*" } } ] }] }).to_string(),
            "principals[0].IdentityPolicies[0]",
            "Policy document should not specify a principal.",
        ),
    ];
    for (text, entry, message) in cases {
        let e = Seed::from_json(&text).unwrap_err();
        assert_eq!(e.entry(), entry, "{text}: {e}");
        assert!(e.message().contains(message), "{text}: {e}");
        assert!(!e.message().is_empty());
        let shown = e.to_string();
        if entry.is_empty() {
            assert!(shown.starts_with("seed: "), "{shown}");
        } else {
            assert!(shown.starts_with(&format!("seed: {entry}: ")), "{shown}");
        }
    }

    // From a file, the error names it too.
    let dir = TempDir::new("seed-errors");
    let path = dir.join("seed.json");
    std::fs::write(&path, key(json!({ "KeySpec": "AES" })).to_string()).unwrap();
    let e = Seed::from_file(&path).unwrap_err();
    assert_eq!(e.origin(), Some(path.as_path()));
    assert!(
        e.to_string().starts_with(&format!(
            "seed {}: keys[0].KeySpec: 1 validation error detected",
            path.display()
        )),
        "{e}"
    );
}

#[test]
fn a_seed_starts_a_new_state_file_only() {
    let dir = TempDir::new("seed-state");
    let path = dir.join("kms.state");
    let kms = open_at(at(1_700_000_000), Storage::file(&path).seed(seed()));
    assert_eq!(kms.opened(), Opened::Created);
    // The seeded keys are in the file as soon as it is opened.
    drop(kms);
    let kms = open_at(at(1_700_000_100), Storage::file(&path));
    assert_eq!(kms.opened(), Opened::Loaded);
    assert_eq!(kms.describe_key("alias/orders").unwrap().key_id, ORDERS);
    kms.schedule_key_deletion(ORDERS, 7).unwrap();
    drop(kms);

    // With the file there, another seed's keys, aliases and grants are not
    // applied (the file is the truth), but its principals are configured.
    let mut changed = seed_json();
    changed["keys"][0]["Description"] = json!("changed");
    changed["keys"]
        .as_array_mut()
        .unwrap()
        .push(json!({ "KeyId": "33333333-2222-4333-8444-555555555555" }));
    changed["principals"][0]["AccessKeyId"] = json!("AKIDNEW");
    let kms = open_at(
        at(1_700_000_200),
        Storage::file(&path).seed(Seed::from_json(&changed.to_string()).unwrap()),
    );
    assert_eq!(kms.opened(), Opened::Loaded);
    let orders = kms.describe_key(ORDERS).unwrap();
    assert_eq!(orders.description.as_deref(), Some("orders"));
    assert_eq!(orders.key_state, Some(KeyState::PendingDeletion));
    assert!(
        kms.describe_key("33333333-2222-4333-8444-555555555555")
            .is_err()
    );
    let listed = kms.invoke("ListKeys", json!({})).unwrap();
    assert_eq!(listed["Keys"].as_array().unwrap().len(), 2);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let t = Transport::in_process(&kms);
        let new = Sig {
            access_key: "AKIDNEW".into(),
            secret: "admin-secret".into(),
            time: at(1_700_000_200),
            ..Sig::default()
        };
        t.call_with("ListKeys", json!({}), &new).await.ok();
        let old = Sig {
            access_key: "AKIDADMIN".into(),
            ..new.clone()
        };
        t.call_with("ListKeys", json!({}), &old)
            .await
            .err(400, "UnrecognizedClientException");
    });
}

#[test]
fn seed_credentials_that_clash_with_the_builder_are_refused() {
    let e = LocalKms::builder()
        .credentials("AKIDAPP", "other")
        .open(Storage::memory().seed(seed()))
        .unwrap_err();
    assert_eq!(e.kind(), StateErrorKind::Seed);
    let source = std::error::Error::source(&e).unwrap().to_string();
    assert_eq!(
        format!("{e}: {source}"),
        "the seed does not fit this local KMS: seed: principals[1].AccessKeyId: AKIDAPP is configured already (a builder credential or --credentials)"
    );
}

const RSA_SIGNER: &str = "0a000000-0000-4000-8000-000000000001";
const RSA_CRYPT: &str = "0a000000-0000-4000-8000-000000000002";
const AGREER: &str = "0a000000-0000-4000-8000-000000000003";
const K1: &str = "0a000000-0000-4000-8000-000000000004";
const MACER: &str = "0a000000-0000-4000-8000-000000000005";
const RANDOM_MACER: &str = "0a000000-0000-4000-8000-000000000006";

/// Fixed private keys of every kind, a fixed HMAC key and tags (#13's
/// members of the seed), kept by a state file the seed started.
#[test]
fn fixed_keys_of_every_kind_and_tags_make_fixtures() {
    use aws_lc_rs::agreement;
    use aws_lc_rs::signature::{self, EcdsaKeyPair, UnparsedPublicKey};

    let rng = aws_lc_rs::rand::SystemRandom::new();
    // One RSA key, as a signing key and as an encryption key.
    let rsa = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let rsa_pkcs8: aws_lc_rs::encoding::Pkcs8V1Der<'_> = rsa.as_der().unwrap();
    let rsa_public = rsa.public_key().as_der().unwrap();
    let p384 = agreement::PrivateKey::generate(&agreement::ECDH_P384).unwrap();
    let p384_pkcs8: aws_lc_rs::encoding::Pkcs8V1Der<'_> = p384.as_der().unwrap();
    let k1_alg = &signature::ECDSA_P256K1_SHA256_ASN1_SIGNING;
    let k1_pkcs8 = EcdsaKeyPair::generate_pkcs8(k1_alg, &rng).unwrap();
    let k1 = EcdsaKeyPair::from_pkcs8(k1_alg, k1_pkcs8.as_ref()).unwrap();
    let mac_key: Vec<u8> = (0..48).collect();
    let doc = json!({ "keys": [
        { "KeyId": RSA_SIGNER, "KeySpec": "RSA_2048", "KeyUsage": "SIGN_VERIFY",
          "PrivateKey": b64(rsa_pkcs8.as_ref()),
          "Tags": [{ "TagKey": "team", "TagValue": "payments" }, { "TagKey": "empty", "TagValue": "" }] },
        { "KeyId": RSA_CRYPT, "KeySpec": "RSA_2048", "KeyUsage": "ENCRYPT_DECRYPT",
          "PrivateKey": b64(rsa_pkcs8.as_ref()) },
        { "KeyId": AGREER, "KeySpec": "ECC_NIST_P384", "KeyUsage": "KEY_AGREEMENT",
          "PrivateKey": b64(p384_pkcs8.as_ref()) },
        { "KeyId": K1, "KeySpec": "ECC_SECG_P256K1", "KeyUsage": "SIGN_VERIFY",
          "PrivateKey": b64(k1_pkcs8.as_ref()) },
        { "KeyId": MACER, "KeySpec": "HMAC_384", "KeyUsage": "GENERATE_VERIFY_MAC",
          "KeyMaterial": b64(&mac_key), "Tags": [{ "TagKey": "team", "TagValue": "auth" }] },
        { "KeyId": RANDOM_MACER, "KeySpec": "HMAC_224", "KeyUsage": "GENERATE_VERIFY_MAC" },
    ], "aliases": [{ "AliasName": "alias/mac", "TargetKeyId": MACER }],
       "grants": [{ "KeyId": MACER, "GranteePrincipal": "111122223333", "Operations": ["GenerateMac", "VerifyMac"] }] })
    .to_string();
    let seed = Seed::from_json(&doc).unwrap_or_else(|e| panic!("{e}"));
    let dir = TempDir::new("seed-kinds");
    let path = dir.join("kms.state");
    let start = at(1_700_000_000);

    // Started from the seed, then from the state file it made: the same
    // fixtures either way.
    let mut macs = Vec::new();
    for (life, storage) in [
        ("seeded", Storage::file(&path).seed(seed)),
        ("loaded", Storage::file(&path)),
    ] {
        let kms = open_at(start, storage);
        let public = |id: &str| {
            unb64(&kms.invoke("GetPublicKey", json!({ "KeyId": id })).unwrap()["PublicKey"])
        };
        // The RSA signing key's signatures verify with the fixture's public key.
        assert_eq!(public(RSA_SIGNER), rsa_public.as_ref(), "{life}");
        assert_eq!(public(RSA_CRYPT), rsa_public.as_ref(), "{life}");
        let sig = kms
            .invoke(
                "Sign",
                json!({ "KeyId": RSA_SIGNER, "Message": b64(b"m"), "SigningAlgorithm": "RSASSA_PSS_SHA_256" }),
            )
            .unwrap();
        UnparsedPublicKey::new(&signature::RSA_PSS_2048_8192_SHA256, rsa_public.as_ref())
            .verify(b"m", &unb64(&sig["Signature"]))
            .unwrap();
        // The RSA encryption key decrypts what the fixture's public key encrypted.
        let public_key =
            aws_lc_rs::rsa::PublicEncryptingKey::from_der(rsa_public.as_ref()).unwrap();
        let oaep = aws_lc_rs::rsa::OaepPublicEncryptingKey::new(public_key).unwrap();
        let mut ct = vec![0u8; oaep.ciphertext_size()];
        let ct = oaep
            .encrypt(
                &aws_lc_rs::rsa::OAEP_SHA256_MGF1SHA256,
                b"sealed",
                &mut ct,
                None,
            )
            .unwrap()
            .to_vec();
        let out = kms
            .invoke(
                "Decrypt",
                json!({ "KeyId": RSA_CRYPT, "CiphertextBlob": b64(&ct), "EncryptionAlgorithm": "RSAES_OAEP_SHA_256" }),
            )
            .unwrap();
        assert_eq!(unb64(&out["Plaintext"]), b"sealed", "{life}");
        // The agreement key derives what the fixture's private key derives.
        let peer = agreement::PrivateKey::generate(&agreement::ECDH_P384).unwrap();
        let peer_spki = peer.compute_public_key().unwrap().as_der().unwrap();
        let out = kms
            .invoke(
                "DeriveSharedSecret",
                json!({ "KeyId": AGREER, "KeyAgreementAlgorithm": "ECDH", "PublicKey": b64(peer_spki.as_ref()) }),
            )
            .unwrap();
        let ours = agreement::agree(
            &p384,
            agreement::UnparsedPublicKey::new(&agreement::ECDH_P384, peer_spki.as_ref()),
            (),
            |s| Ok(s.to_vec()),
        )
        .unwrap();
        assert_eq!(unb64(&out["SharedSecret"]), ours, "{life}");
        // secp256k1: the fixture's public key.
        assert_eq!(
            public(K1),
            k1.public_key().as_der().unwrap().as_ref(),
            "{life}"
        );
        // The HMAC key's MACs are RFC 2104 HMACs with the fixture's bytes.
        let mac = kms
            .invoke(
                "GenerateMac",
                json!({ "KeyId": "alias/mac", "Message": b64(b"m"), "MacAlgorithm": "HMAC_SHA_384" }),
            )
            .unwrap();
        let expected = aws_lc_rs::hmac::sign(
            &aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA384, &mac_key),
            b"m",
        );
        assert_eq!(unb64(&mac["Mac"]), expected.as_ref(), "{life}");
        // The random HMAC key is random, but the same across the restart.
        macs.push(
            kms.invoke(
                "GenerateMac",
                json!({ "KeyId": RANDOM_MACER, "Message": b64(b"m"), "MacAlgorithm": "HMAC_SHA_224" }),
            )
            .unwrap()["Mac"]
                .clone(),
        );
        // Tags, in tag key order.
        let tags = kms
            .invoke("ListResourceTags", json!({ "KeyId": RSA_SIGNER }))
            .unwrap();
        assert_eq!(
            tags["Tags"],
            json!([{ "TagKey": "empty", "TagValue": "" }, { "TagKey": "team", "TagValue": "payments" }]),
            "{life}"
        );
        let grants = kms.invoke("ListGrants", json!({ "KeyId": MACER })).unwrap();
        assert_eq!(
            grants["Grants"][0]["Operations"],
            json!(["GenerateMac", "VerifyMac"])
        );
        if life == "seeded" {
            // Nothing seeded was used, and the alias is dated at the start.
            for id in [RSA_SIGNER, RSA_CRYPT, AGREER, K1, MACER, RANDOM_MACER] {
                let d = kms.describe_key(id).unwrap();
                assert_eq!(d.creation_date, Some(start));
            }
            let aliases = kms.invoke("ListAliases", json!({})).unwrap();
            let secs = start.duration_since(UNIX_EPOCH).unwrap().as_secs() as f64;
            assert_eq!(aliases["Aliases"][0]["CreationDate"], secs);
            assert_eq!(aliases["Aliases"][0]["LastUpdatedDate"], secs);
            let fresh = kms
                .invoke("GetKeyLastUsage", json!({ "KeyId": K1 }))
                .unwrap();
            assert_eq!(fresh["KeyLastUsage"], json!({}));
        } else {
            let used = kms
                .invoke("GetKeyLastUsage", json!({ "KeyId": MACER }))
                .unwrap();
            assert_eq!(used["KeyLastUsage"]["Operation"], "GenerateMac");
        }
        drop(kms);
    }
    assert_eq!(macs[0], macs[1]);
    assert!(macs[0].is_string());
}

#[test]
fn mistakes_in_the_members_of_other_key_kinds_name_their_entry() {
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair};

    let p256 = EcdsaKeyPair::generate_pkcs8(
        &ECDSA_P256_SHA256_ASN1_SIGNING,
        &aws_lc_rs::rand::SystemRandom::new(),
    )
    .unwrap();
    let p256 = b64(p256.as_ref());
    let rsa = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let rsa: aws_lc_rs::encoding::Pkcs8V1Der<'_> = rsa.as_der().unwrap();
    let rsa = b64(rsa.as_ref());
    let key = |k: Value| json!({ "keys": [k] }).to_string();
    let with_tags = |tags: Value| key(json!({ "KeyId": ORDERS, "Tags": tags }));
    let hmac = |extra: Value| {
        let mut k =
            json!({ "KeyId": ORDERS, "KeySpec": "HMAC_256", "KeyUsage": "GENERATE_VERIFY_MAC" });
        for (name, v) in extra.as_object().unwrap() {
            k[name] = v.clone();
        }
        key(k)
    };
    let tags51: Vec<Value> = (0..51)
        .map(|i| json!({ "TagKey": format!("t{i}"), "TagValue": "v" }))
        .collect();
    let cases: Vec<(String, &str, String)> = vec![
        (
            key(json!({ "KeyId": ORDERS, "KeySpec": "HMAC_256" })),
            "keys[0].KeyUsage",
            "ENCRYPT_DECRYPT (the default) is not compatible with KeySpec HMAC_256, which takes GENERATE_VERIFY_MAC".into(),
        ),
        (
            key(json!({ "KeyId": ORDERS, "KeySpec": "ECC_NIST_P521", "KeyUsage": "GENERATE_VERIFY_MAC" })),
            "keys[0].KeyUsage",
            "GENERATE_VERIFY_MAC is not compatible with KeySpec ECC_NIST_P521, which takes SIGN_VERIFY or KEY_AGREEMENT".into(),
        ),
        (
            key(json!({ "KeyId": ORDERS, "KeySpec": "ECC_SECG_P256K1", "KeyUsage": "KEY_AGREEMENT" })),
            "keys[0].KeyUsage",
            "KEY_AGREEMENT is not compatible with KeySpec ECC_SECG_P256K1, which takes SIGN_VERIFY".into(),
        ),
        (
            hmac(json!({ "KeyMaterial": "AAECAwQFBgcICQoLDA0ODw==" })),
            "keys[0].KeyMaterial",
            "is 16 bytes, not the 32 bytes of an HMAC_256 key".into(),
        ),
        (
            hmac(json!({ "PrivateKey": p256 })),
            "keys[0].PrivateKey",
            "is for asymmetric keys (RSA and ECC); HMAC_256 takes KeyMaterial".into(),
        ),
        (
            key(json!({ "KeyId": ORDERS, "KeySpec": "ECC_NIST_P384", "KeyUsage": "SIGN_VERIFY", "PrivateKey": p256 })),
            "keys[0].PrivateKey",
            "is not an unencrypted PKCS#8 ECC NIST P-384 private key".into(),
        ),
        (
            key(json!({ "KeyId": ORDERS, "KeySpec": "ECC_NIST_P256", "KeyUsage": "KEY_AGREEMENT", "PrivateKey": rsa })),
            "keys[0].PrivateKey",
            "is not an unencrypted PKCS#8 ECC NIST P-256 private key".into(),
        ),
        (
            key(json!({ "KeyId": ORDERS, "KeySpec": "RSA_3072", "KeyUsage": "SIGN_VERIFY", "PrivateKey": rsa })),
            "keys[0].PrivateKey",
            "is an RSA key of 2048 bits, not the 3072 bits of RSA_3072".into(),
        ),
        (
            key(json!({ "KeyId": ORDERS, "KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY", "KeyMaterial": MATERIAL })),
            "keys[0].KeyMaterial",
            "is for symmetric encryption and HMAC keys; ECC_NIST_P256 takes PrivateKey".into(),
        ),
        (
            hmac(json!({ "RotationPeriodInDays": 90 })),
            "keys[0].RotationPeriodInDays",
            "only symmetric keys rotate, not HMAC_256".into(),
        ),
        (with_tags(json!({ "team": "a" })), "keys[0].Tags", "must be an array".into()),
        (with_tags(json!(["team"])), "keys[0].Tags[0]", "a tag is a JSON object".into()),
        (
            with_tags(json!([{ "TagKey": "team" }])),
            "keys[0].Tags[0].TagValue",
            "is required".into(),
        ),
        (
            with_tags(json!([{ "Key": "team", "Value": "a" }])),
            "keys[0].Tags[0].Key",
            "is not a member of a tag (its members are TagKey, TagValue)".into(),
        ),
        (
            with_tags(json!([{ "TagKey": "team", "TagValue": "a" }, { "TagKey": "AWS:x", "TagValue": "b" }])),
            "keys[0].Tags[1]",
            "Tag key \"AWS:x\" starts with aws:, which is reserved for AWS.".into(),
        ),
        (
            with_tags(json!([{ "TagKey": "team", "TagValue": "a|b" }])),
            "keys[0].Tags[0]",
            "The value of tag \"team\" contains characters other than".into(),
        ),
        (
            with_tags(json!([{ "TagKey": "", "TagValue": "a" }])),
            "keys[0].Tags[0]",
            "1 validation error detected: Value at 'tags.member.tagKey' failed to satisfy constraint: Member must have length between 1 and 128".into(),
        ),
        (
            with_tags(json!([{ "TagKey": "team", "TagValue": "a" }, { "TagKey": "team", "TagValue": "b" }])),
            "keys[0].Tags[1].TagKey",
            "\"team\" is the TagKey of Tags[0] already".into(),
        ),
        (
            with_tags(json!(tags51)),
            "keys[0].Tags",
            "holds 51 tags; a key holds at most 50".into(),
        ),
        (
            json!({
                "keys": [{ "KeyId": ORDERS, "KeySpec": "HMAC_512", "KeyUsage": "GENERATE_VERIFY_MAC" }],
                "grants": [{ "KeyId": ORDERS, "GranteePrincipal": "111122223333", "Operations": ["GenerateMac", "Sign"] }],
            })
            .to_string(),
            "grants[0].Operations[1]",
            "Sign is not an operation of keys[0] (KeySpec HMAC_512, KeyUsage GENERATE_VERIFY_MAC)".into(),
        ),
    ];
    for (text, entry, message) in cases {
        let e = Seed::from_json(&text).unwrap_err();
        assert_eq!(e.entry(), entry, "{text}: {e}");
        assert!(e.message().starts_with(&message), "{text}:\n{e}\n{message}");
    }
}
