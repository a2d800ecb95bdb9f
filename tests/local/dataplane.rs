//! The data plane of asymmetric and HMAC keys (#13): CreateKey of every
//! modelled key spec and usage, GetPublicKey, Sign / Verify (checked against
//! verification outside KMS with the public key), GenerateMac / VerifyMac,
//! DeriveSharedSecret (against ECDH computed outside), GenerateDataKeyPair*
//! (the private key decrypts and matches the public key), GetKeyLastUsage,
//! and their errors: key usage, key state, algorithms, message sizes, digest
//! lengths, DryRun, grant tokens, authorization and quotas. Every request is
//! signed by aws-sigv4, in-process and over 127.0.0.1.

use crate::common;
use crate::world::{self, Setup, TestClock};

use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::agreement::{self, ECDH_P256, ECDH_P384, ECDH_P521};
use aws_lc_rs::digest::{self, SHA256, SHA384, SHA512};
use aws_lc_rs::encoding::{AsDer, PublicKeyX509Der};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa;
use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair, UnparsedPublicKey, VerificationAlgorithm};
use common::{Sig, Transport, b64, unb64};
use serde_json::{Value, json};
use tower_kms::local::{LocalKms, Quota, RequestRate};

/// A fresh default KMS behind each transport: in-process, then a socket.
async fn transports() -> Vec<(LocalKms, Transport)> {
    let a = LocalKms::new();
    let b = LocalKms::new();
    let ta = Transport::in_process(&a);
    let tb = Transport::socket(&b).await;
    vec![(a, ta), (b, tb)]
}

/// CreateKey over signed HTTP; the key ARN.
async fn create(t: &Transport, spec: &str, usage: &str) -> String {
    let out = t
        .call("CreateKey", json!({ "KeySpec": spec, "KeyUsage": usage }))
        .await
        .ok();
    out["KeyMetadata"]["Arn"].as_str().unwrap().to_string()
}

async fn public_key(t: &Transport, key: &str) -> Vec<u8> {
    unb64(&t.call("GetPublicKey", json!({ "KeyId": key })).await.ok()["PublicKey"])
}

/// The verification algorithm outside KMS for a signing algorithm (and, for
/// ECDSA, the key's curve), and the hash it uses.
fn outside(
    spec: &str,
    alg: &str,
) -> (
    &'static dyn VerificationAlgorithm,
    &'static digest::Algorithm,
) {
    match (spec, alg) {
        (_, "RSASSA_PSS_SHA_256") => (&signature::RSA_PSS_2048_8192_SHA256, &SHA256),
        (_, "RSASSA_PSS_SHA_384") => (&signature::RSA_PSS_2048_8192_SHA384, &SHA384),
        (_, "RSASSA_PSS_SHA_512") => (&signature::RSA_PSS_2048_8192_SHA512, &SHA512),
        (_, "RSASSA_PKCS1_V1_5_SHA_256") => (&signature::RSA_PKCS1_2048_8192_SHA256, &SHA256),
        (_, "RSASSA_PKCS1_V1_5_SHA_384") => (&signature::RSA_PKCS1_2048_8192_SHA384, &SHA384),
        (_, "RSASSA_PKCS1_V1_5_SHA_512") => (&signature::RSA_PKCS1_2048_8192_SHA512, &SHA512),
        ("ECC_NIST_P256", "ECDSA_SHA_256") => (&signature::ECDSA_P256_SHA256_ASN1, &SHA256),
        ("ECC_SECG_P256K1", "ECDSA_SHA_256") => (&signature::ECDSA_P256K1_SHA256_ASN1, &SHA256),
        ("ECC_NIST_P384", "ECDSA_SHA_384") => (&signature::ECDSA_P384_SHA384_ASN1, &SHA384),
        ("ECC_NIST_P521", "ECDSA_SHA_512") => (&signature::ECDSA_P521_SHA512_ASN1, &SHA512),
        other => panic!("no outside verifier for {other:?}"),
    }
}

const RSA_ALGS: [&str; 6] = [
    "RSASSA_PKCS1_V1_5_SHA_256",
    "RSASSA_PKCS1_V1_5_SHA_384",
    "RSASSA_PKCS1_V1_5_SHA_512",
    "RSASSA_PSS_SHA_256",
    "RSASSA_PSS_SHA_384",
    "RSASSA_PSS_SHA_512",
];

#[tokio::test]
async fn create_key_specs_usages_and_algorithm_lists() {
    for (_kms, t) in transports().await {
        for (spec, usage, member, algs) in [
            (
                "ECC_NIST_P256",
                "SIGN_VERIFY",
                "SigningAlgorithms",
                json!(["ECDSA_SHA_256"]),
            ),
            (
                "ECC_NIST_P384",
                "SIGN_VERIFY",
                "SigningAlgorithms",
                json!(["ECDSA_SHA_384"]),
            ),
            (
                "ECC_NIST_P521",
                "SIGN_VERIFY",
                "SigningAlgorithms",
                json!(["ECDSA_SHA_512"]),
            ),
            (
                "ECC_SECG_P256K1",
                "SIGN_VERIFY",
                "SigningAlgorithms",
                json!(["ECDSA_SHA_256"]),
            ),
            (
                "RSA_2048",
                "SIGN_VERIFY",
                "SigningAlgorithms",
                json!(RSA_ALGS),
            ),
            (
                "ECC_NIST_P256",
                "KEY_AGREEMENT",
                "KeyAgreementAlgorithms",
                json!(["ECDH"]),
            ),
            (
                "ECC_NIST_P384",
                "KEY_AGREEMENT",
                "KeyAgreementAlgorithms",
                json!(["ECDH"]),
            ),
            (
                "ECC_NIST_P521",
                "KEY_AGREEMENT",
                "KeyAgreementAlgorithms",
                json!(["ECDH"]),
            ),
            (
                "HMAC_224",
                "GENERATE_VERIFY_MAC",
                "MacAlgorithms",
                json!(["HMAC_SHA_224"]),
            ),
            (
                "HMAC_256",
                "GENERATE_VERIFY_MAC",
                "MacAlgorithms",
                json!(["HMAC_SHA_256"]),
            ),
            (
                "HMAC_384",
                "GENERATE_VERIFY_MAC",
                "MacAlgorithms",
                json!(["HMAC_SHA_384"]),
            ),
            (
                "HMAC_512",
                "GENERATE_VERIFY_MAC",
                "MacAlgorithms",
                json!(["HMAC_SHA_512"]),
            ),
        ] {
            let out = t
                .call("CreateKey", json!({ "KeySpec": spec, "KeyUsage": usage }))
                .await
                .ok();
            let m = &out["KeyMetadata"];
            assert_eq!(m["KeySpec"], spec);
            assert_eq!(m["CustomerMasterKeySpec"], spec);
            assert_eq!(m["KeyUsage"], usage);
            assert_eq!(m[member], algs, "{spec} {usage}");
            // Only the list of the key's usage.
            for other in [
                "EncryptionAlgorithms",
                "SigningAlgorithms",
                "MacAlgorithms",
                "KeyAgreementAlgorithms",
            ] {
                assert_eq!(m.get(other).is_some(), other == member, "{spec} {other}");
            }
            // Asymmetric keys never carry a key material id (no rotation).
            assert!(m.get("CurrentKeyMaterialId").is_none());
            let key = m["Arn"].as_str().unwrap();
            assert_eq!(
                t.call("DescribeKey", json!({ "KeyId": key })).await.ok()["KeyMetadata"],
                *m
            );
            let pk = t.call("GetPublicKey", json!({ "KeyId": key })).await;
            if spec.starts_with("HMAC") {
                let e = pk.err(400, "UnsupportedOperationException");
                assert!(e["message"].as_str().unwrap().contains("HMAC"), "{e}");
                continue;
            }
            let pk = pk.ok();
            assert_eq!(pk["KeyId"], key);
            assert_eq!(pk["KeySpec"], spec);
            assert_eq!(pk["CustomerMasterKeySpec"], spec);
            assert_eq!(pk["KeyUsage"], usage);
            assert_eq!(pk[member], algs);
            assert!(pk.get("EncryptionAlgorithms").is_none());
            // A DER SubjectPublicKeyInfo.
            assert_eq!(unb64(&pk["PublicKey"])[0], 0x30);
        }
        for (req, code) in [
            (
                json!({ "KeySpec": "ECC_SECG_P256K1", "KeyUsage": "KEY_AGREEMENT" }),
                "ValidationException",
            ),
            (
                json!({ "KeySpec": "RSA_2048", "KeyUsage": "KEY_AGREEMENT" }),
                "ValidationException",
            ),
            (
                json!({ "KeySpec": "RSA_2048", "KeyUsage": "GENERATE_VERIFY_MAC" }),
                "ValidationException",
            ),
            // KeyUsage defaults to ENCRYPT_DECRYPT.
            (json!({ "KeySpec": "HMAC_256" }), "ValidationException"),
            (json!({ "KeySpec": "ECC_NIST_P384" }), "ValidationException"),
            (
                json!({ "KeySpec": "HMAC_256", "KeyUsage": "SIGN_VERIFY" }),
                "ValidationException",
            ),
            (
                json!({ "KeySpec": "SYMMETRIC_DEFAULT", "KeyUsage": "GENERATE_VERIFY_MAC" }),
                "ValidationException",
            ),
            (
                json!({ "KeySpec": "ML_KEM_768", "KeyUsage": "ENCAPSULATE_DECAPSULATE" }),
                "UnsupportedOperationException",
            ),
            (
                json!({ "KeySpec": "ECC_NIST_EDWARDS25519", "KeyUsage": "SIGN_VERIFY" }),
                "UnsupportedOperationException",
            ),
            (
                json!({ "KeySpec": "SM2", "KeyUsage": "SIGN_VERIFY" }),
                "UnsupportedOperationException",
            ),
            (
                json!({ "KeySpec": "HMAC_128", "KeyUsage": "GENERATE_VERIFY_MAC" }),
                "ValidationException",
            ),
            (json!({ "KeyUsage": "MAC" }), "ValidationException"),
        ] {
            t.call("CreateKey", req).await.err(400, code);
        }
        t.shutdown().await;
    }
}

/// An ECDSA signature as KMS returns it: DER `SEQUENCE { INTEGER r,
/// INTEGER s }`, every length exact.
#[track_caller]
fn assert_der_ecdsa(sig: &[u8]) {
    /// (header length, content length) of the element at `at`.
    fn element(sig: &[u8], at: usize, tag: u8) -> (usize, usize) {
        assert_eq!(sig[at], tag, "{sig:02x?}");
        match sig[at + 1] {
            n if n < 0x80 => (2, usize::from(n)),
            0x81 => (3, usize::from(sig[at + 2])),
            other => panic!("length form {other:#x}"),
        }
    }
    let (h, len) = element(sig, 0, 0x30);
    assert_eq!(h + len, sig.len(), "{sig:02x?}");
    let (rh, rlen) = element(sig, h, 0x02);
    let (sh, slen) = element(sig, h + rh + rlen, 0x02);
    assert_eq!(h + rh + rlen + sh + slen, sig.len(), "{sig:02x?}");
}

#[tokio::test]
async fn signatures_verify_outside_kms_and_inside() {
    for (_kms, t) in transports().await {
        let mut cases: Vec<(&str, Vec<&str>)> = vec![
            ("ECC_NIST_P256", vec!["ECDSA_SHA_256"]),
            ("ECC_NIST_P384", vec!["ECDSA_SHA_384"]),
            ("ECC_NIST_P521", vec!["ECDSA_SHA_512"]),
            ("ECC_SECG_P256K1", vec!["ECDSA_SHA_256"]),
            ("RSA_2048", RSA_ALGS.to_vec()),
        ];
        if matches!(t, Transport::Socket { .. }) {
            // The larger RSA keys once, over the socket.
            cases.push(("RSA_3072", vec!["RSASSA_PSS_SHA_384"]));
            cases.push(("RSA_4096", vec!["RSASSA_PKCS1_V1_5_SHA_512"]));
        }
        let message = b"a message signed in KMS and verified outside it";
        for (spec, algs) in cases {
            let key = create(&t, spec, "SIGN_VERIFY").await;
            let public = public_key(&t, &key).await;
            for alg in algs {
                let (verifier, hash) = outside(spec, alg);
                let outside_key = UnparsedPublicKey::new(verifier, &public);
                // RAW: KMS hashes.
                let out = t
                    .call(
                        "Sign",
                        json!({ "KeyId": key, "Message": b64(message), "SigningAlgorithm": alg }),
                    )
                    .await
                    .ok();
                assert_eq!(out["KeyId"], key.as_str());
                assert_eq!(out["SigningAlgorithm"], alg);
                let sig = unb64(&out["Signature"]);
                outside_key
                    .verify(message, &sig)
                    .unwrap_or_else(|_| panic!("{spec} {alg}: RAW signature"));
                assert!(outside_key.verify(b"another message", &sig).is_err());
                if alg.starts_with("ECDSA") {
                    assert_der_ecdsa(&sig);
                } else {
                    let modulus = match spec {
                        "RSA_2048" => 256,
                        "RSA_3072" => 384,
                        _ => 512,
                    };
                    assert_eq!(sig.len(), modulus, "{spec}");
                }
                // DIGEST: the caller hashed; the signature is of the message.
                let d = digest::digest(hash, message);
                let out = t
                    .call(
                        "Sign",
                        json!({
                            "KeyId": key, "Message": b64(d.as_ref()),
                            "MessageType": "DIGEST", "SigningAlgorithm": alg,
                        }),
                    )
                    .await
                    .ok();
                let dsig = unb64(&out["Signature"]);
                outside_key
                    .verify(message, &dsig)
                    .unwrap_or_else(|_| panic!("{spec} {alg}: DIGEST signature"));
                // Verify in KMS: either message type, whichever type signed.
                for (s, m, mt) in [
                    (&sig, message.as_slice(), "RAW"),
                    (&sig, d.as_ref(), "DIGEST"),
                    (&dsig, message.as_slice(), "RAW"),
                    (&dsig, d.as_ref(), "DIGEST"),
                ] {
                    let v = t
                        .call(
                            "Verify",
                            json!({
                                "KeyId": key, "Message": b64(m), "MessageType": mt,
                                "Signature": b64(s), "SigningAlgorithm": alg,
                            }),
                        )
                        .await
                        .ok();
                    assert_eq!(
                        v,
                        json!({ "KeyId": key, "SignatureValid": true, "SigningAlgorithm": alg })
                    );
                }
                // A flipped bit, another message: KMSInvalidSignatureException.
                let mut bad = sig.clone();
                let last = bad.len() - 1;
                bad[last] ^= 1;
                for (s, m) in [(&bad, message.as_slice()), (&sig, b"another".as_slice())] {
                    t.call(
                        "Verify",
                        json!({
                            "KeyId": key, "Message": b64(m),
                            "Signature": b64(s), "SigningAlgorithm": alg,
                        }),
                    )
                    .await
                    .err(400, "KMSInvalidSignatureException");
                }
            }
        }
        t.shutdown().await;
    }
}

#[tokio::test]
async fn a_signature_of_another_key_or_algorithm_does_not_verify() {
    let (_kms, t) = transports().await.remove(0);
    let a = create(&t, "ECC_NIST_P256", "SIGN_VERIFY").await;
    let b = create(&t, "ECC_NIST_P256", "SIGN_VERIFY").await;
    let rsa = create(&t, "RSA_2048", "SIGN_VERIFY").await;
    let sign = |key: &str, alg: &str| json!({ "KeyId": key, "Message": b64(b"m"), "SigningAlgorithm": alg });
    let sig = t.call("Sign", sign(&a, "ECDSA_SHA_256")).await.ok()["Signature"].clone();
    let mut verify = sign(&b, "ECDSA_SHA_256");
    verify["Signature"] = sig;
    t.call("Verify", verify)
        .await
        .err(400, "KMSInvalidSignatureException");
    // PSS and PKCS#1 v1.5 signatures are not each other's.
    let pss = t.call("Sign", sign(&rsa, "RSASSA_PSS_SHA_256")).await.ok()["Signature"].clone();
    let mut verify = sign(&rsa, "RSASSA_PKCS1_V1_5_SHA_256");
    verify["Signature"] = pss.clone();
    t.call("Verify", verify)
        .await
        .err(400, "KMSInvalidSignatureException");
    let mut verify = sign(&rsa, "RSASSA_PSS_SHA_256");
    verify["Signature"] = pss;
    t.call("Verify", verify).await.ok();
    // Garbage is not a signature either (and is no server error).
    for garbage in [vec![0u8], vec![0x30, 0x02, 0x02, 0x00], vec![0xff; 6144]] {
        let mut verify = sign(&a, "ECDSA_SHA_256");
        verify["Signature"] = json!(b64(&garbage));
        t.call("Verify", verify)
            .await
            .err(400, "KMSInvalidSignatureException");
    }
}

#[tokio::test]
async fn sign_and_verify_errors() {
    for (kms, t) in transports().await {
        let p256 = create(&t, "ECC_NIST_P256", "SIGN_VERIFY").await;
        let rsa = create(&t, "RSA_2048", "SIGN_VERIFY").await;
        let rsa_enc = create(&t, "RSA_2048", "ENCRYPT_DECRYPT").await;
        let agree = create(&t, "ECC_NIST_P256", "KEY_AGREEMENT").await;
        let sym = create(&t, "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT").await;
        let hmac = create(&t, "HMAC_256", "GENERATE_VERIFY_MAC").await;
        let sign = |key: &str, alg: &str| json!({ "KeyId": key, "Message": b64(b"message"), "SigningAlgorithm": alg });
        let sig = t.call("Sign", sign(&p256, "ECDSA_SHA_256")).await.ok()["Signature"].clone();
        let verify = |key: &str, alg: &str| {
            let mut v = sign(key, alg);
            v["Signature"] = sig.clone();
            v
        };
        let with = |mut v: Value, member: &str, value: Value| {
            if value.is_null() {
                v.as_object_mut().unwrap().remove(member);
            } else {
                v[member] = value;
            }
            v
        };
        // Key usage.
        for key in [&rsa_enc, &agree, &sym, &hmac] {
            for op in ["Sign", "Verify"] {
                let e = t
                    .call(op, verify(key, "RSASSA_PSS_SHA_256"))
                    .await
                    .err(400, "InvalidKeyUsageException");
                let m = e["message"].as_str().unwrap();
                assert!(m.contains("not valid for") && m.contains(op), "{m}");
            }
        }
        // An algorithm the key does not support, valid or not.
        for (key, alg, code) in [
            (&p256, "ECDSA_SHA_384", "InvalidKeyUsageException"),
            (&p256, "RSASSA_PSS_SHA_256", "InvalidKeyUsageException"),
            (&rsa, "ECDSA_SHA_256", "InvalidKeyUsageException"),
            (&p256, "SM2DSA", "InvalidKeyUsageException"),
            (&p256, "ML_DSA_SHAKE_256", "InvalidKeyUsageException"),
            (&p256, "ECDSA_SHA_1", "ValidationException"),
        ] {
            for op in ["Sign", "Verify"] {
                t.call(op, verify(key, alg)).await.err(400, code);
            }
        }
        // Members and sizes.
        let good = verify(&p256, "ECDSA_SHA_256");
        for (member, value) in [
            ("KeyId", Value::Null),
            ("Message", Value::Null),
            ("SigningAlgorithm", Value::Null),
            ("Message", json!("")),
            ("Message", json!(b64(&[7u8; 4097]))),
            ("MessageType", json!("HASH")),
            ("MessageType", json!("EXTERNAL_MU")),
            ("Signature", json!(b64(&[7u8; 6145]))),
        ] {
            for op in ["Sign", "Verify"] {
                if op == "Sign" && member == "Signature" {
                    continue;
                }
                t.call(op, with(good.clone(), member, value.clone()))
                    .await
                    .err(400, "ValidationException");
            }
        }
        t.call("Verify", with(good.clone(), "Signature", Value::Null))
            .await
            .err(400, "ValidationException");
        // 4096 bytes is the most a RAW message may be.
        t.call(
            "Sign",
            with(good.clone(), "Message", json!(b64(&[7u8; 4096]))),
        )
        .await
        .ok();
        // A digest must be exactly the hash's length.
        for len in [0usize, 20, 31, 33, 48, 64] {
            let req = with(
                with(good.clone(), "MessageType", json!("DIGEST")),
                "Message",
                json!(b64(&vec![1u8; len])),
            );
            for op in ["Sign", "Verify"] {
                let e = t
                    .call(op, req.clone())
                    .await
                    .err(400, "ValidationException");
                if len > 0 {
                    assert_eq!(
                        e["message"],
                        "Digest is invalid length for algorithm ECDSA_SHA_256."
                    );
                }
            }
        }
        let d = vec![1u8; 64];
        let digest512 = json!({
            "KeyId": rsa, "Message": b64(&d), "MessageType": "DIGEST",
            "SigningAlgorithm": "RSASSA_PSS_SHA_512",
        });
        t.call("Sign", digest512.clone()).await.ok();
        t.call(
            "Sign",
            with(digest512, "SigningAlgorithm", json!("RSASSA_PSS_SHA_384")),
        )
        .await
        .err(400, "ValidationException");
        // Grant tokens.
        for op in ["Sign", "Verify"] {
            t.call(op, with(good.clone(), "GrantTokens", json!(["bogus"])))
                .await
                .err(400, "InvalidGrantTokenException");
        }
        // DryRun: Sign would succeed, Verify would succeed; a bad signature
        // still fails the dry run.
        for op in ["Sign", "Verify"] {
            t.call(op, with(good.clone(), "DryRun", json!(true)))
                .await
                .err(412, "DryRunOperationException");
        }
        let bad = with(good.clone(), "Message", json!(b64(b"other")));
        t.call("Verify", with(bad, "DryRun", json!(true)))
            .await
            .err(400, "KMSInvalidSignatureException");
        // Key states.
        kms.disable_key(&p256).unwrap();
        for op in ["Sign", "Verify"] {
            t.call(op, good.clone()).await.err(409, "DisabledException");
        }
        kms.enable_key(&p256).unwrap();
        t.call("Verify", good.clone()).await.ok();
        kms.schedule_key_deletion(&p256, 7).unwrap();
        for op in ["Sign", "Verify"] {
            t.call(op, good.clone())
                .await
                .err(409, "KMSInvalidStateException");
        }
        t.call("Sign", with(good.clone(), "KeyId", json!("alias/none")))
            .await
            .err(404, "NotFoundException");
        t.shutdown().await;
    }
}

#[tokio::test]
async fn macs_verify_and_differ_per_key() {
    for (kms, t) in transports().await {
        let message = b"message to authenticate";
        for (spec, alg, len) in [
            ("HMAC_224", "HMAC_SHA_224", 28usize),
            ("HMAC_256", "HMAC_SHA_256", 32),
            ("HMAC_384", "HMAC_SHA_384", 48),
            ("HMAC_512", "HMAC_SHA_512", 64),
        ] {
            let k1 = create(&t, spec, "GENERATE_VERIFY_MAC").await;
            let k2 = create(&t, spec, "GENERATE_VERIFY_MAC").await;
            let gen_mac = |key: &str, m: &[u8]| json!({ "KeyId": key, "Message": b64(m), "MacAlgorithm": alg });
            let out = t.call("GenerateMac", gen_mac(&k1, message)).await.ok();
            assert_eq!(out["KeyId"], k1.as_str());
            assert_eq!(out["MacAlgorithm"], alg);
            let mac = unb64(&out["Mac"]);
            assert_eq!(mac.len(), len, "{spec}");
            // HMAC is deterministic: the same key and message, the same MAC.
            let again = t.call("GenerateMac", gen_mac(&k1, message)).await.ok();
            assert_eq!(unb64(&again["Mac"]), mac);
            // Another key, another message: another MAC.
            let other_key = t.call("GenerateMac", gen_mac(&k2, message)).await.ok();
            assert_ne!(unb64(&other_key["Mac"]), mac);
            let other_message = t
                .call("GenerateMac", gen_mac(&k1, b"message to authenticatE"))
                .await
                .ok();
            assert_ne!(unb64(&other_message["Mac"]), mac);

            let verify = |key: &str, m: &[u8], mac: &[u8]| {
                let mut v = gen_mac(key, m);
                v["Mac"] = json!(b64(mac));
                v
            };
            let ok = t.call("VerifyMac", verify(&k1, message, &mac)).await.ok();
            assert_eq!(
                ok,
                json!({ "KeyId": k1, "MacValid": true, "MacAlgorithm": alg })
            );
            for bit in [0usize, 7, len * 8 - 1] {
                let mut flipped = mac.clone();
                flipped[bit / 8] ^= 1 << (bit % 8);
                t.call("VerifyMac", verify(&k1, message, &flipped))
                    .await
                    .err(400, "KMSInvalidMacException");
            }
            for (key, m, mac) in [
                (&k2, message.as_slice(), mac.as_slice()),
                (&k1, b"message".as_slice(), mac.as_slice()),
                (&k1, message.as_slice(), &mac[..len - 1]),
            ] {
                t.call("VerifyMac", verify(key, m, mac))
                    .await
                    .err(400, "KMSInvalidMacException");
            }
            // Another size's algorithm is not this key's.
            let wrong = if alg == "HMAC_SHA_256" {
                "HMAC_SHA_512"
            } else {
                "HMAC_SHA_256"
            };
            let mut req = gen_mac(&k1, message);
            req["MacAlgorithm"] = json!(wrong);
            t.call("GenerateMac", req.clone())
                .await
                .err(400, "InvalidKeyUsageException");
            req["Mac"] = json!(b64(&mac));
            t.call("VerifyMac", req)
                .await
                .err(400, "InvalidKeyUsageException");
        }

        // Errors.
        let k = create(&t, "HMAC_256", "GENERATE_VERIFY_MAC").await;
        let sym = create(&t, "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT").await;
        let ecc = create(&t, "ECC_NIST_P256", "SIGN_VERIFY").await;
        let req = json!({ "KeyId": k, "Message": b64(b"m"), "MacAlgorithm": "HMAC_SHA_256" });
        let mac = t.call("GenerateMac", req.clone()).await.ok()["Mac"].clone();
        let mut vreq = req.clone();
        vreq["Mac"] = mac;
        for key in [&sym, &ecc] {
            let mut r = req.clone();
            r["KeyId"] = json!(key);
            t.call("GenerateMac", r)
                .await
                .err(400, "InvalidKeyUsageException");
        }
        for (member, value) in [
            ("Message", json!("")),
            ("Message", json!(b64(&[0u8; 4097]))),
            ("MacAlgorithm", json!("HMAC_SHA_1")),
            ("MacAlgorithm", Value::Null),
            ("KeyId", Value::Null),
        ] {
            for (op, base) in [("GenerateMac", &req), ("VerifyMac", &vreq)] {
                let mut r = base.clone();
                if value.is_null() {
                    r.as_object_mut().unwrap().remove(member);
                } else {
                    r[member] = value.clone();
                }
                t.call(op, r).await.err(400, "ValidationException");
            }
        }
        let mut r = vreq.clone();
        r["Mac"] = json!(b64(&[0u8; 6145]));
        t.call("VerifyMac", r).await.err(400, "ValidationException");
        for (op, base) in [("GenerateMac", &req), ("VerifyMac", &vreq)] {
            let mut r = base.clone();
            r["DryRun"] = json!(true);
            t.call(op, r).await.err(412, "DryRunOperationException");
            let mut r = base.clone();
            r["GrantTokens"] = json!(["bogus"]);
            t.call(op, r).await.err(400, "InvalidGrantTokenException");
        }
        kms.disable_key(&k).unwrap();
        t.call("GenerateMac", req.clone())
            .await
            .err(409, "DisabledException");
        t.call("VerifyMac", vreq.clone())
            .await
            .err(409, "DisabledException");
        t.shutdown().await;
    }
}

/// A peer key pair made outside KMS: its private key and SPKI public key.
fn peer(alg: &'static agreement::Algorithm) -> (agreement::PrivateKey, Vec<u8>) {
    let private = agreement::PrivateKey::generate(alg).unwrap();
    let spki: PublicKeyX509Der<'static> = private.compute_public_key().unwrap().as_der().unwrap();
    let spki = spki.as_ref().to_vec();
    (private, spki)
}

#[tokio::test]
async fn derived_secrets_match_ecdh_outside_kms() {
    for (kms, t) in transports().await {
        for (spec, alg, len) in [
            ("ECC_NIST_P256", &ECDH_P256, 32usize),
            ("ECC_NIST_P384", &ECDH_P384, 48),
            ("ECC_NIST_P521", &ECDH_P521, 66),
        ] {
            let key = create(&t, spec, "KEY_AGREEMENT").await;
            let kms_public = public_key(&t, &key).await;
            let (private, spki) = peer(alg);
            let out = t
                .call(
                    "DeriveSharedSecret",
                    json!({ "KeyId": key, "KeyAgreementAlgorithm": "ECDH", "PublicKey": b64(&spki) }),
                )
                .await
                .ok();
            assert_eq!(out["KeyId"], key.as_str());
            assert_eq!(out["KeyAgreementAlgorithm"], "ECDH");
            assert_eq!(out["KeyOrigin"], "AWS_KMS");
            let secret = unb64(&out["SharedSecret"]);
            assert_eq!(secret.len(), len);
            // The peer computes the same secret with KMS's public key.
            let theirs = agreement::agree(
                &private,
                agreement::UnparsedPublicKey::new(alg, &kms_public),
                (),
                |s| Ok(s.to_vec()),
            )
            .unwrap();
            assert_eq!(secret, theirs, "{spec}");
            // Another peer, another secret.
            let (_, other) = peer(alg);
            let out2 = t
                .call(
                    "DeriveSharedSecret",
                    json!({ "KeyId": key, "KeyAgreementAlgorithm": "ECDH", "PublicKey": b64(&other) }),
                )
                .await
                .ok();
            assert_ne!(unb64(&out2["SharedSecret"]), secret);
        }

        // Errors.
        let key = create(&t, "ECC_NIST_P256", "KEY_AGREEMENT").await;
        let signing = create(&t, "ECC_NIST_P256", "SIGN_VERIFY").await;
        let (private, spki) = peer(&ECDH_P256);
        let (_, p384) = peer(&ECDH_P384);
        let raw_point = private.compute_public_key().unwrap().as_ref().to_vec();
        let req = json!({ "KeyId": key, "KeyAgreementAlgorithm": "ECDH", "PublicKey": b64(&spki) });
        let with = |member: &str, value: Value| {
            let mut r = req.clone();
            if value.is_null() {
                r.as_object_mut().unwrap().remove(member);
            } else {
                r[member] = value;
            }
            r
        };
        for (member, value) in [
            ("PublicKey", json!(b64(&raw_point))),
            ("PublicKey", json!(b64(&p384))),
            ("PublicKey", json!(b64(b"not a key"))),
            ("PublicKey", json!("")),
            ("PublicKey", json!(b64(&[0u8; 8193]))),
            ("PublicKey", Value::Null),
            ("KeyAgreementAlgorithm", json!("DH")),
            ("KeyAgreementAlgorithm", Value::Null),
            ("KeyId", Value::Null),
        ] {
            t.call("DeriveSharedSecret", with(member, value))
                .await
                .err(400, "ValidationException");
        }
        t.call("DeriveSharedSecret", with("KeyId", json!(signing)))
            .await
            .err(400, "InvalidKeyUsageException");
        t.call("DeriveSharedSecret", with("DryRun", json!(true)))
            .await
            .err(412, "DryRunOperationException");
        t.call("DeriveSharedSecret", with("GrantTokens", json!(["x"])))
            .await
            .err(400, "InvalidGrantTokenException");
        kms.disable_key(&key).unwrap();
        t.call("DeriveSharedSecret", req.clone())
            .await
            .err(409, "DisabledException");
        t.shutdown().await;
    }
}

/// Signs `m` outside KMS with a data key pair's PKCS#8 private key and
/// checks the signature with its SPKI public key.
fn private_matches_public(spec: &str, pkcs8: &[u8], spki: &[u8]) {
    let m = b"signed with the data key pair";
    let rng = SystemRandom::new();
    let (sig, verifier): (Vec<u8>, &'static dyn VerificationAlgorithm) = match spec {
        s if s.starts_with("RSA") => {
            let pair = rsa::KeyPair::from_pkcs8(pkcs8).unwrap();
            assert_eq!(
                pair.public_key().as_der().unwrap().as_ref(),
                spki,
                "{spec}: the private key's public key"
            );
            let bits = match s {
                "RSA_2048" => 2048,
                "RSA_3072" => 3072,
                _ => 4096,
            };
            assert_eq!(pair.public_modulus_len() * 8, bits);
            let mut sig = vec![0u8; pair.public_modulus_len()];
            pair.sign(&signature::RSA_PSS_SHA256, &rng, m, &mut sig)
                .unwrap();
            (sig, &signature::RSA_PSS_2048_8192_SHA256)
        }
        s => {
            let (signing, verifying): (
                &'static signature::EcdsaSigningAlgorithm,
                &'static dyn VerificationAlgorithm,
            ) = match s {
                "ECC_NIST_P256" => (
                    &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
                    &signature::ECDSA_P256_SHA256_ASN1,
                ),
                "ECC_NIST_P384" => (
                    &signature::ECDSA_P384_SHA384_ASN1_SIGNING,
                    &signature::ECDSA_P384_SHA384_ASN1,
                ),
                "ECC_NIST_P521" => (
                    &signature::ECDSA_P521_SHA512_ASN1_SIGNING,
                    &signature::ECDSA_P521_SHA512_ASN1,
                ),
                "ECC_SECG_P256K1" => (
                    &signature::ECDSA_P256K1_SHA256_ASN1_SIGNING,
                    &signature::ECDSA_P256K1_SHA256_ASN1,
                ),
                other => panic!("{other}"),
            };
            let pair = EcdsaKeyPair::from_pkcs8(signing, pkcs8).unwrap();
            assert_eq!(pair.public_key().as_der().unwrap().as_ref(), spki, "{spec}");
            (pair.sign(&rng, m).unwrap().as_ref().to_vec(), verifying)
        }
    };
    UnparsedPublicKey::new(verifier, spki)
        .verify(m, &sig)
        .unwrap_or_else(|_| panic!("{spec}: private and public keys do not match"));
}

#[tokio::test]
async fn data_key_pairs_decrypt_and_match_their_public_keys() {
    for (kms, t) in transports().await {
        let key = create(&t, "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT").await;
        let ctx = json!({ "purpose": "data key pair" });
        let mut specs = vec![
            "ECC_NIST_P256",
            "ECC_NIST_P384",
            "ECC_NIST_P521",
            "ECC_SECG_P256K1",
            "RSA_2048",
        ];
        if matches!(t, Transport::Socket { .. }) {
            specs.extend(["RSA_3072", "RSA_4096"]);
        }
        for spec in specs {
            let out = t
                .call(
                    "GenerateDataKeyPair",
                    json!({ "KeyId": key, "KeyPairSpec": spec, "EncryptionContext": ctx }),
                )
                .await
                .ok();
            assert_eq!(out["KeyId"], key.as_str());
            assert_eq!(out["KeyPairSpec"], spec);
            assert_eq!(out["KeyMaterialId"].as_str().map(str::len), Some(64));
            let pkcs8 = unb64(&out["PrivateKeyPlaintext"]);
            let spki = unb64(&out["PublicKey"]);
            private_matches_public(spec, &pkcs8, &spki);
            // The ciphertext is the private key under the KMS key and context.
            let d = t
                .call(
                    "Decrypt",
                    json!({ "CiphertextBlob": out["PrivateKeyCiphertextBlob"], "EncryptionContext": ctx }),
                )
                .await
                .ok();
            assert_eq!(unb64(&d["Plaintext"]), pkcs8, "{spec}");
            assert_eq!(d["KeyId"], key.as_str());
            t.call(
                "Decrypt",
                json!({ "CiphertextBlob": out["PrivateKeyCiphertextBlob"] }),
            )
            .await
            .err(400, "InvalidCiphertextException");

            let without = t
                .call(
                    "GenerateDataKeyPairWithoutPlaintext",
                    json!({ "KeyId": key, "KeyPairSpec": spec, "EncryptionContext": ctx }),
                )
                .await
                .ok();
            assert!(without.get("PrivateKeyPlaintext").is_none());
            assert_eq!(without["KeyPairSpec"], spec);
            let spki = unb64(&without["PublicKey"]);
            assert_ne!(spki, unb64(&out["PublicKey"]), "a fresh pair each time");
            let d = t
                .call(
                    "Decrypt",
                    json!({ "CiphertextBlob": without["PrivateKeyCiphertextBlob"], "EncryptionContext": ctx }),
                )
                .await
                .ok();
            private_matches_public(spec, &unb64(&d["Plaintext"]), &spki);
        }

        // Errors.
        let asym = create(&t, "ECC_NIST_P256", "SIGN_VERIFY").await;
        let rsa_enc = create(&t, "RSA_2048", "ENCRYPT_DECRYPT").await;
        let hmac = create(&t, "HMAC_256", "GENERATE_VERIFY_MAC").await;
        for op in ["GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext"] {
            let req = |key: &str, spec: &str| json!({ "KeyId": key, "KeyPairSpec": spec });
            for k in [&asym, &rsa_enc, &hmac] {
                t.call(op, req(k, "ECC_NIST_P256"))
                    .await
                    .err(400, "InvalidKeyUsageException");
            }
            for spec in ["SM2", "ECC_NIST_EDWARDS25519", "ML_KEM_512"] {
                t.call(op, req(&key, spec))
                    .await
                    .err(400, "UnsupportedOperationException");
            }
            for bad in [
                req(&key, "RSA_1024"),
                req(&key, "HMAC_256"),
                json!({ "KeyId": key }),
                json!({ "KeyPairSpec": "RSA_2048" }),
            ] {
                t.call(op, bad).await.err(400, "ValidationException");
            }
            let mut dry = req(&key, "RSA_4096");
            dry["DryRun"] = json!(true);
            t.call(op, dry).await.err(412, "DryRunOperationException");
            let mut tokens = req(&key, "ECC_NIST_P256");
            tokens["GrantTokens"] = json!(["bogus"]);
            t.call(op, tokens)
                .await
                .err(400, "InvalidGrantTokenException");
        }
        kms.disable_key(&key).unwrap();
        t.call(
            "GenerateDataKeyPair",
            json!({ "KeyId": key, "KeyPairSpec": "ECC_NIST_P256" }),
        )
        .await
        .err(409, "DisabledException");
        t.shutdown().await;
    }
}

#[tokio::test]
async fn last_usage_follows_successful_cryptography() {
    let clock = TestClock::new();
    let c = clock.clone();
    let kms = LocalKms::builder().clock(Arc::new(move || c.now())).build();
    let t = Transport::socket(&kms).await;
    let call = |op: &'static str, body: Value| {
        let sig = Sig {
            time: clock.now(),
            ..Sig::default()
        };
        let t = &t;
        async move { t.call_with(op, body, &sig).await }
    };
    let secs = |t: std::time::SystemTime| {
        t.duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as f64 / 1000.0
    };
    let created = call("CreateKey", json!({})).await.ok();
    let k1 = created["KeyMetadata"]["Arn"].as_str().unwrap().to_string();
    let k2 = call("CreateKey", json!({})).await.ok()["KeyMetadata"]["Arn"]
        .as_str()
        .unwrap()
        .to_string();
    let usage = || call("GetKeyLastUsage", json!({ "KeyId": k1 }));
    let fresh = usage().await.ok();
    assert_eq!(fresh["KeyId"], created["KeyMetadata"]["KeyId"]);
    assert_eq!(fresh["KeyLastUsage"], json!({}));
    assert_eq!(
        fresh["KeyCreationDate"],
        created["KeyMetadata"]["CreationDate"]
    );
    assert_eq!(fresh["TrackingStartDate"], fresh["KeyCreationDate"]);

    clock.advance(Duration::from_secs(60));
    let enc = call("Encrypt", json!({ "KeyId": k1, "Plaintext": b64(b"x") })).await;
    let blob = enc.ok()["CiphertextBlob"].clone();
    let request_id = enc.headers["x-amzn-requestid"]
        .to_str()
        .unwrap()
        .to_string();
    let used = usage().await.ok();
    assert_eq!(
        used["KeyLastUsage"],
        json!({ "Operation": "Encrypt", "Timestamp": secs(clock.now()), "KmsRequestId": request_id })
    );
    // Failures and dry runs are not uses.
    clock.advance(Duration::from_secs(60));
    call(
        "Decrypt",
        json!({ "CiphertextBlob": blob, "EncryptionContext": { "a": "b" } }),
    )
    .await
    .err(400, "InvalidCiphertextException");
    call(
        "Encrypt",
        json!({ "KeyId": k1, "Plaintext": b64(b"x"), "DryRun": true }),
    )
    .await
    .err(412, "DryRunOperationException");
    assert_eq!(usage().await.ok()["KeyLastUsage"], used["KeyLastUsage"]);
    // ReEncrypt counts for both keys.
    call(
        "ReEncrypt",
        json!({ "CiphertextBlob": blob, "DestinationKeyId": k2 }),
    )
    .await
    .ok();
    for k in [&k1, &k2] {
        let u = call("GetKeyLastUsage", json!({ "KeyId": k })).await.ok();
        assert_eq!(u["KeyLastUsage"]["Operation"], "ReEncrypt");
        assert_eq!(u["KeyLastUsage"]["Timestamp"], secs(clock.now()));
    }
    // Every data-plane operation of the new keys.
    let signing = call(
        "CreateKey",
        json!({ "KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY" }),
    )
    .await
    .ok()["KeyMetadata"]["Arn"]
        .clone();
    let req =
        json!({ "KeyId": signing, "Message": b64(b"m"), "SigningAlgorithm": "ECDSA_SHA_256" });
    let sig = call("Sign", req.clone()).await.ok()["Signature"].clone();
    let last = |key: Value| async move {
        call("GetKeyLastUsage", json!({ "KeyId": key })).await.ok()["KeyLastUsage"]["Operation"]
            .clone()
    };
    assert_eq!(last(signing.clone()).await, "Sign");
    let mut v = req.clone();
    v["Signature"] = sig;
    call("Verify", v).await.ok();
    assert_eq!(last(signing.clone()).await, "Verify");
    call(
        "GenerateDataKeyPairWithoutPlaintext",
        json!({ "KeyId": k2, "KeyPairSpec": "ECC_NIST_P256" }),
    )
    .await
    .ok();
    assert_eq!(last(json!(k2)).await, "GenerateDataKeyPairWithoutPlaintext");
    // Set-up calls have no request id.
    kms.invoke(
        "GenerateDataKey",
        json!({ "KeyId": k2, "KeySpec": "AES_256" }),
    )
    .unwrap();
    let u = kms
        .invoke("GetKeyLastUsage", json!({ "KeyId": k2 }))
        .unwrap();
    assert_eq!(
        u["KeyLastUsage"],
        json!({ "Operation": "GenerateDataKey", "Timestamp": secs(clock.now()) })
    );
    // Key id or key ARN only.
    kms.create_alias("alias/used", &k1).unwrap();
    call("GetKeyLastUsage", json!({ "KeyId": "alias/used" }))
        .await
        .err(404, "NotFoundException");
    call("GetKeyLastUsage", json!({}))
        .await
        .err(400, "ValidationException");
    t.shutdown().await;
}

#[tokio::test]
async fn authorization_grants_and_condition_keys() {
    let app = "arn:aws:iam::111122223333:user/app";
    let pss_only = world::identity(&[json!({
        "Effect": "Allow",
        "Action": ["kms:Sign", "kms:Verify"],
        "Resource": "*",
        "Condition": { "StringEquals": { "kms:SigningAlgorithm": "RSASSA_PSS_SHA_256" } },
    })]);
    let w = Setup::new()
        .principal("app", app)
        .identity(app, &pss_only)
        .principal("bob", "arn:aws:iam::111122223333:user/bob")
        .identity("arn:aws:iam::111122223333:user/bob", world::NOTHING)
        .build()
        .await;
    let rsa = w
        .call(
            "admin",
            "CreateKey",
            json!({ "KeySpec": "RSA_2048", "KeyUsage": "SIGN_VERIFY" }),
        )
        .await
        .ok()["KeyMetadata"]["Arn"]
        .as_str()
        .unwrap()
        .to_string();
    let sign = |alg: &str| json!({ "KeyId": rsa, "Message": b64(b"m"), "SigningAlgorithm": alg });
    w.call("app", "Sign", sign("RSASSA_PSS_SHA_256")).await.ok();
    world::assert_denied(
        &w.call("app", "Sign", sign("RSASSA_PKCS1_V1_5_SHA_256"))
            .await,
        &world::denied(app, "kms:Sign", &rsa, "identity"),
    );
    // The DryRun of a denied request is denied.
    let mut dry = sign("RSASSA_PKCS1_V1_5_SHA_256");
    dry["DryRun"] = json!(true);
    w.call("app", "Sign", dry)
        .await
        .err(400, "AccessDeniedException");

    // Bob has nothing; a grant with its token lets him MAC at once.
    let bob = w.arn("bob");
    let hmac = w
        .call(
            "admin",
            "CreateKey",
            json!({ "KeySpec": "HMAC_512", "KeyUsage": "GENERATE_VERIFY_MAC" }),
        )
        .await
        .ok()["KeyMetadata"]["Arn"]
        .as_str()
        .unwrap()
        .to_string();
    let mac = json!({ "KeyId": hmac, "Message": b64(b"m"), "MacAlgorithm": "HMAC_SHA_512" });
    world::assert_denied(
        &w.call("bob", "GenerateMac", mac.clone()).await,
        &world::denied(&bob, "kms:GenerateMac", &hmac, "identity"),
    );
    let (_, token) = w
        .grant(json!({ "KeyId": hmac, "GranteePrincipal": bob, "Operations": ["GenerateMac"] }))
        .await;
    let mut with_token = mac.clone();
    with_token["GrantTokens"] = json!([token]);
    let out = w.call("bob", "GenerateMac", with_token.clone()).await.ok();
    // Only the granted operation.
    let mut verify = with_token;
    verify["Mac"] = out["Mac"].clone();
    w.call("bob", "VerifyMac", verify)
        .await
        .err(400, "AccessDeniedException");
    // Grant operations must fit the key.
    for (ops, ok) in [
        (json!(["Sign"]), false),
        (json!(["GenerateMac", "VerifyMac", "DescribeKey"]), true),
        (json!(["DeriveSharedSecret"]), false),
    ] {
        let r = w
            .call(
                "admin",
                "CreateGrant",
                json!({ "KeyId": hmac, "GranteePrincipal": bob, "Operations": ops }),
            )
            .await;
        if ok {
            r.ok();
        } else {
            r.err(400, "ValidationException");
        }
    }
    let agree = w
        .call(
            "admin",
            "CreateKey",
            json!({ "KeySpec": "ECC_NIST_P384", "KeyUsage": "KEY_AGREEMENT" }),
        )
        .await
        .ok()["KeyMetadata"]["Arn"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, token) = w
        .grant(json!({ "KeyId": agree, "GranteePrincipal": bob, "Operations": ["DeriveSharedSecret", "GetPublicKey"] }))
        .await;
    let (_, spki) = peer(&ECDH_P384);
    w.call(
        "bob",
        "DeriveSharedSecret",
        json!({
            "KeyId": agree, "KeyAgreementAlgorithm": "ECDH",
            "PublicKey": b64(&spki), "GrantTokens": [token],
        }),
    )
    .await
    .ok();
    w.t.shutdown().await;
}

#[tokio::test]
async fn the_data_plane_takes_from_the_cryptographic_quota() {
    let clock = TestClock::new();
    let c = clock.clone();
    let kms = LocalKms::builder()
        .clock(Arc::new(move || c.now()))
        .quota(Quota::CRYPTOGRAPHIC, RequestRate::per_second(8.0).unwrap())
        .quota(
            Quota::operation("TagResource").unwrap(),
            RequestRate::per_second(1.0).unwrap(),
        )
        .build();
    let t = Transport::in_process(&kms);
    let sig = Sig {
        time: clock.now(),
        ..Sig::default()
    };
    let ecc = |usage| {
        kms.invoke(
            "CreateKey",
            json!({ "KeySpec": "ECC_NIST_P256", "KeyUsage": usage }),
        )
        .unwrap()["KeyMetadata"]["Arn"]
            .clone()
    };
    let (signing, agreeing) = (ecc("SIGN_VERIFY"), ecc("KEY_AGREEMENT"));
    let hmac = kms
        .invoke(
            "CreateKey",
            json!({ "KeySpec": "HMAC_256", "KeyUsage": "GENERATE_VERIFY_MAC" }),
        )
        .unwrap()["KeyMetadata"]["Arn"]
        .clone();
    let sym = kms.invoke("CreateKey", json!({})).unwrap()["KeyMetadata"]["Arn"].clone();
    let signed = kms
        .invoke(
            "Sign",
            json!({ "KeyId": signing, "Message": b64(b"m"), "SigningAlgorithm": "ECDSA_SHA_256" }),
        )
        .unwrap();
    let mac = kms
        .invoke(
            "GenerateMac",
            json!({ "KeyId": hmac, "Message": b64(b"m"), "MacAlgorithm": "HMAC_SHA_256" }),
        )
        .unwrap();
    let (_, spki) = peer(&ECDH_P256);
    let requests: Vec<(&str, Value)> = vec![
        (
            "Sign",
            json!({ "KeyId": signing, "Message": b64(b"m"), "SigningAlgorithm": "ECDSA_SHA_256" }),
        ),
        (
            "Verify",
            json!({ "KeyId": signing, "Message": b64(b"m"), "SigningAlgorithm": "ECDSA_SHA_256", "Signature": signed["Signature"] }),
        ),
        (
            "GenerateMac",
            json!({ "KeyId": hmac, "Message": b64(b"m"), "MacAlgorithm": "HMAC_SHA_256" }),
        ),
        (
            "VerifyMac",
            json!({ "KeyId": hmac, "Message": b64(b"m"), "MacAlgorithm": "HMAC_SHA_256", "Mac": mac["Mac"] }),
        ),
        (
            "DeriveSharedSecret",
            json!({ "KeyId": agreeing, "KeyAgreementAlgorithm": "ECDH", "PublicKey": b64(&spki) }),
        ),
        (
            "GenerateDataKeyPair",
            json!({ "KeyId": sym, "KeyPairSpec": "ECC_NIST_P256" }),
        ),
        (
            "GenerateDataKeyPairWithoutPlaintext",
            json!({ "KeyId": sym, "KeyPairSpec": "ECC_NIST_P256" }),
        ),
        // Unmodelled, and cryptographic too.
        (
            "Encapsulate",
            json!({ "KeyId": sym, "EncapsulationAlgorithm": "ML_KEM" }),
        ),
    ];
    for (op, body) in requests.iter().cloned() {
        let r = t.call_with(op, body, &sig).await;
        if op == "Encapsulate" {
            r.err(400, "InvalidKeyUsageException");
        } else {
            r.ok();
        }
    }
    // The quota of eight is spent: each of them is throttled now.
    for (op, body) in requests {
        t.call_with(op, body, &sig)
            .await
            .err(400, "ThrottlingException");
    }
    // TagResource has a quota of its own.
    let tag = json!({ "KeyId": sym, "Tags": [{ "TagKey": "a", "TagValue": "b" }] });
    t.call_with("TagResource", tag.clone(), &sig).await.ok();
    t.call_with("TagResource", tag, &sig)
        .await
        .err(400, "ThrottlingException");
    let stats = kms.stats();
    assert_eq!(stats.operation("Sign").served, 1);
    assert_eq!(stats.operation("Sign").throttled, 1);
    assert_eq!(stats.operation("TagResource").throttled, 1);
    assert_eq!((stats.served, stats.throttled), (9, 9));
}
