//! The other operations, over signed in-process HTTP.

use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::rsa::{
    OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OaepPublicEncryptingKey, PublicEncryptingKey,
};
use common::{Transport, b64, unb64};
use serde_json::{Value, json};
use tower_kms::local::LocalKms;
use tower_kms::{KeySpec, KeyUsageType};

fn is_uuid_v4(s: &str) -> bool {
    let b = s.as_bytes();
    s.len() == 36
        && b[14] == b'4'
        && matches!(b[19], b'8' | b'9' | b'a' | b'b')
        && s.chars().enumerate().all(|(i, c)| {
            if [8, 13, 18, 23].contains(&i) {
                c == '-'
            } else {
                c.is_ascii_hexdigit() && !c.is_ascii_uppercase()
            }
        })
}

#[tokio::test]
async fn create_describe_list() {
    let kms = LocalKms::new();
    let t = Transport::in_process(&kms);
    let before = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let out = t
        .call("CreateKey", json!({ "Description": "first key" }))
        .await
        .ok();
    let m = &out["KeyMetadata"];
    let id = m["KeyId"].as_str().unwrap();
    assert!(is_uuid_v4(id), "{id}");
    assert_eq!(
        m["Arn"],
        format!("arn:aws:kms:us-east-1:111122223333:key/{id}")
    );
    assert_eq!(m["AWSAccountId"], "111122223333");
    assert_eq!(m["KeySpec"], "SYMMETRIC_DEFAULT");
    assert_eq!(m["CustomerMasterKeySpec"], "SYMMETRIC_DEFAULT");
    assert_eq!(m["KeyUsage"], "ENCRYPT_DECRYPT");
    assert_eq!(m["KeyState"], "Enabled");
    assert_eq!(m["Enabled"], true);
    assert_eq!(m["KeyManager"], "CUSTOMER");
    assert_eq!(m["Origin"], "AWS_KMS");
    assert_eq!(m["Description"], "first key");
    assert_eq!(m["EncryptionAlgorithms"], json!(["SYMMETRIC_DEFAULT"]));
    assert!(m.get("SigningAlgorithms").is_none());
    assert!(m.get("DeletionDate").is_none());
    let created = m["CreationDate"].as_f64().unwrap();
    assert!(created >= before.floor() && created < before + 60.0);

    let described = t.call("DescribeKey", json!({ "KeyId": id })).await.ok();
    assert_eq!(described["KeyMetadata"], *m);

    let rsa = t
        .call(
            "CreateKey",
            json!({ "KeySpec": "RSA_3072", "KeyUsage": "SIGN_VERIFY" }),
        )
        .await
        .ok();
    let rm = &rsa["KeyMetadata"];
    assert_eq!(rm["KeySpec"], "RSA_3072");
    assert!(rm.get("EncryptionAlgorithms").is_none());
    assert!(
        rm["SigningAlgorithms"]
            .as_array()
            .unwrap()
            .contains(&json!("RSASSA_PSS_SHA_256"))
    );
    let ecc = t
        .call(
            "CreateKey",
            json!({ "KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY" }),
        )
        .await
        .ok();
    assert_eq!(
        ecc["KeyMetadata"]["SigningAlgorithms"],
        json!(["ECDSA_SHA_256"])
    );

    // Invalid combinations.
    for (req, code) in [
        (
            json!({ "KeySpec": "ECC_NIST_P256", "KeyUsage": "ENCRYPT_DECRYPT" }),
            "ValidationException",
        ),
        (json!({ "KeyUsage": "SIGN_VERIFY" }), "ValidationException"),
        (json!({ "KeySpec": "AES_256" }), "ValidationException"),
        (json!({ "KeyUsage": "DECRYPT" }), "ValidationException"),
        (
            json!({ "KeySpec": "ML_DSA_44", "KeyUsage": "SIGN_VERIFY" }),
            "UnsupportedOperationException",
        ),
        (
            json!({ "Origin": "EXTERNAL" }),
            "UnsupportedOperationException",
        ),
        (
            json!({ "KeySpec": "RSA_2048", "CustomerMasterKeySpec": "RSA_2048" }),
            "ValidationException",
        ),
    ] {
        t.call("CreateKey", req).await.err(400, code);
    }

    // ListKeys in creation order, with paging.
    let all = t.call("ListKeys", json!({})).await.ok();
    let keys = all["Keys"].as_array().unwrap();
    assert_eq!(keys.len(), 3);
    assert_eq!(keys[0]["KeyId"], id);
    assert_eq!(keys[0]["KeyArn"], m["Arn"]);
    assert_eq!(all["Truncated"], false);
    let p1 = t.call("ListKeys", json!({ "Limit": 2 })).await.ok();
    assert_eq!(p1["Keys"].as_array().unwrap().len(), 2);
    assert_eq!(p1["Truncated"], true);
    let p2 = t
        .call(
            "ListKeys",
            json!({ "Limit": 2, "Marker": p1["NextMarker"] }),
        )
        .await
        .ok();
    assert_eq!(p2["Keys"].as_array().unwrap().len(), 1);
    assert_eq!(p2["Truncated"], false);
    t.call("ListKeys", json!({ "Limit": 0 }))
        .await
        .err(400, "ValidationException");
    t.call("ListKeys", json!({ "Marker": "zzz" }))
        .await
        .err(400, "InvalidMarkerException");

    // Key identifiers.
    t.call("DescribeKey", json!({}))
        .await
        .err(400, "ValidationException");
    t.call(
        "DescribeKey",
        json!({ "KeyId": "arn:aws:kms:eu-west-1:111122223333:key/".to_string() + id }),
    )
    .await
    .err(404, "NotFoundException");
    t.call("DescribeKey", json!({ "KeyId": "arn:aws:s3:::bucket" }))
        .await
        .err(400, "InvalidArnException");
    t.call("DescribeKey", json!({ "KeyId": id.to_uppercase() }))
        .await
        .ok();
}

#[tokio::test]
async fn aliases() {
    let kms = LocalKms::new();
    let t = Transport::in_process(&kms);
    let k1 = kms
        .create_key(KeySpec::SymmetricDefault, KeyUsageType::EncryptDecrypt)
        .unwrap();
    let k2 = kms
        .create_key(KeySpec::SymmetricDefault, KeyUsageType::EncryptDecrypt)
        .unwrap();
    let k1_id = k1.rsplit('/').next().unwrap();
    t.call(
        "CreateAlias",
        json!({ "AliasName": "alias/one", "TargetKeyId": k1_id }),
    )
    .await
    .ok();
    t.call(
        "CreateAlias",
        json!({ "AliasName": "alias/two", "TargetKeyId": k2 }),
    )
    .await
    .ok();
    for (name, target, code) in [
        ("one", k1.as_str(), "InvalidAliasNameException"),
        ("alias/aws/mine", k1.as_str(), "InvalidAliasNameException"),
        ("alias/bad name", k1.as_str(), "InvalidAliasNameException"),
        ("alias/", k1.as_str(), "InvalidAliasNameException"),
        ("alias/one", k2.as_str(), "AlreadyExistsException"),
        ("alias/three", "alias/one", "NotFoundException"),
        (
            "alias/three",
            "0f0f0f0f-1111-4222-8333-444444444444",
            "NotFoundException",
        ),
    ] {
        let status = if code == "NotFoundException" {
            404
        } else {
            400
        };
        t.call(
            "CreateAlias",
            json!({ "AliasName": name, "TargetKeyId": target }),
        )
        .await
        .err(status, code);
    }
    let list = t.call("ListAliases", json!({})).await.ok();
    let aliases = list["Aliases"].as_array().unwrap();
    assert_eq!(aliases.len(), 2);
    assert_eq!(aliases[0]["AliasName"], "alias/one");
    assert_eq!(
        aliases[0]["AliasArn"],
        "arn:aws:kms:us-east-1:111122223333:alias/one"
    );
    assert_eq!(aliases[0]["TargetKeyId"], k1_id);
    let filtered = t.call("ListAliases", json!({ "KeyId": k2 })).await.ok();
    assert_eq!(filtered["Aliases"].as_array().unwrap().len(), 1);
    assert_eq!(filtered["Aliases"][0]["AliasName"], "alias/two");

    // Aliases work as key ids where KMS accepts them, not elsewhere.
    let d = t
        .call(
            "DescribeKey",
            json!({ "KeyId": "arn:aws:kms:us-east-1:111122223333:alias/one" }),
        )
        .await
        .ok();
    assert_eq!(d["KeyMetadata"]["Arn"], k1.as_str());
    t.call("DisableKey", json!({ "KeyId": "alias/one" }))
        .await
        .err(404, "NotFoundException");

    t.call("DeleteAlias", json!({ "AliasName": "alias/one" }))
        .await
        .ok();
    t.call("DeleteAlias", json!({ "AliasName": "alias/one" }))
        .await
        .err(404, "NotFoundException");
    t.call("DescribeKey", json!({ "KeyId": "alias/one" }))
        .await
        .err(404, "NotFoundException");
}

#[tokio::test]
async fn enable_disable_schedule_cancel() {
    let kms = LocalKms::new();
    let t = Transport::in_process(&kms);
    let k = kms
        .create_key(KeySpec::SymmetricDefault, KeyUsageType::EncryptDecrypt)
        .unwrap();
    let enc = json!({ "KeyId": k, "Plaintext": b64(b"x") });
    t.call("DisableKey", json!({ "KeyId": k })).await.ok();
    let d = t.call("DescribeKey", json!({ "KeyId": k })).await.ok();
    assert_eq!(d["KeyMetadata"]["KeyState"], "Disabled");
    assert_eq!(d["KeyMetadata"]["Enabled"], false);
    t.call("Encrypt", enc.clone())
        .await
        .err(409, "DisabledException");
    t.call("EnableKey", json!({ "KeyId": k })).await.ok();
    t.call("Encrypt", enc.clone()).await.ok();

    for days in [6, 31] {
        t.call(
            "ScheduleKeyDeletion",
            json!({ "KeyId": k, "PendingWindowInDays": days }),
        )
        .await
        .err(400, "ValidationException");
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let s = t
        .call("ScheduleKeyDeletion", json!({ "KeyId": k }))
        .await
        .ok();
    assert_eq!(s["KeyId"], k.as_str());
    assert_eq!(s["KeyState"], "PendingDeletion");
    assert_eq!(s["PendingWindowInDays"], 30);
    let when = s["DeletionDate"].as_f64().unwrap();
    assert!((when - (now + 30.0 * 86_400.0)).abs() < 60.0);
    let d = t.call("DescribeKey", json!({ "KeyId": k })).await.ok();
    assert_eq!(d["KeyMetadata"]["KeyState"], "PendingDeletion");
    assert_eq!(d["KeyMetadata"]["DeletionDate"], s["DeletionDate"]);
    assert_eq!(d["KeyMetadata"]["Enabled"], false);
    t.call("Encrypt", enc.clone())
        .await
        .err(409, "KMSInvalidStateException");
    t.call("EnableKey", json!({ "KeyId": k }))
        .await
        .err(409, "KMSInvalidStateException");
    t.call("ScheduleKeyDeletion", json!({ "KeyId": k }))
        .await
        .err(409, "KMSInvalidStateException");
    let c = t
        .call("CancelKeyDeletion", json!({ "KeyId": k }))
        .await
        .ok();
    assert_eq!(c["KeyId"], k.as_str());
    let d = t.call("DescribeKey", json!({ "KeyId": k })).await.ok();
    assert_eq!(d["KeyMetadata"]["KeyState"], "Disabled");
    assert!(d["KeyMetadata"].get("DeletionDate").is_none());
    t.call("CancelKeyDeletion", json!({ "KeyId": k }))
        .await
        .err(409, "KMSInvalidStateException");
}

#[test]
fn keys_disappear_after_the_window() {
    let offset = Arc::new(AtomicU64::new(0));
    let o = offset.clone();
    let kms = LocalKms::builder()
        .clock(Arc::new(move || {
            SystemTime::now() + Duration::from_secs(o.load(Ordering::SeqCst))
        }))
        .build();
    let k = kms
        .create_key(KeySpec::SymmetricDefault, KeyUsageType::EncryptDecrypt)
        .unwrap();
    kms.create_alias("alias/k", &k).unwrap();
    kms.schedule_key_deletion(&k, 7).unwrap();
    offset.store(6 * 86_400, Ordering::SeqCst);
    kms.describe_key(&k).unwrap();
    offset.store(7 * 86_400 + 1, Ordering::SeqCst);
    let e = kms.describe_key(&k).unwrap_err();
    assert_eq!(e.code(), "NotFoundException");
    assert_eq!(e.status(), 404);
    let aliases = kms.invoke("ListAliases", json!({})).unwrap();
    assert_eq!(aliases["Aliases"], json!([]));
}

#[tokio::test]
async fn encrypt_decrypt_symmetric() {
    let kms = LocalKms::new();
    let t = Transport::in_process(&kms);
    let k = kms
        .create_key(KeySpec::SymmetricDefault, KeyUsageType::EncryptDecrypt)
        .unwrap();
    let k2 = kms
        .create_key(KeySpec::SymmetricDefault, KeyUsageType::EncryptDecrypt)
        .unwrap();
    for len in [1usize, 4096] {
        let pt = vec![0xabu8; len];
        let out = t
            .call(
                "Encrypt",
                json!({ "KeyId": k, "Plaintext": b64(&pt), "EncryptionContext": { "a": "1" } }),
            )
            .await
            .ok();
        assert_eq!(out["KeyId"], k.as_str());
        assert_eq!(out["EncryptionAlgorithm"], "SYMMETRIC_DEFAULT");
        let blob = unb64(&out["CiphertextBlob"]);
        // Version 2 blob: magic, key id, key material id, nonce, body, tag.
        assert_eq!(blob.len(), len + 77);
        let d = t
            .call(
                "Decrypt",
                json!({ "CiphertextBlob": out["CiphertextBlob"], "EncryptionContext": { "a": "1" } }),
            )
            .await
            .ok();
        assert_eq!(unb64(&d["Plaintext"]), pt);
        assert_eq!(d["KeyId"], k.as_str());
        assert_eq!(d["EncryptionAlgorithm"], "SYMMETRIC_DEFAULT");
        // KeyId given and matching / not matching.
        t.call(
            "Decrypt",
            json!({ "CiphertextBlob": out["CiphertextBlob"], "KeyId": k, "EncryptionContext": { "a": "1" } }),
        )
        .await
        .ok();
        t.call(
            "Decrypt",
            json!({ "CiphertextBlob": out["CiphertextBlob"], "KeyId": k2, "EncryptionContext": { "a": "1" } }),
        )
        .await
        .err(400, "IncorrectKeyException");
        t.call(
            "Decrypt",
            json!({ "CiphertextBlob": out["CiphertextBlob"] }),
        )
        .await
        .err(400, "InvalidCiphertextException");
    }
    for bad in [Value::String(String::new()), json!(b64(&[1u8; 4097]))] {
        t.call("Encrypt", json!({ "KeyId": k, "Plaintext": bad }))
            .await
            .err(400, "ValidationException");
    }
    t.call("Encrypt", json!({ "Plaintext": b64(b"x") }))
        .await
        .err(400, "ValidationException");
    t.call(
        "Encrypt",
        json!({ "KeyId": k, "Plaintext": b64(b"x"), "EncryptionAlgorithm": "RSAES_OAEP_SHA_1" }),
    )
    .await
    .err(400, "InvalidKeyUsageException");
    t.call(
        "Encrypt",
        json!({ "KeyId": k, "Plaintext": b64(b"x"), "DryRun": true }),
    )
    .await
    .err(412, "DryRunOperationException");
    t.call("Decrypt", json!({ "CiphertextBlob": b64(&[0u8; 6145]) }))
        .await
        .err(400, "ValidationException");
}

#[tokio::test]
async fn rsa_4096_public_key_and_external_ciphertext() {
    let kms = LocalKms::new();
    let t = Transport::in_process(&kms);
    // Through HTTP, so the key pair is generated off the async threads.
    let created = t
        .call(
            "CreateKey",
            json!({ "KeySpec": "RSA_4096", "KeyUsage": "ENCRYPT_DECRYPT" }),
        )
        .await
        .ok();
    let k = created["KeyMetadata"]["Arn"].as_str().unwrap().to_string();
    assert_eq!(
        created["KeyMetadata"]["EncryptionAlgorithms"],
        json!(["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"])
    );
    let pk = t.call("GetPublicKey", json!({ "KeyId": k })).await.ok();
    assert_eq!(pk["KeyId"], k.as_str());
    assert_eq!(pk["KeySpec"], "RSA_4096");
    assert_eq!(pk["CustomerMasterKeySpec"], "RSA_4096");
    assert_eq!(pk["KeyUsage"], "ENCRYPT_DECRYPT");
    assert_eq!(
        pk["EncryptionAlgorithms"],
        json!(["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"])
    );
    let der = unb64(&pk["PublicKey"]);
    let public =
        OaepPublicEncryptingKey::new(PublicEncryptingKey::from_der(&der).unwrap()).unwrap();
    assert_eq!(public.key_size_bits(), 4096);
    for (alg, name) in [
        (&OAEP_SHA256_MGF1SHA256, "RSAES_OAEP_SHA_256"),
        (&OAEP_SHA1_MGF1SHA1, "RSAES_OAEP_SHA_1"),
    ] {
        let mut ct = vec![0u8; public.ciphertext_size()];
        let n = public
            .encrypt(alg, b"encrypted outside KMS", &mut ct, None)
            .unwrap()
            .len();
        ct.truncate(n);
        let d = t
            .call(
                "Decrypt",
                json!({ "CiphertextBlob": b64(&ct), "KeyId": k, "EncryptionAlgorithm": name }),
            )
            .await
            .ok();
        assert_eq!(unb64(&d["Plaintext"]), b"encrypted outside KMS");
        assert_eq!(d["EncryptionAlgorithm"], name);
        assert!(d.get("KeyMaterialId").is_none());
    }
    // Plaintext limits: 446 bytes for SHA-256, 470 for SHA-1.
    for (alg, max) in [("RSAES_OAEP_SHA_256", 446usize), ("RSAES_OAEP_SHA_1", 470)] {
        t.call(
            "Encrypt",
            json!({ "KeyId": k, "Plaintext": b64(&vec![1u8; max]), "EncryptionAlgorithm": alg }),
        )
        .await
        .ok();
        t.call(
            "Encrypt",
            json!({ "KeyId": k, "Plaintext": b64(&vec![1u8; max + 1]), "EncryptionAlgorithm": alg }),
        )
        .await
        .err(400, "ValidationException");
    }
    // Asymmetric rules.
    t.call("Encrypt", json!({ "KeyId": k, "Plaintext": b64(b"x") }))
        .await
        .err(400, "ValidationException");
    t.call(
        "Encrypt",
        json!({
            "KeyId": k, "Plaintext": b64(b"x"), "EncryptionAlgorithm": "RSAES_OAEP_SHA_256",
            "EncryptionContext": { "a": "b" },
        }),
    )
    .await
    .err(400, "ValidationException");
    t.call(
        "GenerateDataKey",
        json!({ "KeyId": k, "KeySpec": "AES_256" }),
    )
    .await
    .err(400, "InvalidKeyUsageException");
}

#[tokio::test]
async fn public_keys_of_other_specs() {
    let kms = LocalKms::new();
    let t = Transport::in_process(&kms);
    let sym = kms
        .create_key(KeySpec::SymmetricDefault, KeyUsageType::EncryptDecrypt)
        .unwrap();
    t.call("GetPublicKey", json!({ "KeyId": sym }))
        .await
        .err(400, "UnsupportedOperationException");
    let ecc = kms
        .create_key(KeySpec::EccNistP256, KeyUsageType::SignVerify)
        .unwrap();
    let pk = t.call("GetPublicKey", json!({ "KeyId": ecc })).await.ok();
    assert_eq!(pk["KeySpec"], "ECC_NIST_P256");
    assert_eq!(pk["KeyUsage"], "SIGN_VERIFY");
    assert_eq!(pk["SigningAlgorithms"], json!(["ECDSA_SHA_256"]));
    assert_eq!(unb64(&pk["PublicKey"]).len(), 91);
    t.call("Encrypt", json!({ "KeyId": ecc, "Plaintext": b64(b"x") }))
        .await
        .err(400, "InvalidKeyUsageException");
    t.call("DisableKey", json!({ "KeyId": ecc })).await.ok();
    t.call("GetPublicKey", json!({ "KeyId": ecc }))
        .await
        .err(409, "DisabledException");
}

#[tokio::test]
async fn data_keys() {
    let kms = LocalKms::new();
    let t = Transport::in_process(&kms);
    let k = kms
        .create_key(KeySpec::SymmetricDefault, KeyUsageType::EncryptDecrypt)
        .unwrap();
    for (req, len) in [
        (json!({ "KeySpec": "AES_256" }), 32usize),
        (json!({ "KeySpec": "AES_128" }), 16),
        (json!({ "NumberOfBytes": 1 }), 1),
        (json!({ "NumberOfBytes": 1024 }), 1024),
    ] {
        let mut req = req;
        req["KeyId"] = json!(k);
        req["EncryptionContext"] = json!({ "dk": "yes" });
        let out = t.call("GenerateDataKey", req.clone()).await.ok();
        assert_eq!(out["KeyId"], k.as_str());
        let pt = unb64(&out["Plaintext"]);
        assert_eq!(pt.len(), len);
        let d = t
            .call(
                "Decrypt",
                json!({ "CiphertextBlob": out["CiphertextBlob"], "EncryptionContext": { "dk": "yes" } }),
            )
            .await
            .ok();
        assert_eq!(unb64(&d["Plaintext"]), pt);
        let w = t.call("GenerateDataKeyWithoutPlaintext", req).await.ok();
        assert!(w.get("Plaintext").is_none());
        assert!(w["CiphertextBlob"].is_string());
    }
    for req in [
        json!({ "KeyId": k }),
        json!({ "KeyId": k, "KeySpec": "AES_256", "NumberOfBytes": 32 }),
        json!({ "KeyId": k, "NumberOfBytes": 0 }),
        json!({ "KeyId": k, "NumberOfBytes": 1025 }),
        json!({ "KeyId": k, "KeySpec": "AES_512" }),
    ] {
        t.call("GenerateDataKey", req)
            .await
            .err(400, "ValidationException");
    }
    let r = t
        .call("GenerateRandom", json!({ "NumberOfBytes": 48 }))
        .await
        .ok();
    assert_eq!(unb64(&r["Plaintext"]).len(), 48);
}

#[tokio::test]
async fn grants() {
    let kms = LocalKms::new();
    let t = Transport::in_process(&kms);
    let k = kms
        .create_key(KeySpec::SymmetricDefault, KeyUsageType::EncryptDecrypt)
        .unwrap();
    let k2 = kms
        .create_key(KeySpec::SymmetricDefault, KeyUsageType::EncryptDecrypt)
        .unwrap();
    kms.invoke(
        "CreateAlias",
        json!({ "AliasName": "alias/g", "TargetKeyId": k }),
    )
    .unwrap();
    let base = json!({
        "KeyId": k,
        "GranteePrincipal": "arn:aws:iam::111122223333:role/r",
        "Operations": ["Encrypt", "Decrypt"],
    });
    let g = t.call("CreateGrant", base.clone()).await.ok();
    let grant_id = g["GrantId"].as_str().unwrap().to_string();
    let token = g["GrantToken"].as_str().unwrap().to_string();
    assert_eq!(grant_id.len(), 64);
    assert!(token.len() > 64);
    // Tokens are usable as GrantTokens elsewhere.
    t.call(
        "Encrypt",
        json!({ "KeyId": k, "Plaintext": b64(b"x"), "GrantTokens": [token] }),
    )
    .await
    .ok();
    t.call(
        "Encrypt",
        json!({ "KeyId": k, "Plaintext": b64(b"x"), "GrantTokens": ["bogus"] }),
    )
    .await
    .err(400, "InvalidGrantTokenException");

    for (field, value) in [
        ("GranteePrincipal", Value::Null),
        ("Operations", json!([])),
        ("Operations", json!(["Fly"])),
    ] {
        let mut req = base.clone();
        req[field] = value;
        t.call("CreateGrant", req)
            .await
            .err(400, "ValidationException");
    }
    let mut req = base.clone();
    req["KeyId"] = json!("alias/g");
    t.call("CreateGrant", req)
        .await
        .err(404, "NotFoundException");
    let mut req = base.clone();
    req["DryRun"] = json!(true);
    t.call("CreateGrant", req)
        .await
        .err(412, "DryRunOperationException");

    // RetireGrant by KeyId + GrantId.
    t.call("RetireGrant", json!({ "KeyId": k2, "GrantId": grant_id }))
        .await
        .err(404, "NotFoundException");
    t.call("RetireGrant", json!({ "KeyId": k, "GrantId": grant_id }))
        .await
        .ok();
    t.call("RetireGrant", json!({ "KeyId": k, "GrantId": grant_id }))
        .await
        .err(404, "NotFoundException");
    t.call("RetireGrant", json!({ "GrantId": grant_id }))
        .await
        .err(400, "ValidationException");
    t.call("RetireGrant", json!({ "GrantToken": "nope" }))
        .await
        .err(400, "InvalidGrantTokenException");
}

/// The typed set-up API: every method, with the KMS errors it passes on.
#[test]
fn typed_set_up_api() {
    use tower_kms::KeyState;

    let kms = LocalKms::new();
    let k = kms
        .create_key(KeySpec::SymmetricDefault, KeyUsageType::EncryptDecrypt)
        .unwrap();
    let m = kms.describe_key(&k).unwrap();
    assert_eq!(m.arn.as_deref(), Some(k.as_str()));
    assert!(k.ends_with(&m.key_id) && is_uuid_v4(&m.key_id), "{k}");
    assert_eq!(m.key_spec, Some(KeySpec::SymmetricDefault));
    assert_eq!(m.key_usage, Some(KeyUsageType::EncryptDecrypt));
    assert_eq!(m.key_state, Some(KeyState::Enabled));
    assert_eq!(m.enabled, Some(true));
    let created = m.creation_date.unwrap();
    assert!(SystemTime::now().duration_since(created).unwrap() < Duration::from_secs(60));
    assert_eq!(m.deletion_date, None);

    // Spec and usage reach CreateKey as their wire names.
    let ecc = kms
        .create_key(KeySpec::EccNistP256, KeyUsageType::SignVerify)
        .unwrap();
    let m = kms.describe_key(&ecc).unwrap();
    assert_eq!(m.key_spec, Some(KeySpec::EccNistP256));
    assert_eq!(m.key_usage, Some(KeyUsageType::SignVerify));
    for (spec, usage, code) in [
        (
            KeySpec::EccNistP256,
            KeyUsageType::EncryptDecrypt,
            "ValidationException",
        ),
        (
            KeySpec::Unknown("AES_256".into()),
            KeyUsageType::EncryptDecrypt,
            "ValidationException",
        ),
        (
            KeySpec::MlDsa44,
            KeyUsageType::SignVerify,
            "UnsupportedOperationException",
        ),
        (
            KeySpec::Hmac256,
            KeyUsageType::EncryptDecrypt,
            "ValidationException",
        ),
        (
            KeySpec::SymmetricDefault,
            KeyUsageType::Unknown("DECRYPT".into()),
            "ValidationException",
        ),
    ] {
        let e = kms.create_key(spec.clone(), usage.clone()).unwrap_err();
        assert_eq!(e.code(), code, "{spec} {usage}: {e}");
    }

    // Disable and enable.
    let enc = json!({ "KeyId": k, "Plaintext": b64(b"x") });
    kms.disable_key(&k).unwrap();
    let m = kms.describe_key(&k).unwrap();
    assert_eq!(
        (m.key_state, m.enabled),
        (Some(KeyState::Disabled), Some(false))
    );
    assert_eq!(
        kms.invoke("Encrypt", enc.clone()).unwrap_err().code(),
        "DisabledException"
    );
    kms.enable_key(&k).unwrap();
    kms.invoke("Encrypt", enc.clone()).unwrap();

    // Aliases.
    kms.create_alias("alias/typed", &k).unwrap();
    assert_eq!(
        kms.describe_key("alias/typed").unwrap().arn.as_deref(),
        Some(k.as_str())
    );
    assert_eq!(
        kms.create_alias("alias/typed", &ecc).unwrap_err().code(),
        "AlreadyExistsException"
    );
    assert_eq!(
        kms.create_alias("typed", &k).unwrap_err().code(),
        "InvalidAliasNameException"
    );
    kms.delete_alias("alias/typed").unwrap();
    assert_eq!(
        kms.describe_key("alias/typed").unwrap_err().code(),
        "NotFoundException"
    );
    assert_eq!(
        kms.delete_alias("alias/typed").unwrap_err().code(),
        "NotFoundException"
    );

    // Deletion: scheduled, visible, cancelled (the key is then disabled).
    for days in [0, 6, 31, u32::MAX] {
        assert_eq!(
            kms.schedule_key_deletion(&k, days).unwrap_err().code(),
            "ValidationException",
            "{days}"
        );
    }
    let before = SystemTime::now();
    let when = kms.schedule_key_deletion(&k, 7).unwrap();
    let week = Duration::from_secs(7 * 86_400);
    assert!(when >= before + week - Duration::from_secs(1), "{when:?}");
    assert!(when <= SystemTime::now() + week, "{when:?}");
    let m = kms.describe_key(&k).unwrap();
    assert_eq!(m.key_state, Some(KeyState::PendingDeletion));
    assert_eq!(m.deletion_date, Some(when));
    assert_eq!(
        kms.enable_key(&k).unwrap_err().code(),
        "KMSInvalidStateException"
    );
    kms.cancel_key_deletion(&k).unwrap();
    let m = kms.describe_key(&k).unwrap();
    assert_eq!(
        (m.key_state, m.deletion_date),
        (Some(KeyState::Disabled), None)
    );
    assert_eq!(
        kms.cancel_key_deletion(&k).unwrap_err().code(),
        "KMSInvalidStateException"
    );

    // Unknown keys.
    for e in [
        kms.enable_key("alias/none").unwrap_err(),
        kms.disable_key("1234abcd-12ab-34cd-56ef-1234567890ab")
            .unwrap_err(),
        kms.describe_key("").unwrap_err(),
    ] {
        assert!(
            matches!(e.code(), "NotFoundException" | "ValidationException"),
            "{e}"
        );
    }
}

/// An injected clock at the end of time: a deletion date past it is an error
/// that says so, not an overflow.
#[test]
fn schedule_key_deletion_with_a_clock_at_the_end_of_time() {
    let end = UNIX_EPOCH + Duration::new(i64::MAX as u64, 999_999_999);
    let kms = LocalKms::builder().clock(Arc::new(move || end)).build();
    let key = kms
        .create_key(KeySpec::SymmetricDefault, KeyUsageType::EncryptDecrypt)
        .unwrap();
    let e = kms
        .invoke(
            "ScheduleKeyDeletion",
            json!({ "KeyId": key, "PendingWindowInDays": 7 }),
        )
        .unwrap_err();
    assert_eq!(e.code(), "KMSInternalException");
    assert_eq!(
        e.message(),
        "The clock is too close to its maximum for a deletion date."
    );
    // The key is untouched.
    assert_eq!(
        kms.invoke("DescribeKey", json!({ "KeyId": key })).unwrap()["KeyMetadata"]["KeyState"],
        "Enabled"
    );
}
