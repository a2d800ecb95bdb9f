//! The layers composed by hand with `ServiceBuilderExt`, in the documented order.

mod support;

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use support::*;
use tower::{ServiceBuilder, ServiceExt};
use tower_kms::ServiceBuilderExt;
use tower_kms::endpoint::Endpoint;
use tower_kms::retry::RetryConfig;
use tower_kms::sign::{FixedClock, SigV4Layer};
use tower_test::mock;

#[tokio::test(start_paused = true)]
async fn hand_built_stack_works_like_the_client() {
    let (connector, mut handle) =
        mock::pair::<http::Request<Full<Bytes>>, http::Response<Full<Bytes>>>();
    let kms = ServiceBuilder::new()
        .kms_grant_tokens(vec!["from-layer".to_owned()])
        .kms_operation_timeout(Duration::from_secs(30))
        .kms_retry(RetryConfig::standard())
        .kms_attempt_timeout(Duration::from_secs(5))
        .kms_json_protocol()
        .kms_endpoint(Endpoint::for_region("us-east-1").unwrap())
        .kms_sigv4(SigV4Layer::new(credentials(), "us-east-1").clock(FixedClock(fixed_time())))
        .service(connector);
    let call = tokio::spawn(kms.oneshot(minimal_request()));
    let (req, send) = handle.next_request().await.unwrap();
    send.send_response(json_response(
        503,
        r#"{"__type":"DependencyTimeoutException"}"#,
    ));
    let (req2, send) = handle.next_request().await.unwrap();
    send.send_response(json_response(200, r#"{"KeyId":"k"}"#));
    let out = call.await.unwrap().unwrap();
    assert_eq!(out.key_id.as_deref(), Some("k"));
    let body: serde_json::Value =
        serde_json::from_slice(&body_bytes(req.into_body()).await).unwrap();
    assert_eq!(body["GrantTokens"], serde_json::json!(["from-layer"]));
    assert_eq!(req2.uri(), "https://kms.us-east-1.amazonaws.com/");
}
