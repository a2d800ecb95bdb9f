//! Configuration from an `aws_config::SdkConfig` (feature `aws-config`).
#![cfg(feature = "aws-config")]

mod support;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider, future};
use aws_smithy_async::rt::sleep::AsyncSleep;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::identity::{
    Identity, IdentityCachePartition, IdentityFuture, ResolveCachedIdentity, ResolveIdentity,
    SharedIdentityResolver,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use aws_smithy_types::retry::RetryConfig as SdkRetry;
use aws_smithy_types::timeout::TimeoutConfig;
use aws_types::SdkConfig;
use aws_types::region::Region;
use bytes::Bytes;
use http_body_util::Full;
use support::*;
use tower_kms::sign::CredentialsCache;
use tower_kms::{KmsClient, KmsError};
use tower_test::mock;

/// A provider that counts how often it is asked, like an SSO or IMDS provider would be.
#[derive(Debug, Clone, Default)]
struct Counting(Arc<AtomicUsize>);

impl ProvideCredentials for Counting {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        self.0.fetch_add(1, Ordering::SeqCst);
        let expiry = SystemTime::now() + Duration::from_secs(3600);
        future::ProvideCredentials::ready(Ok(Credentials::new(
            AKID,
            SECRET,
            None,
            Some(expiry),
            "counting",
        )))
    }
}

#[tokio::test]
async fn one_line_from_sdk_config() {
    let calls = Counting::default();
    let sdk = SdkConfig::builder()
        .region(Region::new("eu-north-1"))
        .credentials_provider(SharedCredentialsProvider::new(calls.clone()))
        .retry_config(SdkRetry::standard().with_max_attempts(5))
        .timeout_config(
            TimeoutConfig::builder()
                .operation_timeout(Duration::from_secs(2))
                .build(),
        )
        .use_fips(true)
        .build();
    let (svc, mut handle) = mock::pair::<http::Request<Full<Bytes>>, http::Response<Full<Bytes>>>();
    let kms = KmsClient::builder()
        .sdk_config(&sdk)
        .connector(svc)
        .build()
        .unwrap();
    assert_eq!(kms.region(), "eu-north-1");
    assert_eq!(
        kms.endpoint().url(),
        "https://kms-fips.eu-north-1.amazonaws.com/"
    );

    let k = kms.clone();
    let call = tokio::spawn(async move {
        for _ in 0..3 {
            k.re_encrypt(minimal_request()).await.unwrap();
        }
    });
    for _ in 0..3 {
        let (req, send) = handle.next_request().await.unwrap();
        assert!(
            req.headers()["authorization"]
                .to_str()
                .unwrap()
                .contains("/eu-north-1/kms/aws4_request")
        );
        send.send_response(json_response(200, "{}"));
    }
    call.await.unwrap();
    // No identity cache in this SdkConfig: the client's lazy cache, asked once for
    // three calls.
    assert_eq!(calls.0.load(Ordering::SeqCst), 1);
}

#[test]
fn endpoint_url_from_sdk_config() {
    let sdk = SdkConfig::builder()
        .region(Region::new("us-east-1"))
        .endpoint_url("http://127.0.0.1:4599")
        .build();
    let kms = KmsClient::builder().sdk_config(&sdk).build().unwrap();
    assert_eq!(kms.endpoint().url(), "http://127.0.0.1:4599/");
    let err = KmsClient::builder()
        .sdk_config(&SdkConfig::builder().build())
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("no region"), "{err}");
}

// SdkConfig::identity_cache (#10). aws-config sets `IdentityCache::lazy()` there;
// these stand-ins use the same API surface as the SDK's caches.

/// Like the SDK's `IdentityCache::no_cache()`: resolves on every call; counts calls.
#[derive(Debug, Clone, Default)]
struct NoCacheLike(Arc<AtomicUsize>);

impl ResolveCachedIdentity for NoCacheLike {
    fn resolve_cached_identity<'a>(
        &'a self,
        resolver: SharedIdentityResolver,
        components: &'a RuntimeComponents,
        config: &'a ConfigBag,
    ) -> IdentityFuture<'a> {
        self.0.fetch_add(1, Ordering::SeqCst);
        IdentityFuture::new(async move { resolver.resolve_identity(components, config).await })
    }
}

/// Like the SDK's `IdentityCache::lazy()`: requires a time source and a sleep
/// implementation in the runtime components, times loads out with that sleep, and
/// keeps one identity per cache partition.
#[derive(Debug)]
struct LazyLike {
    load_timeout: Duration,
    cached: Mutex<HashMap<IdentityCachePartition, Identity>>,
}

impl LazyLike {
    fn new(load_timeout: Duration) -> Self {
        Self {
            load_timeout,
            cached: Mutex::default(),
        }
    }
}

impl ResolveCachedIdentity for LazyLike {
    fn validate_final_config(
        &self,
        components: &RuntimeComponents,
        _config: &ConfigBag,
    ) -> Result<(), BoxError> {
        components.time_source().ok_or("no time source")?;
        components.sleep_impl().ok_or("no sleep impl")?;
        Ok(())
    }

    fn resolve_cached_identity<'a>(
        &'a self,
        resolver: SharedIdentityResolver,
        components: &'a RuntimeComponents,
        config: &'a ConfigBag,
    ) -> IdentityFuture<'a> {
        IdentityFuture::new(async move {
            let partition = resolver.cache_partition();
            if let Some(identity) = self.cached.lock().unwrap().get(&partition) {
                return Ok(identity.clone());
            }
            let sleep = components.sleep_impl().ok_or("no sleep impl")?;
            let identity = tokio::select! {
                identity = resolver.resolve_identity(components, config) => identity?,
                _ = sleep.sleep(self.load_timeout) => return Err("identity resolver timed out".into()),
            };
            self.cached
                .lock()
                .unwrap()
                .insert(partition, identity.clone());
            Ok(identity)
        })
    }
}

/// A cache whose validation fails (as one that needs an SDK client's components would).
#[derive(Debug)]
struct NeedsAnSdkClient;

impl ResolveCachedIdentity for NeedsAnSdkClient {
    fn validate_final_config(
        &self,
        _components: &RuntimeComponents,
        _config: &ConfigBag,
    ) -> Result<(), BoxError> {
        Err("this cache needs an HTTP client".into())
    }

    fn resolve_cached_identity<'a>(
        &'a self,
        resolver: SharedIdentityResolver,
        components: &'a RuntimeComponents,
        config: &'a ConfigBag,
    ) -> IdentityFuture<'a> {
        IdentityFuture::new(async move { resolver.resolve_identity(components, config).await })
    }
}

#[derive(Debug)]
struct Hang;

impl ProvideCredentials for Hang {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(std::future::pending())
    }
}

fn sdk_with(
    provider: impl ProvideCredentials + 'static,
    cache: impl ResolveCachedIdentity + 'static,
) -> SdkConfig {
    SdkConfig::builder()
        .region(Region::new("us-east-1"))
        .credentials_provider(SharedCredentialsProvider::new(provider))
        .identity_cache(cache)
        .build()
}

fn client_from(builder: tower_kms::KmsClientBuilder) -> KmsClient {
    builder
        .connector(tower::service_fn(
            |_req: http::Request<Full<Bytes>>| async {
                Ok::<_, std::convert::Infallible>(json_response(200, "{}"))
            },
        ))
        .build()
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn the_sdk_config_identity_cache_is_the_clients_cache() {
    let calls = Counting::default();
    let cache = NoCacheLike::default();
    let kms = client_from(KmsClient::builder().sdk_config(&sdk_with(calls.clone(), cache.clone())));
    for _ in 0..3 {
        kms.re_encrypt(minimal_request()).await.unwrap();
    }
    // A no-cache identity cache: consulted and the provider asked on every call.
    assert_eq!(cache.0.load(Ordering::SeqCst), 3);
    assert_eq!(calls.0.load(Ordering::SeqCst), 3);
}

#[tokio::test(start_paused = true)]
async fn an_sdk_lazy_cache_runs_on_its_own_timeout_and_partition() {
    let calls = Counting::default();
    let kms = client_from(KmsClient::builder().sdk_config(&sdk_with(
        calls.clone(),
        LazyLike::new(Duration::from_secs(2)),
    )));
    for _ in 0..3 {
        kms.re_encrypt(minimal_request()).await.unwrap();
    }
    // One stable partition for the client: cached after the first call.
    assert_eq!(calls.0.load(Ordering::SeqCst), 1);

    // The SDK cache's load timeout (2 s) applies, not the client's default (5 s).
    let kms = client_from(
        KmsClient::builder().sdk_config(&sdk_with(Hang, LazyLike::new(Duration::from_secs(2)))),
    );
    let start = tokio::time::Instant::now();
    let err = kms.re_encrypt(minimal_request()).await.unwrap_err();
    assert_eq!(start.elapsed(), Duration::from_secs(2));
    assert!(matches!(err, KmsError::Credentials(_)), "{err:?}");
    let chain = tower_kms::DisplayChain(&err).to_string();
    assert!(chain.contains("timed out"), "{chain}");
}

#[tokio::test(start_paused = true)]
async fn a_credentials_cache_set_in_code_wins_over_the_sdk_config() {
    for cache_first in [true, false] {
        let calls = Counting::default();
        let cache = NoCacheLike::default();
        let sdk = sdk_with(calls.clone(), cache.clone());
        let builder = if cache_first {
            KmsClient::builder()
                .credentials_cache(CredentialsCache::lazy())
                .sdk_config(&sdk)
        } else {
            KmsClient::builder()
                .sdk_config(&sdk)
                .credentials_cache(CredentialsCache::lazy())
        };
        let kms = client_from(builder);
        for _ in 0..3 {
            kms.re_encrypt(minimal_request()).await.unwrap();
        }
        assert_eq!(cache.0.load(Ordering::SeqCst), 0);
        assert_eq!(calls.0.load(Ordering::SeqCst), 1);
    }
}

#[test]
fn an_identity_cache_that_cannot_run_here_fails_the_build() {
    let sdk = sdk_with(Counting::default(), NeedsAnSdkClient);
    let err = KmsClient::builder().sdk_config(&sdk).build().unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("identity cache"), "{msg}");
    assert!(msg.contains("needs an HTTP client"), "{msg}");
    // The way out the message names.
    KmsClient::builder()
        .sdk_config(&sdk)
        .credentials_cache(CredentialsCache::no_cache())
        .build()
        .unwrap();
}

#[tokio::test(start_paused = true)]
async fn the_sdk_configs_initial_backoff_applies_to_throttling_errors_too() {
    // smithy-rs uses one initial backoff for every error class.
    let sdk = SdkConfig::builder()
        .region(Region::new("us-east-1"))
        .credentials_provider(SharedCredentialsProvider::new(Counting::default()))
        .retry_config(
            SdkRetry::standard()
                .with_max_attempts(2)
                .with_initial_backoff(Duration::from_millis(10)),
        )
        .build();
    let (svc, mut handle) = mock::pair::<http::Request<Full<Bytes>>, http::Response<Full<Bytes>>>();
    let kms = KmsClient::builder()
        .sdk_config(&sdk)
        .connector(svc)
        .build()
        .unwrap();
    let k = kms.clone();
    let calls = tokio::spawn(async move {
        for _ in 0..5 {
            k.re_encrypt(minimal_request()).await.unwrap();
        }
    });
    for _ in 0..5 {
        let (_, send) = handle.next_request().await.unwrap();
        let throttled_at = tokio::time::Instant::now();
        send.send_response(json_response(
            400,
            r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#,
        ));
        let (_, send) = handle.next_request().await.unwrap();
        let waited = throttled_at.elapsed();
        // Jitter draws from [0, 10 ms), and tokio's timer rounds a sleep up to
        // the next millisecond; with the 1 s default throttling base, five
        // waits of 10 ms or less would take a 1-in-10^10 draw.
        assert!(waited <= Duration::from_millis(10), "{waited:?}");
        send.send_response(json_response(200, "{}"));
    }
    calls.await.unwrap();
}
