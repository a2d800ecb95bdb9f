//! Every ReEncrypt rule, in-process and over a loopback socket.

use crate::common;

use common::{Transport, b64, unb64};
use serde_json::{Value, json};
use tower_kms::local::LocalKms;
use tower_kms::{KeySpec, KeyUsageType};

struct Fixture {
    kms: LocalKms,
    sym1: String,
    sym2: String,
    rsa: String,
    ecc: String,
}

fn fixture() -> Fixture {
    let kms = LocalKms::new();
    let sym1 = kms
        .create_key(KeySpec::SymmetricDefault, KeyUsageType::EncryptDecrypt)
        .unwrap();
    let sym2 = kms
        .create_key(KeySpec::SymmetricDefault, KeyUsageType::EncryptDecrypt)
        .unwrap();
    let rsa = kms
        .create_key(KeySpec::Rsa2048, KeyUsageType::EncryptDecrypt)
        .unwrap();
    let ecc = kms
        .create_key(KeySpec::EccNistP256, KeyUsageType::SignVerify)
        .unwrap();
    kms.invoke(
        "CreateAlias",
        json!({ "AliasName": "alias/dest", "TargetKeyId": sym2 }),
    )
    .unwrap();
    kms.invoke(
        "CreateAlias",
        json!({ "AliasName": "alias/src", "TargetKeyId": sym1 }),
    )
    .unwrap();
    Fixture {
        kms,
        sym1,
        sym2,
        rsa,
        ecc,
    }
}

fn key_id(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap()
}

async fn encrypt(t: &Transport, key: &str, pt: &[u8], ctx: Value) -> String {
    let out = t
        .call(
            "Encrypt",
            json!({ "KeyId": key, "Plaintext": b64(pt), "EncryptionContext": ctx }),
        )
        .await
        .ok();
    out["CiphertextBlob"].as_str().unwrap().to_string()
}

async fn material_id(t: &Transport, key: &str) -> String {
    t.call("DescribeKey", json!({ "KeyId": key })).await.ok()["KeyMetadata"]["CurrentKeyMaterialId"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn symmetric_to_symmetric(t: &Transport, f: &Fixture) {
    let ctx = json!({ "tenant": "a", "purpose": "test" });
    let blob = encrypt(t, &f.sym1, b"secret one", ctx.clone()).await;
    let region = f.kms.region().to_string();
    let account = f.kms.account_id().to_string();
    let alias_arn = format!("arn:aws:kms:{region}:{account}:alias/dest");
    for dest in [
        f.sym2.clone(),
        key_id(&f.sym2).to_string(),
        "alias/dest".to_string(),
        alias_arn,
    ] {
        let out = t
            .call(
                "ReEncrypt",
                json!({
                    "CiphertextBlob": blob,
                    "SourceEncryptionContext": ctx,
                    "DestinationKeyId": dest,
                    "DestinationEncryptionContext": { "tenant": "b" },
                }),
            )
            .await
            .ok();
        assert_eq!(out["KeyId"], f.sym2.as_str());
        assert_eq!(out["SourceKeyId"], f.sym1.as_str());
        assert_eq!(out["SourceEncryptionAlgorithm"], "SYMMETRIC_DEFAULT");
        assert_eq!(out["DestinationEncryptionAlgorithm"], "SYMMETRIC_DEFAULT");
        assert_eq!(out["SourceKeyMaterialId"], material_id(t, &f.sym1).await);
        assert_eq!(
            out["DestinationKeyMaterialId"],
            material_id(t, &f.sym2).await
        );
        assert_eq!(out["SourceKeyMaterialId"].as_str().unwrap().len(), 64);
        let new_blob = out["CiphertextBlob"].as_str().unwrap();
        assert_ne!(new_blob, blob);
        // The new blob decrypts only with the new context, under sym2.
        let dec = t
            .call(
                "Decrypt",
                json!({ "CiphertextBlob": new_blob, "EncryptionContext": { "tenant": "b" } }),
            )
            .await
            .ok();
        assert_eq!(unb64(&dec["Plaintext"]), b"secret one");
        assert_eq!(dec["KeyId"], f.sym2.as_str());
        t.call(
            "Decrypt",
            json!({ "CiphertextBlob": new_blob, "EncryptionContext": ctx }),
        )
        .await
        .err(400, "InvalidCiphertextException");
    }

    // Same key, new context.
    let out = t
        .call(
            "ReEncrypt",
            json!({
                "CiphertextBlob": blob,
                "SourceEncryptionContext": ctx,
                "SourceKeyId": "alias/src",
                "DestinationKeyId": f.sym1,
            }),
        )
        .await
        .ok();
    assert_eq!(out["KeyId"], f.sym1.as_str());
    assert_eq!(out["SourceKeyId"], f.sym1.as_str());
    let dec = t
        .call(
            "Decrypt",
            json!({ "CiphertextBlob": out["CiphertextBlob"] }),
        )
        .await
        .ok();
    assert_eq!(unb64(&dec["Plaintext"]), b"secret one");
}

async fn source_key_rules(t: &Transport, f: &Fixture) {
    let ctx = json!({ "k": "v" });
    let blob = encrypt(t, &f.sym1, b"payload", ctx.clone()).await;
    // SourceKeyId naming another key.
    for other in [f.sym2.clone(), "alias/dest".to_string()] {
        let e = t
            .call(
                "ReEncrypt",
                json!({
                    "CiphertextBlob": blob,
                    "SourceEncryptionContext": ctx,
                    "SourceKeyId": other,
                    "DestinationKeyId": f.sym2,
                }),
            )
            .await
            .err(400, "IncorrectKeyException");
        assert!(e["message"].as_str().unwrap().contains("key"));
    }
    // Wrong or missing source context.
    for wrong in [json!({ "k": "w" }), json!({}), Value::Null] {
        t.call(
            "ReEncrypt",
            json!({
                "CiphertextBlob": blob,
                "SourceEncryptionContext": wrong,
                "DestinationKeyId": f.sym2,
            }),
        )
        .await
        .err(400, "InvalidCiphertextException");
    }
    // Tampered blob: every region.
    let raw = unb64(&Value::String(blob.clone()));
    for at in [0, 1, 16, 17, 28, 29, raw.len() - 17, raw.len() - 1] {
        let mut bad = raw.clone();
        bad[at] ^= 0x04;
        t.call(
            "ReEncrypt",
            json!({
                "CiphertextBlob": b64(&bad),
                "SourceEncryptionContext": ctx,
                "DestinationKeyId": f.sym2,
            }),
        )
        .await
        .err(400, "InvalidCiphertextException");
    }
    // Symmetric source with a non-symmetric algorithm.
    t.call(
        "ReEncrypt",
        json!({
            "CiphertextBlob": blob,
            "SourceEncryptionContext": ctx,
            "SourceEncryptionAlgorithm": "RSAES_OAEP_SHA_256",
            "DestinationKeyId": f.sym2,
        }),
    )
    .await
    .err(400, "InvalidKeyUsageException");
    // Unknown source key id, unknown alias.
    for unknown in [
        "1234abcd-12ab-34cd-56ef-1234567890ab",
        "alias/nope",
        "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    ] {
        t.call(
            "ReEncrypt",
            json!({ "CiphertextBlob": blob, "SourceKeyId": unknown, "DestinationKeyId": f.sym2 }),
        )
        .await
        .err(404, "NotFoundException");
    }
}

async fn asymmetric_source(t: &Transport, f: &Fixture) {
    let pt = b"rsa wrapped";
    let out = t
        .call(
            "Encrypt",
            json!({ "KeyId": f.rsa, "Plaintext": b64(pt), "EncryptionAlgorithm": "RSAES_OAEP_SHA_256" }),
        )
        .await
        .ok();
    assert_eq!(out["EncryptionAlgorithm"], "RSAES_OAEP_SHA_256");
    let blob = out["CiphertextBlob"].as_str().unwrap().to_string();
    assert_eq!(unb64(&out["CiphertextBlob"]).len(), 256);

    // No SourceKeyId: the raw RSA ciphertext names no key.
    t.call(
        "ReEncrypt",
        json!({ "CiphertextBlob": blob, "DestinationKeyId": f.sym2 }),
    )
    .await
    .err(400, "InvalidCiphertextException");
    // SourceKeyId but no algorithm.
    t.call(
        "ReEncrypt",
        json!({ "CiphertextBlob": blob, "SourceKeyId": f.rsa, "DestinationKeyId": f.sym2 }),
    )
    .await
    .err(400, "ValidationException");
    // Wrong (but valid for the key) algorithm: decryption fails.
    t.call(
        "ReEncrypt",
        json!({
            "CiphertextBlob": blob, "SourceKeyId": f.rsa,
            "SourceEncryptionAlgorithm": "RSAES_OAEP_SHA_1", "DestinationKeyId": f.sym2,
        }),
    )
    .await
    .err(400, "InvalidCiphertextException");
    // An algorithm the key spec does not support.
    t.call(
        "ReEncrypt",
        json!({
            "CiphertextBlob": blob, "SourceKeyId": f.rsa,
            "SourceEncryptionAlgorithm": "SYMMETRIC_DEFAULT", "DestinationKeyId": f.sym2,
        }),
    )
    .await
    .err(400, "InvalidKeyUsageException");
    // Not an enum value at all.
    t.call(
        "ReEncrypt",
        json!({
            "CiphertextBlob": blob, "SourceKeyId": f.rsa,
            "SourceEncryptionAlgorithm": "RSA_OAEP", "DestinationKeyId": f.sym2,
        }),
    )
    .await
    .err(400, "ValidationException");
    // A source context with an asymmetric key cannot match.
    t.call(
        "ReEncrypt",
        json!({
            "CiphertextBlob": blob, "SourceKeyId": f.rsa,
            "SourceEncryptionAlgorithm": "RSAES_OAEP_SHA_256", "DestinationKeyId": f.sym2,
            "SourceEncryptionContext": { "a": "b" },
        }),
    )
    .await
    .err(400, "InvalidCiphertextException");
    // Correct.
    let out = t
        .call(
            "ReEncrypt",
            json!({
                "CiphertextBlob": blob, "SourceKeyId": key_id(&f.rsa),
                "SourceEncryptionAlgorithm": "RSAES_OAEP_SHA_256", "DestinationKeyId": "alias/dest",
                "DestinationEncryptionContext": { "x": "y" },
            }),
        )
        .await
        .ok();
    assert_eq!(out["SourceKeyId"], f.rsa.as_str());
    assert_eq!(out["KeyId"], f.sym2.as_str());
    assert_eq!(out["SourceEncryptionAlgorithm"], "RSAES_OAEP_SHA_256");
    assert_eq!(out["DestinationEncryptionAlgorithm"], "SYMMETRIC_DEFAULT");
    assert!(out.get("SourceKeyMaterialId").is_none());
    assert!(out["DestinationKeyMaterialId"].is_string());
    let dec = t
        .call(
            "Decrypt",
            json!({ "CiphertextBlob": out["CiphertextBlob"], "EncryptionContext": { "x": "y" } }),
        )
        .await
        .ok();
    assert_eq!(unb64(&dec["Plaintext"]), pt);
}

async fn asymmetric_destination(t: &Transport, f: &Fixture) {
    let blob = encrypt(t, &f.sym1, b"to rsa", json!({})).await;
    let base = |extra: Value| {
        let mut v = json!({ "CiphertextBlob": blob, "DestinationKeyId": f.rsa });
        for (k, val) in extra.as_object().unwrap() {
            v[k] = val.clone();
        }
        v
    };
    t.call("ReEncrypt", base(json!({})))
        .await
        .err(400, "ValidationException");
    t.call(
        "ReEncrypt",
        base(json!({ "DestinationEncryptionAlgorithm": "SYMMETRIC_DEFAULT" })),
    )
    .await
    .err(400, "InvalidKeyUsageException");
    t.call(
        "ReEncrypt",
        base(json!({ "DestinationEncryptionAlgorithm": "NOPE" })),
    )
    .await
    .err(400, "ValidationException");
    t.call(
        "ReEncrypt",
        base(json!({ "DestinationEncryptionAlgorithm": "SM2PKE" })),
    )
    .await
    .err(400, "InvalidKeyUsageException");
    t.call(
        "ReEncrypt",
        base(json!({
            "DestinationEncryptionAlgorithm": "RSAES_OAEP_SHA_1",
            "DestinationEncryptionContext": { "a": "b" },
        })),
    )
    .await
    .err(400, "ValidationException");
    for alg in ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"] {
        let out = t
            .call(
                "ReEncrypt",
                base(json!({ "DestinationEncryptionAlgorithm": alg })),
            )
            .await
            .ok();
        assert_eq!(out["DestinationEncryptionAlgorithm"], alg);
        assert_eq!(out["KeyId"], f.rsa.as_str());
        assert!(out.get("DestinationKeyMaterialId").is_none());
        assert!(out["SourceKeyMaterialId"].is_string());
        let dec = t
            .call(
                "Decrypt",
                json!({ "CiphertextBlob": out["CiphertextBlob"], "KeyId": f.rsa, "EncryptionAlgorithm": alg }),
            )
            .await
            .ok();
        assert_eq!(unb64(&dec["Plaintext"]), b"to rsa");
    }
    // Symmetric destination with an RSA algorithm.
    t.call(
        "ReEncrypt",
        json!({
            "CiphertextBlob": blob, "DestinationKeyId": f.sym2,
            "DestinationEncryptionAlgorithm": "RSAES_OAEP_SHA_256",
        }),
    )
    .await
    .err(400, "InvalidKeyUsageException");
    // Plaintext too large for the RSA destination.
    let big = encrypt(t, &f.sym1, &[9u8; 200], json!({})).await;
    t.call(
        "ReEncrypt",
        json!({
            "CiphertextBlob": big, "DestinationKeyId": f.rsa,
            "DestinationEncryptionAlgorithm": "RSAES_OAEP_SHA_256",
        }),
    )
    .await
    .err(400, "ValidationException");
    // 200 bytes fits SHA-1 (max 214).
    t.call(
        "ReEncrypt",
        json!({
            "CiphertextBlob": big, "DestinationKeyId": f.rsa,
            "DestinationEncryptionAlgorithm": "RSAES_OAEP_SHA_1",
        }),
    )
    .await
    .ok();
}

async fn key_usage_and_missing(t: &Transport, f: &Fixture) {
    let blob = encrypt(t, &f.sym1, b"x", json!({})).await;
    // SIGN_VERIFY destination / source.
    t.call(
        "ReEncrypt",
        json!({ "CiphertextBlob": blob, "DestinationKeyId": f.ecc }),
    )
    .await
    .err(400, "InvalidKeyUsageException");
    t.call(
        "ReEncrypt",
        json!({
            "CiphertextBlob": blob, "SourceKeyId": f.ecc,
            "SourceEncryptionAlgorithm": "RSAES_OAEP_SHA_256", "DestinationKeyId": f.sym2,
        }),
    )
    .await
    .err(400, "InvalidKeyUsageException");
    // Unknown destination key / alias.
    for unknown in ["alias/missing", "0f0f0f0f-1111-4222-8333-444444444444"] {
        let e = t
            .call(
                "ReEncrypt",
                json!({ "CiphertextBlob": blob, "DestinationKeyId": unknown }),
            )
            .await
            .err(404, "NotFoundException");
        assert!(!e["message"].as_str().unwrap().is_empty());
    }
    // Missing members.
    t.call("ReEncrypt", json!({ "CiphertextBlob": blob }))
        .await
        .err(400, "ValidationException");
    t.call("ReEncrypt", json!({ "DestinationKeyId": f.sym2 }))
        .await
        .err(400, "ValidationException");
    t.call(
        "ReEncrypt",
        json!({ "DestinationKeyId": f.sym2, "SourceKeyId": f.sym1 }),
    )
    .await
    .err(400, "ValidationException");
    // Oversized ciphertext, empty ciphertext, bad base64, wrong types.
    t.call(
        "ReEncrypt",
        json!({ "CiphertextBlob": b64(&[1u8; 6145]), "DestinationKeyId": f.sym2 }),
    )
    .await
    .err(400, "ValidationException");
    t.call(
        "ReEncrypt",
        json!({ "CiphertextBlob": "", "DestinationKeyId": f.sym2 }),
    )
    .await
    .err(400, "ValidationException");
    t.call(
        "ReEncrypt",
        json!({ "CiphertextBlob": "***", "DestinationKeyId": f.sym2 }),
    )
    .await
    .err(400, "SerializationException");
    t.call(
        "ReEncrypt",
        json!({ "CiphertextBlob": blob, "DestinationKeyId": 5 }),
    )
    .await
    .err(400, "SerializationException");
    // Random garbage blob.
    t.call(
        "ReEncrypt",
        json!({ "CiphertextBlob": b64(b"garbage garbage garbage garbage garbage garbage"), "DestinationKeyId": f.sym2 }),
    )
    .await
    .err(400, "InvalidCiphertextException");
}

async fn key_states(t: &Transport, f: &Fixture) {
    let blob = encrypt(t, &f.sym1, b"state", json!({})).await;
    let tmp = f
        .kms
        .create_key(KeySpec::SymmetricDefault, KeyUsageType::EncryptDecrypt)
        .unwrap();
    let tmp_blob = encrypt(t, &tmp, b"tmp", json!({})).await;

    // Disabled source, then disabled destination.
    t.call("DisableKey", json!({ "KeyId": tmp })).await.ok();
    t.call(
        "ReEncrypt",
        json!({ "CiphertextBlob": tmp_blob, "DestinationKeyId": f.sym2 }),
    )
    .await
    .err(409, "DisabledException");
    t.call(
        "ReEncrypt",
        json!({ "CiphertextBlob": blob, "DestinationKeyId": tmp }),
    )
    .await
    .err(409, "DisabledException");
    // DryRun does not hide it.
    t.call(
        "ReEncrypt",
        json!({ "CiphertextBlob": blob, "DestinationKeyId": tmp, "DryRun": true }),
    )
    .await
    .err(409, "DisabledException");
    t.call("EnableKey", json!({ "KeyId": tmp })).await.ok();
    t.call(
        "ReEncrypt",
        json!({ "CiphertextBlob": tmp_blob, "DestinationKeyId": tmp }),
    )
    .await
    .ok();

    // Pending deletion, both sides.
    t.call(
        "ScheduleKeyDeletion",
        json!({ "KeyId": tmp, "PendingWindowInDays": 7 }),
    )
    .await
    .ok();
    t.call(
        "ReEncrypt",
        json!({ "CiphertextBlob": tmp_blob, "DestinationKeyId": f.sym2 }),
    )
    .await
    .err(409, "KMSInvalidStateException");
    t.call(
        "ReEncrypt",
        json!({ "CiphertextBlob": blob, "DestinationKeyId": tmp }),
    )
    .await
    .err(409, "KMSInvalidStateException");
    // Cancelled deletion leaves it Disabled.
    t.call("CancelKeyDeletion", json!({ "KeyId": tmp }))
        .await
        .ok();
    t.call(
        "ReEncrypt",
        json!({ "CiphertextBlob": blob, "DestinationKeyId": tmp }),
    )
    .await
    .err(409, "DisabledException");
}

async fn grant_tokens(t: &Transport, f: &Fixture) {
    let blob = encrypt(t, &f.sym1, b"grants", json!({})).await;
    let grant = t
        .call(
            "CreateGrant",
            json!({
                "KeyId": f.sym2,
                "GranteePrincipal": "arn:aws:iam::111122223333:role/app",
                "Operations": ["ReEncryptTo", "ReEncryptFrom"],
            }),
        )
        .await
        .ok();
    let token = grant["GrantToken"].as_str().unwrap().to_string();
    assert_eq!(grant["GrantId"].as_str().unwrap().len(), 64);

    let call = |tokens: Value| json!({ "CiphertextBlob": blob, "DestinationKeyId": f.sym2, "GrantTokens": tokens });
    t.call("ReEncrypt", call(json!([token]))).await.ok();
    t.call("ReEncrypt", call(json!(vec![token.clone(); 10])))
        .await
        .ok();
    t.call("ReEncrypt", call(json!(vec![token.clone(); 11])))
        .await
        .err(400, "ValidationException");
    let mut forged = token.clone().into_bytes();
    let last = forged.len() - 2;
    forged[last] = if forged[last] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    for bad in [
        "not-a-token".to_string(),
        String::new(),
        forged,
        format!("{token}AA"),
        token[..token.len() - 1].to_string(),
    ] {
        t.call("ReEncrypt", call(json!([token.clone(), bad])))
            .await
            .err(400, "InvalidGrantTokenException");
    }
    // Retire by token; a retired token is still well-formed.
    t.call("RetireGrant", json!({ "GrantToken": token }))
        .await
        .ok();
    t.call("RetireGrant", json!({ "GrantToken": token }))
        .await
        .err(404, "NotFoundException");
    t.call("ReEncrypt", call(json!([token]))).await.ok();
}

async fn dry_run(t: &Transport, f: &Fixture) {
    let blob = encrypt(t, &f.sym1, b"dry", json!({})).await;
    let e = t
        .call(
            "ReEncrypt",
            json!({ "CiphertextBlob": blob, "DestinationKeyId": f.sym2, "DryRun": true }),
        )
        .await
        .err(412, "DryRunOperationException");
    assert_eq!(
        e["message"],
        "The request would have succeeded, but the DryRun option is set."
    );
    // Without IGNORE_CIPHERTEXT the ciphertext is still checked.
    t.call(
        "ReEncrypt",
        json!({ "CiphertextBlob": b64(&[0u8; 64]), "DestinationKeyId": f.sym2, "DryRun": true }),
    )
    .await
    .err(400, "InvalidCiphertextException");
    // IGNORE_CIPHERTEXT: no blob needed, but SourceKeyId is.
    t.call(
        "ReEncrypt",
        json!({
            "SourceKeyId": f.sym1, "DestinationKeyId": f.sym2,
            "DryRun": true, "DryRunModifiers": ["IGNORE_CIPHERTEXT"],
        }),
    )
    .await
    .err(412, "DryRunOperationException");
    t.call(
        "ReEncrypt",
        json!({
            "CiphertextBlob": b64(&[0u8; 64]), "SourceKeyId": f.sym1, "DestinationKeyId": f.sym2,
            "DryRun": true, "DryRunModifiers": ["IGNORE_CIPHERTEXT"],
        }),
    )
    .await
    .err(412, "DryRunOperationException");
    t.call(
        "ReEncrypt",
        json!({
            "DestinationKeyId": f.sym2, "DryRun": true, "DryRunModifiers": ["IGNORE_CIPHERTEXT"],
        }),
    )
    .await
    .err(400, "ValidationException");
    // Key checks still run before the dry-run answer.
    t.call(
        "ReEncrypt",
        json!({
            "SourceKeyId": "alias/none", "DestinationKeyId": f.sym2,
            "DryRun": true, "DryRunModifiers": ["IGNORE_CIPHERTEXT"],
        }),
    )
    .await
    .err(404, "NotFoundException");
    t.call(
        "ReEncrypt",
        json!({
            "SourceKeyId": f.sym1, "DestinationKeyId": f.ecc,
            "DryRun": true, "DryRunModifiers": ["IGNORE_CIPHERTEXT"],
        }),
    )
    .await
    .err(400, "InvalidKeyUsageException");
    t.call(
        "ReEncrypt",
        json!({
            "SourceKeyId": f.rsa, "DestinationKeyId": f.sym2,
            "DryRun": true, "DryRunModifiers": ["IGNORE_CIPHERTEXT"],
        }),
    )
    .await
    .err(400, "ValidationException");
    t.call(
        "ReEncrypt",
        json!({
            "SourceKeyId": f.sym1, "DestinationKeyId": f.sym2,
            "DryRun": true, "DryRunModifiers": ["IGNORE_CIPHERTEXT"], "GrantTokens": ["x"],
        }),
    )
    .await
    .err(400, "InvalidGrantTokenException");
    // Unknown modifier.
    t.call(
        "ReEncrypt",
        json!({
            "CiphertextBlob": blob, "DestinationKeyId": f.sym2,
            "DryRun": true, "DryRunModifiers": ["SKIP_EVERYTHING"],
        }),
    )
    .await
    .err(400, "ValidationException");
    // Modifiers without DryRun are ignored: a real re-encryption.
    t.call(
        "ReEncrypt",
        json!({
            "CiphertextBlob": blob, "DestinationKeyId": f.sym2,
            "DryRun": false, "DryRunModifiers": ["IGNORE_CIPHERTEXT"],
        }),
    )
    .await
    .ok();
}

async fn all_rules(t: &Transport, f: &Fixture) {
    symmetric_to_symmetric(t, f).await;
    source_key_rules(t, f).await;
    asymmetric_source(t, f).await;
    asymmetric_destination(t, f).await;
    key_usage_and_missing(t, f).await;
    key_states(t, f).await;
    grant_tokens(t, f).await;
    dry_run(t, f).await;
}

#[tokio::test]
async fn reencrypt_rules_in_process() {
    let f = fixture();
    let t = Transport::in_process(&f.kms);
    all_rules(&t, &f).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reencrypt_rules_over_socket() {
    let f = fixture();
    let t = Transport::socket(&f.kms).await;
    all_rules(&t, &f).await;
    t.shutdown().await;
}
