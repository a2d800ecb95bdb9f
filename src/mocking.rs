//! How to mock KMS in your tests, at the three levels users need.
//!
//! This module holds no code, only this guide; every example below runs as a
//! doctest. `examples/mocking.rs` shows the same in one program.
//!
//! # 1. Replace the typed service
//!
//! Code that takes "any `Service<ReEncryptRequest, Response = ReEncryptResponse,
//! Error = KmsError>`" (as [`KmsClient`](crate::KmsClient) is) can be given a
//! `service_fn` or a tower-test mock. Every [`KmsError`](crate::KmsError) variant
//! and every response can be built without a server.
//!
//! ```
//! use tower::{Service, ServiceExt, service_fn};
//! use tower_kms::{KmsError, ReEncryptRequest, ReEncryptResponse, ServiceError};
//!
//! // The code under test: generic over the service.
//! async fn rotate<S>(kms: S, blob: Vec<u8>) -> Result<Vec<u8>, KmsError>
//! where
//!     S: Service<ReEncryptRequest, Response = ReEncryptResponse, Error = KmsError>,
//! {
//!     let req = ReEncryptRequest::builder().ciphertext_blob(blob).destination_key_id("alias/new").build()?;
//!     let out = kms.oneshot(req).await?;
//!     Ok(out.ciphertext_blob.map(|b| b.to_vec()).unwrap_or_default())
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! // Script a success, asserting the request.
//! let ok = service_fn(|req: ReEncryptRequest| async move {
//!     assert_eq!(req.destination_key_id(), "alias/new");
//!     Ok::<_, KmsError>(ReEncryptResponse::builder().ciphertext_blob(vec![9]).key_id("arn:...:key/new").build())
//! });
//! assert_eq!(rotate(ok, vec![1]).await.unwrap(), vec![9]);
//!
//! // Script an error: any code, message, request id and status.
//! let not_found = service_fn(|_req: ReEncryptRequest| async {
//!     Err::<ReEncryptResponse, _>(KmsError::from_service_error(
//!         ServiceError::new("NotFoundException", http::StatusCode::NOT_FOUND)
//!             .with_message("Alias alias/new is not found.")
//!             .with_request_id("req-1"),
//!     ))
//! });
//! let err = rotate(not_found, vec![1]).await.unwrap_err();
//! assert!(matches!(err, KmsError::NotFound(_)));
//! # }
//! ```
//!
//! Every operation works the same way: each `XResponse` (and each structure in
//! it) has a builder, so a mock can answer any call:
//!
//! ```
//! use tower::{ServiceExt, service_fn};
//! use tower_kms::model::{DescribeKeyRequest, DescribeKeyResponse, KeyMetadata, KeyState};
//! use tower_kms::KmsError;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let kms = service_fn(|req: DescribeKeyRequest| async move {
//!     let meta = KeyMetadata::builder().key_id(req.key_id()).key_state(KeyState::Disabled).build();
//!     Ok::<_, KmsError>(DescribeKeyResponse::builder().key_metadata(meta).request_id("req-2").build())
//! });
//! let req = DescribeKeyRequest::builder().key_id("alias/app").build().unwrap();
//! let out = kms.oneshot(req).await.unwrap();
//! assert_eq!(out.key_metadata().and_then(|m| m.key_state()), Some(&KeyState::Disabled));
//! # }
//! ```
//!
//! A paginated operation (`ListKeys`, ...) is mocked page by page the same way;
//! [`Paginator`](crate::paginate::Paginator) works over any such service.
//!
//! The client-side kinds have public constructors too:
//! [`ValidationError::new`](crate::ValidationError::new),
//! [`CredentialsError::new`](crate::CredentialsError::new),
//! [`SigningError::new`](crate::SigningError::new),
//! [`TransportError::new`](crate::TransportError::new),
//! [`TimeoutError::new`](crate::TimeoutError::new) and
//! [`UnexpectedResponse::new`](crate::UnexpectedResponse::new).
//!
//! With `tower_test::mock::pair::<ReEncryptRequest, ReEncryptResponse>()` you get
//! a handle to assert each request and answer it (or fail it) from the test; the
//! mock also checks that callers call `poll_ready` first. Its error type is
//! `BoxError`: wrap it as `mock.map_err(KmsError::from_box)` to get
//! `Error = KmsError` back (a `KmsError` sent with `send_error` comes back as is).
//!
//! # 2. Replace the HTTP connector
//!
//! To test the real protocol and signing, keep the whole client and swap only
//! the connector: anything that is a `Service<http::Request<Full<Bytes>>>`
//! returning an `http::Response` with a body.
//!
//! ```
//! use bytes::Bytes;
//! use http_body_util::Full;
//! use tower_kms::{KmsClient, KmsError, ReEncryptRequest};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let connector = tower::service_fn(|req: http::Request<Full<Bytes>>| async move {
//!     assert_eq!(req.headers()["x-amz-target"], "TrentService.ReEncrypt");
//!     assert!(req.headers().contains_key("authorization"));
//!     let body = r#"{"__type":"com.amazonaws.kms#DisabledException","message":"key disabled"}"#;
//!     Ok::<_, std::convert::Infallible>(
//!         http::Response::builder().status(409).body(Full::new(Bytes::from(body))).unwrap(),
//!     )
//! });
//! let kms = KmsClient::builder()
//!     .region("us-east-1")
//!     .credentials_provider(aws_credential_types::Credentials::new("AKID", "SECRET", None, None, "test"))
//!     .connector(connector)
//!     .build()
//!     .unwrap();
//! let req = ReEncryptRequest::builder().ciphertext_blob(vec![1]).destination_key_id("k").build().unwrap();
//! let err = kms.re_encrypt(req).await.unwrap_err();
//! assert!(matches!(err, KmsError::Disabled(_)));
//! # }
//! ```
//!
//! # 3. Use the local KMS
//!
//! For semantic tests (real encryption, contexts, key states, grant tokens,
//! signature checks), plug `tower_kms::local::LocalKms` (feature `local`) in as the
//! connector (no sockets), or serve it on 127.0.0.1 for other processes.
//!
//! ```
//! # #[cfg(feature = "local")]
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use tower_kms::local::LocalKms;
//! use tower_kms::{EncryptRequest, KeySpec, KeyUsageType, KmsClient, KmsError, ReEncryptRequest};
//!
//! let local = LocalKms::new();
//! let key = local.create_key(KeySpec::SymmetricDefault, KeyUsageType::EncryptDecrypt).unwrap();
//! let kms = KmsClient::builder()
//!     .region("us-east-1")
//!     .credentials_provider(aws_credential_types::Credentials::new("test", "test", None, None, "local"))
//!     .connector(local)
//!     .build()
//!     .unwrap();
//! let req = EncryptRequest::builder().key_id(key.clone()).plaintext(b"hi").encryption_context("a", "1").build().unwrap();
//! let blob = kms.send(req).await.unwrap();
//! // The wrong context fails exactly as in KMS.
//! let req = ReEncryptRequest::builder()
//!     .ciphertext_blob(blob.ciphertext_blob.unwrap())
//!     .source_encryption_context("a", "2")
//!     .destination_key_id(key)
//!     .build()
//!     .unwrap();
//! assert!(matches!(kms.re_encrypt(req).await, Err(KmsError::InvalidCiphertext(_))));
//! # }
//! # #[cfg(not(feature = "local"))]
//! # fn main() {}
//! ```
