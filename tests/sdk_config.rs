//! Configuration from an `aws_config::SdkConfig` (feature `aws-config`).
#![cfg(feature = "aws-config")]

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider, future};
use aws_smithy_types::retry::RetryConfig as SdkRetry;
use aws_smithy_types::timeout::TimeoutConfig;
use aws_types::SdkConfig;
use aws_types::region::Region;
use bytes::Bytes;
use http_body_util::Full;
use support::*;
use tower_kms::KmsClient;
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
    // Cached: the provider was asked once for three calls.
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
