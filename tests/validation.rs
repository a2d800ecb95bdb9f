//! Every documented constraint is checked before any I/O.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use http_body_util::Full;
use support::*;
use tower_kms::{
    DryRunModifierType, EncryptionAlgorithmSpec, KmsClient, KmsError, ReEncryptRequest,
};

/// A connector that counts calls; every test asserts it was never called.
fn client(calls: Arc<AtomicUsize>) -> KmsClient {
    let connector = tower::service_fn(move |_req: http::Request<Full<Bytes>>| {
        calls.fetch_add(1, Ordering::SeqCst);
        async {
            Err::<http::Response<Full<Bytes>>, _>(std::io::Error::other(
                "the connector must not be called",
            ))
        }
    });
    KmsClient::builder()
        .region("us-east-1")
        .credentials_provider(credentials())
        .connector(connector)
        .build()
        .unwrap()
}

fn base() -> tower_kms::ReEncryptRequestBuilder {
    ReEncryptRequest::builder()
        .ciphertext_blob(vec![1u8; 32])
        .destination_key_id("alias/new")
}

#[tokio::test]
async fn invalid_requests_fail_with_field_and_rule_and_send_nothing() {
    // A missing destination is required; an empty one must not be empty.
    let missing = ReEncryptRequest::builder()
        .ciphertext_blob(vec![1])
        .build()
        .unwrap_err();
    assert_eq!(
        missing.to_string(),
        "invalid ReEncrypt request: DestinationKeyId is required"
    );
    let empty = base().destination_key_id("").build().unwrap_err();
    assert_eq!(
        empty.to_string(),
        "invalid ReEncrypt request: DestinationKeyId must not be empty (a key id, key ARN, alias name or alias ARN)"
    );
    let long_id = "k".repeat(2049);
    let cases: Vec<(ReEncryptRequest, &str, &str)> = vec![
        (
            base().destination_key_id("").build_unchecked(),
            "DestinationKeyId",
            "must not be empty",
        ),
        (
            base().destination_key_id(long_id.clone()).build_unchecked(),
            "DestinationKeyId",
            "1 to 2048 characters",
        ),
        (
            base().source_key_id("").build_unchecked(),
            "SourceKeyId",
            "1 to 2048 characters",
        ),
        (
            base().source_key_id(long_id.clone()).build_unchecked(),
            "SourceKeyId",
            "1 to 2048 characters",
        ),
        (
            base().ciphertext_blob(Vec::<u8>::new()).build_unchecked(),
            "CiphertextBlob",
            "1 to 6144 bytes",
        ),
        (
            base().ciphertext_blob(vec![0u8; 6145]).build_unchecked(),
            "CiphertextBlob",
            "1 to 6144 bytes",
        ),
        (
            ReEncryptRequest::builder()
                .destination_key_id("k")
                .build_unchecked(),
            "CiphertextBlob",
            "is required",
        ),
        (
            ReEncryptRequest::builder()
                .destination_key_id("k")
                .dry_run(true)
                .build_unchecked(),
            "CiphertextBlob",
            "is required",
        ),
        (
            ReEncryptRequest::builder()
                .destination_key_id("k")
                .dry_run(true)
                .dry_run_modifier(DryRunModifierType::IgnoreCiphertext)
                .build_unchecked(),
            "SourceKeyId",
            "IGNORE_CIPHERTEXT",
        ),
        (
            base()
                .dry_run_modifier(DryRunModifierType::IgnoreCiphertext)
                .build_unchecked(),
            "DryRunModifiers",
            "only be set when DryRun is true",
        ),
        (
            base()
                .dry_run(false)
                .dry_run_modifier(DryRunModifierType::IgnoreCiphertext)
                .build_unchecked(),
            "DryRunModifiers",
            "only be set when DryRun is true",
        ),
        (
            base()
                .set_grant_tokens(vec!["t".into(); 11])
                .build_unchecked(),
            "GrantTokens",
            "at most 10",
        ),
        (
            base().grant_token("").build_unchecked(),
            "GrantTokens",
            "1 to 8192 characters",
        ),
        (
            base().grant_token("g".repeat(8193)).build_unchecked(),
            "GrantTokens",
            "1 to 8192 characters",
        ),
        (
            base()
                .source_encryption_algorithm(EncryptionAlgorithmSpec::RsaesOaepSha256)
                .build_unchecked(),
            "SourceKeyId",
            "asymmetric",
        ),
        (
            base()
                .source_key_id("k")
                .source_encryption_algorithm(EncryptionAlgorithmSpec::RsaesOaepSha1)
                .source_encryption_context("a", "b")
                .build_unchecked(),
            "SourceEncryptionContext",
            "only valid for symmetric keys",
        ),
        (
            base()
                .destination_encryption_algorithm(EncryptionAlgorithmSpec::Sm2Pke)
                .destination_encryption_context("a", "b")
                .build_unchecked(),
            "DestinationEncryptionContext",
            "only valid for symmetric keys",
        ),
    ];
    let calls = Arc::new(AtomicUsize::new(0));
    let kms = client(calls.clone());
    for (req, field, rule) in cases {
        // The builder refuses it too.
        let built = req.clone().into_builder().build();
        assert!(built.is_err(), "builder accepted {req:?}");
        let err = kms.re_encrypt(req.clone()).await.unwrap_err();
        let KmsError::Validation(v) = &err else {
            panic!("{req:?}: {err:?}")
        };
        assert_eq!(v.field(), field, "{req:?}");
        assert!(v.rule().contains(rule), "{req:?}: {}", v.rule());
        assert_eq!(v.operation(), "ReEncrypt");
        assert!(
            err.to_string().starts_with("invalid ReEncrypt request: "),
            "{err}"
        );
        assert!(!err.is_retryable());
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "an invalid request reached the connector"
    );
}

#[tokio::test]
async fn boundary_values_are_accepted() {
    let ok = [
        base().destination_key_id("k".repeat(2048)).build(),
        base().source_key_id("s".repeat(2048)).build(),
        base().ciphertext_blob(vec![0u8; 6144]).build(),
        base().ciphertext_blob(vec![0u8; 1]).build(),
        base().set_grant_tokens(vec!["g".repeat(8192); 10]).build(),
        ReEncryptRequest::builder()
            .destination_key_id("k")
            .source_key_id("s")
            .dry_run(true)
            .dry_run_modifier(DryRunModifierType::IgnoreCiphertext)
            .build(),
        base()
            .source_key_id("k")
            .source_encryption_algorithm(EncryptionAlgorithmSpec::RsaesOaepSha256)
            .destination_encryption_algorithm(EncryptionAlgorithmSpec::RsaesOaepSha1)
            .build(),
        // Multi-byte characters count as characters, not bytes.
        base().destination_key_id("é".repeat(2048)).build(),
        // An algorithm this crate does not know is left to KMS to judge.
        base()
            .source_encryption_algorithm(EncryptionAlgorithmSpec::from("FUTURE_ALGORITHM"))
            .source_encryption_context("a", "b")
            .destination_encryption_algorithm(EncryptionAlgorithmSpec::from("FUTURE_ALGORITHM"))
            .destination_encryption_context("a", "b")
            .build(),
    ];
    for r in ok {
        r.unwrap();
    }
}

#[test]
fn config_errors_are_clear() {
    let err = KmsClient::builder()
        .credentials_provider(credentials())
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("no region"), "{err}");
    let err = KmsClient::builder()
        .region("us-east-1")
        .endpoint_url("localhost:4566")
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("http:// or https://"), "{err}");
    let err = KmsClient::builder()
        .region("not a region")
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("not a valid AWS region"), "{err}");
}

#[test]
fn env_configuration() {
    let c = KmsClient::builder()
        .env_with(env(&[
            ("AWS_DEFAULT_REGION", "eu-west-1"),
            ("AWS_ACCESS_KEY_ID", "A"),
            ("AWS_SECRET_ACCESS_KEY", "S"),
        ]))
        .build()
        .unwrap();
    assert_eq!(c.region(), "eu-west-1");
    assert_eq!(c.endpoint().url(), "https://kms.eu-west-1.amazonaws.com/");
    let c = KmsClient::builder()
        .env_with(env(&[
            ("AWS_REGION", "us-west-2"),
            ("AWS_DEFAULT_REGION", "eu-west-1"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:1"),
            ("AWS_ENDPOINT_URL_KMS", "http://127.0.0.1:4566"),
        ]))
        .build()
        .unwrap();
    assert_eq!(c.region(), "us-west-2");
    assert_eq!(c.endpoint().url(), "http://127.0.0.1:4566/");
    let c = KmsClient::builder()
        .env_with(env(&[
            ("AWS_REGION", "us-east-1"),
            ("AWS_USE_FIPS_ENDPOINT", "true"),
            ("AWS_USE_DUALSTACK_ENDPOINT", "TRUE"),
        ]))
        .build()
        .unwrap();
    assert_eq!(c.endpoint().url(), "https://kms-fips.us-east-1.api.aws/");
    // Code wins over the environment.
    let c = KmsClient::builder()
        .region("ap-south-1")
        .env_with(env(&[("AWS_REGION", "us-east-1")]))
        .build()
        .unwrap();
    assert_eq!(c.region(), "ap-south-1");
    let c = KmsClient::builder()
        .env_with(env(&[
            ("AWS_REGION", "us-east-1"),
            ("AWS_ENDPOINT_URL_KMS", "http://127.0.0.1:9"),
            ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true"),
        ]))
        .build()
        .unwrap();
    assert_eq!(c.endpoint().url(), "https://kms.us-east-1.amazonaws.com/");
}

#[tokio::test]
async fn missing_env_credentials_are_a_credentials_error() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let connector = tower::service_fn(move |_req: http::Request<Full<Bytes>>| {
        counter.fetch_add(1, Ordering::SeqCst);
        async { Err::<http::Response<Full<Bytes>>, _>(std::io::Error::other("unreachable")) }
    });
    let kms = KmsClient::builder()
        .env_with(|k| (k == "AWS_REGION").then(|| "us-east-1".to_owned()))
        .credentials_provider(tower_kms::sign::EnvironmentCredentials::new())
        .connector(connector)
        .build()
        .unwrap();
    // The provider's own message, whatever this process's environment holds.
    let err = tower_kms::CredentialsError::from(
        tower_kms::sign::EnvironmentCredentials::load_with(|_| None).unwrap_err(),
    );
    let chain = tower_kms::DisplayChain(&err).to_string();
    assert!(chain.contains("AWS_ACCESS_KEY_ID"), "{chain}");
    let err = tower_kms::sign::EnvironmentCredentials::load_with(|k| {
        (k == "AWS_ACCESS_KEY_ID").then(|| "AKID".to_owned())
    })
    .unwrap_err();
    assert!(
        format!("{err:?}").contains("AWS_SECRET_ACCESS_KEY"),
        "{err:?}"
    );
    // Through the client: only meaningful when the test environment has no AWS keys.
    if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
        let err = kms.re_encrypt(minimal_request()).await.unwrap_err();
        assert!(matches!(err, KmsError::Credentials(_)), "{err:?}");
        let chain = tower_kms::DisplayChain(&err).to_string();
        assert!(chain.contains("AWS_ACCESS_KEY_ID"), "{chain}");
        assert_eq!(calls.load(Ordering::SeqCst), 0);
    }
}

#[test]
fn code_wins_over_the_environment_for_endpoint_flags_and_retries() {
    let c = KmsClient::builder()
        .fips(false)
        .env_with(env(&[
            ("AWS_REGION", "us-east-1"),
            ("AWS_USE_FIPS_ENDPOINT", "true"),
        ]))
        .build()
        .unwrap();
    assert_eq!(c.endpoint().url(), "https://kms.us-east-1.amazonaws.com/");
    let c = KmsClient::builder()
        .env_with(env(&[
            ("AWS_REGION", "us-east-1"),
            ("AWS_MAX_ATTEMPTS", "zero"),
        ]))
        .retry_config(tower_kms::retry::RetryConfig::standard())
        .build();
    assert!(
        c.is_ok(),
        "an explicit retry config overrides a bad AWS_MAX_ATTEMPTS"
    );
    // So does an explicit number of attempts, set before or after.
    let bad_attempts = env(&[("AWS_REGION", "us-east-1"), ("AWS_MAX_ATTEMPTS", "zero")]);
    let after = KmsClient::builder()
        .env_with(&bad_attempts)
        .max_attempts(2)
        .build();
    assert!(after.is_ok(), "{after:?}");
    let before = KmsClient::builder()
        .max_attempts(2)
        .env_with(&bad_attempts)
        .build();
    assert!(before.is_ok(), "{before:?}");
    // But not a bad AWS_RETRY_MODE, which the number of attempts does not replace.
    let err = KmsClient::builder()
        .env_with(env(&[
            ("AWS_REGION", "us-east-1"),
            ("AWS_RETRY_MODE", "fast"),
        ]))
        .max_attempts(2)
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("AWS_RETRY_MODE"), "{err}");
    // Alone, a bad AWS_MAX_ATTEMPTS still fails the build.
    let err = KmsClient::builder()
        .env_with(&bad_attempts)
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("AWS_MAX_ATTEMPTS"), "{err}");
}

#[tokio::test]
async fn signing_without_a_host_is_an_error_not_a_panic() {
    use tower::ServiceExt;
    let svc = tower::ServiceBuilder::new()
        .layer(tower_kms::protocol::JsonProtocolLayer::new())
        .layer(tower_kms::sign::SigV4Layer::new(credentials(), "us-east-1"))
        .service(tower::service_fn(|_r: http::Request<Full<Bytes>>| async {
            Ok::<_, std::io::Error>(http::Response::new(Full::new(Bytes::new())))
        }));
    let err = svc.oneshot(minimal_request()).await.unwrap_err();
    assert!(matches!(err, KmsError::Signing(_)), "{err:?}");
    let chain = tower_kms::DisplayChain(&err).to_string();
    assert!(chain.contains("no host"), "{chain}");
    // A signing time past 9999 is refused too.
    let mut req = http::Request::new(Bytes::new());
    req.headers_mut().insert("host", "h".parse().unwrap());
    let far = std::time::UNIX_EPOCH + std::time::Duration::from_secs(253_402_300_800);
    assert!(
        tower_kms::sign::sign_request(&mut req, &credentials(), "us-east-1", "kms", far).is_err()
    );
}
