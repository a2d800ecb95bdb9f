//! Every KMS operation gets a KMS answer (#13): the 56 operations of the API
//! model, none `UnknownOperationException`; the ones the local KMS does not
//! model (custom key stores, imported key material, multi-Region keys,
//! ML-KEM) answer the documented error after validating and authorizing.
//! Signed requests, in-process and over 127.0.0.1.

use crate::common;
use crate::world::{self, Setup};

use common::{Transport, b64};
use serde_json::{Value, json};
use tower_kms::local::LocalKms;

/// The operations of KMS's API model (botocore's `kms/2014-11-01`).
const KMS_OPERATIONS: [&str; 56] = [
    "CancelKeyDeletion",
    "ConnectCustomKeyStore",
    "CreateAlias",
    "CreateCustomKeyStore",
    "CreateGrant",
    "CreateKey",
    "Decapsulate",
    "Decrypt",
    "DeleteAlias",
    "DeleteCustomKeyStore",
    "DeleteImportedKeyMaterial",
    "DeriveSharedSecret",
    "DescribeCustomKeyStores",
    "DescribeKey",
    "DisableKey",
    "DisableKeyRotation",
    "DisconnectCustomKeyStore",
    "EnableKey",
    "EnableKeyRotation",
    "Encapsulate",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "GenerateDataKeyWithoutPlaintext",
    "GenerateMac",
    "GenerateRandom",
    "GetKeyLastUsage",
    "GetKeyPolicy",
    "GetKeyRotationStatus",
    "GetParametersForImport",
    "GetPublicKey",
    "ImportKeyMaterial",
    "ListAliases",
    "ListGrants",
    "ListKeyPolicies",
    "ListKeyRotations",
    "ListKeys",
    "ListResourceTags",
    "ListRetirableGrants",
    "PutKeyPolicy",
    "ReEncrypt",
    "ReplicateKey",
    "RetireGrant",
    "RevokeGrant",
    "RotateKeyOnDemand",
    "ScheduleKeyDeletion",
    "Sign",
    "TagResource",
    "UntagResource",
    "UpdateAlias",
    "UpdateCustomKeyStore",
    "UpdateKeyDescription",
    "UpdatePrimaryRegion",
    "Verify",
    "VerifyMac",
];

async fn transports() -> Vec<(LocalKms, Transport)> {
    let a = LocalKms::new();
    let b = LocalKms::new();
    let ta = Transport::in_process(&a);
    let tb = Transport::socket(&b).await;
    vec![(a, ta), (b, tb)]
}

#[tokio::test]
async fn every_kms_operation_gets_a_kms_answer() {
    for (kms, t) in transports().await {
        let key = kms
            .create_key(
                tower_kms::KeySpec::SymmetricDefault,
                tower_kms::KeyUsageType::EncryptDecrypt,
            )
            .unwrap();
        for op in KMS_OPERATIONS {
            for body in [json!({}), json!({ "KeyId": key })] {
                let r = t.call(op, body.clone()).await;
                common::check_headers(&r);
                let v = r.json();
                assert!(v.is_object(), "{op}: {v}");
                if r.status == 200 {
                    continue;
                }
                let code = r.code();
                assert!(
                    code.ends_with("Exception") && code != "UnknownOperationException",
                    "{op} {body}: {code}"
                );
                assert_ne!(r.status, 500, "{op} {body}: {v}");
                // Every error says what went wrong.
                let message = v["message"].as_str().or(v["Message"].as_str());
                assert!(message.is_some_and(|m| !m.is_empty()), "{op}: {v}");
            }
        }
        // A name that is not KMS's is still unknown.
        t.call("Frobnicate", json!({}))
            .await
            .err(400, "UnknownOperationException");
        t.shutdown().await;
    }
}

#[tokio::test]
async fn custom_key_stores_do_not_exist() {
    for (_kms, t) in transports().await {
        let empty = t.call("DescribeCustomKeyStores", json!({})).await.ok();
        assert_eq!(empty, json!({ "CustomKeyStores": [], "Truncated": false }));
        t.call("DescribeCustomKeyStores", json!({ "Limit": 5 }))
            .await
            .ok();
        for req in [
            json!({ "CustomKeyStoreId": "cks-1234567890abcdef0" }),
            json!({ "CustomKeyStoreName": "ExampleKeyStore" }),
        ] {
            t.call("DescribeCustomKeyStores", req)
                .await
                .err(400, "CustomKeyStoreNotFoundException");
        }
        t.call("DescribeCustomKeyStores", json!({ "Marker": "1" }))
            .await
            .err(400, "InvalidMarkerException");
        t.call("DescribeCustomKeyStores", json!({ "Limit": 0 }))
            .await
            .err(400, "ValidationException");
        for op in [
            "ConnectCustomKeyStore",
            "DisconnectCustomKeyStore",
            "UpdateCustomKeyStore",
            "DeleteCustomKeyStore",
        ] {
            let e = t
                .call(op, json!({ "CustomKeyStoreId": "cks-1234567890abcdef0" }))
                .await
                .err(400, "CustomKeyStoreNotFoundException");
            assert!(
                e["message"]
                    .as_str()
                    .unwrap()
                    .contains("cks-1234567890abcdef0"),
                "{e}"
            );
            for bad in [json!({}), json!({ "CustomKeyStoreId": "" })] {
                t.call(op, bad).await.err(400, "ValidationException");
            }
        }
        for (req, code) in [
            (
                json!({ "CustomKeyStoreName": "hsm", "CloudHsmClusterId": "cluster-234abcdefABC" }),
                "CloudHsmClusterNotFoundException",
            ),
            (
                json!({ "CustomKeyStoreName": "xks", "CustomKeyStoreType": "EXTERNAL_KEY_STORE",
                        "XksProxyConnectivity": "PUBLIC_ENDPOINT" }),
                "XksProxyUriUnreachableException",
            ),
            (
                json!({ "CustomKeyStoreName": "xks", "CustomKeyStoreType": "EXTERNAL_KEY_STORE",
                        "XksProxyConnectivity": "VPC_ENDPOINT_SERVICE" }),
                "XksProxyVpcEndpointServiceNotFoundException",
            ),
            (json!({}), "ValidationException"),
            (
                json!({ "CustomKeyStoreName": "x", "CustomKeyStoreType": "HSM" }),
                "ValidationException",
            ),
        ] {
            t.call("CreateCustomKeyStore", req).await.err(400, code);
        }
        // Keys and random bytes in a custom key store.
        t.call(
            "CreateKey",
            json!({ "CustomKeyStoreId": "cks-1234567890abcdef0" }),
        )
        .await
        .err(400, "CustomKeyStoreNotFoundException");
        t.call(
            "GenerateRandom",
            json!({ "NumberOfBytes": 8, "CustomKeyStoreId": "cks-1234567890abcdef0" }),
        )
        .await
        .err(400, "CustomKeyStoreNotFoundException");
        t.shutdown().await;
    }
}

#[tokio::test]
async fn imports_replicas_and_kem_are_refused_per_key() {
    for (kms, t) in transports().await {
        let key = kms
            .create_key(
                tower_kms::KeySpec::SymmetricDefault,
                tower_kms::KeyUsageType::EncryptDecrypt,
            )
            .unwrap();
        let missing = "arn:aws:kms:us-east-1:111122223333:key/0f0f0f0f-1111-4222-8333-444444444444";
        let requests = |k: &str| -> Vec<(&'static str, Value, u16, &'static str)> {
            vec![
                (
                    "GetParametersForImport",
                    json!({ "KeyId": k, "WrappingAlgorithm": "RSAES_OAEP_SHA_256", "WrappingKeySpec": "RSA_2048" }),
                    400,
                    "UnsupportedOperationException",
                ),
                (
                    "ImportKeyMaterial",
                    json!({ "KeyId": k, "ImportToken": b64(b"token"), "EncryptedKeyMaterial": b64(b"material") }),
                    400,
                    "UnsupportedOperationException",
                ),
                (
                    "DeleteImportedKeyMaterial",
                    json!({ "KeyId": k }),
                    400,
                    "UnsupportedOperationException",
                ),
                (
                    "ReplicateKey",
                    json!({ "KeyId": k, "ReplicaRegion": "eu-west-1" }),
                    400,
                    "UnsupportedOperationException",
                ),
                (
                    "UpdatePrimaryRegion",
                    json!({ "KeyId": k, "PrimaryRegion": "eu-west-1" }),
                    400,
                    "UnsupportedOperationException",
                ),
                (
                    "Encapsulate",
                    json!({ "KeyId": k, "EncapsulationAlgorithm": "ML_KEM" }),
                    400,
                    "InvalidKeyUsageException",
                ),
                (
                    "Decapsulate",
                    json!({ "KeyId": k, "EncapsulationAlgorithm": "ML_KEM", "SharedSecretCiphertextBlob": b64(b"ct") }),
                    400,
                    "InvalidKeyUsageException",
                ),
            ]
        };
        for (op, body, status, code) in requests(&key) {
            let e = t.call(op, body.clone()).await.err(status, code);
            assert!(e["message"].as_str().unwrap().contains(&key), "{op}: {e}");
            // Unknown keys first.
            let mut unknown = body.clone();
            unknown["KeyId"] = json!(missing);
            t.call(op, unknown).await.err(404, "NotFoundException");
            // Every required member is required.
            for member in body.as_object().unwrap().keys() {
                let mut less = body.clone();
                less.as_object_mut().unwrap().remove(member);
                t.call(op, less).await.err(400, "ValidationException");
            }
        }
        for (op, member, value) in [
            ("GetParametersForImport", "WrappingAlgorithm", "RSA"),
            ("GetParametersForImport", "WrappingKeySpec", "RSA_1024"),
            ("ReplicateKey", "ReplicaRegion", "Mars"),
            ("UpdatePrimaryRegion", "PrimaryRegion", "us_east_1"),
            ("Encapsulate", "EncapsulationAlgorithm", "KYBER"),
        ] {
            let (_, mut body, ..) = requests(&key).into_iter().find(|(o, ..)| *o == op).unwrap();
            body[member] = json!(value);
            t.call(op, body).await.err(400, "ValidationException");
        }
        // Encapsulate and Decapsulate check the key state first, as for any
        // key of another usage; they take aliases and grant tokens.
        kms.create_alias("alias/kem", &key).unwrap();
        t.call(
            "Encapsulate",
            json!({ "KeyId": "alias/kem", "EncapsulationAlgorithm": "ML_KEM" }),
        )
        .await
        .err(400, "InvalidKeyUsageException");
        t.call(
            "Encapsulate",
            json!({ "KeyId": key, "EncapsulationAlgorithm": "ML_KEM", "GrantTokens": ["bogus"] }),
        )
        .await
        .err(400, "InvalidGrantTokenException");
        kms.disable_key(&key).unwrap();
        t.call(
            "Decapsulate",
            json!({ "KeyId": key, "EncapsulationAlgorithm": "ML_KEM", "SharedSecretCiphertextBlob": b64(b"ct") }),
        )
        .await
        .err(409, "DisabledException");
        // The import operations take no alias.
        t.call("DeleteImportedKeyMaterial", json!({ "KeyId": "alias/kem" }))
            .await
            .err(404, "NotFoundException");
        t.shutdown().await;
    }
}

#[tokio::test]
async fn unmodelled_operations_authorize_first() {
    let bob = "arn:aws:iam::111122223333:user/bob";
    let w = Setup::new()
        .principal("bob", bob)
        .identity(bob, world::NOTHING)
        .build()
        .await;
    let key = w.key();
    for (op, body, action, resource) in [
        (
            "ConnectCustomKeyStore",
            json!({ "CustomKeyStoreId": "cks-1" }),
            "kms:ConnectCustomKeyStore",
            "*",
        ),
        (
            "DescribeCustomKeyStores",
            json!({}),
            "kms:DescribeCustomKeyStores",
            "*",
        ),
        (
            "CreateCustomKeyStore",
            json!({ "CustomKeyStoreName": "x" }),
            "kms:CreateCustomKeyStore",
            "*",
        ),
        (
            "DeleteImportedKeyMaterial",
            json!({ "KeyId": key }),
            "kms:DeleteImportedKeyMaterial",
            key.as_str(),
        ),
        (
            "ReplicateKey",
            json!({ "KeyId": key, "ReplicaRegion": "eu-west-1" }),
            "kms:ReplicateKey",
            key.as_str(),
        ),
        (
            "Encapsulate",
            json!({ "KeyId": key, "EncapsulationAlgorithm": "ML_KEM" }),
            "kms:Encapsulate",
            key.as_str(),
        ),
    ] {
        world::assert_denied(
            &w.call("bob", op, body.clone()).await,
            &world::denied(bob, action, resource, "identity"),
        );
        // The admin gets the operation's own answer.
        let r = w.call("admin", op, body).await;
        assert_ne!(r.code(), "AccessDeniedException", "{op}");
    }
    w.t.shutdown().await;
}
