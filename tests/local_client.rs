//! The ReEncrypt rules of the local KMS through the real client stack
//! (protocol, retry, SigV4, hyper-util connector) over a 127.0.0.1 socket, and
//! in-process as the client's connector; and a throttling local KMS as the
//! client sees it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use serde_json::{Value, json};
use tower_kms::local::{
    DEFAULT_ACCESS_KEY_ID, DEFAULT_SECRET_ACCESS_KEY, LocalKms, LocalKmsServer, Quota, RequestLog,
    RequestRate,
};
use tower_kms::retry::RetryConfig;
use tower_kms::sign::FixedClock;
use tower_kms::{
    DecryptRequest, DryRunModifierType, EncryptRequest, EncryptionAlgorithmSpec, KeySpec, KeyState,
    KeyUsageType, KmsClient, KmsError, ReEncryptRequest,
};

fn creds(secret: &str) -> aws_credential_types::Credentials {
    aws_credential_types::Credentials::new(DEFAULT_ACCESS_KEY_ID, secret, None, None, "test")
}

struct Env {
    local: LocalKms,
    server: LocalKmsServer,
    kms: KmsClient,
}

async fn env() -> Env {
    let local = LocalKms::new();
    let server = local
        .clone()
        .serve(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap());
    let kms = client(&server, creds(DEFAULT_SECRET_ACCESS_KEY))
        .build()
        .unwrap();
    Env { local, server, kms }
}

fn client(
    server: &LocalKmsServer,
    creds: aws_credential_types::Credentials,
) -> tower_kms::KmsClientBuilder {
    KmsClient::builder()
        .region("us-east-1")
        .endpoint_url(server.endpoint_url())
        .credentials_provider(creds)
        .retry_config(RetryConfig::standard().with_base(Duration::from_millis(5)))
}

impl Env {
    fn key(&self, spec: KeySpec, usage: KeyUsageType) -> String {
        self.local.create_key(spec, usage).unwrap()
    }
    fn invoke(&self, op: &str, body: Value) -> Value {
        self.local.invoke(op, body).unwrap()
    }
    async fn encrypt(&self, key: &str, ctx: &[(&str, &str)]) -> Bytes {
        let mut req = EncryptRequest::builder()
            .key_id(key)
            .plaintext(b"the plaintext");
        for (k, v) in ctx {
            req = req.encryption_context(*k, *v);
        }
        self.kms
            .send(req.build().unwrap())
            .await
            .unwrap()
            .ciphertext_blob
            .unwrap()
    }
}

fn encrypt(key: &str, plaintext: &[u8]) -> EncryptRequest {
    EncryptRequest::builder()
        .key_id(key)
        .plaintext(plaintext)
        .build()
        .unwrap()
}

fn decrypt(blob: Bytes, (k, v): (&str, &str)) -> DecryptRequest {
    DecryptRequest::builder()
        .ciphertext_blob(blob)
        .encryption_context(k, v)
        .build()
        .unwrap()
}

fn re(blob: &Bytes, dest: &str) -> tower_kms::ReEncryptRequestBuilder {
    ReEncryptRequest::builder()
        .ciphertext_blob(blob.clone())
        .destination_key_id(dest)
}

#[tokio::test]
async fn source_key_is_inferred_and_contexts_are_honoured() {
    let e = env().await;
    let (a, b) = (
        e.key(KeySpec::SymmetricDefault, KeyUsageType::EncryptDecrypt),
        e.key(KeySpec::SymmetricDefault, KeyUsageType::EncryptDecrypt),
    );
    let blob = e.encrypt(&a, &[("app", "x")]).await;
    // No SourceKeyId: KMS finds the key in the blob.
    let out = e
        .kms
        .re_encrypt(
            re(&blob, &b)
                .source_encryption_context("app", "x")
                .destination_encryption_context("app", "y")
                .build()
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(out.source_key_id.as_deref(), Some(a.as_str()));
    assert_eq!(out.key_id.as_deref(), Some(b.as_str()));
    assert_eq!(
        out.source_encryption_algorithm,
        Some(EncryptionAlgorithmSpec::SymmetricDefault)
    );
    assert!(out.source_key_material_id.is_some() && out.destination_key_material_id.is_some());
    let back = e
        .kms
        .send(decrypt(out.ciphertext_blob.unwrap(), ("app", "y")))
        .await
        .unwrap();
    assert_eq!(back.plaintext.unwrap().expose(), b"the plaintext");

    // Wrong source context.
    let err = e
        .kms
        .re_encrypt(
            re(&blob, &b)
                .source_encryption_context("app", "other")
                .build()
                .unwrap(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, KmsError::InvalidCiphertext(_)), "{err:?}");
    // A SourceKeyId that is not the blob's key.
    let err = e
        .kms
        .re_encrypt(
            re(&blob, &b)
                .source_key_id(&b)
                .source_encryption_context("app", "x")
                .build()
                .unwrap(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, KmsError::IncorrectKey(_)), "{err:?}");
    assert_eq!(err.status().map(|s| s.as_u16()), Some(400));
    // Aliases work as key ids.
    e.local
        .create_alias("alias/dest", b.rsplit('/').next().unwrap())
        .unwrap();
    let out = e
        .kms
        .re_encrypt(
            re(&blob, "alias/dest")
                .source_encryption_context("app", "x")
                .build()
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(out.key_id.as_deref(), Some(b.as_str()));
    let err = e
        .kms
        .re_encrypt(
            re(&blob, "alias/missing")
                .source_encryption_context("app", "x")
                .build()
                .unwrap(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, KmsError::NotFound(_)), "{err:?}");
    assert_eq!(err.status().map(|s| s.as_u16()), Some(404));
    e.server.shutdown().await;
}

#[tokio::test]
async fn key_state_and_usage_rules() {
    let e = env().await;
    let a = e.key(KeySpec::SymmetricDefault, KeyUsageType::EncryptDecrypt);
    let b = e.key(KeySpec::SymmetricDefault, KeyUsageType::EncryptDecrypt);
    let sign = e.key(KeySpec::EccNistP256, KeyUsageType::SignVerify);
    let blob = e.encrypt(&a, &[]).await;

    let err = e
        .kms
        .re_encrypt(re(&blob, &sign).build().unwrap())
        .await
        .unwrap_err();
    assert!(matches!(err, KmsError::InvalidKeyUsage(_)), "{err:?}");

    e.local.disable_key(&b).unwrap();
    let err = e
        .kms
        .re_encrypt(re(&blob, &b).build().unwrap())
        .await
        .unwrap_err();
    assert!(matches!(err, KmsError::Disabled(_)), "{err:?}");
    assert_eq!(err.status().map(|s| s.as_u16()), Some(409));
    e.local.enable_key(&b).unwrap();

    e.local.disable_key(&a).unwrap();
    let err = e
        .kms
        .re_encrypt(re(&blob, &b).build().unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(err, KmsError::Disabled(_)),
        "source disabled: {err:?}"
    );
    e.local.enable_key(&a).unwrap();

    e.local.schedule_key_deletion(&b, 7).unwrap();
    let err = e
        .kms
        .re_encrypt(re(&blob, &b).build().unwrap())
        .await
        .unwrap_err();
    assert!(matches!(err, KmsError::KmsInvalidState(_)), "{err:?}");
    assert!(!err.is_retryable());
    e.server.shutdown().await;
}

#[tokio::test]
async fn asymmetric_keys_need_ids_and_algorithms() {
    let e = env().await;
    let sym = e.key(KeySpec::SymmetricDefault, KeyUsageType::EncryptDecrypt);
    let rsa = e.key(KeySpec::Rsa2048, KeyUsageType::EncryptDecrypt);
    // Encrypt outside KMS with the public key from GetPublicKey.
    let public = e.invoke("GetPublicKey", json!({"KeyId": rsa}));
    let der = STANDARD
        .decode(public["PublicKey"].as_str().unwrap())
        .unwrap();
    let pk = aws_lc_rs::rsa::PublicEncryptingKey::from_der(&der).unwrap();
    let oaep = aws_lc_rs::rsa::OaepPublicEncryptingKey::new(pk).unwrap();
    let mut out = vec![0u8; oaep.ciphertext_size()];
    let ct = oaep
        .encrypt(
            &aws_lc_rs::rsa::OAEP_SHA256_MGF1SHA256,
            b"outside",
            &mut out,
            None,
        )
        .unwrap();
    let blob = Bytes::copy_from_slice(ct);

    let ok = e
        .kms
        .re_encrypt(
            re(&blob, &sym)
                .source_key_id(&rsa)
                .source_encryption_algorithm(EncryptionAlgorithmSpec::RsaesOaepSha256)
                .build()
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(
        ok.source_encryption_algorithm,
        Some(EncryptionAlgorithmSpec::RsaesOaepSha256)
    );

    // Without SourceKeyId: the client refuses before any I/O.
    let err = re(&blob, &sym)
        .source_encryption_algorithm(EncryptionAlgorithmSpec::RsaesOaepSha256)
        .build()
        .unwrap_err();
    assert_eq!(err.field(), "SourceKeyId");
    // Without the algorithm, or with the wrong one: KMS refuses.
    let err = e
        .kms
        .re_encrypt(re(&blob, &sym).source_key_id(&rsa).build().unwrap())
        .await
        .unwrap_err();
    assert!(err.code().is_some() && !err.is_retryable(), "{err:?}");
    let err = e
        .kms
        .re_encrypt(
            re(&blob, &sym)
                .source_key_id(&rsa)
                .source_encryption_algorithm(EncryptionAlgorithmSpec::RsaesOaepSha1)
                .build()
                .unwrap(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, KmsError::InvalidCiphertext(_)), "{err:?}");

    // An asymmetric destination needs DestinationEncryptionAlgorithm.
    let sym_blob = e.encrypt(&sym, &[]).await;
    let err = e
        .kms
        .re_encrypt(re(&sym_blob, &rsa).build().unwrap())
        .await
        .unwrap_err();
    assert!(err.code().is_some() && !err.is_retryable(), "{err:?}");
    let out = e
        .kms
        .re_encrypt(
            re(&sym_blob, &rsa)
                .destination_encryption_algorithm(EncryptionAlgorithmSpec::RsaesOaepSha1)
                .build()
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(
        out.destination_encryption_algorithm,
        Some(EncryptionAlgorithmSpec::RsaesOaepSha1)
    );
    assert_eq!(out.ciphertext_blob.unwrap().len(), 256);
    e.server.shutdown().await;
}

#[tokio::test]
async fn grant_tokens_and_dry_run() {
    let e = env().await;
    let a = e.key(KeySpec::SymmetricDefault, KeyUsageType::EncryptDecrypt);
    let blob = e.encrypt(&a, &[]).await;
    let grant = e.invoke(
        "CreateGrant",
        json!({"KeyId": a, "GranteePrincipal": "arn:aws:iam::111122223333:role/app", "Operations": ["ReEncryptFrom", "ReEncryptTo"]}),
    );
    let token = grant["GrantToken"].as_str().unwrap().to_owned();
    e.kms
        .re_encrypt(re(&blob, &a).grant_token(token.clone()).build().unwrap())
        .await
        .unwrap();
    let err = e
        .kms
        .re_encrypt(
            re(&blob, &a)
                .grant_token("not-a-grant-token")
                .build()
                .unwrap(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, KmsError::InvalidGrantToken(_)), "{err:?}");

    let err = e
        .kms
        .re_encrypt(re(&blob, &a).dry_run(true).build().unwrap())
        .await
        .unwrap_err();
    assert!(matches!(err, KmsError::DryRunOperation(_)), "{err:?}");
    assert_eq!(err.status().map(|s| s.as_u16()), Some(412));
    let no_blob = ReEncryptRequest::builder()
        .destination_key_id(&a)
        .source_key_id(&a)
        .dry_run(true)
        .dry_run_modifier(DryRunModifierType::IgnoreCiphertext)
        .build()
        .unwrap();
    let err = e.kms.re_encrypt(no_blob).await.unwrap_err();
    assert!(matches!(err, KmsError::DryRunOperation(_)), "{err:?}");
    e.server.shutdown().await;
}

#[tokio::test]
async fn signatures_are_checked_and_clock_skew_is_corrected() {
    let e = env().await;
    let a = e.key(KeySpec::SymmetricDefault, KeyUsageType::EncryptDecrypt);
    let blob = e.encrypt(&a, &[]).await;

    let wrong = client(&e.server, creds("not-the-secret")).build().unwrap();
    let err = wrong
        .re_encrypt(re(&blob, &a).build().unwrap())
        .await
        .unwrap_err();
    assert!(matches!(err, KmsError::InvalidSignature(_)), "{err:?}");
    let unknown = client(
        &e.server,
        aws_credential_types::Credentials::new("AKIDUNKNOWN", "x", None, None, "t"),
    )
    .build()
    .unwrap();
    let err = unknown
        .re_encrypt(re(&blob, &a).build().unwrap())
        .await
        .unwrap_err();
    assert!(matches!(err, KmsError::UnrecognizedClient(_)), "{err:?}");

    // Our clock is 20 minutes behind: the first attempt is rejected as expired, the
    // client learns the offset from the Date header and the retry succeeds.
    let behind = FixedClock(std::time::SystemTime::now() - Duration::from_secs(20 * 60));
    let skewed = client(&e.server, creds(DEFAULT_SECRET_ACCESS_KEY))
        .clock(behind)
        .build()
        .unwrap();
    let out = skewed
        .re_encrypt(re(&blob, &a).build().unwrap())
        .await
        .unwrap();
    assert!(out.ciphertext_blob.is_some());
    let offset = skewed.clock_skew().offset_millis();
    assert!((offset - 20 * 60 * 1000).abs() < 10_000, "{offset}");
    // Later calls are signed with the offset from the start.
    skewed
        .re_encrypt(re(&blob, &a).build().unwrap())
        .await
        .unwrap();
    e.server.shutdown().await;
}

#[tokio::test]
async fn in_process_connector_and_many_parallel_calls() {
    // The local KMS as the connector: no sockets at all.
    let local = LocalKms::new();
    let kms = KmsClient::builder()
        .region("us-east-1")
        .credentials_provider(creds(DEFAULT_SECRET_ACCESS_KEY))
        .connector(local.clone())
        .build()
        .unwrap();
    let (a, b) = (
        local
            .create_key(KeySpec::SymmetricDefault, KeyUsageType::EncryptDecrypt)
            .unwrap(),
        local
            .create_key(KeySpec::SymmetricDefault, KeyUsageType::EncryptDecrypt)
            .unwrap(),
    );
    let mut tasks = Vec::new();
    for i in 0..200u32 {
        let (kms, a, b) = (kms.clone(), a.clone(), b.clone());
        tasks.push(tokio::spawn(async move {
            let plain = format!("record {i}").into_bytes();
            let enc = kms
                .send(
                    EncryptRequest::builder()
                        .key_id(a)
                        .plaintext(plain.clone())
                        .encryption_context("i", i.to_string())
                        .build()
                        .unwrap(),
                )
                .await
                .unwrap();
            let out = kms
                .re_encrypt(
                    ReEncryptRequest::builder()
                        .ciphertext_blob(enc.ciphertext_blob.unwrap())
                        .source_encryption_context("i", i.to_string())
                        .destination_key_id(b)
                        .destination_encryption_context("i", i.to_string())
                        .build()
                        .unwrap(),
                )
                .await
                .unwrap();
            let dec = kms
                .send(decrypt(out.ciphertext_blob.unwrap(), ("i", &i.to_string())))
                .await
                .unwrap();
            assert_eq!(
                dec.plaintext.unwrap().expose(),
                plain.as_slice(),
                "record {i} crossed"
            );
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

#[tokio::test]
async fn more_operations_through_the_same_layers() {
    use tower_kms::model::DataKeySpec;
    use tower_kms::{
        DescribeKeyRequest, GenerateDataKeyRequest, GenerateDataKeyWithoutPlaintextRequest,
    };
    let gdk = |key: &str| GenerateDataKeyRequest::builder().key_id(key);
    let e = env().await;
    let a = e.key(KeySpec::SymmetricDefault, KeyUsageType::EncryptDecrypt);
    let dk = e
        .kms
        .send(
            gdk(&a)
                .key_spec(DataKeySpec::Aes256)
                .encryption_context("p", "q")
                .build()
                .unwrap(),
        )
        .await
        .unwrap();
    let plain = dk.plaintext.clone().unwrap();
    assert_eq!(plain.len(), 32);
    assert!(
        !format!("{dk:?}").contains(&format!("{:?}", plain.expose())),
        "plaintext in Debug"
    );
    let back = e
        .kms
        .send(decrypt(dk.ciphertext_blob.unwrap(), ("p", "q")))
        .await
        .unwrap();
    assert_eq!(back.plaintext.unwrap().expose(), plain.expose());
    let n = e
        .kms
        .send(gdk(&a).number_of_bytes(64).build().unwrap())
        .await
        .unwrap();
    assert_eq!(n.plaintext.unwrap().len(), 64);
    let np = e
        .kms
        .send(
            GenerateDataKeyWithoutPlaintextRequest::builder()
                .key_id(&a)
                .key_spec(DataKeySpec::Aes256)
                .build()
                .unwrap(),
        )
        .await
        .unwrap();
    assert!(np.ciphertext_blob.is_some());
    let err = e
        .kms
        .send(gdk(&a).number_of_bytes(0).build_unchecked())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, KmsError::Validation(v) if v.field() == "NumberOfBytes"),
        "{err:?}"
    );
    let describe = |key: &str| DescribeKeyRequest::builder().key_id(key).build().unwrap();
    let d = e.kms.send(describe(&a)).await.unwrap();
    let meta = d.key_metadata.unwrap();
    assert_eq!(meta.arn.as_deref(), Some(a.as_str()));
    assert_eq!(meta.key_state, Some(KeyState::Enabled));
    assert_eq!(meta.key_spec, Some(KeySpec::SymmetricDefault));
    assert_eq!(meta.key_usage, Some(KeyUsageType::EncryptDecrypt));
    assert!(meta.creation_date.is_some() && meta.deletion_date.is_none());
    let err = e.kms.send(describe("alias/none")).await.unwrap_err();
    assert!(matches!(err, KmsError::NotFound(_)), "{err:?}");
    e.server.shutdown().await;
}

#[test]
fn recipient_is_refused_as_unsupported() {
    let local = LocalKms::new();
    let key = local
        .create_key(KeySpec::SymmetricDefault, KeyUsageType::EncryptDecrypt)
        .unwrap();
    let enc = local
        .invoke("Encrypt", json!({"KeyId": key, "Plaintext": "aGk="}))
        .unwrap();
    for (op, body) in [
        (
            "Decrypt",
            json!({"CiphertextBlob": enc["CiphertextBlob"], "Recipient": {"KeyEncryptionAlgorithm": "RSAES_OAEP_SHA_256"}}),
        ),
        (
            "GenerateDataKey",
            json!({"KeyId": key, "KeySpec": "AES_256", "Recipient": {"KeyEncryptionAlgorithm": "RSAES_OAEP_SHA_256"}}),
        ),
    ] {
        let err = local.invoke(op, body).unwrap_err();
        assert_eq!(err.code(), "UnsupportedOperationException", "{op}");
    }
}

#[tokio::test]
async fn a_hand_built_stack_corrects_clock_skew_without_wiring() {
    use std::sync::atomic::AtomicU32;
    use tower::{ServiceBuilder, ServiceExt};
    use tower_kms::ServiceBuilderExt;
    use tower_kms::endpoint::Endpoint;
    use tower_kms::sign::SigV4Layer;

    // The server's clock is 20 minutes ahead of ours.
    let ahead: tower_kms::local::Clock =
        Arc::new(|| std::time::SystemTime::now() + Duration::from_secs(20 * 60));
    let local = LocalKms::builder().clock(ahead).build();
    let key = local
        .create_key(
            tower_kms::KeySpec::SymmetricDefault,
            tower_kms::KeyUsageType::EncryptDecrypt,
        )
        .unwrap();
    let blob = local
        .invoke(
            "Encrypt",
            json!({ "KeyId": key, "Plaintext": STANDARD.encode(b"skewed") }),
        )
        .unwrap()["CiphertextBlob"]
        .as_str()
        .map(|b| Bytes::from(STANDARD.decode(b).unwrap()))
        .unwrap();
    let sent = Arc::new(AtomicU32::new(0));
    let counter = sent.clone();
    let connector = ServiceBuilder::new()
        .map_request(move |req: http::Request<_>| {
            counter.fetch_add(1, Ordering::SeqCst);
            req
        })
        .service(local.clone());
    // Only the crate's ServiceBuilderExt layers, no skew handle shared by hand.
    let svc = ServiceBuilder::new()
        .kms_retry(RetryConfig::standard())
        .kms_json_protocol()
        .kms_endpoint(Endpoint::from_url("http://127.0.0.1:1").unwrap())
        .kms_sigv4(SigV4Layer::new(
            creds(DEFAULT_SECRET_ACCESS_KEY),
            "us-east-1",
        ))
        .service(connector);
    let out = svc
        .clone()
        .oneshot(re(&blob, &key).build().unwrap())
        .await
        .unwrap();
    assert!(out.ciphertext_blob.is_some());
    assert_eq!(
        sent.load(Ordering::SeqCst),
        2,
        "rejected once, then corrected"
    );
    // The next call is signed with the learnt offset from its first attempt.
    svc.oneshot(re(&blob, &key).build().unwrap()).await.unwrap();
    assert_eq!(sent.load(Ordering::SeqCst), 3);
}

/// KMS's message for a request over its quota.
const THROTTLED: &str =
    "You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls.";

fn one_per_second() -> tower_kms::local::LocalKmsBuilder {
    LocalKms::builder().quota(Quota::CRYPTOGRAPHIC, RequestRate::per_second(1.0).unwrap())
}

#[tokio::test]
async fn a_throttling_local_kms_gives_kms_error_throttling_after_the_standard_retries() {
    // Time stands still for the local KMS: its quota never refills.
    let now = std::time::SystemTime::now();
    let local = one_per_second().clock(Arc::new(move || now)).build();
    let server = local
        .clone()
        .serve(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap());
    let retries = RetryConfig::standard().with_throttling_base(Duration::from_millis(1));
    let kms = client(&server, creds(DEFAULT_SECRET_ACCESS_KEY))
        .retry_config(retries)
        .build()
        .unwrap();
    let key = local
        .create_key(KeySpec::SymmetricDefault, KeyUsageType::EncryptDecrypt)
        .unwrap();
    kms.send(encrypt(&key, b"one")).await.unwrap();
    let err = kms.send(encrypt(&key, b"two")).await.unwrap_err();
    assert!(matches!(err, KmsError::Throttling(_)), "{err:?}");
    assert!(err.is_throttling() && err.is_retryable());
    assert_eq!(err.code(), Some("ThrottlingException"));
    assert_eq!(err.message(), Some(THROTTLED));
    assert_eq!(err.status().map(|s| s.as_u16()), Some(400));
    assert!(err.request_id().is_some_and(|id| id.len() == 36), "{err:?}");
    // The standard mode made its three attempts.
    let encrypt = local.stats().operation("Encrypt");
    assert_eq!((encrypt.served, encrypt.throttled), (1, 3));

    // Without retries, one attempt.
    let once = client(&server, creds(DEFAULT_SECRET_ACCESS_KEY))
        .retry_config(RetryConfig::disabled())
        .build()
        .unwrap();
    let err = once.send(self::encrypt(&key, b"three")).await.unwrap_err();
    assert!(matches!(err, KmsError::Throttling(_)), "{err:?}");
    let encrypt = local.stats().operation("Encrypt");
    assert_eq!((encrypt.served, encrypt.throttled), (1, 4));
    server.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_throttled_call_is_retried_and_succeeds_once_the_quota_refills() {
    // The local KMS's clock moves a second on every throttled request, so
    // the retry after one finds the quota refilled; the backoff sleeps are
    // skipped by the paused tokio clock.
    let start = std::time::SystemTime::now();
    let millis = Arc::new(AtomicU64::new(0));
    let read = millis.clone();
    let step = millis.clone();
    let local = one_per_second()
        .clock(Arc::new(move || {
            start + Duration::from_millis(read.load(Ordering::SeqCst))
        }))
        .on_request(Arc::new(move |log: &RequestLog| {
            if log.throttled {
                step.fetch_add(1_000, Ordering::SeqCst);
            }
        }))
        .build();
    let kms = KmsClient::builder()
        .region("us-east-1")
        .credentials_provider(creds(DEFAULT_SECRET_ACCESS_KEY))
        .connector(local.clone())
        .retry_config(RetryConfig::standard())
        .build()
        .unwrap();
    let key = local
        .create_key(KeySpec::SymmetricDefault, KeyUsageType::EncryptDecrypt)
        .unwrap();
    for plaintext in [&b"one"[..], b"two", b"three"] {
        let out = kms.send(encrypt(&key, plaintext)).await.unwrap();
        assert!(out.ciphertext_blob.is_some());
    }
    // The first call was served at once, each later one after one
    // throttled attempt.
    let encrypt = local.stats().operation("Encrypt");
    assert_eq!((encrypt.served, encrypt.throttled), (3, 2));
    assert_eq!(millis.load(Ordering::SeqCst), 2_000);
}
