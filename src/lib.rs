//! # tower-kms
//!
//! AWS KMS as [`tower::Service`]s. `ReEncrypt` (decrypt a ciphertext and encrypt
//! it again under another key, inside KMS) is a `Service<ReEncryptRequest>`
//! composed of reusable layers:
//!
//! ```text
//! ReEncryptRequest
//!   │ grant_tokens::GrantTokenLayer   grant tokens from a list or a closure, merged (max 10)
//!   │ trace::TraceLayer::operation    `kms.operation` span (feature `tracing`)
//!   │ timeout::OperationTimeoutLayer  one deadline over all attempts and backoffs
//!   │ retry::RetryLayer               tower's Retry + AWS standard retry mode, clock skew
//!   │ retry::AdaptiveRateLimitLayer   adaptive mode: CUBIC client-side rate per attempt
//!   │ trace::TraceLayer::attempt      `kms.attempt` span (feature `tracing`)
//!   │ timeout::AttemptTimeoutLayer    per-attempt deadline
//!   │ protocol::JsonProtocolLayer     awsJson1.1: typed request -> http::Request<Bytes>,
//!   │                                 http::Response -> ReEncryptResponse | KmsError
//!   │ endpoint::EndpointLayer         region / FIPS / dual-stack / custom URL -> URI + Host
//!   │ user_agent::UserAgentLayer      user-agent and x-amz-user-agent (client, platform, app)
//!   │ sign::SigV4Layer                aws-sigv4, credentials from ProvideCredentials
//!   ▼ connector                       any Service<http::Request<Full<Bytes>>>:
//!                                     hyper-util + rustls by default, the local KMS, a mock
//! ```
//!
//! ## Layer order
//!
//! The first layer sees the request first. A timeout *above* the retry layer
//! bounds the whole operation; one *below* it bounds each attempt. Signing sits
//! below retry so every attempt is signed afresh; grant tokens sit above
//! validation (in the protocol layer) so the limit of 10 is checked after merging.
//! [`KmsClient`] assembles exactly this order; compose your own with
//! `tower::ServiceBuilder` and the public layers, and see [`mocking`] for tests.
//!
//! [`KmsClient`] assembles the default stack; every layer is also public on its
//! own. Errors are one matchable [`KmsError`].
//!
//! ```no_run
//! use tower_kms::{KmsClient, KmsError, ReEncryptRequest};
//!
//! # async fn run(old_blob: Vec<u8>) -> Result<(), Box<dyn std::error::Error>> {
//! let kms = KmsClient::builder().env().region("eu-west-1").build()?;
//! let req = ReEncryptRequest::builder()
//!     .ciphertext_blob(old_blob)
//!     .source_key_id("alias/old")
//!     .destination_key_id("alias/new")
//!     .build()?;
//! match kms.re_encrypt(req).await {
//!     Ok(out) => println!("re-encrypted under {:?}", out.key_id),
//!     Err(KmsError::IncorrectKey(e)) => eprintln!("not encrypted under alias/old: {e:?}"),
//!     Err(e) => return Err(e.into()),
//! }
//! # Ok(())
//! # }
//! ```
//!
//! ## Features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `rustls-ring` | yes | HTTPS in the default connector with rustls and `ring` |
//! | `rustls-aws-lc` | no | rustls with `aws-lc-rs` instead (wins when both are on) |
//! | `webpki-roots` | yes | trust the Mozilla roots bundled by `webpki-roots` |
//! | `native-roots` | no | trust the platform's certificate store |
//! | `tracing` | yes | [`trace`]: spans per operation and attempt (no-ops without a subscriber) |
//! | `aws-config` | no | `KmsClientBuilder::sdk_config`: configure from an `aws_config::SdkConfig` |
//! | `cli` | no | the `kms-reencrypt` bulk re-encryption tool |
//! | `local` | no | `tower_kms::local`: an in-memory KMS speaking the real wire protocol |
//! | `kms-local` | no | the `kms-local` standalone local KMS server (`local` and clap) |
//! | `serde` | no | `Serialize`/`Deserialize` for the KMS enums and [`Plaintext`] |
//! | `full` | no | all of the above |

#![forbid(unsafe_code)]
#![warn(
    missing_docs,
    missing_debug_implementations,
    rust_2018_idioms,
    unreachable_pub
)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod builder;
mod civil;
pub mod client;
pub mod connector;
pub mod endpoint;
pub mod error;
pub mod grant_tokens;
#[cfg(feature = "local")]
#[cfg_attr(docsrs, doc(cfg(feature = "local")))]
pub mod local;
pub mod mocking;
pub mod model;
pub mod operation;
pub mod paginate;
pub mod protocol;
pub mod retry;
pub mod sign;
pub mod timeout;
#[cfg(feature = "tracing")]
#[cfg_attr(docsrs, doc(cfg(feature = "tracing")))]
pub mod trace;
pub mod user_agent;

pub use aws_credential_types::Credentials;
pub use builder::ServiceBuilderExt;
pub use client::{KmsClient, KmsClientBuilder};
pub use error::{
    BoxError, ConfigError, CredentialsError, DisplayChain, KmsError, ServiceError, SigningError,
    TimeoutError, TimeoutKind, TransportError, TransportKind, UnexpectedResponse, ValidationError,
};
pub use model::{
    CreateKeyRequest, CreateKeyResponse, DecryptRequest, DecryptResponse, DescribeKeyRequest,
    DescribeKeyResponse, DryRunModifierType, EncryptRequest, EncryptResponse,
    EncryptionAlgorithmSpec, EncryptionContext, GenerateDataKeyRequest, GenerateDataKeyResponse,
    GenerateDataKeyWithoutPlaintextRequest, GenerateDataKeyWithoutPlaintextResponse, KeyMetadata,
    KeySpec, KeyState, KeyUsageType, Plaintext, ReEncryptRequest, ReEncryptRequestBuilder,
    ReEncryptResponse, ReEncryptResponseBuilder, SecretString,
};
pub use operation::{Attempt, KmsOperation, OperationOutput, ResponseMetadata};
