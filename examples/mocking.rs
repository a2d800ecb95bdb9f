//! Mocking KMS at three levels: the typed service (a tower-test mock), the HTTP
//! connector (the real protocol and signing over a scripted connector), and the
//! local KMS. See also the `tower_kms::mocking` guide.

use bytes::Bytes;
use http_body_util::Full;
use tower::{Service, ServiceExt};
use tower_kms::local::LocalKms;
use tower_kms::{
    EncryptRequest, KeySpec, KeyUsageType, KmsClient, KmsError, ReEncryptRequest,
    ReEncryptResponse, ServiceError,
};
use tower_test::mock;

/// The code under test: rotates one ciphertext to `alias/new`.
async fn rotate<S>(kms: S, blob: Vec<u8>) -> Result<ReEncryptResponse, KmsError>
where
    S: Service<ReEncryptRequest, Response = ReEncryptResponse, Error = KmsError>,
{
    let req = ReEncryptRequest::builder()
        .ciphertext_blob(blob)
        .destination_key_id("alias/new")
        .build()?;
    kms.oneshot(req).await
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // 1. The typed service: a tower-test mock scripted from the test.
    let (svc, mut handle) = mock::pair::<ReEncryptRequest, ReEncryptResponse>();
    // tower-test's mock fails with BoxError; fold it back into KmsError.
    let task = tokio::spawn(rotate(svc.map_err(KmsError::from_box), vec![1, 2, 3]));
    let (req, send) = handle.next_request().await.ok_or("no request")?;
    assert_eq!(
        req.ciphertext_blob().map(|b| b.to_vec()),
        Some(vec![1, 2, 3])
    );
    send.send_error(KmsError::from_service_error(
        ServiceError::new("ThrottlingException", http::StatusCode::BAD_REQUEST)
            .with_message("Rate exceeded"),
    ));
    let err = task.await?.unwrap_err();
    println!("1. typed mock: {err} (retryable: {})", err.is_retryable());

    // 2. The connector: the real client stack (protocol, retry, signing) over a
    // scripted HTTP service.
    let connector = tower::service_fn(|req: http::Request<Full<Bytes>>| async move {
        assert!(req.headers().contains_key("authorization"));
        let body =
            r#"{"CiphertextBlob":"AAEC","KeyId":"arn:aws:kms:us-east-1:111122223333:key/new"}"#;
        Ok::<_, std::convert::Infallible>(http::Response::new(Full::new(Bytes::from(body))))
    });
    let kms = KmsClient::builder()
        .region("us-east-1")
        .credentials_provider(aws_credential_types::Credentials::new(
            "AKID", "SECRET", None, None, "demo",
        ))
        .connector(connector)
        .build()?;
    let out = rotate(kms, vec![1, 2, 3]).await?;
    println!("2. scripted connector: new key {:?}", out.key_id);

    // 3. The local KMS: real cryptography and KMS's rules, no sockets.
    let local = LocalKms::new();
    let key = local.create_key(KeySpec::SymmetricDefault, KeyUsageType::EncryptDecrypt)?;
    let kms = KmsClient::builder()
        .region("us-east-1")
        .credentials_provider(aws_credential_types::Credentials::new(
            "test", "test", None, None, "local",
        ))
        .connector(local.clone())
        .build()?;
    local.invoke(
        "CreateAlias",
        serde_json::json!({"AliasName": "alias/new", "TargetKeyId": key.rsplit('/').next()}),
    )?;
    let blob = kms
        .send(
            EncryptRequest::builder()
                .key_id(key)
                .plaintext(b"secret")
                .build()?,
        )
        .await?;
    let out = rotate(kms, blob.ciphertext_blob.ok_or("no blob")?.to_vec()).await?;
    println!("3. local KMS: re-encrypted under {:?}", out.key_id);
    Ok(())
}
