//! No secret appears in Debug or Display of any public type that holds credentials.

mod support;

use bytes::Bytes;
use http_body_util::Full;
use support::*;
use tower::ServiceBuilder;
use tower_kms::KmsClient;
use tower_kms::sign::SigV4Layer;

fn assert_no_secret(text: &str) {
    assert!(!text.contains(SECRET), "secret leaked: {text}");
    assert!(!text.contains("EXAMPLEKEY"), "secret leaked: {text}");
    assert!(!text.contains(TOKEN), "session token leaked: {text}");
}

#[test]
fn debug_output_holds_no_secrets() {
    let layer = SigV4Layer::new(session_credentials(), "us-east-1");
    assert_no_secret(&format!("{layer:?}"));
    assert_no_secret(&format!("{layer:#?}"));
    let svc = ServiceBuilder::new()
        .layer(layer)
        .service(tower::service_fn(|_r: http::Request<Full<Bytes>>| async {
            Ok::<_, std::io::Error>(http::Response::new(Full::new(Bytes::new())))
        }));
    assert_no_secret(&format!("{svc:?}"));

    let builder = KmsClient::builder()
        .region("us-east-1")
        .credentials_provider(session_credentials());
    assert_no_secret(&format!("{builder:?}"));
    let client = builder.build().unwrap();
    assert_no_secret(&format!("{client:?}"));
    assert_no_secret(&format!("{client:#?}"));

    let env = KmsClient::builder().env_with(|k| match k {
        "AWS_REGION" => Some("us-east-1".into()),
        "AWS_ACCESS_KEY_ID" => Some(AKID.into()),
        "AWS_SECRET_ACCESS_KEY" => Some(SECRET.into()),
        "AWS_SESSION_TOKEN" => Some(TOKEN.into()),
        _ => None,
    });
    assert_no_secret(&format!("{env:?}"));
    assert_no_secret(&format!("{:?}", env.build().unwrap()));
}

#[tokio::test]
async fn errors_hold_no_secrets() {
    // A signing failure (a header that is not visible ASCII) and a transport failure.
    let connector = tower::service_fn(|_r: http::Request<Full<Bytes>>| async {
        Err::<http::Response<Full<Bytes>>, _>(std::io::Error::other("boom"))
    });
    let client = KmsClient::builder()
        .region("us-east-1")
        .credentials_provider(session_credentials())
        .max_attempts(1)
        .connector(connector)
        .build()
        .unwrap();
    let err = client.re_encrypt(minimal_request()).await.unwrap_err();
    assert_no_secret(&format!("{err:?}"));
    assert_no_secret(&err.to_string());
}
