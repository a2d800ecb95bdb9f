//! Grants over 127.0.0.1: effective after the simulated propagation delay, at
//! once with their token; retirement and revocation with their own delay;
//! constraints; who may retire; listing; idempotent names; the errors.

use std::time::Duration;

use serde_json::{Value, json};
use tower_kms::local::LocalKms;

use crate::world::{B, NOTHING, Setup, assert_denied, denied, identity};

const BOB: &str = "arn:aws:iam::111122223333:user/bob";
const CAROL: &str = "arn:aws:iam::111122223333:user/carol";
const DAVE: &str = "arn:aws:iam::111122223333:user/dave";
const ROOT_A: &str = "arn:aws:iam::111122223333:root";
const B_USER: &str = "arn:aws:iam::444455556666:user/app";
const B_ADMIN: &str = "arn:aws:iam::444455556666:user/admin";

/// Bob and carol (account A) and app (account B) may do nothing by policy:
/// only grants help them. Dave's identity policy denies RetireGrant.
fn setup() -> Setup {
    Setup::new()
        .principal("bob", BOB)
        .principal("carol", CAROL)
        .principal("dave", DAVE)
        .principal("root", ROOT_A)
        .principal("b", B_USER)
        .principal("b-admin", B_ADMIN)
        .identity(BOB, NOTHING)
        .identity(CAROL, NOTHING)
        .identity(B_USER, NOTHING)
        .identity(
            DAVE,
            &identity(&[json!({ "Effect": "Deny", "Action": "kms:RetireGrant", "Resource": "*" })]),
        )
}

fn grant_to(key: &str, grantee: &str, ops: &[&str]) -> Value {
    json!({ "KeyId": key, "GranteePrincipal": grantee, "Operations": ops })
}

#[tokio::test]
async fn a_grant_token_works_before_the_grant_propagates() {
    let w = setup().build().await;
    assert_eq!(w.kms.grant_propagation_delay(), Duration::from_secs(5));
    let k = w.key();
    let r = w.encrypt("bob", &k, json!({}), &[]).await;
    assert_denied(&r, &denied(BOB, "kms:Encrypt", &k, "identity"));

    let (_, token) = w
        .grant(grant_to(&k, BOB, &["Encrypt", "DescribeKey"]))
        .await;
    // Not yet effective without its token...
    let r = w.encrypt("bob", &k, json!({}), &[]).await;
    assert_denied(&r, &denied(BOB, "kms:Encrypt", &k, "identity"));
    // ...effective at once with it (among other tokens).
    w.encrypt("bob", &k, json!({}), &[&token]).await.ok();
    let (_, other) = w.grant(grant_to(&w.key(), CAROL, &["Decrypt"])).await;
    w.encrypt("bob", &k, json!({}), &[&other, &token])
        .await
        .ok();
    // The token authorizes only the grant's operations, for its grantee.
    let blob = w.blob(&k, json!({}));
    let r = w
        .call(
            "bob",
            "Decrypt",
            json!({ "CiphertextBlob": blob, "GrantTokens": [token] }),
        )
        .await;
    assert_denied(&r, &denied(BOB, "kms:Decrypt", &k, "identity"));
    let r = w.encrypt("carol", &k, json!({}), &[&token]).await;
    assert_denied(&r, &denied(CAROL, "kms:Encrypt", &k, "identity"));
    // Propagation is measured on the injected clock.
    w.clock.advance(Duration::from_millis(4_999));
    let r = w.encrypt("bob", &k, json!({}), &[]).await;
    assert_denied(&r, &denied(BOB, "kms:Encrypt", &k, "identity"));
    w.clock.advance(Duration::from_millis(1));
    w.encrypt("bob", &k, json!({}), &[]).await.ok();
    w.call("bob", "DescribeKey", json!({ "KeyId": k }))
        .await
        .ok();
    // Still not what the grant does not list.
    let r = w
        .call("bob", "Decrypt", json!({ "CiphertextBlob": blob }))
        .await;
    assert_denied(&r, &denied(BOB, "kms:Decrypt", &k, "identity"));
}

#[tokio::test]
async fn grant_tokens_for_reencrypt() {
    let w = setup().build().await;
    let (src, dst) = (w.key(), w.key());
    let blob = w.blob(&src, json!({}));
    let (_, from) = w.grant(grant_to(&src, BOB, &["ReEncryptFrom"])).await;
    let (_, to) = w.grant(grant_to(&dst, BOB, &["ReEncryptTo"])).await;
    let re = |tokens: &[&str]| json!({ "CiphertextBlob": blob, "DestinationKeyId": dst, "GrantTokens": tokens });
    w.call("bob", "ReEncrypt", re(&[&from, &to])).await.ok();
    let r = w.call("bob", "ReEncrypt", re(&[&to])).await;
    assert_denied(&r, &denied(BOB, "kms:ReEncryptFrom", &src, "identity"));
    let r = w.call("bob", "ReEncrypt", re(&[&from])).await;
    assert_denied(&r, &denied(BOB, "kms:ReEncryptTo", &dst, "identity"));
    // A ReEncryptFrom grant on the destination does not allow ReEncryptTo.
    let (_, wrong) = w.grant(grant_to(&dst, BOB, &["ReEncryptFrom"])).await;
    let r = w.call("bob", "ReEncrypt", re(&[&from, &wrong])).await;
    assert_denied(&r, &denied(BOB, "kms:ReEncryptTo", &dst, "identity"));
}

#[tokio::test]
async fn retirement_and_revocation_propagate_too() {
    let w = setup().build().await;
    let k = w.key();
    let (retired, retired_token) = w.grant(grant_to(&k, BOB, &["Encrypt"])).await;
    let (revoked, revoked_token) = w.grant(grant_to(&k, CAROL, &["Encrypt"])).await;
    w.clock.advance(Duration::from_secs(5));
    w.encrypt("bob", &k, json!({}), &[]).await.ok();
    w.encrypt("carol", &k, json!({}), &[]).await.ok();

    w.call(
        "admin",
        "RetireGrant",
        json!({ "KeyId": k, "GrantId": retired }),
    )
    .await
    .ok();
    w.call(
        "admin",
        "RevokeGrant",
        json!({ "KeyId": k, "GrantId": revoked }),
    )
    .await
    .ok();
    // Gone at once for grant management...
    let listed = w
        .call("admin", "ListGrants", json!({ "KeyId": k }))
        .await
        .ok();
    assert_eq!(listed["Grants"], json!([]));
    w.call(
        "admin",
        "RetireGrant",
        json!({ "KeyId": k, "GrantId": retired }),
    )
    .await
    .err(404, "NotFoundException");
    w.call(
        "admin",
        "RevokeGrant",
        json!({ "KeyId": k, "GrantId": revoked }),
    )
    .await
    .err(404, "NotFoundException");
    // ...but still allowing, with or without a token, until that propagates.
    w.clock.advance(Duration::from_millis(4_999));
    w.encrypt("bob", &k, json!({}), &[]).await.ok();
    w.encrypt("bob", &k, json!({}), &[&retired_token])
        .await
        .ok();
    w.encrypt("carol", &k, json!({}), &[&revoked_token])
        .await
        .ok();
    w.clock.advance(Duration::from_millis(1));
    for (who, arn, token) in [
        ("bob", BOB, &retired_token),
        ("carol", CAROL, &revoked_token),
    ] {
        let r = w.encrypt(who, &k, json!({}), &[]).await;
        assert_denied(&r, &denied(arn, "kms:Encrypt", &k, "identity"));
        // A retired grant's token is still a token of this KMS: no
        // InvalidGrantTokenException, just no permission.
        let r = w.encrypt(who, &k, json!({}), &[token]).await;
        assert_denied(&r, &denied(arn, "kms:Encrypt", &k, "identity"));
    }
    // Retired before it propagated: its token no longer helps at all.
    let (early, early_token) = w.grant(grant_to(&k, BOB, &["Encrypt"])).await;
    w.encrypt("bob", &k, json!({}), &[&early_token]).await.ok();
    w.clock.advance(Duration::from_secs(1));
    w.call(
        "admin",
        "RevokeGrant",
        json!({ "KeyId": k, "GrantId": early }),
    )
    .await
    .ok();
    let r = w.encrypt("bob", &k, json!({}), &[&early_token]).await;
    assert_denied(&r, &denied(BOB, "kms:Encrypt", &k, "identity"));
    w.clock.advance(Duration::from_secs(10));
    let r = w.encrypt("bob", &k, json!({}), &[&early_token]).await;
    assert_denied(&r, &denied(BOB, "kms:Encrypt", &k, "identity"));
}

#[tokio::test]
async fn encryption_context_constraints() {
    let w = setup().delay(Duration::ZERO).build().await;
    let k = w.key();
    let mut subset = grant_to(&k, BOB, &["Encrypt", "DescribeKey"]);
    subset["Constraints"] = json!({ "EncryptionContextSubset": { "Tenant": "acme" } });
    w.grant(subset).await;
    for (ctx, ok) in [
        (json!({ "Tenant": "acme" }), true),
        (json!({ "tenant": "acme", "extra": "x" }), true), // keys case-insensitive
        (json!({ "TENANT": "acme" }), true),
        (json!({ "tenant": "ACME" }), false), // values case-sensitive
        (json!({ "other": "acme" }), false),
        (json!({}), false),
    ] {
        let r = w.encrypt("bob", &k, ctx.clone(), &[]).await;
        if ok {
            assert_eq!(r.status, 200, "{ctx}: {:?}", r.body);
        } else {
            assert_denied(&r, &denied(BOB, "kms:Encrypt", &k, "identity"));
        }
    }
    // Operations without an encryption context ignore the constraint.
    w.call("bob", "DescribeKey", json!({ "KeyId": k }))
        .await
        .ok();

    let k = w.key();
    let mut equals = grant_to(&k, BOB, &["Encrypt"]);
    equals["Constraints"] =
        json!({ "EncryptionContextEquals": { "tenant": "acme", "app": "web" } });
    w.grant(equals).await;
    for (ctx, ok) in [
        (json!({ "app": "web", "tenant": "acme" }), true),
        (json!({ "APP": "web", "Tenant": "acme" }), true),
        (json!({ "tenant": "acme" }), false),
        (json!({ "tenant": "acme", "app": "web", "x": "y" }), false),
        (json!({ "tenant": "acme", "app": "Web" }), false),
    ] {
        let r = w.encrypt("bob", &k, ctx.clone(), &[]).await;
        assert_eq!(r.status == 200, ok, "{ctx}: {:?}", r.body);
    }

    // ReEncrypt: the source context for ReEncryptFrom, the destination
    // context for ReEncryptTo.
    let (src, dst) = (w.key(), w.key());
    let mut from = grant_to(&src, BOB, &["ReEncryptFrom"]);
    from["Constraints"] = json!({ "EncryptionContextSubset": { "stage": "old" } });
    let mut to = grant_to(&dst, BOB, &["ReEncryptTo"]);
    to["Constraints"] = json!({ "EncryptionContextSubset": { "stage": "new" } });
    w.grant(from).await;
    w.grant(to).await;
    let blob = w.blob(&src, json!({ "stage": "old" }));
    let re = |dst_ctx: Value| {
        json!({
            "CiphertextBlob": blob, "DestinationKeyId": dst,
            "SourceEncryptionContext": { "stage": "old" },
            "DestinationEncryptionContext": dst_ctx,
        })
    };
    w.call("bob", "ReEncrypt", re(json!({ "stage": "new" })))
        .await
        .ok();
    let r = w
        .call("bob", "ReEncrypt", re(json!({ "stage": "old" })))
        .await;
    assert_denied(&r, &denied(BOB, "kms:ReEncryptTo", &dst, "identity"));
    let blob_new = w.blob(&src, json!({ "stage": "new" }));
    let r = w
        .call(
            "bob",
            "ReEncrypt",
            json!({
                "CiphertextBlob": blob_new, "DestinationKeyId": dst,
                "SourceEncryptionContext": { "stage": "new" },
                "DestinationEncryptionContext": { "stage": "new" },
            }),
        )
        .await;
    assert_denied(&r, &denied(BOB, "kms:ReEncryptFrom", &src, "identity"));
}

#[tokio::test]
async fn a_grant_allows_only_narrower_grants() {
    let w = setup().build().await;
    let k = w.key();
    let mut parent = grant_to(&k, BOB, &["CreateGrant", "Encrypt", "Decrypt"]);
    parent["Constraints"] = json!({ "EncryptionContextSubset": { "tenant": "a" } });
    let (_, token) = w.grant(parent).await;
    let child = |ops: &[&str], constraints: Option<Value>| {
        let mut body = grant_to(&k, CAROL, ops);
        body["GrantTokens"] = json!([token]);
        if let Some(c) = constraints {
            body["Constraints"] = c;
        }
        body
    };
    for (body, ok) in [
        (
            child(
                &["Encrypt"],
                Some(json!({ "EncryptionContextSubset": { "tenant": "a", "x": "y" } })),
            ),
            true,
        ),
        (
            child(
                &["Encrypt", "Decrypt"],
                Some(json!({ "EncryptionContextEquals": { "Tenant": "a" } })),
            ),
            true,
        ),
        (child(&["Encrypt"], None), false),
        (
            child(
                &["Encrypt"],
                Some(json!({ "EncryptionContextSubset": { "tenant": "b" } })),
            ),
            false,
        ),
        (
            child(
                &["ReEncryptFrom"],
                Some(json!({ "EncryptionContextSubset": { "tenant": "a" } })),
            ),
            false,
        ),
    ] {
        let r = w.call("bob", "CreateGrant", body.clone()).await;
        if ok {
            assert_eq!(r.status, 200, "{body}: {:?}", r.body);
        } else {
            assert_denied(&r, &denied(BOB, "kms:CreateGrant", &k, "identity"));
        }
    }
}

#[tokio::test]
async fn who_may_retire_a_grant() {
    let w = setup().delay(Duration::ZERO).build().await;
    let k = w.key();
    let retire = |id: &str| json!({ "KeyId": k, "GrantId": id });
    let no_retire = |who: &str| denied(who, "kms:RetireGrant", &k, "identity");

    // The retiring principal (no identity policy needed).
    let mut body = grant_to(&k, BOB, &["Encrypt"]);
    body["RetiringPrincipal"] = json!(CAROL);
    let (g, _) = w.grant(body.clone()).await;
    assert_denied(
        &w.call("bob", "RetireGrant", retire(&g)).await,
        &no_retire(BOB),
    );
    w.call("carol", "RetireGrant", retire(&g)).await.ok();
    // The grantee, when the grant allows RetireGrant; by token.
    let (_, token) = w
        .grant(grant_to(&k, BOB, &["Encrypt", "RetireGrant"]))
        .await;
    w.call("bob", "RetireGrant", json!({ "GrantToken": token }))
        .await
        .ok();
    // Not the grantee otherwise, nor an outsider; the account's root and
    // principals its identity policies allow may.
    let (g, token) = w.grant(grant_to(&k, BOB, &["Encrypt"])).await;
    assert_denied(
        &w.call("bob", "RetireGrant", json!({ "GrantToken": token }))
            .await,
        &no_retire(BOB),
    );
    assert_denied(
        &w.call("b", "RetireGrant", json!({ "GrantToken": token }))
            .await,
        &no_retire(B_USER),
    );
    assert_denied(
        &w.call("b-admin", "RetireGrant", retire(&g)).await,
        &no_retire(B_ADMIN),
    );
    w.call("root", "RetireGrant", retire(&g)).await.ok();
    let (g, _) = w.grant(grant_to(&k, BOB, &["Encrypt"])).await;
    w.call("admin", "RetireGrant", retire(&g)).await.ok();
    // An identity policy's Deny stops even the retiring principal.
    body["RetiringPrincipal"] = json!(DAVE);
    let (g, _) = w.grant(body.clone()).await;
    let r = w.call("dave", "RetireGrant", retire(&g)).await;
    assert_denied(
        &r,
        &denied(DAVE, "kms:RetireGrant", &k, "explicit-identity"),
    );
    // The retiring principal's account may delegate to its principals.
    body["RetiringPrincipal"] = json!("arn:aws:iam::444455556666:root");
    let (g, _) = w.grant(body.clone()).await;
    assert_denied(
        &w.call("b", "RetireGrant", retire(&g)).await,
        &no_retire(B_USER),
    );
    w.call("b-admin", "RetireGrant", retire(&g)).await.ok();
    // DryRun: authorized, then DryRunOperationException, and nothing retired.
    let (g, _) = w.grant(grant_to(&k, BOB, &["Encrypt"])).await;
    let mut dry = retire(&g);
    dry["DryRun"] = json!(true);
    w.call("admin", "RetireGrant", dry.clone())
        .await
        .err(412, "DryRunOperationException");
    assert_denied(&w.call("bob", "RetireGrant", dry).await, &no_retire(BOB));
    w.encrypt("bob", &k, json!({}), &[]).await.ok();
    // RevokeGrant is the key policy's: not for the grantee.
    let r = w.call("bob", "RevokeGrant", retire(&g)).await;
    assert_denied(&r, &denied(BOB, "kms:RevokeGrant", &k, "identity"));
    let mut dry = retire(&g);
    dry["DryRun"] = json!(true);
    w.call("admin", "RevokeGrant", dry)
        .await
        .err(412, "DryRunOperationException");
    w.encrypt("bob", &k, json!({}), &[]).await.ok();
}

#[tokio::test]
async fn listing_grants() {
    let w = setup()
        .identity(
            CAROL,
            &identity(&[
                json!({ "Effect": "Allow", "Action": "kms:ListRetirableGrants", "Resource": "*" }),
            ]),
        )
        .build()
        .await;
    let k = w.key();
    let mut first = grant_to(&k, BOB, &["Encrypt", "Decrypt", "Encrypt"]);
    first["RetiringPrincipal"] = json!(CAROL);
    first["Name"] = json!("first");
    first["Constraints"] = json!({ "EncryptionContextSubset": { "tenant": "a" } });
    let (g1, _) = w.grant(first).await;
    let (g2, _) = w.grant(grant_to(&k, CAROL, &["DescribeKey"])).await;
    let (g3, _) = w.grant(grant_to(&k, BOB, &["Encrypt"])).await;
    let created = w.clock.now().duration_since(std::time::UNIX_EPOCH).unwrap();
    let out = w
        .call("admin", "ListGrants", json!({ "KeyId": k }))
        .await
        .ok();
    assert_eq!(out["Truncated"], false);
    let grants = out["Grants"].as_array().unwrap();
    let ids: Vec<&str> = grants
        .iter()
        .map(|g| g["GrantId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [g1.as_str(), g2.as_str(), g3.as_str()]);
    assert_eq!(
        grants[0],
        json!({
            "KeyId": k,
            "GrantId": g1,
            "Name": "first",
            "CreationDate": (created.as_millis() as f64) / 1000.0,
            "GranteePrincipal": BOB,
            "RetiringPrincipal": CAROL,
            "IssuingAccount": "arn:aws:iam::111122223333:root",
            "Operations": ["Encrypt", "Decrypt"],
            "Constraints": { "EncryptionContextSubset": { "tenant": "a" } },
        })
    );
    assert_eq!(grants[1]["Name"], "");
    assert!(grants[1].get("RetiringPrincipal").is_none());
    assert!(grants[1].get("Constraints").is_none());
    // Pages.
    let page = w
        .call("admin", "ListGrants", json!({ "KeyId": k, "Limit": 2 }))
        .await
        .ok();
    assert_eq!(page["Grants"].as_array().unwrap().len(), 2);
    assert_eq!(page["Truncated"], true);
    let next = w
        .call(
            "admin",
            "ListGrants",
            json!({ "KeyId": k, "Limit": 2, "Marker": page["NextMarker"] }),
        )
        .await
        .ok();
    assert_eq!(next["Grants"][0]["GrantId"], g3);
    assert_eq!(next["Truncated"], false);
    assert!(next.get("NextMarker").is_none());
    // Filters.
    let by_id = w
        .call("admin", "ListGrants", json!({ "KeyId": k, "GrantId": g2 }))
        .await
        .ok();
    assert_eq!(by_id["Grants"].as_array().unwrap().len(), 1);
    let by_grantee = w
        .call(
            "admin",
            "ListGrants",
            json!({ "KeyId": k, "GranteePrincipal": BOB }),
        )
        .await
        .ok();
    assert_eq!(by_grantee["Grants"].as_array().unwrap().len(), 2);
    w.call(
        "admin",
        "ListGrants",
        json!({ "KeyId": k, "GrantId": "not-an-id" }),
    )
    .await
    .err(400, "InvalidGrantIdException");
    w.call("admin", "ListGrants", json!({ "KeyId": k, "Marker": "x" }))
        .await
        .err(400, "InvalidMarkerException");
    w.call("admin", "ListGrants", json!({ "KeyId": k, "Limit": 0 }))
        .await
        .err(400, "ValidationException");
    // ListGrants is the key policy's.
    let r = w.call("bob", "ListGrants", json!({ "KeyId": k })).await;
    assert_denied(&r, &denied(BOB, "kms:ListGrants", &k, "identity"));

    // ListRetirableGrants: grants on any account's keys that carol may retire.
    let b_key = w.call("b-admin", "CreateKey", json!({})).await.ok()["KeyMetadata"]["Arn"]
        .as_str()
        .unwrap()
        .to_string();
    let mut foreign = grant_to(&b_key, BOB, &["Encrypt"]);
    foreign["RetiringPrincipal"] = json!(CAROL);
    let out = w.call("b-admin", "CreateGrant", foreign).await.ok();
    let retirable = w
        .call(
            "carol",
            "ListRetirableGrants",
            json!({ "RetiringPrincipal": CAROL }),
        )
        .await
        .ok();
    let grants = retirable["Grants"].as_array().unwrap();
    assert_eq!(grants.len(), 2);
    assert_eq!(grants[0]["GrantId"], g1);
    assert_eq!(grants[1]["GrantId"], out["GrantId"]);
    assert_eq!(
        grants[1]["IssuingAccount"],
        "arn:aws:iam::444455556666:root"
    );
    assert_eq!(grants[1]["KeyId"], b_key);
    // Only principals of the caller's own account.
    let r = w
        .call(
            "carol",
            "ListRetirableGrants",
            json!({ "RetiringPrincipal": B_USER }),
        )
        .await;
    assert_denied(
        &r,
        &denied(CAROL, "kms:ListRetirableGrants", B_USER, "identity"),
    );
    // Carol may retire the foreign grant.
    w.call(
        "carol",
        "RetireGrant",
        json!({ "KeyId": b_key, "GrantId": out["GrantId"] }),
    )
    .await
    .ok();
}

#[tokio::test]
async fn named_grants_are_idempotent() {
    let w = setup().build().await;
    let k = w.key();
    let mut body = grant_to(&k, BOB, &["Encrypt", "Decrypt"]);
    body["Name"] = json!("app-grant");
    let (id1, token1) = w.grant(body.clone()).await;
    body["Operations"] = json!(["Decrypt", "Encrypt"]);
    let (id2, token2) = w.grant(body.clone()).await;
    assert_eq!(id1, id2);
    assert_ne!(token1, token2);
    // Every token of the grant works.
    w.encrypt("bob", &k, json!({}), &[&token1]).await.ok();
    w.encrypt("bob", &k, json!({}), &[&token2]).await.ok();
    // Other parameters, or no name: another grant.
    body["Operations"] = json!(["Encrypt"]);
    let (id3, _) = w.grant(body.clone()).await;
    assert_ne!(id3, id1);
    let plain = grant_to(&k, BOB, &["Encrypt"]);
    let (a, _) = w.grant(plain.clone()).await;
    let (b, _) = w.grant(plain).await;
    assert_ne!(a, b);
    assert_eq!(a.len(), 64);
    assert!(
        a.bytes()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    );
    let listed = w
        .call("admin", "ListGrants", json!({ "KeyId": k }))
        .await
        .ok();
    assert_eq!(listed["Grants"].as_array().unwrap().len(), 4);
    // A retired name can be used again: a new grant.
    w.call("admin", "RetireGrant", json!({ "GrantToken": token1 }))
        .await
        .ok();
    body["Operations"] = json!(["Encrypt", "Decrypt"]);
    let (id4, _) = w.grant(body).await;
    assert_ne!(id4, id1);
}

#[tokio::test]
async fn cross_account_grants() {
    let w = setup().build().await;
    let k = w.key();
    // A grant to a principal of another account needs no identity policy.
    let (_, token) = w.grant(grant_to(&k, B_USER, &["Encrypt"])).await;
    let r = w.encrypt("b", &k, json!({}), &[]).await;
    assert_denied(&r, &denied(B_USER, "kms:Encrypt", &k, "resource"));
    w.encrypt("b", &k, json!({}), &[&token]).await.ok();
    // A grant to an account delegates to its identity policies.
    let (_, token) = w
        .grant(grant_to(&k, "arn:aws:iam::444455556666:root", &["Encrypt"]))
        .await;
    let r = w.encrypt("b", &k, json!({}), &[&token]).await;
    assert_denied(&r, &denied(B_USER, "kms:Encrypt", &k, "resource"));
    w.encrypt("b-admin", &k, json!({}), &[&token]).await.ok();
    // Grants on another account's key by key ARN.
    let b_key = w.key_in(B);
    let out = w
        .call(
            "b-admin",
            "CreateGrant",
            grant_to(&b_key, BOB, &["Encrypt"]),
        )
        .await
        .ok();
    w.encrypt(
        "bob",
        &b_key,
        json!({}),
        &[out["GrantToken"].as_str().unwrap()],
    )
    .await
    .ok();
}

#[tokio::test]
async fn grant_errors() {
    let w = setup().build().await;
    let k = w.key();
    let (g, token) = w.grant(grant_to(&k, BOB, &["Encrypt"])).await;
    // A token of another local KMS is not a token of this one.
    let other = LocalKms::new();
    let ok = other
        .create_key(
            tower_kms::KeySpec::SymmetricDefault,
            tower_kms::KeyUsageType::EncryptDecrypt,
        )
        .unwrap();
    let foreign = other
        .invoke("CreateGrant", grant_to(&ok, BOB, &["Encrypt"]))
        .unwrap()["GrantToken"]
        .as_str()
        .unwrap()
        .to_string();
    for bad in [foreign.as_str(), "garbage", ""] {
        w.encrypt("admin", &k, json!({}), &[&token, bad])
            .await
            .err(400, "InvalidGrantTokenException");
        w.call("admin", "RetireGrant", json!({ "GrantToken": bad }))
            .await
            .err(400, "InvalidGrantTokenException");
    }
    // Grant ids.
    for (op, id, code, status) in [
        ("RevokeGrant", "abc", "InvalidGrantIdException", 400),
        (
            "RevokeGrant",
            &"A".repeat(64)[..],
            "InvalidGrantIdException",
            400,
        ),
        ("RetireGrant", "abc", "InvalidGrantIdException", 400),
        ("RevokeGrant", &"0".repeat(64)[..], "NotFoundException", 404),
        ("RetireGrant", &"0".repeat(64)[..], "NotFoundException", 404),
    ] {
        w.call("admin", op, json!({ "KeyId": k, "GrantId": id }))
            .await
            .err(status, code);
    }
    // The grant is on another key.
    let k2 = w.key();
    w.call("admin", "RevokeGrant", json!({ "KeyId": k2, "GrantId": g }))
        .await
        .err(404, "NotFoundException");
    w.call("admin", "RetireGrant", json!({ "GrantId": g }))
        .await
        .err(400, "ValidationException");
    // CreateGrant validation.
    let sign = grant_to(&k, BOB, &["Sign"]);
    w.call("admin", "CreateGrant", sign)
        .await
        .err(400, "ValidationException");
    for (member, value, code) in [
        ("GranteePrincipal", json!("bob"), "InvalidArnException"),
        (
            "GranteePrincipal",
            json!("bob smith"),
            "ValidationException",
        ),
        (
            "RetiringPrincipal",
            json!("arn:aws:iam::1:user/x"),
            "InvalidArnException",
        ),
        ("Name", json!("bad name"), "ValidationException"),
        ("Operations", json!(["Encapsulate2"]), "ValidationException"),
        (
            "GranteeServicePrincipal",
            json!("logs.amazonaws.com"),
            "UnsupportedOperationException",
        ),
        (
            "Constraints",
            json!({ "EncryptionContextSubset": (0..9).map(|i| (format!("k{i}"), json!("v"))).collect::<serde_json::Map<_, _>>() }),
            "ValidationException",
        ),
        (
            "Constraints",
            json!({ "EncryptionContextEquals": { "k": "v".repeat(385) } }),
            "ValidationException",
        ),
    ] {
        let mut body = grant_to(&k, BOB, &["Encrypt"]);
        body[member] = value;
        w.call("admin", "CreateGrant", body).await.err(400, code);
    }
    // Encapsulate and Decapsulate are grant operations (not for this key).
    let r = w
        .call("admin", "CreateGrant", grant_to(&k, BOB, &["Encapsulate"]))
        .await
        .err(400, "ValidationException");
    assert!(
        r["message"].as_str().unwrap().contains("Encapsulate"),
        "{r}"
    );
    // DryRun creates nothing.
    let mut dry = grant_to(&k, BOB, &["Encrypt"]);
    dry["DryRun"] = json!(true);
    w.call("admin", "CreateGrant", dry)
        .await
        .err(412, "DryRunOperationException");
    let listed = w
        .call("admin", "ListGrants", json!({ "KeyId": k }))
        .await
        .ok();
    assert_eq!(listed["Grants"].as_array().unwrap().len(), 1);
    // CreateGrant is the key policy's.
    let r = w
        .call("bob", "CreateGrant", grant_to(&k, BOB, &["Encrypt"]))
        .await;
    assert_denied(&r, &denied(BOB, "kms:CreateGrant", &k, "identity"));
}

/// Deterministic xorshift.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next() as usize) % items.len()]
    }
}

/// Odd members for the policy and grant operations, by principals with and
/// without permissions: always a KMS error or a success, never a 500.
#[tokio::test]
async fn garbage_never_panics_in_the_policy_and_grant_operations() {
    let w = setup().delay(Duration::ZERO).build().await;
    let k = w.key();
    let (g, token) = w
        .grant(grant_to(&k, BOB, &["Encrypt", "RetireGrant"]))
        .await;
    let ops = [
        "PutKeyPolicy",
        "GetKeyPolicy",
        "ListKeyPolicies",
        "CreateGrant",
        "ListGrants",
        "ListRetirableGrants",
        "RetireGrant",
        "RevokeGrant",
        "CreateKey",
        "Encrypt",
    ];
    let members = [
        "KeyId",
        "Policy",
        "PolicyName",
        "BypassPolicyLockoutSafetyCheck",
        "GranteePrincipal",
        "RetiringPrincipal",
        "Operations",
        "Constraints",
        "Name",
        "GrantId",
        "GrantToken",
        "GrantTokens",
        "Limit",
        "Marker",
        "Plaintext",
        "EncryptionContext",
        "DryRun",
    ];
    let values = [
        json!(null),
        json!(true),
        json!(-1),
        json!(1e300),
        json!(""),
        json!("*"),
        json!([]),
        json!({}),
        json!(["Encrypt", "Nope"]),
        json!(k),
        json!(g),
        json!(token),
        json!([token]),
        json!(BOB),
        json!("arn:aws:iam::111122223333:root"),
        json!({ "EncryptionContextSubset": { "a": "b" }, "SourceArn": 3 }),
        json!(
            "{\"Statement\":{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"kms:*\",\"Resource\":\"*\"}}"
        ),
        json!(
            "{\"Statement\":[{\"Effect\":\"Deny\",\"Principal\":{\"AWS\":[]},\"NotAction\":\"kms:*\",\"Resource\":\"*\",\"Condition\":{\"Null\":{\"a\":[1,2]}}}]}"
        ),
        json!("aGk="),
        json!("0123456789012345678901234567890123456789012345678901234567890123"),
    ];
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    for i in 0..400 {
        let op = ops[i % ops.len()];
        let who = *rng.pick(&["admin", "bob", "b", "root", "dave"]);
        let mut body = serde_json::Map::new();
        for _ in 0..(rng.next() % 6) {
            body.insert(rng.pick(&members).to_string(), rng.pick(&values).clone());
        }
        let r = w.call(who, op, Value::Object(body.clone())).await;
        assert!(r.status != 500, "{who} {op} {body:?} -> {:?}", r.body);
        if r.status != 200 {
            assert!(!r.code().is_empty(), "{op}: {:?}", r.body);
        }
    }
}

#[test]
fn encryption_context_constraints_are_for_symmetric_encryption_keys_only() {
    let kms = LocalKms::new();
    let grantee = "arn:aws:iam::111122223333:role/app";
    let grant = |key: &str, op: &str, constraints: Value| {
        kms.invoke(
            "CreateGrant",
            json!({ "KeyId": key, "GranteePrincipal": grantee, "Operations": [op], "Constraints": constraints }),
        )
    };
    let rsa = kms
        .create_key(
            tower_kms::KeySpec::Rsa2048,
            tower_kms::KeyUsageType::EncryptDecrypt,
        )
        .unwrap();
    let hmac = kms
        .create_key(
            tower_kms::KeySpec::Hmac256,
            tower_kms::KeyUsageType::GenerateVerifyMac,
        )
        .unwrap();
    for (key, op, spec, constraints) in [
        (
            &rsa,
            "Decrypt",
            "RSA_2048",
            json!({ "EncryptionContextSubset": { "a": "b" } }),
        ),
        (
            &hmac,
            "GenerateMac",
            "HMAC_256",
            json!({ "EncryptionContextEquals": { "a": "b" } }),
        ),
    ] {
        let e = grant(key, op, constraints).unwrap_err();
        assert_eq!(e.code(), "ValidationException");
        assert_eq!(
            e.message(),
            format!(
                "Grant constraints EncryptionContextEquals and EncryptionContextSubset are supported only for symmetric encryption KMS keys (KeySpec SYMMETRIC_DEFAULT), not {spec}."
            )
        );
        // Without constraints the grant is fine.
        grant(key, op, json!({})).unwrap();
    }
    let sym = kms
        .create_key(
            tower_kms::KeySpec::SymmetricDefault,
            tower_kms::KeyUsageType::EncryptDecrypt,
        )
        .unwrap();
    grant(
        &sym,
        "Decrypt",
        json!({ "EncryptionContextSubset": { "a": "b" } }),
    )
    .unwrap();
}

/// An identity policy's `Deny kms:RetireGrant` conditioned on the grant's
/// key (here its tags) applies to RetireGrant: the key's condition
/// keys are not empty there (#12).
#[tokio::test]
async fn a_retire_deny_sees_the_keys_condition_keys() {
    const ERIN: &str = "arn:aws:iam::111122223333:user/erin";
    let w = setup()
        .principal("erin", ERIN)
        .identity(
            ERIN,
            &identity(&[
                json!({ "Effect": "Allow", "Action": "kms:*", "Resource": "*" }),
                json!({ "Effect": "Deny", "Action": "kms:RetireGrant", "Resource": "*",
                        "Condition": { "StringEquals": { "aws:ResourceTag/env": "prod" } } }),
            ]),
        )
        .delay(Duration::ZERO)
        .build()
        .await;
    let retire = |k: &str, id: &str| json!({ "KeyId": k, "GrantId": id });
    let body = |k: &str| {
        let mut b = grant_to(k, BOB, &["Encrypt"]);
        b["RetiringPrincipal"] = json!(ERIN);
        b
    };
    // An untagged key: erin retires.
    let k = w.key();
    let (g, _) = w.grant(body(&k)).await;
    w.call("erin", "RetireGrant", retire(&k, &g)).await.ok();
    // Tagged env=prod: the Deny applies, by id and by token.
    w.call(
        "admin",
        "TagResource",
        json!({ "KeyId": k, "Tags": [{ "TagKey": "env", "TagValue": "prod" }] }),
    )
    .await
    .ok();
    let (g, token) = w.grant(body(&k)).await;
    let no = denied(ERIN, "kms:RetireGrant", &k, "explicit-identity");
    assert_denied(&w.call("erin", "RetireGrant", retire(&k, &g)).await, &no);
    assert_denied(
        &w.call("erin", "RetireGrant", json!({ "GrantToken": token }))
            .await,
        &no,
    );
    // The grant is still there.
    let listed = w
        .call("erin", "ListGrants", json!({ "KeyId": k, "GrantId": g }))
        .await
        .ok();
    assert_eq!(listed["Grants"].as_array().unwrap().len(), 1);
}
