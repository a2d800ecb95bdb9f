//! Key policies and identity policies, enforced: each rule of KMS's decision,
//! each condition operator and key, ReEncrypt's two permissions, cross-account
//! use, malformed policies and the lockout safety check. Over 127.0.0.1 with
//! requests signed by aws-sigv4 for each principal.

use serde_json::{Value, json};

use crate::common::b64;
use crate::world::{A, ADMIN, B, NOTHING, Setup, World, assert_denied, denied, identity, policy};

const BOB: &str = "arn:aws:iam::111122223333:user/bob";
const CAROL: &str = "arn:aws:iam::111122223333:user/carol";
const ROOT_A: &str = "arn:aws:iam::111122223333:root";
const SESSION: &str = "arn:aws:sts::111122223333:assumed-role/app-1/worker";
const ROLE: &str = "arn:aws:iam::111122223333:role/app-1";
const B_USER: &str = "arn:aws:iam::444455556666:user/app";

fn allow(principal: Value, action: Value) -> Value {
    json!({ "Effect": "Allow", "Principal": principal, "Action": action, "Resource": "*" })
}

fn allow_if(principal: Value, action: Value, condition: Value) -> Value {
    json!({ "Effect": "Allow", "Principal": principal, "Action": action, "Resource": "*", "Condition": condition })
}

async fn world() -> World {
    Setup::new()
        .principal("bob", BOB)
        .principal("carol", CAROL)
        .principal("root", ROOT_A)
        .principal("session", SESSION)
        .principal("b", B_USER)
        .identity(CAROL, NOTHING)
        .build()
        .await
}

#[tokio::test]
async fn default_key_policy_delegates_to_identity_policies() {
    let w = Setup::new()
        .principal("bob", BOB)
        .principal("carol", CAROL)
        .principal("root", ROOT_A)
        .identity(
            BOB,
            &identity(&[json!({ "Effect": "Allow", "Action": "kms:Encrypt", "Resource": "*" })]),
        )
        .identity(CAROL, NOTHING)
        .identity(ROOT_A, NOTHING)
        .build()
        .await;
    let k = w.key();
    // The exact default key policy, named default.
    let got = w
        .call("admin", "GetKeyPolicy", json!({ "KeyId": k }))
        .await
        .ok();
    assert_eq!(got["PolicyName"], "default");
    assert_eq!(
        got["Policy"],
        "{\n  \"Version\" : \"2012-10-17\",\n  \"Id\" : \"key-default-1\",\n  \"Statement\" : [ {\n    \"Sid\" : \"Enable IAM User Permissions\",\n    \"Effect\" : \"Allow\",\n    \"Principal\" : {\n      \"AWS\" : \"arn:aws:iam::111122223333:root\"\n    },\n    \"Action\" : \"kms:*\",\n    \"Resource\" : \"*\"\n  } ]\n}"
    );
    // No identity policy configured: everything (today's behaviour).
    w.encrypt("admin", &k, json!({}), &[]).await.ok();
    // The key policy delegates; bob's identity policy allows Encrypt only.
    w.encrypt("bob", &k, json!({}), &[]).await.ok();
    let r = w.call("bob", "DescribeKey", json!({ "KeyId": k })).await;
    assert_denied(&r, &denied(BOB, "kms:DescribeKey", &k, "identity"));
    // Carol's identity policy allows nothing here.
    let r = w.encrypt("carol", &k, json!({}), &[]).await;
    assert_denied(&r, &denied(CAROL, "kms:Encrypt", &k, "identity"));
    // The account root is not limited by identity policies.
    w.encrypt("root", &k, json!({}), &[]).await.ok();
    // Without the root statement, identity allows do nothing.
    let k2 = w.key_with_policy(&policy(&[]));
    let r = w.encrypt("bob", &k2, json!({}), &[]).await;
    assert_denied(&r, &denied(BOB, "kms:Encrypt", &k2, "resource"));
    let r = w.encrypt("root", &k2, json!({}), &[]).await;
    assert_denied(&r, &denied(ROOT_A, "kms:Encrypt", &k2, "resource"));
    // ListKeyPolicies: one policy, named default.
    let l = w
        .call("admin", "ListKeyPolicies", json!({ "KeyId": k }))
        .await
        .ok();
    assert_eq!(l, json!({ "PolicyNames": ["default"], "Truncated": false }));
}

#[tokio::test]
async fn key_policy_allows_directly_without_identity_policy() {
    let w = world().await;
    // Carol's identity policy allows nothing, but the key policy names her.
    let k = w.key_with_policy(&policy(&[allow(
        json!({ "AWS": CAROL }),
        json!("kms:Encrypt"),
    )]));
    w.encrypt("carol", &k, json!({}), &[]).await.ok();
    // Only what it names: not Decrypt, and not bob (the account is not named).
    let blob = w.blob(&k, json!({}));
    let r = w
        .call("carol", "Decrypt", json!({ "CiphertextBlob": blob }))
        .await;
    assert_denied(&r, &denied(CAROL, "kms:Decrypt", &k, "resource"));
    let r = w.encrypt("bob", &k, json!({}), &[]).await;
    assert_denied(&r, &denied(BOB, "kms:Encrypt", &k, "resource"));
    // A role in the key policy covers its sessions; `*` covers everyone.
    let k = w.key_with_policy(&policy(&[allow(
        json!({ "AWS": ROLE }),
        json!("kms:Encrypt"),
    )]));
    w.encrypt("session", &k, json!({}), &[]).await.ok();
    let k = w.key_with_policy(&policy(&[allow(json!("*"), json!("kms:Encrypt"))]));
    w.encrypt("carol", &k, json!({}), &[]).await.ok();
    // The account id form is the account principal.
    let k = w.key_with_policy(&policy(&[allow(json!({ "AWS": A }), json!("kms:Encrypt"))]));
    w.encrypt("bob", &k, json!({}), &[]).await.ok();
    let r = w.encrypt("carol", &k, json!({}), &[]).await;
    assert_denied(&r, &denied(CAROL, "kms:Encrypt", &k, "identity"));
}

#[tokio::test]
async fn explicit_deny_wins() {
    let w = Setup::new()
        .principal("bob", BOB)
        .principal("carol", CAROL)
        .identity(
            CAROL,
            &identity(&[
                json!({ "Effect": "Allow", "Action": "kms:*", "Resource": "*" }),
                json!({ "Effect": "Deny", "Action": "kms:Decrypt", "Resource": "arn:aws:kms:*:111122223333:key/*" }),
            ]),
        )
        .delay(std::time::Duration::ZERO)
        .build()
        .await;
    // A key-policy Deny beats a direct Allow, the root delegation and a grant.
    let k = w.key_with_policy(&policy(&[
        allow(json!({ "AWS": BOB }), json!("kms:*")),
        allow(json!({ "AWS": ROOT_A }), json!("kms:*")),
        json!({ "Effect": "Deny", "Principal": { "AWS": BOB }, "Action": ["kms:Decrypt", "kms:ReEncrypt*"], "Resource": "*" }),
    ]));
    let blob = w.blob(&k, json!({}));
    let (_, token) = w
        .grant(json!({ "KeyId": k, "GranteePrincipal": BOB, "Operations": ["Decrypt"] }))
        .await;
    w.encrypt("bob", &k, json!({}), &[]).await.ok();
    let r = w
        .call(
            "bob",
            "Decrypt",
            json!({ "CiphertextBlob": blob, "GrantTokens": [token] }),
        )
        .await;
    assert_denied(&r, &denied(BOB, "kms:Decrypt", &k, "explicit-resource"));
    let r = w
        .call(
            "bob",
            "ReEncrypt",
            json!({ "CiphertextBlob": blob, "DestinationKeyId": k }),
        )
        .await;
    assert_denied(
        &r,
        &denied(BOB, "kms:ReEncryptFrom", &k, "explicit-resource"),
    );
    // An identity-policy Deny beats the key policy's allow and a grant.
    let k = w.key();
    let blob = w.blob(&k, json!({}));
    let (_, token) = w
        .grant(json!({ "KeyId": k, "GranteePrincipal": CAROL, "Operations": ["Decrypt"] }))
        .await;
    w.encrypt("carol", &k, json!({}), &[]).await.ok();
    let r = w
        .call(
            "carol",
            "Decrypt",
            json!({ "CiphertextBlob": blob, "GrantTokens": [token] }),
        )
        .await;
    assert_denied(&r, &denied(CAROL, "kms:Decrypt", &k, "explicit-identity"));
    // The account principal in a Deny denies every principal of the account.
    let k = w.key_with_policy(&policy(&[
        allow(json!({ "AWS": BOB }), json!("kms:*")),
        json!({ "Effect": "Deny", "Principal": { "AWS": A }, "Action": "kms:Encrypt", "Resource": "*" }),
    ]));
    let r = w.encrypt("bob", &k, json!({}), &[]).await;
    assert_denied(&r, &denied(BOB, "kms:Encrypt", &k, "explicit-resource"));
}

#[tokio::test]
async fn not_principal_must_name_the_account_too() {
    let w = world().await;
    let everyone = allow(json!({ "AWS": "*" }), json!("kms:*"));
    let deny_all_but = |listed: Value| json!({ "Effect": "Deny", "NotPrincipal": { "AWS": listed }, "Action": "kms:Encrypt", "Resource": "*" });
    // Only bob's ARN: bob is still denied, through his account (IAM's rule).
    let k = w.key_with_policy(&policy(&[everyone.clone(), deny_all_but(json!(BOB))]));
    let r = w.encrypt("bob", &k, json!({}), &[]).await;
    assert_denied(&r, &denied(BOB, "kms:Encrypt", &k, "explicit-resource"));
    // Bob and his account: bob is left out; carol is not.
    let k = w.key_with_policy(&policy(&[everyone.clone(), deny_all_but(json!([BOB, A]))]));
    w.encrypt("bob", &k, json!({}), &[]).await.ok();
    let r = w.encrypt("carol", &k, json!({}), &[]).await;
    assert_denied(&r, &denied(CAROL, "kms:Encrypt", &k, "explicit-resource"));
    // A role session: its ARN, its role and its account.
    let k = w.key_with_policy(&policy(&[
        everyone.clone(),
        deny_all_but(json!([SESSION, A])),
    ]));
    let r = w.encrypt("session", &k, json!({}), &[]).await;
    assert_denied(&r, &denied(SESSION, "kms:Encrypt", &k, "explicit-resource"));
    let k = w.key_with_policy(&policy(&[
        everyone,
        deny_all_but(json!([SESSION, ROLE, ROOT_A])),
    ]));
    w.encrypt("session", &k, json!({}), &[]).await.ok();
    // Allow with NotPrincipal follows the same rule: naming bob alone does not
    // leave him out, so he is allowed through his account.
    let k = w.key_with_policy(&policy(&[
        json!({ "Effect": "Allow", "NotPrincipal": { "AWS": BOB }, "Action": "kms:Encrypt", "Resource": "*" }),
    ]));
    w.encrypt("bob", &k, json!({}), &[]).await.ok();
    let k = w.key_with_policy(&policy(&[
        json!({ "Effect": "Allow", "NotPrincipal": { "AWS": [BOB, A] }, "Action": "kms:Encrypt", "Resource": "*" }),
    ]));
    let r = w.encrypt("bob", &k, json!({}), &[]).await;
    assert_denied(&r, &denied(BOB, "kms:Encrypt", &k, "resource"));
    w.encrypt("session", &k, json!({}), &[]).await.ok();
}

/// An `Allow` with a `NotPrincipal` that lists the caller but not its
/// account delegates to the account's identity policies, as a `Principal`
/// naming the account; it does not allow the caller directly (#12).
#[tokio::test]
async fn an_allow_not_principal_listing_the_caller_only_delegates_to_its_account() {
    let w = world().await;
    let allow_all_but = |listed: Value| json!({ "Effect": "Allow", "NotPrincipal": { "AWS": listed }, "Action": "kms:Encrypt", "Resource": "*" });
    // Carol's identity policies allow nothing: listed, she is not allowed.
    let k = w.key_with_policy(&policy(&[allow_all_but(json!(CAROL))]));
    let r = w.encrypt("carol", &k, json!({}), &[]).await;
    assert_denied(&r, &denied(CAROL, "kms:Encrypt", &k, "identity"));
    // Bob's allow kms:*: through his account, he is.
    w.encrypt("bob", &k, json!({}), &[]).await.ok();
    // Not listed, carol is allowed directly.
    let k = w.key_with_policy(&policy(&[allow_all_but(json!(BOB))]));
    w.encrypt("carol", &k, json!({}), &[]).await.ok();
    // Carol and her account: not named at all.
    let k = w.key_with_policy(&policy(&[allow_all_but(json!([CAROL, A]))]));
    let r = w.encrypt("carol", &k, json!({}), &[]).await;
    assert_denied(&r, &denied(CAROL, "kms:Encrypt", &k, "resource"));
}

#[tokio::test]
async fn not_action_and_wildcards() {
    let w = world().await;
    let k = w.key_with_policy(&policy(&[
        json!({ "Effect": "Allow", "Principal": { "AWS": CAROL }, "NotAction": ["kms:Decrypt", "kms:*Key"], "Resource": "*" }),
        allow(json!({ "AWS": BOB }), json!(["kms:Describe*", "KMS:reencrypt*"])),
    ]));
    let blob = w.blob(&k, json!({}));
    w.encrypt("carol", &k, json!({}), &[]).await.ok();
    let r = w
        .call("carol", "Decrypt", json!({ "CiphertextBlob": blob }))
        .await;
    assert_denied(&r, &denied(CAROL, "kms:Decrypt", &k, "resource"));
    let r = w.call("carol", "DescribeKey", json!({ "KeyId": k })).await;
    assert_denied(&r, &denied(CAROL, "kms:DescribeKey", &k, "resource"));
    // Wildcards, case-insensitive action names.
    w.call("bob", "DescribeKey", json!({ "KeyId": k }))
        .await
        .ok();
    w.call(
        "bob",
        "ReEncrypt",
        json!({ "CiphertextBlob": blob, "DestinationKeyId": k }),
    )
    .await
    .ok();
    let r = w.encrypt("bob", &k, json!({}), &[]).await;
    assert_denied(&r, &denied(BOB, "kms:Encrypt", &k, "resource"));
    // NotAction in an identity policy.
    let w = Setup::new()
        .principal("bob", BOB)
        .identity(
            BOB,
            &identity(&[json!({ "Effect": "Allow", "NotAction": "kms:Encrypt", "Resource": "*" })]),
        )
        .build()
        .await;
    let k = w.key();
    w.call("bob", "DescribeKey", json!({ "KeyId": k }))
        .await
        .ok();
    let r = w.encrypt("bob", &k, json!({}), &[]).await;
    assert_denied(&r, &denied(BOB, "kms:Encrypt", &k, "identity"));
}

/// Bob may Encrypt on a key whose policy allows him under `condition`;
/// each `(context, allowed)` is tried.
async fn encrypt_under(w: &World, condition: Value, cases: &[(Value, bool)]) {
    let k = w.key_with_policy(&policy(&[allow_if(
        json!({ "AWS": BOB }),
        json!("kms:Encrypt"),
        condition.clone(),
    )]));
    for (ctx, allowed) in cases {
        let r = w.encrypt("bob", &k, ctx.clone(), &[]).await;
        if *allowed {
            assert_eq!(r.status, 200, "{condition} {ctx}: {:?}", r.body);
        } else {
            assert_denied(&r, &denied(BOB, "kms:Encrypt", &k, "resource"));
        }
    }
}

/// Two encryption context keys that differ only in case (which KMS allows)
/// make `kms:EncryptionContext:<k>` ambiguous: the request must not pick the
/// value a condition sees. An Allow's condition does not hold, a Deny's
/// does (#12).
#[tokio::test]
async fn an_encryption_context_key_twice_in_different_cases_fails_closed() {
    let w = world().await;
    // Allow: neither order of the two keys satisfies it.
    encrypt_under(
        &w,
        json!({ "StringEquals": { "kms:EncryptionContext:tenant": "a" } }),
        &[
            (json!({ "Tenant": "a", "tenant": "b" }), false),
            (json!({ "Tenant": "b", "tenant": "a" }), false),
            (json!({ "TENANT": "a", "Tenant": "a" }), false),
            (json!({ "Tenant": "a", "other": "b" }), true),
        ],
    )
    .await;
    encrypt_under(
        &w,
        json!({ "StringNotEquals": { "kms:EncryptionContext:tenant": "secret" } }),
        &[
            (json!({ "Tenant": "x", "tenant": "secret" }), false),
            (json!({ "Tenant": "x" }), true),
        ],
    )
    .await;
    encrypt_under(
        &w,
        json!({ "Null": { "kms:EncryptionContext:tenant": "false" } }),
        &[(json!({ "Tenant": "x", "tenant": "y" }), false)],
    )
    .await;
    // Deny: applies, whichever value the request puts first.
    let k = w.key_with_policy(&policy(&[
        allow(json!({ "AWS": BOB }), json!("kms:Encrypt")),
        json!({ "Effect": "Deny", "Principal": "*", "Action": "kms:Encrypt", "Resource": "*",
                "Condition": { "StringEquals": { "kms:EncryptionContext:tenant": "secret" } } }),
    ]));
    for ctx in [
        json!({ "Tenant": "x", "tenant": "secret" }),
        json!({ "Tenant": "secret", "tenant": "x" }),
    ] {
        let r = w.encrypt("bob", &k, ctx, &[]).await;
        assert_denied(&r, &denied(BOB, "kms:Encrypt", &k, "explicit-resource"));
    }
    w.encrypt("bob", &k, json!({ "Tenant": "x", "other": "secret" }), &[])
        .await
        .ok();
    // A condition on another key, or on the context's keys, is not affected.
    encrypt_under(
        &w,
        json!({ "StringEquals": { "kms:EncryptionContext:app": "web" } }),
        &[(json!({ "Tenant": "a", "tenant": "b", "app": "web" }), true)],
    )
    .await;
}

#[tokio::test]
async fn condition_operators_on_the_encryption_context() {
    let w = world().await;
    let none = json!({});
    let a = json!({ "tenant": "a" });
    let b = json!({ "tenant": "b" });
    encrypt_under(
        &w,
        json!({ "StringEquals": { "kms:EncryptionContext:tenant": "a" } }),
        &[
            (a.clone(), true),
            (json!({ "Tenant": "a" }), true), // the context key matches case-insensitively
            (json!({ "tenant": "A" }), false),
            (b.clone(), false),
            (none.clone(), false),
        ],
    )
    .await;
    // Case-insensitive for any letter, not only ASCII ones, whichever side
    // has which case.
    encrypt_under(
        &w,
        json!({ "StringEquals": { "kms:EncryptionContext:RÉGION": "eu" } }),
        &[
            (json!({ "RÉGION": "eu" }), true),
            (json!({ "région": "eu" }), true),
            (json!({ "RéGION": "eu" }), true),
            (json!({ "région": "EU" }), false),
            (json!({ "region": "eu" }), false),
        ],
    )
    .await;
    encrypt_under(
        &w,
        json!({ "StringEquals": { "kms:EncryptionContext:région": "eu" } }),
        &[
            (json!({ "RÉGION": "eu" }), true),
            (json!({ "RÉGION": "us" }), false),
        ],
    )
    .await;
    encrypt_under(
        &w,
        json!({ "StringNotEquals": { "kms:EncryptionContext:tenant": ["a", "c"] } }),
        &[(a.clone(), false), (b.clone(), true), (none.clone(), true)],
    )
    .await;
    encrypt_under(
        &w,
        json!({ "StringEqualsIgnoreCase": { "kms:EncryptionContext:tenant": "A" } }),
        &[(a.clone(), true), (b.clone(), false)],
    )
    .await;
    encrypt_under(
        &w,
        json!({ "StringNotEqualsIgnoreCase": { "kms:EncryptionContext:tenant": "A" } }),
        &[(a.clone(), false), (b.clone(), true)],
    )
    .await;
    encrypt_under(
        &w,
        json!({ "StringLike": { "kms:EncryptionContext:tenant": "team-?*" } }),
        &[
            (json!({ "tenant": "team-x1" }), true),
            (json!({ "tenant": "team-" }), false),
            (a.clone(), false),
            (none.clone(), false),
        ],
    )
    .await;
    encrypt_under(
        &w,
        json!({ "StringNotLike": { "kms:EncryptionContext:tenant": "team-*" } }),
        &[
            (json!({ "tenant": "team-x" }), false),
            (a.clone(), true),
            (none.clone(), true),
        ],
    )
    .await;
    encrypt_under(
        &w,
        json!({ "StringEqualsIfExists": { "kms:EncryptionContext:tenant": "a" } }),
        &[(a.clone(), true), (b.clone(), false), (none.clone(), true)],
    )
    .await;
    encrypt_under(
        &w,
        json!({ "ForAllValues:StringEquals": { "kms:EncryptionContextKeys": ["tenant", "purpose"] } }),
        &[
            (a.clone(), true),
            (json!({ "tenant": "a", "purpose": "p" }), true),
            (json!({ "tenant": "a", "other": "x" }), false),
            (json!({ "Tenant": "a" }), false), // values are case-sensitive
            (none.clone(), true),              // vacuously true
        ],
    )
    .await;
    encrypt_under(
        &w,
        json!({ "ForAnyValue:StringEquals": { "kms:EncryptionContextKeys": "tenant" } }),
        &[
            (json!({ "tenant": "a", "other": "x" }), true),
            (json!({ "other": "x" }), false),
            (none.clone(), false), // an empty set has no value
        ],
    )
    .await;
    encrypt_under(
        &w,
        json!({ "ForAnyValue:StringLikeIfExists": { "kms:EncryptionContextKeys": "ten*" } }),
        &[
            (a.clone(), true),
            (json!({ "x": "y" }), false),
            (none.clone(), true),
        ],
    )
    .await;
    encrypt_under(
        &w,
        json!({ "Null": { "kms:EncryptionContextKeys": "false" } }),
        &[(a.clone(), true), (none.clone(), false)],
    )
    .await;
    encrypt_under(
        &w,
        json!({ "Null": { "kms:EncryptionContext:tenant": "true" } }),
        &[
            (a.clone(), false),
            (json!({ "x": "y" }), true),
            (none.clone(), true),
        ],
    )
    .await;
    // Several operators: all must hold.
    encrypt_under(
        &w,
        json!({
            "StringEquals": { "kms:EncryptionContext:tenant": "a" },
            "Null": { "kms:EncryptionContext:purpose": "false" },
        }),
        &[
            (a.clone(), false),
            (json!({ "tenant": "a", "purpose": "p" }), true),
        ],
    )
    .await;
}

#[tokio::test]
async fn condition_keys_of_the_caller_and_the_request() {
    let w = world().await;
    // kms:CallerAccount: a statement for everyone, limited to account B.
    let k = w.key_with_policy(&policy(&[allow_if(
        json!("*"),
        json!("kms:Encrypt"),
        json!({ "StringEquals": { "kms:CallerAccount": B } }),
    )]));
    w.encrypt("b", &k, json!({}), &[]).await.ok();
    let r = w.encrypt("bob", &k, json!({}), &[]).await;
    assert_denied(&r, &denied(BOB, "kms:Encrypt", &k, "resource"));

    // aws:PrincipalArn is the role ARN for a role session.
    for (operator, value, session_allowed) in [
        ("ArnLike", "arn:aws:iam::111122223333:role/app-*", true),
        ("ArnEquals", ROLE, true),
        ("StringEquals", ROLE, true),
        ("StringEquals", SESSION, false),
        ("ArnNotLike", "arn:aws:iam::*:role/*", false),
    ] {
        let k = w.key_with_policy(&policy(&[allow_if(
            json!("*"),
            json!("kms:Encrypt"),
            json!({ operator: { "aws:PrincipalArn": value } }),
        )]));
        let r = w.encrypt("session", &k, json!({}), &[]).await;
        if session_allowed {
            r.ok();
        } else {
            assert_denied(&r, &denied(SESSION, "kms:Encrypt", &k, "resource"));
        }
        let bob_allowed = operator == "ArnNotLike";
        let r = w.encrypt("bob", &k, json!({}), &[]).await;
        assert_eq!(r.status == 200, bob_allowed, "{operator} {value}");
    }

    // kms:EncryptionAlgorithm.
    let k = w.key_with_policy(&policy(&[allow_if(
        json!({ "AWS": BOB }),
        json!("kms:Encrypt"),
        json!({ "StringEquals": { "kms:EncryptionAlgorithm": "RSAES_OAEP_SHA_256" } }),
    )]));
    let r = w.encrypt("bob", &k, json!({}), &[]).await;
    assert_denied(&r, &denied(BOB, "kms:Encrypt", &k, "resource"));

    // kms:ReEncryptOnSameKey.
    let k = w.key_with_policy(&policy(&[allow_if(
        json!({ "AWS": BOB }),
        json!("kms:ReEncrypt*"),
        json!({ "Bool": { "kms:ReEncryptOnSameKey": "true" } }),
    )]));
    let other = w.key();
    let blob = w.blob(&k, json!({}));
    w.call(
        "bob",
        "ReEncrypt",
        json!({ "CiphertextBlob": blob, "DestinationKeyId": k }),
    )
    .await
    .ok();
    let r = w
        .call(
            "bob",
            "ReEncrypt",
            json!({ "CiphertextBlob": blob, "DestinationKeyId": other }),
        )
        .await;
    assert_denied(&r, &denied(BOB, "kms:ReEncryptFrom", &k, "resource"));
}

#[tokio::test]
async fn tag_alias_and_request_condition_keys() {
    let w = Setup::new()
        .principal("bob", BOB)
        .identity(
            BOB,
            &identity(&[
                json!({ "Effect": "Allow", "Action": "kms:*", "Resource": "*" }),
                // New keys must be tagged with an owner.
                json!({ "Effect": "Deny", "Action": "kms:CreateKey", "Resource": "*", "Condition": { "Null": { "aws:RequestTag/Owner": "true" } } }),
            ]),
        )
        .build()
        .await;
    // aws:ResourceTag/<k>: the key's tags, the tag key case-insensitively.
    let k = w.key_with_policy(&policy(&[
        allow(json!({ "AWS": ADMIN }), json!("kms:*")),
        allow_if(
            json!({ "AWS": BOB }),
            json!("kms:Encrypt"),
            json!({ "StringEquals": { "aws:ResourceTag/team": "payments" } }),
        ),
        // aws:RequestTag/<k>: only Stage=dev may be set.
        json!({ "Effect": "Deny", "Principal": "*", "Action": "kms:TagResource", "Resource": "*",
                "Condition": { "StringNotEquals": { "aws:RequestTag/Stage": "dev" }, "Null": { "aws:RequestTag/Stage": "false" } } }),
        // aws:TagKeys: the Team tag cannot be removed.
        json!({ "Effect": "Deny", "Principal": "*", "Action": ["kms:UntagResource", "kms:TagResource"], "Resource": "*",
                "Condition": { "ForAnyValue:StringEquals": { "aws:TagKeys": "Locked" } } }),
    ]));
    let r = w.encrypt("bob", &k, json!({}), &[]).await;
    assert_denied(&r, &denied(BOB, "kms:Encrypt", &k, "resource"));
    let tag = |tags: Value| json!({ "KeyId": k, "Tags": tags });
    w.call(
        "admin",
        "TagResource",
        tag(json!([{ "TagKey": "Team", "TagValue": "payments" }])),
    )
    .await
    .ok();
    w.encrypt("bob", &k, json!({}), &[]).await.ok();
    // Tag keys are case-sensitive, as in KMS: `team` beside `Team` is a second
    // tag. A condition on aws:ResourceTag/team then cannot tell which value it
    // sees, and fails closed: the Allow no longer holds.
    w.call(
        "admin",
        "TagResource",
        tag(json!([{ "TagKey": "team", "TagValue": "payments" }])),
    )
    .await
    .ok();
    let r = w.encrypt("bob", &k, json!({}), &[]).await;
    assert_denied(&r, &denied(BOB, "kms:Encrypt", &k, "resource"));
    w.call(
        "admin",
        "UntagResource",
        json!({ "KeyId": k, "TagKeys": ["team"] }),
    )
    .await
    .ok();
    w.encrypt("bob", &k, json!({}), &[]).await.ok();
    let r = w
        .call(
            "admin",
            "TagResource",
            tag(json!([{ "TagKey": "Stage", "TagValue": "prod" }])),
        )
        .await;
    assert_denied(
        &r,
        &denied(ADMIN, "kms:TagResource", &k, "explicit-resource"),
    );
    w.call(
        "admin",
        "TagResource",
        tag(json!([{ "TagKey": "Stage", "TagValue": "dev" }])),
    )
    .await
    .ok();
    let r = w
        .call(
            "admin",
            "TagResource",
            tag(json!([{ "TagKey": "Locked", "TagValue": "x" }])),
        )
        .await;
    assert_denied(
        &r,
        &denied(ADMIN, "kms:TagResource", &k, "explicit-resource"),
    );
    let r = w
        .call(
            "admin",
            "UntagResource",
            json!({ "KeyId": k, "TagKeys": ["Stage", "Locked"] }),
        )
        .await;
    assert_denied(
        &r,
        &denied(ADMIN, "kms:UntagResource", &k, "explicit-resource"),
    );
    w.call(
        "admin",
        "UntagResource",
        json!({ "KeyId": k, "TagKeys": ["Team"] }),
    )
    .await
    .ok();
    let r = w.encrypt("bob", &k, json!({}), &[]).await;
    assert_denied(&r, &denied(BOB, "kms:Encrypt", &k, "resource"));

    // kms:ResourceAliases: the aliases of the key.
    let k = w.key_with_policy(&policy(&[
        allow(json!({ "AWS": ADMIN }), json!("kms:*")),
        allow_if(
            json!({ "AWS": BOB }),
            json!("kms:Encrypt"),
            json!({ "ForAnyValue:StringLike": { "kms:ResourceAliases": "alias/payments-*" } }),
        ),
    ]));
    let r = w.encrypt("bob", &k, json!({}), &[]).await;
    assert_denied(&r, &denied(BOB, "kms:Encrypt", &k, "resource"));
    w.call(
        "admin",
        "CreateAlias",
        json!({ "AliasName": "alias/payments-1", "TargetKeyId": k }),
    )
    .await
    .ok();
    w.encrypt("bob", &k, json!({}), &[]).await.ok();

    // aws:RequestTag/<k> in CreateKey (identity policies).
    let r = w.call("bob", "CreateKey", json!({})).await;
    assert_denied(&r, &denied(BOB, "kms:CreateKey", "*", "explicit-identity"));
    let r = w
        .call(
            "bob",
            "CreateKey",
            json!({ "Tags": [{ "TagKey": "Team", "TagValue": "x" }] }),
        )
        .await;
    assert_denied(&r, &denied(BOB, "kms:CreateKey", "*", "explicit-identity"));
    w.call(
        "bob",
        "CreateKey",
        json!({ "Tags": [{ "TagKey": "owner", "TagValue": "bob" }] }),
    )
    .await
    .ok();

    // The request's Region and the key's account; never via a service.
    let k = w.key_with_policy(&policy(&[allow_if(
        json!({ "AWS": BOB }),
        json!("kms:Encrypt"),
        json!({
            "StringEquals": { "aws:RequestedRegion": "us-east-1", "aws:ResourceAccount": A },
            "Bool": { "aws:ViaAWSService": "false", "aws:PrincipalIsAWSService": "false" },
        }),
    )]));
    w.encrypt("bob", &k, json!({}), &[]).await.ok();
}

#[tokio::test]
async fn grant_condition_keys() {
    let w = world().await;
    const APP: &str = "arn:aws:iam::111122223333:role/app";
    let create = |key: &str, grantee: &str, ops: Value, retiring: Option<&str>| {
        let mut body = json!({ "KeyId": key, "GranteePrincipal": grantee, "Operations": ops });
        if let Some(r) = retiring {
            body["RetiringPrincipal"] = json!(r);
        }
        body
    };
    let cases: Vec<(Value, Vec<(Value, bool)>)> = vec![
        (
            json!({ "ForAllValues:StringEquals": { "kms:GrantOperations": ["Encrypt", "Decrypt"] } }),
            vec![
                (json!(["Encrypt"]), true),
                (json!(["Decrypt", "Encrypt"]), true),
                (json!(["Encrypt", "ReEncryptFrom"]), false),
            ],
        ),
        (
            json!({ "ForAnyValue:StringEquals": { "kms:GrantOperations": "RetireGrant" } }),
            vec![
                (json!(["Encrypt", "RetireGrant"]), true),
                (json!(["Encrypt"]), false),
            ],
        ),
        (
            json!({ "Bool": { "kms:GrantIsForAWSResource": "true" } }),
            vec![(json!(["Encrypt"]), false)],
        ),
        (
            json!({ "Bool": { "kms:GrantIsForAWSResource": false } }),
            vec![(json!(["Encrypt"]), true)],
        ),
    ];
    for (condition, tries) in cases {
        let k = w.key_with_policy(&policy(&[allow_if(
            json!({ "AWS": BOB }),
            json!("kms:CreateGrant"),
            condition.clone(),
        )]));
        for (ops, allowed) in tries {
            let r = w
                .call("bob", "CreateGrant", create(&k, APP, ops.clone(), None))
                .await;
            if allowed {
                assert_eq!(r.status, 200, "{condition} {ops}: {:?}", r.body);
            } else {
                assert_denied(&r, &denied(BOB, "kms:CreateGrant", &k, "resource"));
            }
        }
    }
    // kms:GranteePrincipal and kms:RetiringPrincipal.
    let k = w.key_with_policy(&policy(&[allow_if(
        json!({ "AWS": BOB }),
        json!("kms:CreateGrant"),
        json!({
            "StringEquals": { "kms:GranteePrincipal": APP },
            "StringLike": { "kms:RetiringPrincipal": "arn:aws:iam::111122223333:*" },
        }),
    )]));
    let ops = json!(["Encrypt"]);
    w.call(
        "bob",
        "CreateGrant",
        create(&k, APP, ops.clone(), Some(ADMIN)),
    )
    .await
    .ok();
    for body in [
        create(&k, CAROL, ops.clone(), Some(ADMIN)),
        create(&k, APP, ops.clone(), None),
        create(&k, APP, ops.clone(), Some(B_USER)),
    ] {
        let r = w.call("bob", "CreateGrant", body).await;
        assert_denied(&r, &denied(BOB, "kms:CreateGrant", &k, "resource"));
    }
}

#[tokio::test]
async fn reencrypt_needs_reencrypt_from_and_reencrypt_to() {
    let w = world().await;
    let from = allow(json!({ "AWS": BOB }), json!("kms:ReEncryptFrom"));
    let to = allow(json!({ "AWS": BOB }), json!("kms:ReEncryptTo"));
    let src_ok = w.key_with_policy(&policy(std::slice::from_ref(&from)));
    let dst_ok = w.key_with_policy(&policy(std::slice::from_ref(&to)));
    let src_no = w.key_with_policy(&policy(std::slice::from_ref(&to)));
    let dst_no = w.key_with_policy(&policy(std::slice::from_ref(&from)));
    let re = |src: &str, dst: &str| json!({ "CiphertextBlob": w.blob(src, json!({})), "DestinationKeyId": dst });
    let out = w.call("bob", "ReEncrypt", re(&src_ok, &dst_ok)).await.ok();
    assert_eq!(out["KeyId"], dst_ok);
    // Missing ReEncryptFrom on the source.
    let r = w.call("bob", "ReEncrypt", re(&src_no, &dst_ok)).await;
    assert_denied(
        &r,
        &format!(
            "User: arn:aws:iam::111122223333:user/bob is not authorized to perform: kms:ReEncryptFrom on resource: {src_no} because no resource-based policy allows the kms:ReEncryptFrom action"
        ),
    );
    // Missing ReEncryptTo on the destination.
    let r = w.call("bob", "ReEncrypt", re(&src_ok, &dst_no)).await;
    assert_denied(
        &r,
        &format!(
            "User: arn:aws:iam::111122223333:user/bob is not authorized to perform: kms:ReEncryptTo on resource: {dst_no} because no resource-based policy allows the kms:ReEncryptTo action"
        ),
    );
    // Both missing: the source is checked first.
    let r = w.call("bob", "ReEncrypt", re(&src_no, &dst_no)).await;
    assert_denied(&r, &denied(BOB, "kms:ReEncryptFrom", &src_no, "resource"));
    // kms:ReEncrypt* covers both.
    let both = w.key_with_policy(&policy(&[allow(
        json!({ "AWS": BOB }),
        json!("kms:ReEncrypt*"),
    )]));
    w.call("bob", "ReEncrypt", re(&both, &both)).await.ok();
    // DryRun: authorized first, then DryRunOperationException.
    let mut dry = re(&src_ok, &dst_no);
    dry["DryRun"] = json!(true);
    let r = w.call("bob", "ReEncrypt", dry).await;
    assert_denied(&r, &denied(BOB, "kms:ReEncryptTo", &dst_no, "resource"));
    let mut dry = re(&src_ok, &dst_ok);
    dry["DryRun"] = json!(true);
    w.call("bob", "ReEncrypt", dry)
        .await
        .err(412, "DryRunOperationException");
    let r = w
        .call(
            "bob",
            "ReEncrypt",
            json!({
                "SourceKeyId": src_no, "DestinationKeyId": dst_ok,
                "DryRun": true, "DryRunModifiers": ["IGNORE_CIPHERTEXT"],
            }),
        )
        .await;
    assert_denied(&r, &denied(BOB, "kms:ReEncryptFrom", &src_no, "resource"));
    // A key the caller may not use is still reported missing when it is.
    w.call(
        "bob",
        "ReEncrypt",
        json!({ "CiphertextBlob": w.blob(&src_ok, json!({})), "DestinationKeyId": "alias/none" }),
    )
    .await
    .err(404, "NotFoundException");
}

#[tokio::test]
async fn cross_account_reencrypt() {
    const B_ARN_PATTERN: &str = "arn:aws:kms:*:444455556666:key/*";
    let w = Setup::new()
        .principal("b", B_USER)
        .principal("strict", "arn:aws:iam::444455556666:user/strict")
        .identity(
            "arn:aws:iam::444455556666:user/strict",
            &identity(&[
                json!({ "Effect": "Allow", "Action": "kms:ReEncryptFrom", "Resource": "arn:aws:kms:*:111122223333:key/*" }),
                json!({ "Effect": "Allow", "Action": "kms:ReEncryptTo", "Resource": B_ARN_PATTERN }),
            ]),
        )
        .principal("narrow", "arn:aws:iam::444455556666:user/narrow")
        .identity(
            "arn:aws:iam::444455556666:user/narrow",
            &identity(&[json!({ "Effect": "Allow", "Action": "kms:ReEncrypt*", "Resource": B_ARN_PATTERN })]),
        )
        .build()
        .await;
    const STRICT: &str = "arn:aws:iam::444455556666:user/strict";
    const NARROW: &str = "arn:aws:iam::444455556666:user/narrow";
    // Source in A, shared with account B; destination in B (default policy).
    let src = w.key_with_policy(&policy(&[allow(
        json!({ "AWS": "arn:aws:iam::444455556666:root" }),
        json!("kms:ReEncryptFrom"),
    )]));
    let private = w.key();
    let dst = w.key_in(B);
    assert!(dst.contains(":444455556666:key/"));
    let blob = w.blob(&src, json!({ "app": "x" }));
    let re = |src_key: Option<&str>, dst: &str| {
        let mut body = json!({
            "CiphertextBlob": blob, "DestinationKeyId": dst,
            "SourceEncryptionContext": { "app": "x" },
        });
        if let Some(s) = src_key {
            body["SourceKeyId"] = json!(s);
        }
        body
    };
    // Allowed: key policy shares the source, B's identity policies allow.
    for who in ["b", "strict"] {
        let out = w.call(who, "ReEncrypt", re(Some(&src), &dst)).await.ok();
        assert_eq!(out["SourceKeyId"], src);
        assert_eq!(out["KeyId"], dst);
        // The source key found from the blob works across accounts too.
        w.call(who, "ReEncrypt", re(None, &dst)).await.ok();
    }
    // Denied: the identity policy does not cover the foreign source key.
    let r = w.call("narrow", "ReEncrypt", re(Some(&src), &dst)).await;
    assert_denied(&r, &denied(NARROW, "kms:ReEncryptFrom", &src, "identity"));
    // Denied: the source key policy does not share the key with B.
    let blob2 = w.blob(&private, json!({}));
    let r = w
        .call(
            "b",
            "ReEncrypt",
            json!({ "CiphertextBlob": blob2, "DestinationKeyId": dst }),
        )
        .await;
    assert_denied(
        &r,
        &denied(B_USER, "kms:ReEncryptFrom", &private, "resource"),
    );
    // Denied: a destination in A that does not share ReEncryptTo with B...
    let r = w.call("b", "ReEncrypt", re(Some(&src), &private)).await;
    assert_denied(&r, &denied(B_USER, "kms:ReEncryptTo", &private, "resource"));
    // ...allowed once it does, for B principals whose identity policy allows.
    let shared_dst = w.key_with_policy(&policy(&[allow(
        json!({ "AWS": B }),
        json!("kms:ReEncryptTo"),
    )]));
    w.call("b", "ReEncrypt", re(Some(&src), &shared_dst))
        .await
        .ok();
    let r = w
        .call("strict", "ReEncrypt", re(Some(&src), &shared_dst))
        .await;
    assert_denied(
        &r,
        &denied(STRICT, "kms:ReEncryptTo", &shared_dst, "identity"),
    );
    // A foreign key is reached by ARN only: its bare id is not in B.
    let bare = src.rsplit('/').next().unwrap();
    w.call("b", "ReEncrypt", re(Some(bare), &dst))
        .await
        .err(404, "NotFoundException");
    // Operations KMS does not allow across accounts: not found, whatever the policy.
    let open = w.key_with_policy(&policy(&[allow(json!("*"), json!("kms:*"))]));
    let r = w.call("b", "DisableKey", json!({ "KeyId": open })).await;
    let e = r.err(404, "NotFoundException");
    assert!(e["message"].as_str().unwrap().contains(&open));
    w.call("b", "DescribeKey", json!({ "KeyId": open }))
        .await
        .ok();
}

#[tokio::test]
async fn accounts_keys_and_aliases() {
    let w = world().await;
    // CreateKey over HTTP puts the key in the caller's account.
    let created = w.call("b", "CreateKey", json!({})).await.ok();
    let meta = &created["KeyMetadata"];
    assert_eq!(meta["AWSAccountId"], B);
    let b_key = meta["Arn"].as_str().unwrap().to_string();
    assert!(b_key.starts_with("arn:aws:kms:us-east-1:444455556666:key/"));
    let a_key = w.key();
    // ListKeys lists the caller's account.
    let listed = w.call("b", "ListKeys", json!({})).await.ok();
    assert_eq!(
        listed["Keys"],
        json!([{ "KeyId": meta["KeyId"], "KeyArn": b_key }])
    );
    let listed = w.call("admin", "ListKeys", json!({})).await.ok();
    assert!(
        listed["Keys"]
            .as_array()
            .unwrap()
            .iter()
            .all(|k| k["KeyArn"] != b_key)
    );
    // The same alias name in each account, for its own key.
    w.call(
        "b",
        "CreateAlias",
        json!({ "AliasName": "alias/app", "TargetKeyId": b_key }),
    )
    .await
    .ok();
    w.call(
        "admin",
        "CreateAlias",
        json!({ "AliasName": "alias/app", "TargetKeyId": a_key }),
    )
    .await
    .ok();
    let d = w
        .call("b", "DescribeKey", json!({ "KeyId": "alias/app" }))
        .await
        .ok();
    assert_eq!(d["KeyMetadata"]["Arn"], b_key);
    let d = w
        .call("admin", "DescribeKey", json!({ "KeyId": "alias/app" }))
        .await
        .ok();
    assert_eq!(d["KeyMetadata"]["Arn"], a_key);
    let aliases = w.call("b", "ListAliases", json!({})).await.ok();
    assert_eq!(aliases["Aliases"].as_array().unwrap().len(), 1);
    assert_eq!(
        aliases["Aliases"][0]["AliasArn"],
        "arn:aws:kms:us-east-1:444455556666:alias/app"
    );
    // A's key is not B's to alias (not cross-account).
    w.call(
        "b",
        "CreateAlias",
        json!({ "AliasName": "alias/x", "TargetKeyId": a_key }),
    )
    .await
    .err(404, "NotFoundException");
    // B's alias ARN from A: cross-account DescribeKey, which B's default
    // key policy does not allow.
    let r = w
        .call(
            "admin",
            "DescribeKey",
            json!({ "KeyId": "arn:aws:kms:us-east-1:444455556666:alias/app" }),
        )
        .await;
    assert_denied(&r, &denied(ADMIN, "kms:DescribeKey", &b_key, "resource"));
    // The request log names the principal.
    let log = w.log.lock().unwrap();
    assert!(log.iter().any(|l| l.principal.as_deref() == Some(B_USER)));
}

#[tokio::test]
async fn iam_only_actions() {
    let w = world().await;
    for (op, body) in [
        ("CreateKey", json!({})),
        ("ListKeys", json!({})),
        ("GenerateRandom", json!({ "NumberOfBytes": 8 })),
        ("ListRetirableGrants", json!({ "RetiringPrincipal": CAROL })),
    ] {
        let r = w.call("carol", op, body).await;
        let resource = if op == "ListRetirableGrants" {
            CAROL
        } else {
            "*"
        };
        assert_denied(
            &r,
            &denied(CAROL, &format!("kms:{op}"), resource, "identity"),
        );
    }
    w.call("carol", "ListAliases", json!({})).await.ok();
    // A key policy cannot give an IAM-only action; CreateAlias needs both.
    let w = Setup::new()
        .principal("carol", CAROL)
        .identity(CAROL, &identity(&[json!({ "Effect": "Allow", "Action": "kms:CreateAlias", "Resource": "arn:aws:kms:*:111122223333:alias/ok-*" })]))
        .build()
        .await;
    let open = w.key_with_policy(&policy(&[allow(json!({ "AWS": CAROL }), json!("kms:*"))]));
    let k = w.key();
    let r = w.call("carol", "CreateKey", json!({})).await;
    assert_denied(&r, &denied(CAROL, "kms:CreateKey", "*", "identity"));
    w.call(
        "carol",
        "CreateAlias",
        json!({ "AliasName": "alias/ok-1", "TargetKeyId": open }),
    )
    .await
    .ok();
    let r = w
        .call(
            "carol",
            "CreateAlias",
            json!({ "AliasName": "alias/no", "TargetKeyId": open }),
        )
        .await;
    assert_denied(
        &r,
        &denied(
            CAROL,
            "kms:CreateAlias",
            "arn:aws:kms:us-east-1:111122223333:alias/no",
            "identity",
        ),
    );
    let r = w
        .call(
            "carol",
            "CreateAlias",
            json!({ "AliasName": "alias/ok-2", "TargetKeyId": k }),
        )
        .await;
    assert_denied(&r, &denied(CAROL, "kms:CreateAlias", &k, "identity"));
}

#[tokio::test]
async fn malformed_policies_are_refused_and_not_stored() {
    let w = world().await;
    let k = w.key();
    let before = w.kms.key_policy(&k).unwrap();
    let stmt = |extra: Value| {
        let mut s = json!({ "Effect": "Allow", "Principal": { "AWS": ADMIN }, "Action": "kms:*", "Resource": "*" });
        for (key, v) in extra.as_object().unwrap() {
            if v.is_null() {
                s.as_object_mut().unwrap().remove(key);
            } else {
                s[key] = v.clone();
            }
        }
        json!({ "Version": "2012-10-17", "Statement": [s] }).to_string()
    };
    let malformed = [
        ("not json".to_string(), "not valid JSON"),
        (r#"{"Version":"2012-10-17"}"#.to_string(), "Statement"),
        (
            r#"{"Version":"2012-10-17","Statement":[]}"#.to_string(),
            "no statements",
        ),
        (stmt(json!({ "Effect": "Permit" })), "invalid Effect"),
        (stmt(json!({ "Principal": null })), "Principal"),
        (stmt(json!({ "Action": null })), "Action"),
        (stmt(json!({ "Resource": null })), "Resource"),
        (
            stmt(json!({ "Principal": { "AWS": "arn:aws:iam::12:user/x" } })),
            "Policy contains a statement with one or more invalid principals.",
        ),
        (
            stmt(json!({ "Condition": { "StringEqualsAlways": { "kms:CallerAccount": A } } })),
            "unknown condition operator",
        ),
        (
            stmt(
                json!({ "Condition": { "ForAllValues:StringEquals": { "kms:EncryptionContext:app": "x" } } }),
            ),
            "OverlyPermissiveCondition:EncryptionContext",
        ),
    ];
    for (doc, needle) in &malformed {
        for who in ["admin", "root"] {
            let r = w
                .call(who, "PutKeyPolicy", json!({ "KeyId": k, "Policy": doc }))
                .await;
            let e = r.err(400, "MalformedPolicyDocumentException");
            assert!(
                e["message"].as_str().unwrap().contains(needle),
                "{doc}: {e}"
            );
        }
        let r = w.call("admin", "CreateKey", json!({ "Policy": doc })).await;
        r.err(400, "MalformedPolicyDocumentException");
    }
    // Over 32 KB: the quota, LimitExceededException.
    let big = stmt(json!({ "Sid": "x".repeat(33_000) }));
    w.call(
        "admin",
        "PutKeyPolicy",
        json!({ "KeyId": k, "Policy": big }),
    )
    .await
    .err(400, "LimitExceededException");
    // Outside the allowed characters; unknown policy names.
    w.call(
        "admin",
        "PutKeyPolicy",
        json!({ "KeyId": k, "Policy": stmt(json!({ "Sid": "\u{263a}" })) }),
    )
    .await
    .err(400, "ValidationException");
    w.call(
        "admin",
        "PutKeyPolicy",
        json!({ "KeyId": k, "Policy": stmt(json!({})), "PolicyName": "AWS_RAM" }),
    )
    .await
    .err(400, "ValidationException");
    w.call(
        "admin",
        "GetKeyPolicy",
        json!({ "KeyId": k, "PolicyName": "other" }),
    )
    .await
    .err(404, "NotFoundException");
    // An unsupported operator is not a malformed policy.
    w.call(
        "admin",
        "PutKeyPolicy",
        json!({ "KeyId": k, "Policy": stmt(json!({ "Condition": { "NumericLessThan": { "kms:RotationPeriodInDays": "90" } } })) }),
    )
    .await
    .err(400, "UnsupportedOperationException");
    // Nothing was stored, and no key was created.
    assert_eq!(w.kms.key_policy(&k).unwrap(), before);
    let keys = w.call("admin", "ListKeys", json!({})).await.ok();
    assert_eq!(keys["Keys"].as_array().unwrap().len(), 1);
    // A valid policy is stored verbatim.
    let text = format!("{}\n", stmt(json!({ "Sid": "kept as sent" })));
    w.call(
        "admin",
        "PutKeyPolicy",
        json!({ "KeyId": k, "Policy": text }),
    )
    .await
    .ok();
    let got = w
        .call("admin", "GetKeyPolicy", json!({ "KeyId": k }))
        .await
        .ok();
    assert_eq!(got["Policy"], text);
}

#[tokio::test]
async fn unknown_condition_keys_are_refused_not_ignored() {
    let w = world().await;
    let k = w.key();
    let before = w.kms.key_policy(&k).unwrap();
    let with_deny = |condition: Value| {
        policy(&[
            allow(json!({ "AWS": ADMIN }), json!("kms:*")),
            json!({ "Effect": "Deny", "Principal": "*", "Action": "kms:Encrypt", "Resource": "*", "Condition": condition }),
        ])
    };
    // Keys the local KMS has no value for: treated as absent, each of these
    // Denies would silently not apply. Refused as unsupported instead, like
    // an operator it does not evaluate, wherever a policy is given.
    for (condition, key) in [
        (
            json!({ "Bool": { "aws:SecureTransport": "false" } }),
            "aws:securetransport",
        ),
        (
            json!({ "StringEquals": { "aws:PrincipalTag/Team": "payments" } }),
            "aws:principaltag/team",
        ),
        (
            json!({ "StringLike": { "kms:NoSuchKey": "*" } }),
            "kms:nosuchkey",
        ),
    ] {
        let doc = with_deny(condition);
        let r = w
            .call(
                "admin",
                "PutKeyPolicy",
                json!({ "KeyId": k, "Policy": doc }),
            )
            .await;
        let e = r.err(400, "UnsupportedOperationException");
        let message = e["message"].as_str().unwrap();
        assert!(
            message.contains(&format!(
                "uses the condition key \"{key}\", which the local KMS does not evaluate"
            )),
            "{message}"
        );
        w.call("admin", "CreateKey", json!({ "Policy": doc }))
            .await
            .err(400, "UnsupportedOperationException");
        let statement = json!({ "Effect": "Deny", "Action": "kms:*", "Resource": "*", "Condition": { "Null": { key: "true" } } });
        let e = tower_kms::local::IdentityPolicy::from_json(&identity(&[statement])).unwrap_err();
        assert_eq!(e.code(), "UnsupportedOperationException");
    }
    // A key without a vendor prefix is malformed, as IAM says.
    let r = w
        .call(
            "admin",
            "PutKeyPolicy",
            json!({ "KeyId": k, "Policy": with_deny(json!({ "StringEquals": { "team": "x" } })) }),
        )
        .await;
    let e = r.err(400, "MalformedPolicyDocumentException");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("must be prefaced by a vendor"),
        "{e}"
    );
    assert_eq!(w.kms.key_policy(&k).unwrap(), before);

    // Keys that are truthfully absent here are accepted and absent: a Deny
    // unless the call came through an AWS service denies every direct call.
    let doc = with_deny(json!({ "Null": { "kms:ViaService": "true" } }));
    w.call(
        "admin",
        "PutKeyPolicy",
        json!({ "KeyId": k, "Policy": doc }),
    )
    .await
    .ok();
    let r = w.encrypt("admin", &k, json!({}), &[]).await;
    assert_denied(&r, &denied(ADMIN, "kms:Encrypt", &k, "explicit-resource"));
    let doc = with_deny(json!({ "StringEquals": { "aws:SourceVpce": "vpce-1" } }));
    w.call(
        "admin",
        "PutKeyPolicy",
        json!({ "KeyId": k, "Policy": doc }),
    )
    .await
    .ok();
    w.encrypt("admin", &k, json!({}), &[]).await.ok();
}

#[tokio::test]
async fn lockout_safety_check() {
    let w = Setup::new()
        .principal("bob", BOB)
        .principal("carol", CAROL)
        .identity(
            CAROL,
            &identity(&[
                json!({ "Effect": "Allow", "Action": "kms:*", "Resource": "*" }),
                json!({ "Effect": "Deny", "Action": "kms:PutKeyPolicy", "Resource": "*" }),
            ]),
        )
        .build()
        .await;
    let k = w.key();
    const LOCKOUT: &str =
        "The new key policy will not allow you to update the key policy in the future.";
    let only_encrypt = json!({
        "Version": "2012-10-17",
        "Statement": [allow(json!({ "AWS": BOB }), json!(["kms:Encrypt", "kms:GetKeyPolicy"]))],
    })
    .to_string();
    let e = w
        .call(
            "bob",
            "PutKeyPolicy",
            json!({ "KeyId": k, "Policy": only_encrypt }),
        )
        .await
        .err(400, "MalformedPolicyDocumentException");
    assert_eq!(e["message"], LOCKOUT);
    assert!(w.kms.key_policy(&k).unwrap().contains("key-default-1"));
    // The account principal plus an identity allow passes the check.
    let delegating = policy(&[allow(json!({ "AWS": ROOT_A }), json!("kms:*"))]);
    w.call(
        "bob",
        "PutKeyPolicy",
        json!({ "KeyId": k, "Policy": delegating }),
    )
    .await
    .ok();
    // Bypassing the check: stored, and bob is then locked out.
    w.call(
        "bob",
        "PutKeyPolicy",
        json!({ "KeyId": k, "Policy": only_encrypt, "BypassPolicyLockoutSafetyCheck": true }),
    )
    .await
    .ok();
    assert_eq!(w.kms.key_policy(&k).unwrap(), only_encrypt);
    let r = w
        .call(
            "bob",
            "PutKeyPolicy",
            json!({ "KeyId": k, "Policy": delegating }),
        )
        .await;
    assert_denied(&r, &denied(BOB, "kms:PutKeyPolicy", &k, "resource"));
    // CreateKey runs the same check on its Policy, never on the default one.
    let e = w
        .call("bob", "CreateKey", json!({ "Policy": only_encrypt }))
        .await
        .err(400, "MalformedPolicyDocumentException");
    assert_eq!(e["message"], LOCKOUT);
    let naming_bob = json!({
        "Version": "2012-10-17",
        "Statement": [allow(json!({ "AWS": BOB }), json!("kms:*"))],
    })
    .to_string();
    let made = w
        .call("bob", "CreateKey", json!({ "Policy": naming_bob }))
        .await
        .ok();
    let arn = made["KeyMetadata"]["Arn"].as_str().unwrap().to_string();
    assert_eq!(w.kms.key_policy(&arn).unwrap(), naming_bob);
    // An identity Deny on PutKeyPolicy: no explicit policy passes, not even
    // the default one's text; CreateKey without Policy still works.
    let fresh = w.key();
    let default_text = w.kms.key_policy(&fresh).unwrap();
    let e = w
        .call("carol", "CreateKey", json!({ "Policy": default_text }))
        .await
        .err(400, "MalformedPolicyDocumentException");
    assert_eq!(e["message"], LOCKOUT);
    w.call("carol", "CreateKey", json!({})).await.ok();
    w.call(
        "carol",
        "CreateKey",
        json!({ "Policy": default_text, "BypassPolicyLockoutSafetyCheck": true }),
    )
    .await
    .ok();
}

#[tokio::test]
async fn set_up_and_invoke_as() {
    let w = world().await;
    let k = w.key_with_policy(&policy(&[]));
    let bob = tower_kms::local::Principal::from_arn(BOB).unwrap();
    // Set-up bypasses authorization; invoke_as does not.
    w.kms
        .invoke("Encrypt", json!({ "KeyId": k, "Plaintext": b64(b"x") }))
        .unwrap();
    let e = w
        .kms
        .invoke_as(
            &bob,
            "Encrypt",
            json!({ "KeyId": k, "Plaintext": b64(b"x") }),
        )
        .unwrap_err();
    assert_eq!(e.code(), "AccessDeniedException");
    assert_eq!(e.message(), denied(BOB, "kms:Encrypt", &k, "resource"));
    // Set-up PutKeyPolicy validates but skips the lockout check.
    assert_eq!(
        w.kms.put_key_policy(&k, "{}").unwrap_err().code(),
        "MalformedPolicyDocumentException"
    );
    // Keys of another account by ARN.
    let b_key = w.key_in(B);
    assert!(w.kms.describe_key(&b_key).is_ok());
    assert_eq!(
        w.kms
            .create_key_in(
                "4444",
                tower_kms::KeySpec::SymmetricDefault,
                tower_kms::KeyUsageType::EncryptDecrypt
            )
            .unwrap_err()
            .code(),
        "ValidationException"
    );
}

#[tokio::test]
async fn rotation_operations_are_authorized_like_the_others() {
    // A principal whose identity policy allows nothing on keys may not look at
    // or change a key's rotation; the key policy's root statement delegates.
    let w = world().await;
    let key = w.key();
    let arn = key.clone();
    for (op, body) in [
        ("EnableKeyRotation", json!({ "KeyId": key })),
        ("DisableKeyRotation", json!({ "KeyId": key })),
        ("GetKeyRotationStatus", json!({ "KeyId": key })),
        ("RotateKeyOnDemand", json!({ "KeyId": key })),
        ("ListKeyRotations", json!({ "KeyId": key })),
    ] {
        let r = w.call("carol", op, body).await;
        assert_denied(&r, &denied(CAROL, &format!("kms:{op}"), &arn, "identity"));
    }
    // The default test principal may.
    w.call("admin", "EnableKeyRotation", json!({ "KeyId": key }))
        .await
        .ok();
    w.call("admin", "RotateKeyOnDemand", json!({ "KeyId": key }))
        .await
        .ok();
}
