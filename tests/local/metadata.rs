//! What describes a key without touching its material (#13): tags
//! (TagResource, UntagResource, ListResourceTags, CreateKey's Tags),
//! UpdateAlias and UpdateKeyDescription, with their rules, limits, key
//! states and authorization. Signed requests, in-process and over
//! 127.0.0.1.

use crate::common;
use crate::world::{self, Setup, TestClock};

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{Sig, Transport, b64};
use serde_json::{Value, json};
use tower_kms::local::LocalKms;

async fn transports() -> Vec<(LocalKms, Transport)> {
    let a = LocalKms::new();
    let b = LocalKms::new();
    let ta = Transport::in_process(&a);
    let tb = Transport::socket(&b).await;
    vec![(a, ta), (b, tb)]
}

async fn create(t: &Transport, body: Value) -> String {
    t.call("CreateKey", body).await.ok()["KeyMetadata"]["Arn"]
        .as_str()
        .unwrap()
        .to_string()
}

fn tags(pairs: &[(&str, &str)]) -> Value {
    pairs
        .iter()
        .map(|(k, v)| json!({ "TagKey": k, "TagValue": v }))
        .collect()
}

async fn listed(t: &Transport, key: &str) -> Value {
    let out = t
        .call("ListResourceTags", json!({ "KeyId": key }))
        .await
        .ok();
    assert_eq!(out["Truncated"], false);
    out["Tags"].clone()
}

#[tokio::test]
async fn tags_add_replace_list_and_remove() {
    for (kms, t) in transports().await {
        let key = create(
            &t,
            json!({ "Tags": tags(&[("team", "kms"), ("empty", "")]) }),
        )
        .await;
        assert_eq!(
            listed(&t, &key).await,
            tags(&[("empty", ""), ("team", "kms")])
        );
        // Add one, replace one.
        t.call(
            "TagResource",
            json!({ "KeyId": key, "Tags": tags(&[("team", "crypto"), ("env", "test")]) }),
        )
        .await
        .ok();
        assert_eq!(
            listed(&t, &key).await,
            tags(&[("empty", ""), ("env", "test"), ("team", "crypto")])
        );
        // By key id too; a tag key that is not there is no error.
        let id = key.rsplit('/').next().unwrap();
        t.call(
            "UntagResource",
            json!({ "KeyId": id, "TagKeys": ["empty", "never-there"] }),
        )
        .await
        .ok();
        assert_eq!(
            listed(&t, &key).await,
            tags(&[("env", "test"), ("team", "crypto")])
        );
        // Tag keys are case-sensitive.
        t.call(
            "TagResource",
            json!({ "KeyId": key, "Tags": tags(&[("Team", "other")]) }),
        )
        .await
        .ok();
        assert_eq!(listed(&t, &key).await.as_array().unwrap().len(), 3);
        // An empty list changes nothing.
        t.call("TagResource", json!({ "KeyId": key, "Tags": [] }))
            .await
            .ok();
        assert_eq!(listed(&t, &key).await.as_array().unwrap().len(), 3);

        // Paging.
        let p1 = t
            .call("ListResourceTags", json!({ "KeyId": key, "Limit": 2 }))
            .await
            .ok();
        assert_eq!(p1["Tags"], tags(&[("Team", "other"), ("env", "test")]));
        assert_eq!(p1["Truncated"], true);
        let p2 = t
            .call(
                "ListResourceTags",
                json!({ "KeyId": key, "Limit": 2, "Marker": p1["NextMarker"] }),
            )
            .await
            .ok();
        assert_eq!(p2["Tags"], tags(&[("team", "crypto")]));
        assert_eq!(p2["Truncated"], false);
        assert!(p2.get("NextMarker").is_none());
        for bad in [json!({ "KeyId": key, "Limit": 0 }), json!({ "Limit": 1 })] {
            t.call("ListResourceTags", bad)
                .await
                .err(400, "ValidationException");
        }
        t.call("ListResourceTags", json!({ "KeyId": key, "Marker": "x" }))
            .await
            .err(400, "InvalidMarkerException");

        // Keys are named by id or ARN, not alias; only in their account.
        kms.create_alias("alias/tagged", &key).unwrap();
        for op in ["TagResource", "UntagResource", "ListResourceTags"] {
            t.call(
                op,
                json!({ "KeyId": "alias/tagged", "Tags": tags(&[("a", "b")]), "TagKeys": ["a"] }),
            )
            .await
            .err(404, "NotFoundException");
        }
        let foreign = kms
            .create_key_in(
                "444455556666",
                tower_kms::KeySpec::SymmetricDefault,
                tower_kms::KeyUsageType::EncryptDecrypt,
            )
            .unwrap();
        t.call(
            "TagResource",
            json!({ "KeyId": foreign, "Tags": tags(&[("a", "b")]) }),
        )
        .await
        .err(404, "NotFoundException");

        // Pending deletion: listing works, changing does not.
        kms.schedule_key_deletion(&key, 7).unwrap();
        assert_eq!(listed(&t, &key).await.as_array().unwrap().len(), 3);
        t.call(
            "TagResource",
            json!({ "KeyId": key, "Tags": tags(&[("a", "b")]) }),
        )
        .await
        .err(409, "KMSInvalidStateException");
        t.call("UntagResource", json!({ "KeyId": key, "TagKeys": ["env"] }))
            .await
            .err(409, "KMSInvalidStateException");
        // A disabled key can be tagged.
        kms.cancel_key_deletion(&key).unwrap();
        t.call(
            "TagResource",
            json!({ "KeyId": key, "Tags": tags(&[("a", "b")]) }),
        )
        .await
        .ok();
        t.shutdown().await;
    }
}

#[tokio::test]
async fn tag_rules_and_limits() {
    let (_kms, t) = transports().await.remove(0);
    let key = create(&t, json!({})).await;
    let long_key = "k".repeat(129);
    let long_value = "v".repeat(257);
    for (bad, code) in [
        (tags(&[("aws:owner", "x")]), "TagException"),
        (tags(&[("AWS:Owner", "x")]), "TagException"),
        (tags(&[("semi;colon", "x")]), "TagException"),
        (tags(&[("k", "back\\slash")]), "TagException"),
        (tags(&[("dup", "1"), ("dup", "2")]), "TagException"),
        (tags(&[("", "x")]), "ValidationException"),
        (tags(&[(&long_key, "x")]), "ValidationException"),
        (tags(&[("k", &long_value)]), "ValidationException"),
        (json!([{ "TagKey": "k" }]), "ValidationException"),
        (json!([{ "TagValue": "v" }]), "ValidationException"),
    ] {
        t.call("TagResource", json!({ "KeyId": key, "Tags": bad.clone() }))
            .await
            .err(400, code);
        t.call("CreateKey", json!({ "Tags": bad }))
            .await
            .err(400, code);
    }
    // The longest key and value, Unicode letters and the allowed marks.
    let ok = tags(&[
        (&"k".repeat(128), &"v".repeat(256)),
        ("Zürich prod", "a.b:c/d=e+f-g@h_i"),
        ("awsome", "aws:values are fine"),
    ]);
    t.call("TagResource", json!({ "KeyId": key, "Tags": ok }))
        .await
        .ok();
    t.call("TagResource", json!({ "KeyId": key }))
        .await
        .err(400, "ValidationException");
    t.call("UntagResource", json!({ "KeyId": key }))
        .await
        .err(400, "ValidationException");
    t.call(
        "UntagResource",
        json!({ "KeyId": key, "TagKeys": ["aws:x"] }),
    )
    .await
    .err(400, "TagException");

    // At most 50 tags a key, counted after replacing.
    let fifty: Vec<(String, String)> = (0..50)
        .map(|i| (format!("k{i:02}"), i.to_string()))
        .collect();
    let as_tags = |pairs: &[(String, String)]| -> Value {
        pairs
            .iter()
            .map(|(k, v)| json!({ "TagKey": k, "TagValue": v }))
            .collect()
    };
    let full = create(&t, json!({ "Tags": as_tags(&fifty) })).await;
    let mut fifty_one = fifty.clone();
    fifty_one.push(("k50".into(), "x".into()));
    t.call("CreateKey", json!({ "Tags": as_tags(&fifty_one) }))
        .await
        .err(400, "LimitExceededException");
    t.call(
        "TagResource",
        json!({ "KeyId": full, "Tags": tags(&[("k00", "replaced")]) }),
    )
    .await
    .ok();
    t.call(
        "TagResource",
        json!({ "KeyId": full, "Tags": tags(&[("k50", "one too many")]) }),
    )
    .await
    .err(400, "LimitExceededException");
    // ListResourceTags returns at most 50 a page, whatever the limit.
    let page = t
        .call("ListResourceTags", json!({ "KeyId": full, "Limit": 1000 }))
        .await
        .ok();
    assert_eq!(page["Tags"].as_array().unwrap().len(), 50);
    assert_eq!(
        page["Tags"][0],
        json!({ "TagKey": "k00", "TagValue": "replaced" })
    );
}

#[tokio::test]
async fn tagging_is_authorized() {
    let app = "arn:aws:iam::111122223333:user/app";
    let create_only = world::identity(&[json!({
        "Effect": "Allow", "Action": ["kms:CreateKey", "kms:ListResourceTags"], "Resource": "*",
    })]);
    let w = Setup::new()
        .principal("app", app)
        .identity(app, &create_only)
        .build()
        .await;
    // Tags at creation need kms:TagResource too.
    world::assert_denied(
        &w.call("app", "CreateKey", json!({ "Tags": tags(&[("a", "b")]) }))
            .await,
        &world::denied(app, "kms:TagResource", "*", "identity"),
    );
    assert_eq!(
        w.kms.invoke("ListKeys", json!({})).unwrap()["Keys"],
        json!([])
    );
    let key = w.call("app", "CreateKey", json!({})).await.ok()["KeyMetadata"]["Arn"]
        .as_str()
        .unwrap()
        .to_string();
    world::assert_denied(
        &w.call(
            "app",
            "TagResource",
            json!({ "KeyId": key, "Tags": tags(&[("a", "b")]) }),
        )
        .await,
        &world::denied(app, "kms:TagResource", &key, "identity"),
    );
    world::assert_denied(
        &w.call(
            "app",
            "UntagResource",
            json!({ "KeyId": key, "TagKeys": ["a"] }),
        )
        .await,
        &world::denied(app, "kms:UntagResource", &key, "identity"),
    );
    w.call("app", "ListResourceTags", json!({ "KeyId": key }))
        .await
        .ok();
    w.call(
        "admin",
        "TagResource",
        json!({ "KeyId": key, "Tags": tags(&[("a", "b")]) }),
    )
    .await
    .ok();
    w.t.shutdown().await;
}

fn secs(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH).unwrap().as_millis() as f64 / 1000.0
}

#[tokio::test]
async fn update_alias_moves_within_a_kind_and_usage() {
    let clock = TestClock::new();
    let c = clock.clone();
    let kms = LocalKms::builder().clock(Arc::new(move || c.now())).build();
    for t in [Transport::in_process(&kms), Transport::socket(&kms).await] {
        let call = |op: &'static str, body: Value| {
            let sig = Sig {
                time: clock.now(),
                ..Sig::default()
            };
            let t = &t;
            async move { t.call_with(op, body, &sig).await }
        };
        let create = |_: &Transport, body: Value| {
            let r = call("CreateKey", body);
            async move {
                r.await.ok()["KeyMetadata"]["Arn"]
                    .as_str()
                    .unwrap()
                    .to_string()
            }
        };
        let sym1 = create(&t, json!({})).await;
        let sym2 = create(&t, json!({})).await;
        let alias = format!(
            "alias/app-{}",
            if matches!(t, Transport::Socket { .. }) {
                "socket"
            } else {
                "local"
            }
        );
        let created = clock.now();
        call(
            "CreateAlias",
            json!({ "AliasName": alias, "TargetKeyId": sym1 }),
        )
        .await
        .ok();
        clock.advance(Duration::from_secs(3600));
        call(
            "UpdateAlias",
            json!({ "AliasName": alias, "TargetKeyId": sym2.rsplit('/').next().unwrap() }),
        )
        .await
        .ok();
        let list = call("ListAliases", json!({ "KeyId": sym2 })).await.ok();
        let entry = &list["Aliases"][0];
        assert_eq!(entry["AliasName"], alias.as_str());
        assert_eq!(entry["TargetKeyId"], sym2.rsplit('/').next().unwrap());
        assert_eq!(entry["CreationDate"], secs(created));
        assert_eq!(entry["LastUpdatedDate"], secs(clock.now()));
        // The alias now names the new key.
        let enc = call("Encrypt", json!({ "KeyId": alias, "Plaintext": b64(b"x") }))
            .await
            .ok();
        assert_eq!(enc["KeyId"], sym2.as_str());
        assert_eq!(
            call("ListAliases", json!({ "KeyId": sym1 })).await.ok()["Aliases"],
            json!([])
        );

        // Same kind and usage only.
        let hmac = create(
            &t,
            json!({ "KeySpec": "HMAC_256", "KeyUsage": "GENERATE_VERIFY_MAC" }),
        )
        .await;
        let hmac2 = create(
            &t,
            json!({ "KeySpec": "HMAC_512", "KeyUsage": "GENERATE_VERIFY_MAC" }),
        )
        .await;
        let rsa_enc = create(
            &t,
            json!({ "KeySpec": "RSA_2048", "KeyUsage": "ENCRYPT_DECRYPT" }),
        )
        .await;
        let ecc_sign = create(
            &t,
            json!({ "KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY" }),
        )
        .await;
        let rsa_sign = create(
            &t,
            json!({ "KeySpec": "RSA_2048", "KeyUsage": "SIGN_VERIFY" }),
        )
        .await;
        for target in [&hmac, &rsa_enc] {
            call(
                "UpdateAlias",
                json!({ "AliasName": alias, "TargetKeyId": target }),
            )
            .await
            .err(400, "ValidationException");
        }
        let mac_alias = format!("{alias}-mac");
        call(
            "CreateAlias",
            json!({ "AliasName": mac_alias, "TargetKeyId": hmac }),
        )
        .await
        .ok();
        // Another HMAC size is the same kind.
        call(
            "UpdateAlias",
            json!({ "AliasName": mac_alias, "TargetKeyId": hmac2 }),
        )
        .await
        .ok();
        let sign_alias = format!("{alias}-sign");
        call(
            "CreateAlias",
            json!({ "AliasName": sign_alias, "TargetKeyId": ecc_sign }),
        )
        .await
        .ok();
        call(
            "UpdateAlias",
            json!({ "AliasName": sign_alias, "TargetKeyId": rsa_sign }),
        )
        .await
        .ok();
        let e = call(
            "UpdateAlias",
            json!({ "AliasName": sign_alias, "TargetKeyId": rsa_enc }),
        )
        .await
        .err(400, "ValidationException");
        assert!(
            e["message"].as_str().unwrap().contains("same key usage"),
            "{e}"
        );

        // Errors.
        let sym3 = create(&t, json!({})).await;
        kms.schedule_key_deletion(&sym3, 7).unwrap();
        call(
            "UpdateAlias",
            json!({ "AliasName": alias, "TargetKeyId": sym3 }),
        )
        .await
        .err(409, "KMSInvalidStateException");
        for (name, target, status, code) in [
            ("alias/none", sym1.as_str(), 404, "NotFoundException"),
            (alias.as_str(), mac_alias.as_str(), 404, "NotFoundException"),
            (
                alias.as_str(),
                "0f0f0f0f-1111-4222-8333-444444444444",
                404,
                "NotFoundException",
            ),
            ("app", sym1.as_str(), 400, "InvalidAliasNameException"),
            (alias.as_str(), "", 400, "ValidationException"),
        ] {
            call(
                "UpdateAlias",
                json!({ "AliasName": name, "TargetKeyId": target }),
            )
            .await
            .err(status, code);
        }
        call("UpdateAlias", json!({ "AliasName": alias }))
            .await
            .err(400, "ValidationException");
        // The target key is in the alias's account.
        let foreign = kms
            .create_key_in(
                "444455556666",
                tower_kms::KeySpec::SymmetricDefault,
                tower_kms::KeyUsageType::EncryptDecrypt,
            )
            .unwrap();
        call(
            "UpdateAlias",
            json!({ "AliasName": alias, "TargetKeyId": foreign }),
        )
        .await
        .err(404, "NotFoundException");
        t.shutdown().await;
    }
}

#[tokio::test]
async fn update_alias_needs_permission_on_both_keys() {
    let app = "arn:aws:iam::111122223333:user/app";
    let w = Setup::new().principal("app", app).build().await;
    let k1 = w.key();
    let k2 = w.key();
    w.kms.create_alias("alias/moving", &k1).unwrap();
    // A key policy on k2 that names only the admin: app may not move the
    // alias to it.
    w.kms.put_key_policy(&k2, &world::policy(&[])).unwrap();
    world::assert_denied(
        &w.call(
            "app",
            "UpdateAlias",
            json!({ "AliasName": "alias/moving", "TargetKeyId": k2 }),
        )
        .await,
        &world::denied(app, "kms:UpdateAlias", &k2, "resource"),
    );
    // Nor away from a key whose policy does not allow it.
    let k3 = w.key();
    w.kms.put_key_policy(&k1, &world::policy(&[])).unwrap();
    world::assert_denied(
        &w.call(
            "app",
            "UpdateAlias",
            json!({ "AliasName": "alias/moving", "TargetKeyId": k3 }),
        )
        .await,
        &world::denied(app, "kms:UpdateAlias", &k1, "resource"),
    );
    w.call(
        "admin",
        "UpdateAlias",
        json!({ "AliasName": "alias/moving", "TargetKeyId": k2 }),
    )
    .await
    .ok();
    w.t.shutdown().await;
}

#[tokio::test]
async fn update_key_description() {
    for (kms, t) in transports().await {
        let key = create(&t, json!({ "Description": "before" })).await;
        for description in ["after", "", &"d".repeat(8192)] {
            t.call(
                "UpdateKeyDescription",
                json!({ "KeyId": key, "Description": description }),
            )
            .await
            .ok();
            assert_eq!(
                kms.describe_key(&key).unwrap().description.as_deref(),
                Some(description)
            );
        }
        for bad in [
            json!({ "KeyId": key }),
            json!({ "Description": "x" }),
            json!({ "KeyId": key, "Description": "d".repeat(8193) }),
        ] {
            t.call("UpdateKeyDescription", bad)
                .await
                .err(400, "ValidationException");
        }
        kms.create_alias("alias/described", &key).unwrap();
        t.call(
            "UpdateKeyDescription",
            json!({ "KeyId": "alias/described", "Description": "x" }),
        )
        .await
        .err(404, "NotFoundException");
        kms.disable_key(&key).unwrap();
        t.call(
            "UpdateKeyDescription",
            json!({ "KeyId": key, "Description": "while disabled" }),
        )
        .await
        .ok();
        kms.enable_key(&key).unwrap();
        kms.schedule_key_deletion(&key, 7).unwrap();
        t.call(
            "UpdateKeyDescription",
            json!({ "KeyId": key, "Description": "x" }),
        )
        .await
        .err(409, "KMSInvalidStateException");
        assert_eq!(
            kms.describe_key(&key).unwrap().description.as_deref(),
            Some("while disabled")
        );
        t.shutdown().await;
    }
}
