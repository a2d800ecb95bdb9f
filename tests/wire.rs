//! Golden wire tests: the exact request bytes and signature, over tower-test mocks.

mod support;

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use support::*;
use tower::{Service, ServiceBuilder, ServiceExt};
use tower_kms::endpoint::{Endpoint, EndpointLayer};
use tower_kms::protocol::JsonProtocolLayer;
use tower_kms::sign::{FixedClock, SigV4Layer};
use tower_kms::{KmsClient, KmsError, ReEncryptRequest};
use tower_test::mock;

type Mock = mock::Mock<http::Request<Full<Bytes>>, http::Response<Full<Bytes>>>;
type Handle = mock::Handle<http::Request<Full<Bytes>>, http::Response<Full<Bytes>>>;

/// The HTTP stack of the client, over a mock connector, with a fixed clock.
fn stack(
    creds: aws_credential_types::Credentials,
) -> (
    impl Service<
        ReEncryptRequest,
        Response = tower_kms::ReEncryptResponse,
        Error = KmsError,
        Future: Send + 'static,
    >,
    Handle,
) {
    let (mock, handle): (Mock, Handle) = mock::pair();
    let svc = ServiceBuilder::new()
        .layer(JsonProtocolLayer::new())
        .layer(EndpointLayer::new(
            Endpoint::for_region("us-east-1").unwrap(),
        ))
        .layer(SigV4Layer::new(creds, "us-east-1").clock(FixedClock(fixed_time())))
        .service(mock);
    (svc, handle)
}

const FULL_AUTH: &str = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/kms/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=0dee7387248d0d0acb0826bda6e938486f7448f12c58ec1c94d3df5aabb513db";
const MINIMAL_AUTH: &str = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/kms/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=a4b5250a62ef328b9be5a5ceaf9b4dc44ee5b4b7b8ae69d9a59d1cd31ba78f60";
const UA_SESSION_AUTH: &str = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/kms/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target;x-amz-user-agent, Signature=107666b44fcd985bd6fee30530fcd23dd01218dcd7a84d275f90ee53bcc5e5ce";
const SESSION_AUTH: &str = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/kms/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target, Signature=696d7aa2cde8c5d7ce145858383ebd2a6b2d04d7c11a6b157d3759d1dd8b5301";

async fn capture(
    creds: aws_credential_types::Credentials,
    req: ReEncryptRequest,
) -> (
    http::Request<Full<Bytes>>,
    Result<tower_kms::ReEncryptResponse, KmsError>,
) {
    let (mut svc, mut handle) = stack(creds);
    // tower-test panics on a call without poll_ready: this checks the contract too.
    svc.ready().await.unwrap();
    let fut = tokio::spawn(svc.call(req));
    let (request, send) = handle.next_request().await.expect("a request");
    send.send_response(json_response(
        200,
        r#"{"CiphertextBlob":"AAEC","KeyId":"k"}"#,
    ));
    (request, fut.await.unwrap())
}

fn header<'a>(req: &'a http::Request<Full<Bytes>>, name: &str) -> &'a str {
    req.headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name}"))
        .to_str()
        .unwrap()
}

#[tokio::test]
async fn full_request_is_byte_exact_and_signed_like_botocore() {
    let (req, resp) = capture(credentials(), full_request()).await;
    assert_eq!(req.method(), http::Method::POST);
    assert_eq!(req.uri(), "https://kms.us-east-1.amazonaws.com/");
    let mut names: Vec<_> = req
        .headers()
        .keys()
        .map(|k| k.as_str().to_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "authorization",
            "content-type",
            "host",
            "x-amz-date",
            "x-amz-target"
        ]
    );
    assert_eq!(header(&req, "content-type"), "application/x-amz-json-1.1");
    assert_eq!(header(&req, "x-amz-target"), "TrentService.ReEncrypt");
    assert_eq!(header(&req, "host"), "kms.us-east-1.amazonaws.com");
    assert_eq!(header(&req, "x-amz-date"), "20150830T123600Z");
    assert_eq!(header(&req, "authorization"), FULL_AUTH);
    assert_eq!(body_bytes(req.into_body()).await, FULL_BODY.as_bytes());
    let resp = resp.unwrap();
    assert_eq!(resp.ciphertext_blob.as_deref(), Some(&[0u8, 1, 2][..]));
    assert_eq!(
        resp.metadata.request_id.as_deref(),
        Some("11111111-2222-3333-4444-555555555555")
    );
}

#[tokio::test]
async fn minimal_request_omits_absent_members() {
    let (req, _) = capture(credentials(), minimal_request()).await;
    assert_eq!(header(&req, "authorization"), MINIMAL_AUTH);
    assert_eq!(body_bytes(req.into_body()).await, MINIMAL_BODY.as_bytes());
}

#[tokio::test]
async fn session_credentials_add_the_security_token() {
    let (req, _) = capture(session_credentials(), minimal_request()).await;
    assert_eq!(header(&req, "x-amz-security-token"), TOKEN);
    assert_eq!(header(&req, "authorization"), SESSION_AUTH);
}

#[tokio::test]
async fn user_agent_headers_are_sent_and_signed_like_botocore() {
    use tower_kms::user_agent::{UserAgent, UserAgentLayer};
    let (mock, mut handle): (Mock, Handle) = mock::pair();
    let ua = UserAgent::for_tests().with_app_name("golden-app").unwrap();
    let mut svc = ServiceBuilder::new()
        .layer(JsonProtocolLayer::new())
        .layer(EndpointLayer::new(
            Endpoint::for_region("us-east-1").unwrap(),
        ))
        .layer(UserAgentLayer::new(ua))
        .layer(SigV4Layer::new(session_credentials(), "us-east-1").clock(FixedClock(fixed_time())))
        .service(mock);
    ServiceExt::<ReEncryptRequest>::ready(&mut svc)
        .await
        .unwrap();
    let fut = tokio::spawn(svc.call(minimal_request()));
    let (req, send) = handle.next_request().await.unwrap();
    send.send_response(json_response(200, "{}"));
    fut.await.unwrap().unwrap();
    assert_eq!(
        header(&req, "user-agent"),
        "tower-kms/test os/linux lang/rust/1.95.0"
    );
    assert_eq!(
        header(&req, "x-amz-user-agent"),
        "tower-kms/test ua/2.1 api/kms/test os/linux lang/rust/1.95.0 app/golden-app"
    );
    // Computed by botocore's SigV4Auth (tests/golden/botocore_sign.py).
    assert_eq!(header(&req, "authorization"), UA_SESSION_AUTH);
}

#[tokio::test]
async fn each_call_is_signed_at_its_own_time() {
    // A clock that moves: two calls, two timestamps, two signatures.
    #[derive(Debug)]
    struct Ticking(std::sync::atomic::AtomicU64);
    impl tower_kms::sign::Clock for Ticking {
        fn now(&self) -> std::time::SystemTime {
            fixed_time()
                + Duration::from_secs(self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst))
        }
    }
    let (mock, mut handle): (Mock, Handle) = mock::pair();
    let mut svc = ServiceBuilder::new()
        .layer(JsonProtocolLayer::new())
        .layer(EndpointLayer::new(
            Endpoint::for_region("us-east-1").unwrap(),
        ))
        .layer(SigV4Layer::new(credentials(), "us-east-1").clock(Ticking(0.into())))
        .service(mock);
    let mut seen = Vec::new();
    for _ in 0..2 {
        ServiceExt::<ReEncryptRequest>::ready(&mut svc)
            .await
            .unwrap();
        let fut = tokio::spawn(svc.call(minimal_request()));
        let (req, send) = handle.next_request().await.unwrap();
        seen.push((
            header(&req, "x-amz-date").to_owned(),
            header(&req, "authorization").to_owned(),
        ));
        send.send_response(json_response(200, "{}"));
        fut.await.unwrap().unwrap();
    }
    assert_eq!(seen[0].0, "20150830T123600Z");
    assert_eq!(seen[1].0, "20150830T123601Z");
    assert_ne!(seen[0].1, seen[1].1);
}

#[tokio::test]
async fn client_builder_wires_the_same_stack() {
    let (mock, mut handle): (Mock, Handle) = mock::pair();
    let client = KmsClient::builder()
        .region("us-east-1")
        .credentials_provider(credentials())
        .clock(FixedClock(fixed_time()))
        .app_name("wire-test")
        .connector(mock)
        .build()
        .unwrap();
    let call = tokio::spawn(async move { client.re_encrypt(full_request()).await });
    let (req, send) = handle.next_request().await.unwrap();
    send.send_response(json_response(200, "{}"));
    call.await.unwrap().unwrap();
    // The client tells KMS who it is (the platform part depends on the machine).
    let ua = tower_kms::user_agent::UserAgent::new()
        .with_app_name("wire-test")
        .unwrap();
    assert_eq!(header(&req, "user-agent"), ua.user_agent());
    assert_eq!(header(&req, "x-amz-user-agent"), ua.x_amz_user_agent());
    assert!(header(&req, "x-amz-user-agent").ends_with(" app/wire-test"));
    // Signed as aws-sigv4's general signer signs the same request.
    let mut expected = http::Request::post(req.uri().clone())
        .body(body_bytes(req.body().clone()).await)
        .unwrap();
    for name in [
        "content-type",
        "host",
        "x-amz-target",
        "user-agent",
        "x-amz-user-agent",
    ] {
        expected
            .headers_mut()
            .insert(name, req.headers()[name].clone());
    }
    tower_kms::sign::sign_request(
        &mut expected,
        &credentials(),
        "us-east-1",
        "kms",
        fixed_time(),
    )
    .unwrap();
    assert_eq!(
        header(&req, "authorization"),
        expected.headers()["authorization"]
    );
    assert!(
        header(&req, "authorization").contains("x-amz-target;x-amz-user-agent, Signature="),
        "{}",
        header(&req, "authorization")
    );
}

#[tokio::test]
async fn custom_endpoint_sets_uri_and_host_with_port() {
    let (mock, mut handle): (Mock, Handle) = mock::pair();
    let client = KmsClient::builder()
        .region("eu-central-1")
        .endpoint_url("http://127.0.0.1:4566")
        .credentials_provider(credentials())
        .connector(mock)
        .build()
        .unwrap();
    let call = tokio::spawn(async move { client.re_encrypt(minimal_request()).await });
    let (req, send) = handle.next_request().await.unwrap();
    assert_eq!(req.uri(), "http://127.0.0.1:4566/");
    assert_eq!(header(&req, "host"), "127.0.0.1:4566");
    assert!(header(&req, "authorization").contains("/eu-central-1/kms/aws4_request"));
    send.send_response(json_response(200, "{}"));
    call.await.unwrap().unwrap();
}

#[tokio::test]
async fn credentials_failure_sends_nothing() {
    #[derive(Debug)]
    struct NoCreds;
    impl aws_credential_types::provider::ProvideCredentials for NoCreds {
        fn provide_credentials<'a>(
            &'a self,
        ) -> aws_credential_types::provider::future::ProvideCredentials<'a>
        where
            Self: 'a,
        {
            aws_credential_types::provider::future::ProvideCredentials::ready(Err(
                aws_credential_types::provider::error::CredentialsError::not_loaded("no profile"),
            ))
        }
    }
    let (mock, mut handle): (Mock, Handle) = mock::pair();
    let client = KmsClient::builder()
        .region("us-east-1")
        .credentials_provider(NoCreds)
        .connector(mock)
        .build()
        .unwrap();
    let err = client.re_encrypt(minimal_request()).await.unwrap_err();
    assert!(matches!(err, KmsError::Credentials(_)), "{err:?}");
    assert!(
        err.to_string().contains("could not load AWS credentials"),
        "{err}"
    );
    handle.allow(0);
    assert!(
        tokio::time::timeout(Duration::from_millis(50), handle.next_request())
            .await
            .is_err()
    );
}

#[tokio::test]
async fn request_ready_contract_with_a_pending_connector() {
    // The connector is not ready until the handle allows it; the stack must wait.
    let (mut svc, mut handle) = stack(credentials());
    handle.allow(0);
    let mut task = tokio_test::task::spawn(());
    task.enter(|cx, _| {
        assert!(Service::<ReEncryptRequest>::poll_ready(&mut svc, cx).is_pending());
    });
    handle.allow(1);
    svc.ready().await.unwrap();
    let fut = tokio::spawn(svc.call(minimal_request()));
    let (_req, send) = handle.next_request().await.unwrap();
    send.send_response(json_response(200, "{}"));
    fut.await.unwrap().unwrap();
}

#[tokio::test]
async fn map_connector_sees_every_signed_attempt() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let (mock, mut handle): (Mock, Handle) = mock::pair();
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = seen.clone();
    let client = KmsClient::builder()
        .region("us-east-1")
        .credentials_provider(credentials())
        .connector(mock)
        .retry_config(tower_kms::retry::RetryConfig::standard().with_base(Duration::from_millis(1)))
        .map_connector(move |inner| {
            tower_kms::client::box_connector(inner.map_request(
                move |req: http::Request<Full<Bytes>>| {
                    assert!(req.headers().contains_key("authorization"));
                    counter.fetch_add(1, Ordering::SeqCst);
                    req
                },
            ))
        })
        .build()
        .unwrap();
    let call = tokio::spawn(async move { client.re_encrypt(minimal_request()).await });
    let (_r, send) = handle.next_request().await.unwrap();
    send.send_response(json_response(
        503,
        r#"{"__type":"DependencyTimeoutException"}"#,
    ));
    let (_r, send) = handle.next_request().await.unwrap();
    send.send_response(json_response(200, "{}"));
    call.await.unwrap().unwrap();
    assert_eq!(seen.load(Ordering::SeqCst), 2);
}

/// The `x-amz-user-agent` a client built with `configure` sends.
async fn sent_user_agent(
    configure: impl FnOnce(tower_kms::KmsClientBuilder) -> tower_kms::KmsClientBuilder,
) -> String {
    let (mock, mut handle): (Mock, Handle) = mock::pair();
    let client = configure(
        KmsClient::builder()
            .region("us-east-1")
            .credentials_provider(credentials()),
    )
    .connector(mock)
    .build()
    .unwrap();
    let call = tokio::spawn(async move { client.re_encrypt(minimal_request()).await });
    let (req, send) = handle.next_request().await.unwrap();
    send.send_response(json_response(200, "{}"));
    call.await.unwrap().unwrap();
    header(&req, "x-amz-user-agent").to_owned()
}

#[tokio::test]
async fn the_application_name_comes_from_code_or_the_environment() {
    let plain = sent_user_agent(|b| b).await;
    assert!(!plain.contains(" app/"), "{plain}");
    let from_env = sent_user_agent(|b| {
        b.env_with(|k| match k {
            "AWS_SDK_UA_APP_ID" => Some("from-env".to_owned()),
            "AWS_EXECUTION_ENV" => Some("AWS_ECS_FARGATE".to_owned()),
            _ => None,
        })
    })
    .await;
    assert!(
        from_env.ends_with(" exec-env/AWS_ECS_FARGATE app/from-env"),
        "{from_env}"
    );
    // Code wins over the environment.
    let code = sent_user_agent(|b| {
        b.app_name("from-code")
            .env_with(|k| (k == "AWS_SDK_UA_APP_ID").then(|| "from-env".to_owned()))
    })
    .await;
    assert!(code.ends_with(" app/from-code"), "{code}");
    // A name the header cannot carry is a configuration error, not a silent drop.
    let err = KmsClient::builder()
        .region("us-east-1")
        .app_name("two words")
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("application name"), "{err}");
    // But one from the environment, shared by every AWS tool on the machine, is
    // dropped rather than allowed to stop the client (the SDKs only warn).
    for bad in ["two words", &"x".repeat(51)] {
        let dropped =
            sent_user_agent(|b| b.env_with(|k| (k == "AWS_SDK_UA_APP_ID").then(|| bad.to_owned())))
                .await;
        assert!(!dropped.contains(" app/"), "{dropped}");
    }
}

#[cfg(feature = "aws-config")]
#[tokio::test]
async fn the_application_name_comes_from_sdk_config() {
    let sdk = aws_types::SdkConfig::builder()
        .app_name(aws_types::app_name::AppName::new("sdk-app").unwrap())
        .build();
    let ua = sent_user_agent(|b| b.sdk_config(&sdk)).await;
    assert!(ua.ends_with(" app/sdk-app"), "{ua}");
}
