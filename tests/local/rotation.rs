//! Key rotation: the five rotation operations (shapes and errors), key
//! materials through Encrypt, Decrypt, GenerateDataKey and ReEncrypt (raw
//! requests and the crate's client), automatic rotation as the injected clock
//! moves, the on-demand limit and conflict, ListKeyRotations paging. Requests
//! are signed by aws-sigv4 at the clock's time, in-process and over 127.0.0.1.

use crate::common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use common::{Reply, Sig, Transport, b64, unb64};
use serde_json::{Value, json};
use tower_kms::local::LocalKms;
use tower_kms::{Credentials, KeySpec, KeyUsageType, KmsClient, ReEncryptRequest};

const DAY: u64 = 86_400;

/// A clock the test moves forward: a whole second near the real time when it
/// was made, plus what the test added. Requests are signed at its time.
#[derive(Clone)]
struct Clock {
    start: SystemTime,
    added: Arc<AtomicU64>,
}

impl Clock {
    fn new() -> Self {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        Self {
            start: UNIX_EPOCH + Duration::from_secs(secs),
            added: Arc::default(),
        }
    }

    fn now(&self) -> SystemTime {
        self.at(self.added.load(Ordering::SeqCst))
    }

    /// The start plus `secs` seconds.
    fn at(&self, secs: u64) -> SystemTime {
        self.start + Duration::from_secs(secs)
    }

    /// Moves the clock to the start plus `secs` seconds (forward only).
    fn set(&self, secs: u64) {
        let before = self.added.swap(secs, Ordering::SeqCst);
        assert!(secs >= before, "the test clock only moves forward");
    }
}

/// Seconds since the epoch, as KMS's JSON timestamps.
fn epoch(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH).unwrap().as_secs_f64()
}

/// A local KMS on the test clock, behind a transport.
struct Env {
    kms: LocalKms,
    clock: Clock,
    t: Transport,
}

impl Env {
    fn make(clock: &Clock) -> LocalKms {
        let c = clock.clone();
        LocalKms::builder().clock(Arc::new(move || c.now())).build()
    }

    fn in_process() -> Self {
        let clock = Clock::new();
        let kms = Self::make(&clock);
        let t = Transport::in_process(&kms);
        Self { kms, clock, t }
    }

    async fn socket() -> Self {
        let clock = Clock::new();
        let kms = Self::make(&clock);
        let t = Transport::socket(&kms).await;
        Self { kms, clock, t }
    }

    /// One environment per transport.
    async fn each() -> Vec<Self> {
        vec![Self::in_process(), Self::socket().await]
    }

    async fn call(&self, op: &str, body: Value) -> Reply {
        let sig = Sig {
            time: self.clock.now(),
            ..Sig::default()
        };
        self.t.call_with(op, body, &sig).await
    }

    fn key(&self, spec: KeySpec, usage: KeyUsageType) -> String {
        self.kms.create_key(spec, usage).unwrap()
    }

    fn symmetric(&self) -> String {
        self.key(KeySpec::SymmetricDefault, KeyUsageType::EncryptDecrypt)
    }

    async fn status(&self, key: &str) -> Value {
        self.call("GetKeyRotationStatus", json!({ "KeyId": key }))
            .await
            .ok()
    }

    /// `CurrentKeyMaterialId` from DescribeKey.
    async fn current(&self, key: &str) -> String {
        let d = self.call("DescribeKey", json!({ "KeyId": key })).await.ok();
        d["KeyMetadata"]["CurrentKeyMaterialId"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Every entry of ListKeyRotations, page by page (`limit` per page).
    async fn rotations(&self, key: &str, include: Option<&str>, limit: u32) -> Vec<Value> {
        let mut all = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let mut body = json!({ "KeyId": key, "Limit": limit });
            if let Some(i) = include {
                body["IncludeKeyMaterial"] = json!(i);
            }
            if let Some(m) = &marker {
                body["Marker"] = json!(m);
            }
            let page = self.call("ListKeyRotations", body).await.ok();
            let entries = page["Rotations"].as_array().unwrap();
            assert!(entries.len() <= limit as usize);
            all.extend(entries.iter().cloned());
            if page["Truncated"] == json!(true) {
                marker = Some(page["NextMarker"].as_str().unwrap().to_string());
            } else {
                assert!(page.get("NextMarker").is_none(), "{page}");
                return all;
            }
        }
    }

    async fn encrypt(&self, key: &str, pt: &[u8]) -> String {
        let out = self
            .call(
                "Encrypt",
                json!({ "KeyId": key, "Plaintext": b64(pt), "EncryptionContext": { "app": "rot" } }),
            )
            .await
            .ok();
        // Encrypt's response has no KeyMaterialId (the model has none).
        assert!(out.get("KeyMaterialId").is_none(), "{out}");
        out["CiphertextBlob"].as_str().unwrap().to_string()
    }

    /// Decrypts `blob`: (plaintext, KeyMaterialId).
    async fn decrypt(&self, blob: &str) -> (Vec<u8>, String) {
        let out = self
            .call(
                "Decrypt",
                json!({ "CiphertextBlob": blob, "EncryptionContext": { "app": "rot" } }),
            )
            .await
            .ok();
        (
            unb64(&out["Plaintext"]),
            out["KeyMaterialId"].as_str().unwrap().to_string(),
        )
    }
}

fn key_id(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap()
}

/// The key material id a symmetric blob names (bytes 17..49, version 2).
fn blob_material(blob: &str) -> String {
    let raw = unb64(&json!(blob));
    assert_eq!(raw[0], 0xA2);
    raw[17..49].iter().map(|b| format!("{b:02x}")).collect()
}

#[track_caller]
fn assert_material_id(id: &str) {
    assert_eq!(id.len(), 64, "{id}");
    assert!(
        id.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "{id}"
    );
}

#[tokio::test]
async fn rotation_operations_shapes_and_errors() {
    for e in Env::each().await {
        let k = e.symmetric();
        let id = key_id(&k);
        // Off by default: KeyId and the flag only.
        assert_eq!(
            e.status(&k).await,
            json!({ "KeyId": id, "KeyRotationEnabled": false })
        );
        let r = e.call("EnableKeyRotation", json!({ "KeyId": k })).await;
        assert_eq!(r.ok(), json!({}));
        let t0 = e.clock.now();
        assert_eq!(
            e.status(id).await,
            json!({
                "KeyId": id,
                "KeyRotationEnabled": true,
                "RotationPeriodInDays": 365,
                "NextRotationDate": epoch(t0 + Duration::from_secs(365 * DAY)),
            })
        );
        // Calling again changes the period, from the same start.
        e.clock.set(10 * DAY);
        e.call(
            "EnableKeyRotation",
            json!({ "KeyId": id, "RotationPeriodInDays": 90 }),
        )
        .await
        .ok();
        let s = e.status(&k).await;
        assert_eq!(s["RotationPeriodInDays"], 90);
        assert_eq!(
            s["NextRotationDate"],
            epoch(t0 + Duration::from_secs(90 * DAY))
        );
        // The same period again changes nothing.
        e.clock.set(20 * DAY);
        e.call(
            "EnableKeyRotation",
            json!({ "KeyId": k, "RotationPeriodInDays": 90 }),
        )
        .await
        .ok();
        assert_eq!(e.status(&k).await, s);
        // The period's bounds.
        let other = e.symmetric();
        for days in [90, 2560] {
            e.call(
                "EnableKeyRotation",
                json!({ "KeyId": other, "RotationPeriodInDays": days }),
            )
            .await
            .ok();
            assert_eq!(e.status(&other).await["RotationPeriodInDays"], days);
        }
        for (days, bound) in [
            (json!(89), "greater than or equal to 90"),
            (json!(0), "greater than or equal to 90"),
            (json!(-1), "greater than or equal to 90"),
            (json!(2561), "less than or equal to 2560"),
            (json!(1_000_000_000_000i64), "less than or equal to 2560"),
        ] {
            let err = e
                .call(
                    "EnableKeyRotation",
                    json!({ "KeyId": k, "RotationPeriodInDays": days }),
                )
                .await
                .err(400, "ValidationException");
            let msg = err["message"].as_str().unwrap();
            assert!(
                msg.contains("'rotationPeriodInDays'") && msg.contains(bound),
                "{msg}"
            );
        }
        e.call(
            "EnableKeyRotation",
            json!({ "KeyId": k, "RotationPeriodInDays": "ninety" }),
        )
        .await
        .err(400, "SerializationException");
        assert_eq!(e.status(&k).await, s);

        // Every operation: KeyId required, known, a key id or key ARN.
        let alias = "alias/rotating";
        e.kms.create_alias(alias, &k).unwrap();
        for op in [
            "EnableKeyRotation",
            "DisableKeyRotation",
            "GetKeyRotationStatus",
            "RotateKeyOnDemand",
            "ListKeyRotations",
        ] {
            e.call(op, json!({})).await.err(400, "ValidationException");
            e.call(op, json!({ "KeyId": "" }))
                .await
                .err(400, "ValidationException");
            e.call(
                op,
                json!({ "KeyId": "1234abcd-12ab-34cd-56ef-1234567890ab" }),
            )
            .await
            .err(404, "NotFoundException");
            e.call(op, json!({ "KeyId": alias }))
                .await
                .err(404, "NotFoundException");
            e.call(op, json!({ "KeyId": "arn:aws:s3:::bucket" }))
                .await
                .err(400, "InvalidArnException");
            e.call(op, json!([1]))
                .await
                .err(400, "SerializationException");
        }

        // DisableKeyRotation: back to the flag only.
        let r = e.call("DisableKeyRotation", json!({ "KeyId": k })).await;
        assert_eq!(r.ok(), json!({}));
        assert_eq!(
            e.status(&k).await,
            json!({ "KeyId": id, "KeyRotationEnabled": false })
        );
        // Disabling twice is fine.
        e.call("DisableKeyRotation", json!({ "KeyId": k }))
            .await
            .ok();

        // A disabled key: no changes, but its status and rotations answer,
        // the status unchanged.
        e.call("EnableKeyRotation", json!({ "KeyId": k }))
            .await
            .ok();
        let enabled = e.status(&k).await;
        e.kms.disable_key(&k).unwrap();
        for op in [
            "EnableKeyRotation",
            "DisableKeyRotation",
            "RotateKeyOnDemand",
        ] {
            let err = e
                .call(op, json!({ "KeyId": k }))
                .await
                .err(409, "DisabledException");
            assert_eq!(err["message"], format!("{k} is disabled."));
        }
        assert_eq!(e.status(&k).await, enabled);
        assert_eq!(e.rotations(&k, None, 100).await, Vec::<Value>::new());

        // Pending deletion: KMSInvalidStateException; the status reads false
        // and comes back when the deletion is cancelled.
        e.kms.schedule_key_deletion(&k, 7).unwrap();
        for op in [
            "EnableKeyRotation",
            "DisableKeyRotation",
            "RotateKeyOnDemand",
        ] {
            let err = e
                .call(op, json!({ "KeyId": k }))
                .await
                .err(409, "KMSInvalidStateException");
            assert_eq!(err["message"], format!("{k} is pending deletion."));
        }
        assert_eq!(
            e.status(&k).await,
            json!({ "KeyId": id, "KeyRotationEnabled": false })
        );
        assert_eq!(
            e.rotations(&k, Some("ALL_KEY_MATERIAL"), 100).await.len(),
            1
        );
        e.kms.cancel_key_deletion(&k).unwrap();
        assert_eq!(e.status(&k).await, enabled);
        e.t.shutdown().await;
    }
}

#[tokio::test]
async fn only_symmetric_encryption_keys_rotate() {
    let e = Env::in_process();
    for (spec, usage) in [
        (KeySpec::Rsa2048, KeyUsageType::EncryptDecrypt),
        (KeySpec::Rsa2048, KeyUsageType::SignVerify),
        (KeySpec::EccNistP256, KeyUsageType::SignVerify),
    ] {
        let k = e.key(spec.clone(), usage);
        for op in [
            "EnableKeyRotation",
            "DisableKeyRotation",
            "RotateKeyOnDemand",
        ] {
            let err = e
                .call(op, json!({ "KeyId": k }))
                .await
                .err(400, "UnsupportedOperationException");
            let msg = err["message"].as_str().unwrap();
            assert!(
                msg.starts_with(&k)
                    && msg.contains(&format!("KeySpec {}", spec.as_str()))
                    && msg.contains("only symmetric encryption KMS keys"),
                "{msg}"
            );
        }
        // The status of a key that cannot rotate is false, as KMS documents.
        assert_eq!(
            e.status(&k).await,
            json!({ "KeyId": key_id(&k), "KeyRotationEnabled": false })
        );
        // No rotations; IncludeKeyMaterial is for keys that can rotate.
        assert_eq!(e.rotations(&k, None, 10).await, Vec::<Value>::new());
        for include in ["ALL_KEY_MATERIAL", "ROTATIONS_ONLY"] {
            e.call(
                "ListKeyRotations",
                json!({ "KeyId": k, "IncludeKeyMaterial": include }),
            )
            .await
            .err(400, "UnsupportedOperationException");
        }
        // No key material ids anywhere.
        let d = e.call("DescribeKey", json!({ "KeyId": k })).await.ok();
        assert!(d["KeyMetadata"].get("CurrentKeyMaterialId").is_none());
    }
}

/// The crate's client with `kms` as its connector (in-process).
fn client(kms: &LocalKms) -> KmsClient {
    KmsClient::builder()
        .region("us-east-1")
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .connector(kms.clone())
        .build()
        .unwrap()
}

#[tokio::test]
async fn old_blobs_decrypt_after_rotations_and_material_ids_move() {
    // The system clock here: the crate's client signs with it (and the
    // requests signed here at a clock fixed near it are well within the
    // five minutes SigV4 allows).
    let kms = LocalKms::new();
    let t = Transport::socket(&kms).await;
    let kms_client = client(&kms);
    let e = Env {
        kms: kms.clone(),
        clock: Clock::new(),
        t,
    };
    let k = e.symmetric();
    let m0 = e.current(&k).await;
    assert_material_id(&m0);
    let blob0 = e.encrypt(&k, b"before any rotation").await;
    assert_eq!(blob_material(&blob0), m0);
    let gdk0 = e
        .call(
            "GenerateDataKey",
            json!({ "KeyId": k, "KeySpec": "AES_256" }),
        )
        .await
        .ok();
    assert_eq!(gdk0["KeyMaterialId"], m0.as_str());

    // Rotate on demand: done when the call returns.
    let r = e
        .call("RotateKeyOnDemand", json!({ "KeyId": k }))
        .await
        .ok();
    assert_eq!(r, json!({ "KeyId": key_id(&k) }));
    let m1 = e.current(&k).await;
    assert_material_id(&m1);
    assert_ne!(m1, m0);
    assert!(
        e.call("GetKeyRotationStatus", json!({ "KeyId": k }))
            .await
            .ok()
            .get("OnDemandRotationStartDate")
            .is_none()
    );

    // The old blob decrypts, reporting the old material.
    assert_eq!(
        e.decrypt(&blob0).await,
        (b"before any rotation".to_vec(), m0.clone())
    );
    // Encrypt now uses the new material.
    let blob1 = e.encrypt(&k, b"after one").await;
    assert_eq!(blob_material(&blob1), m1);
    assert_eq!(e.decrypt(&blob1).await, (b"after one".to_vec(), m1.clone()));
    // So do both GenerateDataKey operations; the old data key still decrypts.
    for op in ["GenerateDataKey", "GenerateDataKeyWithoutPlaintext"] {
        let out = e
            .call(op, json!({ "KeyId": k, "NumberOfBytes": 32 }))
            .await
            .ok();
        assert_eq!(out["KeyMaterialId"], m1.as_str());
        let blob = out["CiphertextBlob"].as_str().unwrap();
        assert_eq!(blob_material(blob), m1);
        let d = e
            .call("Decrypt", json!({ "CiphertextBlob": blob }))
            .await
            .ok();
        assert_eq!(d["KeyMaterialId"], m1.as_str());
        if op == "GenerateDataKey" {
            assert_eq!(d["Plaintext"], out["Plaintext"]);
        }
    }
    let d = e
        .call(
            "Decrypt",
            json!({ "CiphertextBlob": gdk0["CiphertextBlob"] }),
        )
        .await
        .ok();
    assert_eq!(d["Plaintext"], gdk0["Plaintext"]);
    assert_eq!(d["KeyMaterialId"], m0.as_str());

    // Two more rotations: every blob decrypts with the material that made it.
    let mut blobs = vec![(blob0.clone(), m0.clone()), (blob1, m1.clone())];
    for round in 2..4 {
        e.call("RotateKeyOnDemand", json!({ "KeyId": k }))
            .await
            .ok();
        let m = e.current(&k).await;
        let blob = e.encrypt(&k, &[round]).await;
        blobs.push((blob, m));
    }
    let ids: BTreeSet<&String> = blobs.iter().map(|(_, m)| m).collect();
    assert_eq!(ids.len(), 4);
    for (blob, m) in &blobs {
        assert_eq!(&e.decrypt(blob).await.1, m);
    }
    let m3 = blobs[3].1.clone();
    assert_eq!(e.current(&k).await, m3);

    // ReEncrypt to the same key moves an old blob to the current material,
    // over the wire...
    let out = e
        .call(
            "ReEncrypt",
            json!({
                "CiphertextBlob": blob0,
                "SourceEncryptionContext": { "app": "rot" },
                "DestinationKeyId": k,
                "DestinationEncryptionContext": { "app": "rot" },
            }),
        )
        .await
        .ok();
    assert_eq!(out["SourceKeyId"], k.as_str());
    assert_eq!(out["KeyId"], k.as_str());
    assert_eq!(out["SourceKeyMaterialId"], m0.as_str());
    assert_eq!(out["DestinationKeyMaterialId"], m3.as_str());
    let moved = out["CiphertextBlob"].as_str().unwrap();
    assert_eq!(blob_material(moved), m3);
    assert_eq!(
        e.decrypt(moved).await,
        (b"before any rotation".to_vec(), m3.clone())
    );

    // ...and through the crate's client (source key inferred from the blob).
    for (blob, m) in &blobs {
        let req = ReEncryptRequest::builder()
            .ciphertext_blob(Bytes::from(unb64(&json!(blob))))
            .source_encryption_context("app", "rot")
            .destination_key_id(&k)
            .destination_encryption_context("app", "moved")
            .build()
            .unwrap();
        let out = kms_client.re_encrypt(req).await.unwrap();
        assert_eq!(out.source_key_id.as_deref(), Some(k.as_str()));
        assert_eq!(out.source_key_material_id.as_deref(), Some(m.as_str()));
        assert_eq!(
            out.destination_key_material_id.as_deref(),
            Some(m3.as_str())
        );
        let moved = b64(&out.ciphertext_blob.unwrap());
        assert_eq!(blob_material(&moved), m3);
    }

    // To another key: the source material is the blob's, the destination
    // material the other key's current one.
    let other = e.symmetric();
    let out = e
        .call(
            "ReEncrypt",
            json!({
                "CiphertextBlob": blobs[1].0,
                "SourceEncryptionContext": { "app": "rot" },
                "DestinationKeyId": other,
            }),
        )
        .await
        .ok();
    assert_eq!(out["SourceKeyMaterialId"], m1.as_str());
    assert_eq!(
        out["DestinationKeyMaterialId"],
        e.current(&other).await.as_str()
    );

    // A blob naming a material the key never had, or one of its materials
    // it was not made with: InvalidCiphertextException.
    let mut raw = unb64(&json!(blobs[0].0));
    raw[17..49].copy_from_slice(&[0x5a; 32]);
    e.call(
        "Decrypt",
        json!({ "CiphertextBlob": b64(&raw), "EncryptionContext": { "app": "rot" } }),
    )
    .await
    .err(400, "InvalidCiphertextException");
    let m2 = &blobs[2].1;
    for (i, pair) in m2.as_bytes().chunks(2).enumerate() {
        raw[17 + i] = u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap();
    }
    e.call(
        "Decrypt",
        json!({ "CiphertextBlob": b64(&raw), "EncryptionContext": { "app": "rot" } }),
    )
    .await
    .err(400, "InvalidCiphertextException");
    e.t.shutdown().await;
}

#[tokio::test]
async fn automatic_rotation_happens_when_the_clock_passes_the_period() {
    for e in Env::each().await {
        let k = e.symmetric();
        let idle = e.symmetric();
        let m0 = e.current(&k).await;
        let blob0 = e.encrypt(&k, b"old").await;
        e.call(
            "EnableKeyRotation",
            json!({ "KeyId": k, "RotationPeriodInDays": 90 }),
        )
        .await
        .ok();

        // One second before the period: nothing.
        e.clock.set(90 * DAY - 1);
        assert_eq!(e.rotations(&k, None, 100).await, Vec::<Value>::new());
        assert_eq!(e.current(&k).await, m0);
        assert_eq!(
            e.status(&k).await["NextRotationDate"],
            epoch(e.clock.at(90 * DAY))
        );

        // At the period: one automatic rotation, dated then.
        e.clock.set(90 * DAY);
        let r = e.rotations(&k, None, 100).await;
        let m1 = e.current(&k).await;
        assert_ne!(m1, m0);
        assert_eq!(
            r,
            [json!({
                "KeyId": key_id(&k),
                "KeyMaterialId": m1,
                "KeyMaterialState": "CURRENT",
                "RotationDate": epoch(e.clock.at(90 * DAY)),
                "RotationType": "AUTOMATIC",
            })]
        );
        assert_eq!(
            e.status(&k).await["NextRotationDate"],
            epoch(e.clock.at(180 * DAY))
        );
        assert_eq!(blob_material(&e.encrypt(&k, b"new").await), m1);

        // Three more periods pass with no request: three rotations, each
        // dated when it was due.
        e.clock.set(4 * 90 * DAY + 5);
        let r = e.rotations(&k, None, 100).await;
        let dates: Vec<f64> = r
            .iter()
            .map(|x| x["RotationDate"].as_f64().unwrap())
            .collect();
        let due: Vec<f64> = (1..=4).map(|n| epoch(e.clock.at(n * 90 * DAY))).collect();
        assert_eq!(dates, due);
        assert!(r.iter().all(|x| x["RotationType"] == "AUTOMATIC"));
        assert_eq!(
            e.status(&k).await["NextRotationDate"],
            epoch(e.clock.at(5 * 90 * DAY))
        );
        // The first blob still decrypts with the first material.
        assert_eq!(e.decrypt(&blob0).await, (b"old".to_vec(), m0.clone()));
        // A key without automatic rotation did not rotate.
        assert_eq!(e.rotations(&idle, None, 100).await, Vec::<Value>::new());

        // Disabling automatic rotation stops it.
        e.call("DisableKeyRotation", json!({ "KeyId": k }))
            .await
            .ok();
        e.clock.set(10 * 90 * DAY);
        assert_eq!(e.rotations(&k, None, 100).await.len(), 4);
        e.t.shutdown().await;
    }
}

#[tokio::test]
async fn keys_that_were_not_enabled_rotate_once_when_enabled_again() {
    let e = Env::socket().await;
    // Disabled past its rotation date.
    let late = e.symmetric();
    // Disabled, enabled again before its rotation date.
    let early = e.symmetric();
    // Pending deletion past its rotation date, then cancelled and enabled.
    let pending = e.symmetric();
    for k in [&late, &early, &pending] {
        e.call(
            "EnableKeyRotation",
            json!({ "KeyId": k, "RotationPeriodInDays": 90 }),
        )
        .await
        .ok();
    }
    e.clock.set(10 * DAY);
    e.kms.disable_key(&late).unwrap();
    e.kms.disable_key(&early).unwrap();
    e.kms.schedule_key_deletion(&pending, 30).unwrap();

    e.clock.set(20 * DAY);
    e.kms.enable_key(&early).unwrap();
    e.clock.set(39 * DAY);
    e.kms.cancel_key_deletion(&pending).unwrap();

    // Far past the rotation date: the disabled keys did not rotate, and say
    // their rotation was due.
    e.clock.set(400 * DAY);
    for k in [&late, &pending] {
        assert_eq!(e.rotations(k, None, 100).await, Vec::<Value>::new());
        let s = e.status(k).await;
        assert_eq!(s["KeyRotationEnabled"], true);
        assert_eq!(s["NextRotationDate"], epoch(e.clock.at(90 * DAY)));
    }
    // The one enabled all along rotated on schedule, four times.
    assert_eq!(e.rotations(&early, None, 100).await.len(), 4);

    // Enabled again: one rotation at once, and the schedule starts over.
    e.clock.set(400 * DAY + 3);
    for k in [&late, &pending] {
        let before = e.current(k).await;
        e.call("EnableKey", json!({ "KeyId": k })).await.ok();
        let r = e.rotations(k, None, 100).await;
        assert_eq!(r.len(), 1, "{r:?}");
        assert_eq!(r[0]["RotationType"], "AUTOMATIC");
        assert_eq!(r[0]["RotationDate"], epoch(e.clock.at(400 * DAY + 3)));
        assert_ne!(e.current(k).await, before);
        assert_eq!(
            e.status(k).await["NextRotationDate"],
            epoch(e.clock.at(490 * DAY + 3))
        );
    }
    // EnableKey on an enabled key changes nothing.
    e.call("EnableKey", json!({ "KeyId": late })).await.ok();
    assert_eq!(e.rotations(&late, None, 100).await.len(), 1);
    e.t.shutdown().await;
}

#[tokio::test]
async fn a_shorter_period_already_passed_rotates_at_once() {
    let e = Env::in_process();
    let k = e.symmetric();
    e.call("EnableKeyRotation", json!({ "KeyId": k }))
        .await
        .ok();
    e.clock.set(100 * DAY);
    assert_eq!(e.rotations(&k, None, 100).await, Vec::<Value>::new());
    // 90 days have passed since rotation was enabled: rotate now.
    e.call(
        "EnableKeyRotation",
        json!({ "KeyId": k, "RotationPeriodInDays": 90 }),
    )
    .await
    .ok();
    let r = e.rotations(&k, None, 100).await;
    assert_eq!(r.len(), 1);
    assert_eq!(r[0]["RotationType"], "AUTOMATIC");
    assert_eq!(r[0]["RotationDate"], epoch(e.clock.at(100 * DAY)));
    assert_eq!(
        e.status(&k).await["NextRotationDate"],
        epoch(e.clock.at(190 * DAY))
    );
    // A longer period counts from that rotation.
    e.clock.set(120 * DAY);
    e.call(
        "EnableKeyRotation",
        json!({ "KeyId": k, "RotationPeriodInDays": 180 }),
    )
    .await
    .ok();
    assert_eq!(
        e.status(&k).await["NextRotationDate"],
        epoch(e.clock.at(280 * DAY))
    );
    assert_eq!(e.rotations(&k, None, 100).await.len(), 1);
}

#[tokio::test]
async fn on_demand_rotations_stop_at_25() {
    let e = Env::in_process();
    let k = e.symmetric();
    let blob0 = e.encrypt(&k, b"first").await;
    let mut ids = BTreeSet::new();
    for _ in 0..25 {
        e.call("RotateKeyOnDemand", json!({ "KeyId": k }))
            .await
            .ok();
        assert!(ids.insert(e.current(&k).await));
    }
    let current = e.current(&k).await;
    let err = e
        .call("RotateKeyOnDemand", json!({ "KeyId": k }))
        .await
        .err(400, "LimitExceededException");
    assert!(
        err["message"].as_str().unwrap().contains("25"),
        "{}",
        err["message"]
    );
    // Nothing changed.
    assert_eq!(e.current(&k).await, current);
    let r = e.rotations(&k, None, 1000).await;
    assert_eq!(r.len(), 25);
    assert!(r.iter().all(|x| x["RotationType"] == "ON_DEMAND"));
    assert_eq!(e.decrypt(&blob0).await.0, b"first");
    // Automatic rotation does not count against the limit, and still runs.
    e.call(
        "EnableKeyRotation",
        json!({ "KeyId": k, "RotationPeriodInDays": 90 }),
    )
    .await
    .ok();
    e.clock.set(90 * DAY);
    let r = e.rotations(&k, None, 1000).await;
    assert_eq!(r.len(), 26);
    assert_eq!(r[25]["RotationType"], "AUTOMATIC");
    // Another key has its own 25.
    let other = e.symmetric();
    e.call("RotateKeyOnDemand", json!({ "KeyId": other }))
        .await
        .ok();
}

#[tokio::test]
async fn on_demand_rotation_conflicts_with_an_automatic_one_due_within_20_minutes() {
    let e = Env::in_process();
    let k = e.symmetric();
    e.call(
        "EnableKeyRotation",
        json!({ "KeyId": k, "RotationPeriodInDays": 90 }),
    )
    .await
    .ok();
    let next = 90 * DAY;
    // 20 minutes and a second before: fine, and the schedule stays.
    e.clock.set(next - 20 * 60 - 1);
    e.call("RotateKeyOnDemand", json!({ "KeyId": k }))
        .await
        .ok();
    assert_eq!(
        e.status(&k).await["NextRotationDate"],
        epoch(e.clock.at(next))
    );
    // 20 minutes before, and later: ConflictException.
    for at in [next - 20 * 60, next - 1] {
        e.clock.set(at);
        e.call("RotateKeyOnDemand", json!({ "KeyId": k }))
            .await
            .err(400, "ConflictException");
    }
    assert_eq!(e.rotations(&k, None, 100).await.len(), 1);
    // Once the automatic rotation has happened, on demand works again.
    e.clock.set(next);
    e.call("RotateKeyOnDemand", json!({ "KeyId": k }))
        .await
        .ok();
    let types: Vec<Value> = e
        .rotations(&k, None, 100)
        .await
        .iter()
        .map(|x| x["RotationType"].clone())
        .collect();
    assert_eq!(
        types,
        [json!("ON_DEMAND"), json!("AUTOMATIC"), json!("ON_DEMAND")]
    );
    // Without automatic rotation there is no conflict.
    let plain = e.symmetric();
    e.call("RotateKeyOnDemand", json!({ "KeyId": plain }))
        .await
        .ok();
}

#[tokio::test]
async fn list_key_rotations_pages_and_include_key_material() {
    for e in Env::each().await {
        let k = e.symmetric();
        let id = key_id(&k);
        let m0 = e.current(&k).await;
        // A fresh key: no rotations; all key material is the first one.
        assert_eq!(e.rotations(&k, None, 10).await, Vec::<Value>::new());
        assert_eq!(
            e.rotations(&k, Some("ALL_KEY_MATERIAL"), 10).await,
            [json!({ "KeyId": id, "KeyMaterialId": m0, "KeyMaterialState": "CURRENT" })]
        );

        // Five rotations, a day apart.
        let mut expected = Vec::new();
        for n in 1..=5 {
            e.clock.set(n * DAY);
            e.call("RotateKeyOnDemand", json!({ "KeyId": k }))
                .await
                .ok();
            expected.push((e.current(&k).await, epoch(e.clock.at(n * DAY))));
        }
        let full = e.rotations(&k, None, 100).await;
        assert_eq!(full.len(), 5);
        for (i, (entry, (m, date))) in full.iter().zip(&expected).enumerate() {
            let state = if i == 4 { "CURRENT" } else { "NON_CURRENT" };
            assert_eq!(
                entry,
                &json!({
                    "KeyId": id,
                    "KeyMaterialId": m,
                    "KeyMaterialState": state,
                    "RotationDate": date,
                    "RotationType": "ON_DEMAND",
                })
            );
        }
        // ROTATIONS_ONLY is the default.
        assert_eq!(e.rotations(&k, Some("ROTATIONS_ONLY"), 100).await, full);
        // Pages of two: 2, 2, 1, with markers; the same entries.
        let first = e
            .call("ListKeyRotations", json!({ "KeyId": k, "Limit": 2 }))
            .await
            .ok();
        assert_eq!(first["Truncated"], true);
        assert_eq!(first["Rotations"].as_array().unwrap().len(), 2);
        for limit in [1, 2, 3, 5, 1000] {
            assert_eq!(e.rotations(&k, None, limit).await, full, "{limit}");
        }
        let last = e
            .call(
                "ListKeyRotations",
                json!({ "KeyId": k, "Limit": 2, "Marker": "4" }),
            )
            .await
            .ok();
        assert_eq!(
            last,
            json!({ "Rotations": [full[4].clone()], "Truncated": false })
        );
        // A marker past the end: nothing more.
        let past = e
            .call("ListKeyRotations", json!({ "KeyId": k, "Marker": "99" }))
            .await
            .ok();
        assert_eq!(past, json!({ "Rotations": [], "Truncated": false }));
        // ALL_KEY_MATERIAL adds the first material, without rotation fields.
        let all = e.rotations(&k, Some("ALL_KEY_MATERIAL"), 4).await;
        assert_eq!(all.len(), 6);
        assert_eq!(
            all[0],
            json!({ "KeyId": id, "KeyMaterialId": m0, "KeyMaterialState": "NON_CURRENT" })
        );
        assert_eq!(all[1..], full[..]);

        // Request errors.
        for bad in [json!(0), json!(1001), json!(-5)] {
            e.call("ListKeyRotations", json!({ "KeyId": k, "Limit": bad }))
                .await
                .err(400, "ValidationException");
        }
        e.call("ListKeyRotations", json!({ "KeyId": k, "Limit": "ten" }))
            .await
            .err(400, "SerializationException");
        for bad in ["abc", "", "-1"] {
            e.call("ListKeyRotations", json!({ "KeyId": k, "Marker": bad }))
                .await
                .err(400, "InvalidMarkerException");
        }
        let err = e
            .call(
                "ListKeyRotations",
                json!({ "KeyId": k, "IncludeKeyMaterial": "ALL" }),
            )
            .await
            .err(400, "ValidationException");
        assert!(
            err["message"]
                .as_str()
                .unwrap()
                .contains("[ALL_KEY_MATERIAL, ROTATIONS_ONLY]")
        );
        e.t.shutdown().await;
    }
}
