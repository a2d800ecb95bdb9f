//! An in-memory KMS that speaks the real AWS KMS wire protocol, for tests
//! and local development.
//!
//! [`LocalKms`] implements the awsJson1.1 protocol of AWS KMS
//! (`POST /`, `X-Amz-Target: TrentService.<Operation>`), verifies the
//! Signature Version 4 of every request with its own, independent
//! implementation, and performs real cryptography with `aws-lc-rs`, so what
//! it makes checks out outside it: ciphertext made with the public key from
//! `GetPublicKey` decrypts here, and its signatures verify with that public
//! key anywhere.
//!
//! It can be used in two ways:
//!
//! * in-process, as a [`tower::Service`] over `http::Request`s — plug it in
//!   as the HTTP connector of a KMS client, no sockets involved;
//! * over a real socket with [`LocalKms::serve`], which runs hyper's
//!   HTTP/1.1 server on a `tokio::net::TcpListener`, or
//!   [`LocalKms::serve_with`] and a [`ServerConfig`] for its limits (header,
//!   body and idle timeouts, a connection cap, the shutdown grace period).
//!
//! # Operations
//!
//! Every one of KMS's 56 operations gets a KMS answer (never
//! `UnknownOperationException`). Modelled:
//!
//! * keys: `CreateKey`, `DescribeKey`, `ListKeys`, `EnableKey`,
//!   `DisableKey`, `ScheduleKeyDeletion`, `CancelKeyDeletion`,
//!   `UpdateKeyDescription`, `GetPublicKey`, `GetKeyLastUsage`;
//! * aliases and tags: `CreateAlias`, `UpdateAlias`, `DeleteAlias`,
//!   `ListAliases`, `TagResource`, `UntagResource`, `ListResourceTags`;
//! * cryptography: `Encrypt`, `Decrypt`, `ReEncrypt`, `GenerateDataKey`,
//!   `GenerateDataKeyWithoutPlaintext`, `GenerateDataKeyPair`,
//!   `GenerateDataKeyPairWithoutPlaintext`, `GenerateRandom`, `Sign`,
//!   `Verify`, `GenerateMac`, `VerifyMac`, `DeriveSharedSecret`;
//! * who may do what: `PutKeyPolicy`, `GetKeyPolicy`, `ListKeyPolicies`,
//!   `CreateGrant`, `ListGrants`, `ListRetirableGrants`, `RetireGrant`,
//!   `RevokeGrant`;
//! * rotation: `EnableKeyRotation`, `DisableKeyRotation`,
//!   `GetKeyRotationStatus`, `RotateKeyOnDemand`, `ListKeyRotations`.
//!
//! # Keys and algorithms
//!
//! | `KeySpec` | `KeyUsage` | Algorithms |
//! |---|---|---|
//! | `SYMMETRIC_DEFAULT` | `ENCRYPT_DECRYPT` | AES-256-GCM (`SYMMETRIC_DEFAULT`); rotates |
//! | `RSA_2048`, `RSA_3072`, `RSA_4096` | `ENCRYPT_DECRYPT` | `RSAES_OAEP_SHA_1`, `RSAES_OAEP_SHA_256` |
//! | `RSA_2048`, `RSA_3072`, `RSA_4096` | `SIGN_VERIFY` | `RSASSA_PKCS1_V1_5_SHA_256/384/512`, `RSASSA_PSS_SHA_256/384/512` |
//! | `ECC_NIST_P256`, `ECC_SECG_P256K1` | `SIGN_VERIFY` | `ECDSA_SHA_256` |
//! | `ECC_NIST_P384` | `SIGN_VERIFY` | `ECDSA_SHA_384` |
//! | `ECC_NIST_P521` | `SIGN_VERIFY` | `ECDSA_SHA_512` |
//! | `ECC_NIST_P256`, `ECC_NIST_P384`, `ECC_NIST_P521` | `KEY_AGREEMENT` | `ECDH` |
//! | `HMAC_224`, `HMAC_256`, `HMAC_384`, `HMAC_512` | `GENERATE_VERIFY_MAC` | `HMAC_SHA_224`, ... (the spec's own) |
//!
//! `DescribeKey`, `CreateKey` and `GetPublicKey` list them as KMS does
//! (`EncryptionAlgorithms`, `SigningAlgorithms`, `MacAlgorithms`,
//! `KeyAgreementAlgorithms`). `SM2` (China Regions only), `ML_DSA_*`,
//! `ECC_NIST_EDWARDS25519` and `ML_KEM_*` are `UnsupportedOperationException`.
//!
//! * `Sign` and `Verify` take `MessageType` `RAW` (up to 4096 bytes, hashed
//!   by the algorithm) or `DIGEST` (exactly the hash's length; a signature
//!   verifies whichever type made it). ECDSA signatures are DER, as KMS
//!   returns them; RSASSA-PSS uses a salt as long as the hash. A signature
//!   that does not verify is `KMSInvalidSignatureException`, a MAC that does
//!   not verify `KMSInvalidMacException`.
//! * `DeriveSharedSecret` takes the peer's public key as X.509
//!   `SubjectPublicKeyInfo` DER and returns the raw ECDH secret.
//! * `GenerateDataKeyPair*` make `RSA_*`, `ECC_NIST_*` and
//!   `ECC_SECG_P256K1` pairs: the private key is PKCS#8 DER, encrypted under
//!   a symmetric encryption key with the encryption context (so `Decrypt`
//!   of `PrivateKeyCiphertextBlob` returns it), the public key
//!   `SubjectPublicKeyInfo` DER.
//! * Each checks what KMS checks, in KMS's order: authorization (grants,
//!   grant tokens, key and identity policies, with the operation's
//!   condition keys such as `kms:SigningAlgorithm`), key state, key usage,
//!   algorithm against the key spec, message, then `DryRun`. All are
//!   cryptographic operations for the [quota](Quota::CRYPTOGRAPHIC).
//! * `GetKeyLastUsage` reports each key's last successful cryptographic
//!   operation (operation, time and, over HTTP, `KmsRequestId`).
//! * Tags follow AWS's rules (1 to 128 character keys, 0 to 256 character
//!   values, letters, digits, white space and `_ . : / = + - @`, no `aws:`
//!   key prefix: `TagException`; at most 50 per key:
//!   `LimitExceededException`). An alias and its key are in the same
//!   account: `CreateAlias` for a key of another account is
//!   `NotFoundException`, whoever calls (the set-up methods too).
//!   `UpdateAlias` moves an alias to another key of the same account, kind
//!   (symmetric encryption, asymmetric or HMAC) and key usage
//!   (`ValidationException` otherwise) and updates its `LastUpdatedDate`.
//!
//! # What it does not model
//!
//! Custom key stores, imported key material, multi-Region keys and ML-KEM
//! keys do not exist here, and their operations answer as KMS answers in an
//! account without them, after validating the request and authorizing the
//! caller as KMS does:
//!
//! | Operation | Answer |
//! |---|---|
//! | `DescribeCustomKeyStores` | an empty `CustomKeyStores` list; `CustomKeyStoreNotFoundException` for a `CustomKeyStoreId` or `CustomKeyStoreName` |
//! | `ConnectCustomKeyStore`, `DisconnectCustomKeyStore`, `UpdateCustomKeyStore`, `DeleteCustomKeyStore` | `CustomKeyStoreNotFoundException` |
//! | `CreateCustomKeyStore` | `CloudHsmClusterNotFoundException` (AWS CloudHSM key store: no cluster exists); `XksProxyUriUnreachableException` or, for VPC endpoint connectivity, `XksProxyVpcEndpointServiceNotFoundException` (external key store: no proxy is reached) |
//! | `GetParametersForImport`, `ImportKeyMaterial`, `DeleteImportedKeyMaterial` | `UnsupportedOperationException`: every key has origin `AWS_KMS` |
//! | `ReplicateKey`, `UpdatePrimaryRegion` | `UnsupportedOperationException`: every key is a single-Region key |
//! | `Encapsulate`, `Decapsulate` | `InvalidKeyUsageException`: no key has key usage `ENCAPSULATE_DECAPSULATE` |
//!
//! The operations on a key answer `NotFoundException` first for a key that
//! does not exist. `CreateKey` answers `CustomKeyStoreNotFoundException` for
//! a `CustomKeyStoreId`, `UnsupportedOperationException` for another
//! `Origin`, `MultiRegion: true` or an unmodelled key spec;
//! `GenerateRandom` answers `CustomKeyStoreNotFoundException` for a
//! `CustomKeyStoreId`. `Recipient` (Nitro Enclaves attestation) is
//! `UnsupportedOperationException` wherever it is accepted.
//!
//! # Key rotation
//!
//! Symmetric encryption keys rotate and keep every key material they had:
//! `Encrypt` and `GenerateDataKey*` use the current one, `Decrypt` and
//! `ReEncrypt` whichever one made the ciphertext, and the responses name them
//! as KMS does (`KeyMaterialId`, `SourceKeyMaterialId`,
//! `DestinationKeyMaterialId`, `CurrentKeyMaterialId`: 64 hex digits, the
//! same for the same material of the same key). So `ReEncrypt` from a key to
//! itself moves an old ciphertext to the current material. Other keys do not
//! rotate: `EnableKeyRotation`, `DisableKeyRotation` and `RotateKeyOnDemand`
//! answer `UnsupportedOperationException`, `GetKeyRotationStatus`
//! `KeyRotationEnabled: false`.
//!
//! * `RotateKeyOnDemand` completes within the request (so
//!   `GetKeyRotationStatus` never shows `OnDemandRotationStartDate`); 25 per
//!   key, then `LimitExceededException`; `ConflictException` while an
//!   automatic rotation is due within 20 minutes.
//! * Automatic rotation (`EnableKeyRotation`, `RotationPeriodInDays` 90 to
//!   2560, default 365) follows the [clock](LocalKmsBuilder::clock): each
//!   request first makes the rotations due at its clock reading, one per
//!   elapsed period, dated when each was due; so tests move the clock past
//!   `NextRotationDate` and see the new material. Disabled keys and keys
//!   pending deletion do not rotate; enabled again after their rotation came
//!   due, they rotate once at once. Calling `EnableKeyRotation` again with
//!   another period keeps the schedule's start (the last automatic rotation,
//!   or when rotation was enabled) and rotates at once if the new period has
//!   already passed.
//!
//! ```
//! use serde_json::json;
//! use tower_kms::local::LocalKms;
//! use tower_kms::{KeySpec, KeyUsageType};
//!
//! let kms = LocalKms::new();
//! let key = kms
//!     .create_key(KeySpec::SymmetricDefault, KeyUsageType::EncryptDecrypt)
//!     .unwrap();
//! let old = kms
//!     .invoke("Encrypt", json!({ "KeyId": key, "Plaintext": "aGVsbG8=" }))
//!     .unwrap();
//! kms.invoke("RotateKeyOnDemand", json!({ "KeyId": key })).unwrap();
//! // The old ciphertext moves to the current material of the same key.
//! let out = kms
//!     .invoke(
//!         "ReEncrypt",
//!         json!({ "CiphertextBlob": old["CiphertextBlob"], "DestinationKeyId": key }),
//!     )
//!     .unwrap();
//! assert_ne!(out["SourceKeyMaterialId"], out["DestinationKeyMaterialId"]);
//! assert_eq!(
//!     out["DestinationKeyMaterialId"],
//!     kms.invoke("DescribeKey", json!({ "KeyId": key })).unwrap()["KeyMetadata"]
//!         ["CurrentKeyMaterialId"]
//! );
//! ```
//!
//! # Who may do what
//!
//! Every credential belongs to a [`Principal`] (by default the user
//! `arn:aws:iam::<account>:user/<access key id>` of the default account;
//! any user, role session or account root with
//! [`credentials_for`](LocalKmsBuilder::credentials_for)), and every request
//! is authorized as KMS authorizes it:
//!
//! * **Key policies.** A key created without `Policy` gets KMS's default key
//!   policy, which allows the key's account (`arn:aws:iam::A:root`) `kms:*`,
//!   delegating to the account's identity policies. `CreateKey` takes
//!   `Policy`; `PutKeyPolicy`, `GetKeyPolicy` and `ListKeyPolicies` manage
//!   it, with KMS's validation and lockout safety check.
//! * **Identity policies** per principal
//!   ([`identity_policy`](LocalKmsBuilder::identity_policy)). A principal
//!   without one may do everything its key policies let its account do:
//!   configured with nothing, every credential may use every key of its
//!   account, as before.
//! * **Grants**, effective after a simulated
//!   [propagation delay](LocalKmsBuilder::grant_propagation_delay) unless the
//!   request carries the grant's token.
//! * An explicit `Deny` anywhere wins; a denied request gets
//!   `AccessDeniedException` (HTTP 400), naming the principal, the action and
//!   the key ARN. `DryRun` authorizes before answering
//!   `DryRunOperationException`. `ReEncrypt` checks `kms:ReEncryptFrom` on the
//!   source key first, then `kms:ReEncryptTo` on the destination key.
//!
//! Several accounts can exist: a principal's ARN names its account, keys
//! live in the account of the principal that created them (or, for the
//! set-up methods, the [default account](LocalKmsBuilder::account_id), or
//! [`create_key_in`](LocalKms::create_key_in)'s), key ARNs name their
//! account, aliases belong to an account, and keys of other accounts are
//! reached by key ARN (or alias ARN) for the operations KMS allows across
//! accounts.
//!
//! Test set-up need not go through HTTP (nor authentication and
//! authorization): [`LocalKms::create_key`] (with a
//! [`KeySpec`] and a [`KeyUsageType`]), [`describe_key`](LocalKms::describe_key)
//! (a [`KeyMetadata`]), [`enable_key`](LocalKms::enable_key),
//! [`disable_key`](LocalKms::disable_key),
//! [`schedule_key_deletion`](LocalKms::schedule_key_deletion),
//! [`cancel_key_deletion`](LocalKms::cancel_key_deletion),
//! [`create_alias`](LocalKms::create_alias) and
//! [`delete_alias`](LocalKms::delete_alias),
//! [`create_key_in`](LocalKms::create_key_in) (another account),
//! [`put_key_policy`](LocalKms::put_key_policy) and
//! [`key_policy`](LocalKms::key_policy) are typed; [`LocalKms::invoke`]
//! runs any operation with its JSON shape, and [`LocalKms::invoke_as`] runs
//! one as a principal, authorized.
//!
//! It can throttle like KMS: request [quotas](LocalKmsBuilder::quota), off
//! unless set, answer over-quota requests with KMS's `ThrottlingException`,
//! and [`LocalKms::stats`] counts the requests served and throttled.
//!
//! # State that outlives the process, and fixtures
//!
//! [`LocalKmsBuilder::build`] keeps everything in memory.
//! [`LocalKmsBuilder::open`] with [`Storage::file`] keeps the whole state in
//! a [state file](state) instead — keys of every spec and usage with every
//! key material (**in plaintext**, in a file only its owner may read), key
//! states, rotation schedules, tags and last uses, aliases with their dates,
//! key policies, grants and the grant-token secret — and
//! answers a request only once its change is on disk, so a restart, even
//! after `kill -9`, loses nothing that was acknowledged. A [`Seed`] (JSON,
//! [documented here](seed)) starts a new state from fixtures: principals
//! with credentials and identity policies, keys of every spec and usage
//! with fixed ids, tags and, if wanted, fixed key material (AES or HMAC key
//! bytes, or a private key), aliases, key policies and grants.
//!
//! The `kms-local` binary (feature `kms-local`, `cargo install tower-kms
//! --features kms-local`) serves all this on 127.0.0.1 with `--state`,
//! `--seed` and a flag for each setting.
//!
//! # Example
//!
//! ```
//! use http_body_util::{BodyExt, Full};
//! use serde_json::json;
//! use tower::ServiceExt;
//! use tower_kms::local::LocalKms;
//! use tower_kms::{KeySpec, KeyUsageType};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let kms = LocalKms::new();
//!
//! // Test set-up can bypass HTTP and authentication, typed...
//! let key_arn = kms
//!     .create_key(KeySpec::SymmetricDefault, KeyUsageType::EncryptDecrypt)
//!     .unwrap();
//! // ...or with any operation's JSON shape.
//! let out = kms
//!     .invoke("Encrypt", json!({ "KeyId": key_arn, "Plaintext": "aGVsbG8=" }))
//!     .unwrap();
//! let back = kms
//!     .invoke("Decrypt", json!({ "CiphertextBlob": out["CiphertextBlob"] }))
//!     .unwrap();
//! assert_eq!(back["Plaintext"], "aGVsbG8=");
//!
//! // Over HTTP every request must carry a valid SigV4 signature.
//! let request = http::Request::post("http://127.0.0.1/")
//!     .header("x-amz-target", "TrentService.ListKeys")
//!     .header("content-type", "application/x-amz-json-1.1")
//!     .body(Full::new(bytes::Bytes::from_static(b"{}")))
//!     .unwrap();
//! let response = kms.clone().oneshot(request).await.unwrap();
//! assert_eq!(response.status(), 400);
//! let body = response.into_body().collect().await.unwrap().to_bytes();
//! let error: serde_json::Value = serde_json::from_slice(&body).unwrap();
//! assert_eq!(error["__type"], "MissingAuthenticationTokenException");
//!
//! // Or serve it on a loopback socket.
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
//! let server = kms.serve(listener);
//! assert!(server.endpoint_url().starts_with("http://127.0.0.1:"));
//! server.shutdown().await;
//! # }
//! ```

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime};

use aws_lc_rs::hmac;
use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, DATE, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use serde_json::Value;
use zeroize::Zeroizing;

mod authz;
mod crypto;
mod dataplane;
mod error;
mod grants;
mod material;
mod ops;
mod policy;
mod principal;
mod quota;
mod rotation;
pub mod seed;
mod server;
mod sigv4;
pub mod state;
mod store;
mod tags;
mod time;
mod unmodelled;

pub use error::LocalKmsError;
pub use policy::IdentityPolicy;
pub use principal::{Principal, PrincipalError};
pub use quota::{OperationStats, Quota, QuotaError, RequestRate, RequestStats};
pub use seed::{Seed, SeedError};
pub use server::{LocalKmsServer, ServerConfig, ServerStats};
pub use state::{Opened, StateError, StateErrorKind, Storage};

use crate::model::{KeyMetadata, KeySpec, KeyUsageType};
use authz::Caller;
use crypto::{KeyMaterial, random_array, uuid_v4};
use ops::Ops;
use policy::PolicyDocument;
use quota::Quotas;
use state::Persister;
use store::{Scope, Store};

/// Default region: `us-east-1`.
pub const DEFAULT_REGION: &str = "us-east-1";
/// Default account id: `111122223333`.
pub const DEFAULT_ACCOUNT_ID: &str = "111122223333";
/// Default access key id accepted when no credentials are configured: `test`.
pub const DEFAULT_ACCESS_KEY_ID: &str = "test";
/// Default secret access key paired with [`DEFAULT_ACCESS_KEY_ID`]: `test`.
pub const DEFAULT_SECRET_ACCESS_KEY: &str = "test";
/// Default [grant propagation delay](LocalKmsBuilder::grant_propagation_delay):
/// 5 seconds.
pub const DEFAULT_GRANT_PROPAGATION_DELAY: Duration = Duration::from_secs(5);
/// Default limit on request bodies: 64 KiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024;
/// The `Content-Type` of awsJson1.1 requests and responses.
pub const CONTENT_TYPE_JSON: &str = "application/x-amz-json-1.1";

/// The clock used for signature-time checks and key dates.
pub type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// A hook called once per request with its [`RequestLog`].
pub type RequestHook = Arc<dyn Fn(&RequestLog) + Send + Sync>;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// One handled request, as passed to [`LocalKmsBuilder::on_request`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RequestLog {
    /// The operation from `X-Amz-Target` (without `TrentService.`), or an
    /// empty string when the header was missing.
    pub operation: String,
    /// The HTTP status returned.
    pub status: StatusCode,
    /// The error code (`__type`) for error responses.
    pub error_code: Option<String>,
    /// The `x-amzn-RequestId` returned.
    pub request_id: String,
    /// Time spent handling the request, body read included.
    pub elapsed: Duration,
    /// Whether the request was over its [quota](LocalKmsBuilder::quota) and
    /// answered `ThrottlingException`.
    pub throttled: bool,
    /// The ARN of the authenticated caller (`None` when authentication
    /// failed).
    pub principal: Option<String>,
}

/// Builder for [`LocalKms`].
#[must_use]
pub struct LocalKmsBuilder {
    region: String,
    account_id: String,
    /// Access key id, secret, principal (`None`: the default user).
    credentials: Vec<(String, String, Option<Principal>)>,
    identity_policies: Vec<(String, IdentityPolicy)>,
    grant_propagation: Duration,
    clock: Option<Clock>,
    max_body_bytes: usize,
    on_request: Option<RequestHook>,
    quotas: BTreeMap<Quota, RequestRate>,
}

impl fmt::Debug for LocalKmsBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalKmsBuilder")
            .field("region", &self.region)
            .field("account_id", &self.account_id)
            .field(
                "access_key_ids",
                &self.credentials.iter().map(|(k, ..)| k).collect::<Vec<_>>(),
            )
            .field(
                "principals",
                &self
                    .credentials
                    .iter()
                    .filter_map(|(_, _, p)| p.as_ref().map(Principal::arn))
                    .collect::<Vec<_>>(),
            )
            .field(
                "identity_policies_for",
                &self
                    .identity_policies
                    .iter()
                    .map(|(arn, _)| arn)
                    .collect::<Vec<_>>(),
            )
            .field("grant_propagation", &self.grant_propagation)
            .field("custom_clock", &self.clock.is_some())
            .field("max_body_bytes", &self.max_body_bytes)
            .field("on_request", &self.on_request.is_some())
            .field("quotas", &self.quotas)
            .finish()
    }
}

impl Default for LocalKmsBuilder {
    fn default() -> Self {
        Self {
            region: DEFAULT_REGION.to_string(),
            account_id: DEFAULT_ACCOUNT_ID.to_string(),
            credentials: Vec::new(),
            identity_policies: Vec::new(),
            grant_propagation: DEFAULT_GRANT_PROPAGATION_DELAY,
            clock: None,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            on_request: None,
            quotas: BTreeMap::new(),
        }
    }
}

impl LocalKmsBuilder {
    /// The region in ARNs and the one the SigV4 credential scope must name.
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = region.into();
        self
    }

    /// The default account: where the default principals of
    /// [`credentials`](Self::credentials) belong, and where the set-up
    /// methods ([`LocalKms::create_key`], [`LocalKms::invoke`], ...) act.
    /// Other accounts exist as principals name them.
    ///
    /// An account id is 12 digits. Another value is refused when the local
    /// KMS is made: [`open`](Self::open) returns a [`StateError`] of kind
    /// [`StateErrorKind::Config`] naming it, and [`build`](Self::build),
    /// which has no error to return, panics with that message.
    ///
    /// ```
    /// use tower_kms::local::{LocalKms, StateErrorKind, Storage};
    ///
    /// let e = LocalKms::builder().account_id("1234").open(Storage::memory()).unwrap_err();
    /// assert_eq!(e.kind(), StateErrorKind::Config);
    /// assert_eq!(e.to_string(), "invalid local KMS account id \"1234\": an account id is 12 digits");
    /// ```
    pub fn account_id(mut self, account_id: impl Into<String>) -> Self {
        self.account_id = account_id.into();
        self
    }

    /// Accepts this credential pair, for the principal
    /// `arn:aws:iam::<default account>:user/<access key id>`. Repeatable;
    /// the first call (of this or [`credentials_for`](Self::credentials_for))
    /// replaces the default `test`/`test` pair.
    pub fn credentials(
        mut self,
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
    ) -> Self {
        self.credentials
            .push((access_key_id.into(), secret_access_key.into(), None));
        self
    }

    /// Accepts this credential pair for `principal`: a user, a role
    /// session or an account root, in any account. Requests signed with it
    /// are authorized as that principal, and the keys it creates live in its
    /// account.
    ///
    /// ```
    /// use tower_kms::local::{LocalKms, Principal};
    ///
    /// # fn main() -> Result<(), tower_kms::local::PrincipalError> {
    /// let kms = LocalKms::builder()
    ///     .credentials("AKIDADMIN", "admin-secret") // arn:aws:iam::111122223333:user/AKIDADMIN
    ///     .credentials_for(
    ///         "AKIDAPP",
    ///         "app-secret",
    ///         Principal::from_arn("arn:aws:sts::444455556666:assumed-role/app/worker")?,
    ///     )
    ///     .build();
    /// # Ok(())
    /// # }
    /// ```
    pub fn credentials_for(
        mut self,
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
        principal: Principal,
    ) -> Self {
        self.credentials.push((
            access_key_id.into(),
            secret_access_key.into(),
            Some(principal),
        ));
        self
    }

    /// Attaches an identity (IAM) policy to `principal` (a user, a role, whose
    /// sessions it then covers, or a session). Repeatable: a principal's
    /// policies are evaluated together.
    ///
    /// **The default.** A principal with no identity policy (its own, or for a
    /// session its role's) has an implicit one allowing `kms:*` on `*`. With
    /// KMS's default key policy, which delegates to the account's identity
    /// policies, every principal may then use every key of its own account:
    /// the behaviour of a local KMS configured with nothing. Attach a policy
    /// to restrict a principal; an account root is never limited by identity
    /// policies (a policy attached to one is not consulted).
    ///
    /// ```
    /// use tower_kms::local::{IdentityPolicy, LocalKms, Principal};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let app = Principal::from_arn("arn:aws:iam::111122223333:user/app")?;
    /// let kms = LocalKms::builder()
    ///     .credentials_for("AKIDAPP", "secret", app.clone())
    ///     .identity_policy(
    ///         &app,
    ///         IdentityPolicy::from_json(
    ///             r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
    ///                 "Action":["kms:Encrypt","kms:Decrypt"],"Resource":"*"}]}"#,
    ///         )?,
    ///     )
    ///     .build();
    /// # Ok(())
    /// # }
    /// ```
    pub fn identity_policy(mut self, principal: &Principal, policy: IdentityPolicy) -> Self {
        self.identity_policies
            .push((principal.arn().to_string(), policy));
        self
    }

    /// How long a new grant, and a grant's retirement or revocation, takes
    /// to become effective for requests that do not carry the grant's
    /// token, measured on the [clock](Self::clock). A request that carries
    /// a grant token in `GrantTokens` is authorized by that grant at once,
    /// as KMS documents; once the grant is retired or revoked its tokens add
    /// nothing, and the grant stops allowing when the retirement has
    /// propagated.
    ///
    /// Default [`DEFAULT_GRANT_PROPAGATION_DELAY`] (5 seconds): KMS says
    /// "usually less than five minutes" and it is seconds in practice; any
    /// delay makes a call that omits the token right after `CreateGrant`
    /// fail, as it can in production. Grants only matter to principals that
    /// policies do not already allow, so a local KMS configured with nothing
    /// never waits. `Duration::ZERO` makes grants effective at once.
    pub fn grant_propagation_delay(mut self, delay: Duration) -> Self {
        self.grant_propagation = delay;
        self
    }

    /// The clock used to check signing times, to date keys and to refill
    /// [quotas](Self::quota). Defaults to [`SystemTime::now`] (and quotas then
    /// refill on a monotonic clock).
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Largest accepted request body; larger ones get `413`.
    pub fn max_body_bytes(mut self, max: usize) -> Self {
        self.max_body_bytes = max;
        self
    }

    /// Calls `hook` once for every handled request.
    pub fn on_request(mut self, hook: RequestHook) -> Self {
        self.on_request = Some(hook);
        self
    }

    /// Limits the requests of `quota` to `rate` per second, per account and
    /// Region, as KMS's request quotas do. Setting a quota again replaces it.
    ///
    /// There are no quotas unless set: a local KMS without them never
    /// throttles.
    ///
    /// # Which requests count
    ///
    /// * The cryptographic operations share one quota,
    ///   [`Quota::CRYPTOGRAPHIC`] (AWS's separate symmetric, RSA and ECC
    ///   quotas are this one quota here); every other operation has its own,
    ///   [`Quota::operation`]`("CreateKey")`, `DescribeKey`, `ListKeys`, ...
    /// * The check comes after the body is read and the SigV4 signature is
    ///   verified (quotas belong to an account, so the caller must be known),
    ///   and after the operation is recognised (`POST` with
    ///   `X-Amz-Target: TrentService.<an operation served here>`), before the
    ///   body is parsed. So a request that fails authentication, names an
    ///   unknown operation or has too large a body takes nothing from a quota
    ///   and is not counted; every other request takes one request from its
    ///   quota, whether it then succeeds or fails (a validation error, a
    ///   missing key, `DryRun`).
    /// * The set-up methods that bypass HTTP ([`LocalKms::invoke`],
    ///   [`LocalKms::create_key`], ...) are never throttled.
    ///
    /// # The bucket
    ///
    /// Each quota of each account is a token bucket holding one second's
    /// worth of requests, `rate` (at least one request), which starts full
    /// and refills continuously at `rate` requests per second. A request
    /// takes one request from it; when less than one is left, the request is
    /// throttled and takes nothing. So a burst at one instant gets
    /// `floor(max(rate, 1))` requests through, and after `t` seconds without
    /// requests the bucket holds `min(max(rate, 1), left + rate * t)`. The
    /// arithmetic is exact (integers, in nanoseconds and thousandths of a
    /// request).
    ///
    /// Time is the [injected clock](Self::clock) when one is set, read once
    /// per request (the same reading checks the signature), so tests drive
    /// quotas by moving it; a clock that goes back refills nothing. Without
    /// one it is tokio's monotonic clock ([`tokio::time::Instant`]), which
    /// `tokio::time::pause` and `advance` control in tests.
    ///
    /// # The answer
    ///
    /// An over-quota request gets KMS's answer, HTTP 400 with
    ///
    /// ```text
    /// {"__type":"ThrottlingException","message":"You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls."}
    /// ```
    ///
    /// and, like every response, `x-amzn-RequestId` and `Date` headers. It is
    /// counted in [`LocalKms::stats`] and flagged
    /// [`throttled`](RequestLog::throttled) in the request hook's log.
    ///
    /// # Example
    ///
    /// ```
    /// use tower_kms::local::{LocalKms, Quota, QuotaError, RequestRate};
    ///
    /// # fn main() -> Result<(), QuotaError> {
    /// let kms = LocalKms::builder()
    ///     .quota(Quota::CRYPTOGRAPHIC, RequestRate::per_second(2000.0)?)
    ///     .quota(Quota::operation("CreateKey")?, RequestRate::per_second(5.0)?)
    ///     .build();
    /// assert_eq!(kms.quota(Quota::CRYPTOGRAPHIC), Some(RequestRate::per_second(2000.0)?));
    /// assert_eq!(kms.quota(Quota::operation("ListKeys")?), None);
    /// # Ok(())
    /// # }
    /// ```
    pub fn quota(mut self, quota: Quota, rate: RequestRate) -> Self {
        self.quotas.insert(quota, rate);
        self
    }

    /// Builds the local KMS, in memory and with no keys: `open(Storage::memory())`,
    /// which fails only for an invalid setting.
    ///
    /// # Panics
    /// For an invalid setting (an [account id](Self::account_id) that is not
    /// 12 digits), with the message [`open`](Self::open) would return as a
    /// [`StateError`].
    pub fn build(self) -> LocalKms {
        if let Err(e) = self.check() {
            panic!("{e}");
        }
        self.assemble(Store::default(), new_grant_secret(), None, Opened::Memory)
    }

    /// Refuses invalid settings.
    fn check(&self) -> Result<(), StateError> {
        if !principal::is_account_id(&self.account_id) {
            return Err(StateError::config(format!(
                "invalid local KMS account id {:?}: an account id is 12 digits",
                self.account_id
            )));
        }
        Ok(())
    }

    /// Builds the local KMS with its state in `storage`: in memory or in a
    /// state file, from a seed or not (see [`Storage`]; the [state
    /// module](state) documents the file, the [seed module](seed) the
    /// seed).
    ///
    /// With a state file that exists, its state is loaded, whole or not at
    /// all: a file that is not a state file, is truncated or corrupt, of
    /// another format version, written for another region, readable by
    /// others, or in use by another local KMS is refused, and the error
    /// names it and says what is wrong. With one that does not exist yet,
    /// it is created (with the seed's keys, aliases and grants) before this
    /// returns. From then on every change is in the file before the request
    /// that made it is answered.
    ///
    /// ```
    /// use serde_json::json;
    /// use tower_kms::local::{LocalKms, Opened, Storage};
    /// use tower_kms::{KeySpec, KeyUsageType};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let dir = std::env::temp_dir().join(format!("open-doc-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir)?;
    /// let path = dir.join("kms.state");
    /// let kms = LocalKms::builder().open(Storage::file(&path))?;
    /// assert_eq!(kms.opened(), Opened::Created);
    /// let key = kms.create_key(KeySpec::SymmetricDefault, KeyUsageType::EncryptDecrypt)?;
    /// let blob = kms.invoke("Encrypt", json!({ "KeyId": key, "Plaintext": "aGk=" }))?;
    /// drop(kms);
    ///
    /// let kms = LocalKms::builder().open(Storage::file(&path))?;
    /// assert_eq!(kms.opened(), Opened::Loaded);
    /// let out = kms.invoke("Decrypt", json!({ "CiphertextBlob": blob["CiphertextBlob"] }))?;
    /// assert_eq!(out["Plaintext"], "aGk=");
    /// # drop(kms);
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`StateError`]: the state file cannot be read, created or locked, or
    /// is refused (see above); the seed's credentials clash with the
    /// builder's ([`StateErrorKind::Seed`]); a setting is invalid
    /// ([`StateErrorKind::Config`]).
    pub fn open(self, storage: Storage) -> Result<LocalKms, StateError> {
        self.check()?;
        let builder = match &storage.seed {
            Some(seed) => seed.configure(self)?,
            None => self,
        };
        let scope = Scope {
            region: builder.region.clone(),
            account: builder.account_id.clone(),
        };
        let seeded = || -> Result<Store, StateError> {
            let mut store = Store::default();
            if let Some(seed) = &storage.seed {
                let now = builder.clock.as_ref().map_or_else(SystemTime::now, |c| c());
                seed.apply(&mut store, &scope, now, builder.grant_propagation)?;
            }
            Ok(store)
        };
        let Some(path) = &storage.file else {
            let store = seeded()?;
            return Ok(builder.assemble(store, new_grant_secret(), None, Opened::Memory));
        };
        let (persister, loaded) = state::open(path, &scope)?;
        match loaded {
            Some(loaded) => Ok(builder.assemble(
                loaded.store,
                loaded.grant_secret,
                Some(persister),
                Opened::Loaded,
            )),
            None => {
                let mut store = seeded()?;
                // Not in a file yet: the first write makes it.
                store.version = 1;
                let kms =
                    builder.assemble(store, new_grant_secret(), Some(persister), Opened::Created);
                kms.flush()?;
                Ok(kms)
            }
        }
    }

    fn assemble(
        self,
        store: Store,
        grant_secret: Zeroizing<[u8; 32]>,
        persist: Option<Persister>,
        opened: Opened,
    ) -> LocalKms {
        let pairs = if self.credentials.is_empty() {
            vec![(
                DEFAULT_ACCESS_KEY_ID.to_string(),
                DEFAULT_SECRET_ACCESS_KEY.to_string(),
                None,
            )]
        } else {
            self.credentials
        };
        let mut credentials = HashMap::new();
        let mut principals = HashMap::new();
        for (akid, secret, principal) in pairs {
            let principal =
                principal.unwrap_or_else(|| Principal::default_user(&self.account_id, &akid));
            principals.insert(akid.clone(), principal);
            credentials.insert(akid, secret);
        }
        let mut identity_policies: HashMap<String, Vec<PolicyDocument>> = HashMap::new();
        for (arn, policy) in self.identity_policies {
            identity_policies
                .entry(arn)
                .or_default()
                .push(policy.into_document());
        }
        let quotas = Quotas::new(self.quotas, self.clock.is_some());
        LocalKms {
            inner: Arc::new(Inner {
                scope: Scope {
                    region: self.region,
                    account: self.account_id,
                },
                credentials,
                principals,
                identity_policies,
                grant_propagation: self.grant_propagation,
                clock: self.clock.unwrap_or_else(|| Arc::new(SystemTime::now)),
                max_body_bytes: self.max_body_bytes,
                on_request: self.on_request,
                grant_key: hmac::Key::new(hmac::HMAC_SHA256, &grant_secret[..]),
                grant_secret,
                store: Mutex::new(store),
                quotas,
                persist,
                opened,
            }),
        }
    }
}

/// A new secret for grant tokens. The RNG in aws-lc-rs does not fail in
/// practice; a fixed fallback only weakens grant-token forgery resistance of
/// a test server.
fn new_grant_secret() -> Zeroizing<[u8; 32]> {
    Zeroizing::new(random_array().unwrap_or([0x5a; 32]))
}

/// Shared state of a [`LocalKms`].
pub(crate) struct Inner {
    /// The region and the default account.
    pub(crate) scope: Scope,
    credentials: HashMap<String, String>,
    /// Access key id -> principal.
    principals: HashMap<String, Principal>,
    /// Principal (or role) ARN -> its identity policies.
    pub(crate) identity_policies: HashMap<String, Vec<PolicyDocument>>,
    pub(crate) grant_propagation: Duration,
    clock: Clock,
    max_body_bytes: usize,
    on_request: Option<RequestHook>,
    pub(crate) grant_key: hmac::Key,
    /// The secret of `grant_key`, for the state file.
    pub(crate) grant_secret: Zeroizing<[u8; 32]>,
    pub(crate) store: Mutex<Store>,
    quotas: Quotas,
    /// The state file, if any.
    persist: Option<Persister>,
    opened: Opened,
}

/// An in-memory AWS KMS. Cheap to clone; clones share keys and settings.
///
/// See the [module documentation](self) for an example.
#[derive(Clone)]
pub struct LocalKms {
    inner: Arc<Inner>,
}

impl fmt::Debug for LocalKms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys = self
            .inner
            .store
            .lock()
            .map(|s| s.keys.len())
            .unwrap_or_default();
        let mut ids: Vec<&String> = self.inner.credentials.keys().collect();
        ids.sort();
        f.debug_struct("LocalKms")
            .field("region", &self.inner.scope.region)
            .field("account_id", &self.inner.scope.account)
            .field("access_key_ids", &ids)
            .field("keys", &keys)
            .field("max_body_bytes", &self.inner.max_body_bytes)
            .field("quotas", self.inner.quotas.limits())
            .field("state_file", &self.state_file())
            .finish_non_exhaustive()
    }
}

impl Default for LocalKms {
    fn default() -> Self {
        Self::new()
    }
}

static REQUEST_COUNTER: AtomicU64 = AtomicU64::new(0);

fn request_id() -> String {
    uuid_v4().map(|(_, s)| s).unwrap_or_else(|_| {
        let n = REQUEST_COUNTER.fetch_add(1, Ordering::Relaxed);
        format!("00000000-0000-4000-8000-{:012x}", n & 0xffff_ffff_ffff)
    })
}

/// Runs CPU-heavy work off the async threads when a tokio runtime is there.
async fn run_blocking<T, F>(f: F) -> Result<T, LocalKmsError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, LocalKmsError> + Send + 'static,
{
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => handle
            .spawn_blocking(f)
            .await
            .unwrap_or_else(|_| Err(LocalKmsError::internal("A background task failed."))),
        Err(_) => f(),
    }
}

/// Reads a body of at most `max` bytes.
async fn read_body<B>(body: B, max: usize) -> Result<Bytes, LocalKmsError>
where
    B: http_body::Body,
    B::Error: Into<BoxError>,
{
    match Limited::new(body, max).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => Err(too_large(max)),
        Err(e) => match e.downcast_ref::<server::BodyTimeout>() {
            Some(t) => Err(LocalKmsError::new(
                "RequestTimeoutException",
                format!(
                    "The request body was not received within {} ms.",
                    t.0.as_millis()
                ),
            )),
            None => Err(LocalKmsError::serialization(format!(
                "Could not read the request body: {e}"
            ))),
        },
    }
}

fn too_large(max: usize) -> LocalKmsError {
    LocalKmsError::new(
        "RequestEntityTooLargeException",
        format!("The request body exceeds the maximum of {max} bytes."),
    )
}

impl LocalKms {
    /// A local KMS with the defaults: region [`DEFAULT_REGION`], account
    /// [`DEFAULT_ACCOUNT_ID`], credentials `test`/`test`, system clock and
    /// 64 KiB body limit.
    pub fn new() -> Self {
        Self::builder().build()
    }

    /// A builder to change the defaults.
    pub fn builder() -> LocalKmsBuilder {
        LocalKmsBuilder::default()
    }

    /// The region this KMS serves.
    pub fn region(&self) -> &str {
        &self.inner.scope.region
    }

    /// The default account (see [`LocalKmsBuilder::account_id`]).
    pub fn account_id(&self) -> &str {
        &self.inner.scope.account
    }

    /// The [grant propagation delay](LocalKmsBuilder::grant_propagation_delay).
    pub fn grant_propagation_delay(&self) -> Duration {
        self.inner.grant_propagation
    }

    /// The rate set for `quota` with [`LocalKmsBuilder::quota`] (`None`:
    /// no limit).
    pub fn quota(&self, quota: Quota) -> Option<RequestRate> {
        self.inner.quotas.limits().get(&quota).copied()
    }

    /// The requests served and throttled so far, in total and per
    /// operation. Clones share the counts.
    ///
    /// Counted are the requests a [quota](LocalKmsBuilder::quota) applies to
    /// (authenticated, for an operation served here), with or without
    /// quotas set; not the set-up methods that bypass HTTP.
    pub fn stats(&self) -> RequestStats {
        self.inner.quotas.stats()
    }

    /// Runs one operation directly, bypassing HTTP, authentication and
    /// authorization, in the default account: key ids and alias names
    /// resolve there and `CreateKey` puts keys there; key ARNs of any account
    /// work. No key policy, identity policy or grant is consulted, and
    /// `PutKeyPolicy` skips the lockout safety check.
    ///
    /// `request` and the result are the operation's JSON shapes exactly as on
    /// the wire (blobs base64). `CreateKey` with an RSA key spec and
    /// `GenerateDataKeyPair*` generate their key pairs on the calling thread
    /// (over HTTP they run off the async threads).
    ///
    /// # Errors
    /// The KMS error the operation would have returned.
    pub fn invoke(&self, operation: &str, request: Value) -> Result<Value, LocalKmsError> {
        let caller = Caller::System {
            account: self.inner.scope.account.clone(),
        };
        self.run(&caller, operation, request)
    }

    /// Runs one operation as `principal`, bypassing HTTP and authentication
    /// but authorized exactly as a signed request of that principal would be
    /// (key policies, its identity policies, grants and grant tokens).
    ///
    /// ```
    /// use serde_json::json;
    /// use tower_kms::local::{LocalKms, Principal};
    /// use tower_kms::{KeySpec, KeyUsageType};
    ///
    /// let kms = LocalKms::new();
    /// let key = kms.create_key(KeySpec::SymmetricDefault, KeyUsageType::EncryptDecrypt).unwrap();
    /// let outsider = Principal::from_arn("arn:aws:iam::444455556666:user/eve").unwrap();
    /// let err = kms
    ///     .invoke_as(&outsider, "Encrypt", json!({ "KeyId": key, "Plaintext": "aGk=" }))
    ///     .unwrap_err();
    /// assert_eq!(err.code(), "AccessDeniedException");
    /// ```
    ///
    /// # Errors
    /// The KMS error the operation would have returned, `AccessDeniedException`
    /// included.
    pub fn invoke_as(
        &self,
        principal: &Principal,
        operation: &str,
        request: Value,
    ) -> Result<Value, LocalKmsError> {
        self.run(&Caller::Principal(principal.clone()), operation, request)
    }

    fn run(
        &self,
        caller: &Caller,
        operation: &str,
        request: Value,
    ) -> Result<Value, LocalKmsError> {
        let (result, observed) =
            self.run_at(caller, operation, request, (self.inner.clock)(), None);
        self.durable(observed)?;
        result
    }

    /// Returns once the state file (if any) holds `version` of the store:
    /// the rule that a request is answered only once what it did and saw
    /// is on disk (see the [state module](state)).
    fn durable(&self, version: u64) -> Result<(), LocalKmsError> {
        match &self.inner.persist {
            Some(p) => p.commit(&self.inner, version).map_err(|e| {
                LocalKmsError::internal(format!(
                    "The change could not be saved: {}.",
                    state::chain(&e)
                ))
            }),
            None => Ok(()),
        }
    }

    /// [`durable`](Self::durable) off the async threads when there is
    /// something to write or wait for.
    async fn durable_async(&self, version: u64) -> Result<(), LocalKmsError> {
        match &self.inner.persist {
            Some(p) if !p.holds(version) => {
                let this = self.clone();
                run_blocking(move || this.durable(version)).await
            }
            _ => Ok(()),
        }
    }

    /// Writes to the state file whatever is not in it yet: the records of
    /// keys' last use made since the last write, and changes whose write
    /// failed (every other change is written before the request that made it
    /// is answered; see the [state module](state)). `kms-local` calls this
    /// before it exits. Without a state file it does nothing.
    ///
    /// # Errors
    /// [`StateError`] when the state file cannot be written.
    pub fn flush(&self) -> Result<(), StateError> {
        let Some(p) = &self.inner.persist else {
            return Ok(());
        };
        let (version, lazy) = {
            let store = self
                .inner
                .store
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            (store.version, store.lazy_changes)
        };
        p.commit_with_lazy(&self.inner, version, lazy)
    }

    /// The state file, when [opened](LocalKmsBuilder::open) with one.
    pub fn state_file(&self) -> Option<&Path> {
        self.inner.persist.as_ref().map(Persister::path)
    }

    /// How its state began: in memory, a new state file, or a loaded one.
    pub fn opened(&self) -> Opened {
        self.inner.opened
    }

    /// Creates a key (`CreateKey` with `KeySpec` and `KeyUsage`) and returns
    /// its ARN, bypassing HTTP and authentication.
    ///
    /// RSA key pairs are generated on the calling thread.
    ///
    /// ```
    /// use tower_kms::local::LocalKms;
    /// use tower_kms::{KeySpec, KeyUsageType};
    ///
    /// let kms = LocalKms::new();
    /// let arn = kms
    ///     .create_key(KeySpec::SymmetricDefault, KeyUsageType::EncryptDecrypt)
    ///     .unwrap();
    /// assert!(arn.starts_with("arn:aws:kms:us-east-1:111122223333:key/"));
    /// ```
    ///
    /// # Errors
    /// As `CreateKey`: `ValidationException` for an incompatible usage or an
    /// unknown spec, `UnsupportedOperationException` for a spec or usage this
    /// local KMS does not create (SM2, ML-DSA, Ed25519, ML-KEM).
    pub fn create_key(
        &self,
        key_spec: KeySpec,
        key_usage: KeyUsageType,
    ) -> Result<String, LocalKmsError> {
        self.create_key_in(&self.inner.scope.account, key_spec, key_usage)
    }

    /// [`create_key`](Self::create_key) in `account` (a 12-digit account id):
    /// the key, with KMS's default key policy for that account, belongs to it
    /// and its ARN names it.
    ///
    /// ```
    /// use tower_kms::local::LocalKms;
    /// use tower_kms::{KeySpec, KeyUsageType};
    ///
    /// let kms = LocalKms::new();
    /// let arn = kms
    ///     .create_key_in("444455556666", KeySpec::SymmetricDefault, KeyUsageType::EncryptDecrypt)
    ///     .unwrap();
    /// assert!(arn.starts_with("arn:aws:kms:us-east-1:444455556666:key/"));
    /// ```
    ///
    /// # Errors
    /// As [`create_key`](Self::create_key); `ValidationException` for an
    /// account id that is not 12 digits.
    pub fn create_key_in(
        &self,
        account: &str,
        key_spec: KeySpec,
        key_usage: KeyUsageType,
    ) -> Result<String, LocalKmsError> {
        if !principal::is_account_id(account) {
            return Err(LocalKmsError::validation(format!(
                "An account id is 12 digits, not {account:?}."
            )));
        }
        let caller = Caller::System {
            account: account.to_string(),
        };
        let out = self.run(
            &caller,
            "CreateKey",
            serde_json::json!({ "KeySpec": key_spec, "KeyUsage": key_usage }),
        )?;
        out["KeyMetadata"]["Arn"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| LocalKmsError::internal("CreateKey returned no ARN."))
    }

    /// `PutKeyPolicy`: sets the key policy of a key (id or ARN), bypassing
    /// HTTP, authentication, authorization and the lockout safety check.
    /// The policy is validated as `PutKeyPolicy` validates it.
    ///
    /// # Errors
    /// As `PutKeyPolicy`: `MalformedPolicyDocumentException`,
    /// `LimitExceededException` over 32 KB, `NotFoundException`.
    pub fn put_key_policy(&self, key_id: &str, policy: &str) -> Result<(), LocalKmsError> {
        self.invoke(
            "PutKeyPolicy",
            serde_json::json!({ "KeyId": key_id, "Policy": policy }),
        )
        .map(drop)
    }

    /// `GetKeyPolicy`: the key policy of a key (id or ARN), exactly as set,
    /// bypassing HTTP and authentication.
    ///
    /// # Errors
    /// As `GetKeyPolicy`, e.g. `NotFoundException`.
    pub fn key_policy(&self, key_id: &str) -> Result<String, LocalKmsError> {
        let out = self.invoke("GetKeyPolicy", serde_json::json!({ "KeyId": key_id }))?;
        out["Policy"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| LocalKmsError::internal("GetKeyPolicy returned no policy."))
    }

    /// `DescribeKey`: the metadata of a key (id, ARN, alias name or alias
    /// ARN), bypassing HTTP and authentication.
    ///
    /// # Errors
    /// As `DescribeKey`, e.g. `NotFoundException`.
    pub fn describe_key(&self, key_id: &str) -> Result<KeyMetadata, LocalKmsError> {
        let out = self.invoke("DescribeKey", serde_json::json!({ "KeyId": key_id }))?;
        let bad = |e: &dyn std::fmt::Display| {
            LocalKmsError::internal(format!("DescribeKey returned bad metadata: {e}"))
        };
        let json = serde_json::to_vec(&out["KeyMetadata"]).map_err(|e| bad(&e))?;
        crate::model::json::decode_body(&json, KeyMetadata::read_json).map_err(|e| bad(&e))
    }

    /// `EnableKey`, bypassing HTTP and authentication.
    ///
    /// # Errors
    /// As `EnableKey`, e.g. `KMSInvalidStateException` for a key pending
    /// deletion.
    pub fn enable_key(&self, key_id: &str) -> Result<(), LocalKmsError> {
        self.invoke("EnableKey", serde_json::json!({ "KeyId": key_id }))
            .map(drop)
    }

    /// `DisableKey`, bypassing HTTP and authentication.
    ///
    /// ```
    /// use tower_kms::local::LocalKms;
    /// use tower_kms::{KeySpec, KeyState, KeyUsageType};
    ///
    /// let kms = LocalKms::new();
    /// let key = kms
    ///     .create_key(KeySpec::SymmetricDefault, KeyUsageType::EncryptDecrypt)
    ///     .unwrap();
    /// kms.disable_key(&key).unwrap();
    /// assert_eq!(kms.describe_key(&key).unwrap().key_state, Some(KeyState::Disabled));
    /// ```
    ///
    /// # Errors
    /// As `DisableKey`, e.g. `NotFoundException`.
    pub fn disable_key(&self, key_id: &str) -> Result<(), LocalKmsError> {
        self.invoke("DisableKey", serde_json::json!({ "KeyId": key_id }))
            .map(drop)
    }

    /// `ScheduleKeyDeletion` with a waiting period of `pending_window_in_days`
    /// (7 to 30), bypassing HTTP and authentication. Returns the deletion
    /// date; the key then disappears once the [clock](LocalKmsBuilder::clock)
    /// passes it.
    ///
    /// # Errors
    /// As `ScheduleKeyDeletion`: `ValidationException` for a window outside
    /// 7 to 30 days, `KMSInvalidStateException` when already pending.
    pub fn schedule_key_deletion(
        &self,
        key_id: &str,
        pending_window_in_days: u32,
    ) -> Result<SystemTime, LocalKmsError> {
        let out = self.invoke(
            "ScheduleKeyDeletion",
            serde_json::json!({ "KeyId": key_id, "PendingWindowInDays": pending_window_in_days }),
        )?;
        out["DeletionDate"]
            .as_f64()
            .and_then(|secs| Duration::try_from_secs_f64(secs).ok())
            .and_then(|d| std::time::UNIX_EPOCH.checked_add(d))
            .ok_or_else(|| LocalKmsError::internal("ScheduleKeyDeletion returned no date."))
    }

    /// `CancelKeyDeletion`, bypassing HTTP and authentication. The key is
    /// then disabled, as in KMS.
    ///
    /// # Errors
    /// As `CancelKeyDeletion`: `KMSInvalidStateException` when the key is not
    /// pending deletion.
    pub fn cancel_key_deletion(&self, key_id: &str) -> Result<(), LocalKmsError> {
        self.invoke("CancelKeyDeletion", serde_json::json!({ "KeyId": key_id }))
            .map(drop)
    }

    /// `CreateAlias`: `alias_name` (`alias/...`) for `target_key_id`,
    /// bypassing HTTP and authentication.
    ///
    /// # Errors
    /// As `CreateAlias`: `AlreadyExistsException`, `InvalidAliasNameException`,
    /// `NotFoundException` (also for a key ARN of another account: the alias
    /// is created in the default account, and an alias names a key of its
    /// own account).
    pub fn create_alias(&self, alias_name: &str, target_key_id: &str) -> Result<(), LocalKmsError> {
        self.invoke(
            "CreateAlias",
            serde_json::json!({ "AliasName": alias_name, "TargetKeyId": target_key_id }),
        )
        .map(drop)
    }

    /// `DeleteAlias`, bypassing HTTP and authentication.
    ///
    /// # Errors
    /// As `DeleteAlias`, e.g. `NotFoundException`.
    pub fn delete_alias(&self, alias_name: &str) -> Result<(), LocalKmsError> {
        self.invoke(
            "DeleteAlias",
            serde_json::json!({ "AliasName": alias_name }),
        )
        .map(drop)
    }

    /// `CreateKey` with RSA key generation off the async threads; the
    /// result and the store version the request saw.
    async fn create_key_async(
        &self,
        now: SystemTime,
        caller: &Caller,
        body: Value,
        request_id: &str,
    ) -> (Result<Value, LocalKmsError>, u64) {
        let ops = Ops::new(&self.inner, now, caller, &body).with_request_id(request_id);
        // Each synchronous step catches panics as `run_at` does, so a bug
        // answers this request only, whatever lock it held.
        let plan = match self.guarded(|| ops::parse(body).and_then(|r| ops.plan_create_key(r))) {
            Ok(plan) => plan,
            Err(e) => return (Err(e), ops.observed()),
        };
        let (spec, usage, key_id) = (plan.spec, plan.usage, plan.raw_id);
        let material = if spec.is_rsa() {
            run_blocking(move || KeyMaterial::generate(spec, usage, &key_id)).await
        } else {
            self.guarded(|| KeyMaterial::generate(spec, usage, &key_id))
        };
        let result = material.and_then(|m| self.guarded(|| ops.finish_create_key(plan, m)));
        (result, ops.observed())
    }

    /// Runs `f`, turning a panic into `KMSInternalException` and clearing
    /// the poison it left on the store's lock (every user of the lock
    /// recovers a poisoned one anyway; cleared, the lock reports no panic
    /// that was already answered).
    fn guarded<T>(&self, f: impl FnOnce() -> Result<T, LocalKmsError>) -> Result<T, LocalKmsError> {
        std::panic::catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| {
            self.inner.store.clear_poison();
            Err(LocalKmsError::internal(
                "The operation failed unexpectedly.",
            ))
        })
    }

    /// Everything after the request id: body, authentication, dispatch.
    /// Sets `principal` to the caller's ARN once authenticated.
    async fn process<B>(
        &self,
        parts: &http::request::Parts,
        body: B,
        operation: &str,
        request_id: &str,
        principal: &mut Option<String>,
    ) -> Result<(Value, SystemTime), (LocalKmsError, SystemTime)>
    where
        B: http_body::Body,
        B::Error: Into<BoxError>,
    {
        let max = self.inner.max_body_bytes;
        let declared = parts
            .headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > max as u64) {
            return Err((too_large(max), (self.inner.clock)()));
        }
        let bytes = match read_body(body, max).await {
            Ok(b) => b,
            Err(e) => return Err((e, (self.inner.clock)())),
        };
        let now = (self.inner.clock)();
        let verifier = sigv4::Verifier {
            credentials: &self.inner.credentials,
            region: &self.inner.scope.region,
            service: "kms",
            must_sign: &["x-amz-target"],
            now,
        };
        let verified = std::panic::catch_unwind(AssertUnwindSafe(|| {
            verifier.verify(&parts.method, &parts.uri, &parts.headers, &bytes)
        }))
        .unwrap_or_else(|_| Err(LocalKmsError::internal("Signature verification failed.")));
        let access_key_id = verified.map_err(|e| (e, now))?;
        let Some(caller) = self.inner.principals.get(&access_key_id) else {
            return Err((
                LocalKmsError::internal("A verified access key has no principal."),
                now,
            ));
        };
        *principal = Some(caller.arn().to_string());
        let caller = Caller::Principal(caller.clone());

        let result = self
            .dispatch_http(parts, &bytes, operation, &caller, now, request_id)
            .await;
        result.map(|v| (v, now)).map_err(|e| (e, now))
    }

    async fn dispatch_http(
        &self,
        parts: &http::request::Parts,
        bytes: &[u8],
        operation: &str,
        caller: &Caller,
        now: SystemTime,
        request_id: &str,
    ) -> Result<Value, LocalKmsError> {
        if parts.method != Method::POST {
            return Err(LocalKmsError::new(
                "UnknownOperationException",
                format!(
                    "KMS accepts only POST requests, not {}.",
                    parts.method.as_str()
                ),
            ));
        }
        let target = parts
            .headers
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok());
        let Some(target) = target else {
            return Err(LocalKmsError::new(
                "UnknownOperationException",
                "Missing X-Amz-Target header.",
            ));
        };
        if target.strip_prefix("TrentService.").is_none() || !ops::OPERATIONS.contains(&operation) {
            return Err(ops::unknown_operation(target));
        }
        // Authenticated, and an operation served here: the quota of the
        // caller's account applies.
        if !self.inner.quotas.admit(caller.account(), operation, now) {
            return Err(LocalKmsError::throttling());
        }
        let content_type = parts
            .headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !content_type
            .split(';')
            .next()
            .is_some_and(|t| t.trim().eq_ignore_ascii_case(CONTENT_TYPE_JSON))
        {
            return Err(LocalKmsError::new(
                "UnknownOperationException",
                format!("Unsupported Content-Type '{content_type}'; expected {CONTENT_TYPE_JSON}."),
            ));
        }
        let value: Value = if bytes.iter().all(u8::is_ascii_whitespace) {
            Value::Object(Default::default())
        } else {
            serde_json::from_slice(bytes)
                .map_err(|e| LocalKmsError::serialization(e.to_string()))?
        };
        if operation == "CreateKey" {
            let (result, observed) = self.create_key_async(now, caller, value, request_id).await;
            self.durable_async(observed).await?;
            return result;
        }
        if matches!(
            operation,
            "GenerateDataKeyPair" | "GenerateDataKeyPairWithoutPlaintext"
        ) {
            // An RSA key pair takes a moment: off the async threads, where
            // waiting for the state file costs no async thread either.
            let (this, caller) = (self.clone(), caller.clone());
            let (operation, request_id) = (operation.to_string(), request_id.to_string());
            return run_blocking(move || {
                let (result, observed) =
                    this.run_at(&caller, &operation, value, now, Some(&request_id));
                this.durable(observed)?;
                result
            })
            .await;
        }
        let (result, observed) = self.run_at(caller, operation, value, now, Some(request_id));
        self.durable_async(observed).await?;
        result
    }

    /// Runs one parsed operation at `now`, catching panics: the result and
    /// the store version the request saw, which must be in the state file
    /// ([`durable`](Self::durable)) before the result is given out.
    fn run_at(
        &self,
        caller: &Caller,
        operation: &str,
        value: Value,
        now: SystemTime,
        request_id: Option<&str>,
    ) -> (Result<Value, LocalKmsError>, u64) {
        let mut ops = Ops::new(&self.inner, now, caller, &value);
        if let Some(id) = request_id {
            ops = ops.with_request_id(id);
        }
        let result = self.guarded(|| ops.dispatch(operation, value));
        (result, ops.observed())
    }

    /// Handles one HTTP request; never fails.
    async fn handle<B>(self, req: Request<B>) -> Response<Full<Bytes>>
    where
        B: http_body::Body,
        B::Error: Into<BoxError>,
    {
        let start = Instant::now();
        let request_id = request_id();
        let (parts, body) = req.into_parts();
        let operation = parts
            .headers
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .map(|t| t.strip_prefix("TrentService.").unwrap_or(t).to_string())
            .unwrap_or_default();

        let mut principal = None;
        let (status, body, error_code, now) = match self
            .process(&parts, body, &operation, &request_id, &mut principal)
            .await
        {
            Ok((value, now)) => (
                StatusCode::OK,
                serde_json::to_vec(&value).unwrap_or_else(|_| b"{}".to_vec()),
                None,
                now,
            ),
            Err((e, now)) => (e.status(), e.body(), Some(e.code.to_string()), now),
        };

        let len = body.len();
        let mut response = Response::new(Full::new(Bytes::from(body)));
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE_JSON));
        headers.insert(CONTENT_LENGTH, HeaderValue::from(len));
        if let Ok(v) = HeaderValue::from_str(&request_id) {
            headers.insert("x-amzn-requestid", v);
        }
        if let Ok(v) = HeaderValue::from_str(&time::format_http_date(now)) {
            headers.insert(DATE, v);
        }

        if let Some(hook) = &self.inner.on_request {
            let throttled = error_code.as_deref() == Some(error::THROTTLING);
            let log = RequestLog {
                operation,
                status,
                error_code,
                request_id,
                elapsed: start.elapsed(),
                throttled,
                principal,
            };
            let _ = std::panic::catch_unwind(AssertUnwindSafe(|| hook(&log)));
        }
        response
    }
}

impl<B> tower::Service<Request<B>> for LocalKms
where
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let this = self.clone();
        Box::pin(async move { Ok(this.handle(req).await) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    /// Runs `f` on another thread and waits for it at most `secs` seconds:
    /// a commit that waits for ever fails the test instead of hanging it.
    fn within<T: Send + 'static>(secs: u64, f: impl FnOnce() -> T + Send + 'static) -> T {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(f());
        });
        rx.recv_timeout(Duration::from_secs(secs))
            .expect("finished in time (not waiting for ever)")
    }

    fn state_dir(name: &str) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("tower-kms-unit-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_panicking_state_write_breaks_persistence_for_good() {
        let dir = state_dir("panicking-write");
        let kms = LocalKms::builder()
            .open(Storage::file(dir.join("kms.state")))
            .unwrap();
        let sym = |kms: &LocalKms| {
            kms.create_key(KeySpec::SymmetricDefault, KeyUsageType::EncryptDecrypt)
        };
        sym(&kms).unwrap();
        let persister = kms.inner.persist.as_ref().unwrap();
        persister
            .panic_next_write
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let wanted = format!(
            "state file {} is no longer written: a write of it panicked",
            dir.join("kms.state").display()
        );
        // The request whose write panicked, and every later change, fail
        // with the reason; none waits for ever.
        for _ in 0..2 {
            let k = kms.clone();
            let e = within(30, move || sym(&k)).unwrap_err();
            assert_eq!(e.code(), "KMSInternalException");
            assert!(e.message().contains(&wanted), "{}", e.message());
        }
        let k = kms.clone();
        let e = within(30, move || k.flush()).unwrap_err();
        assert_eq!(e.kind(), StateErrorKind::Panicked);
        assert!(e.to_string().starts_with(&wanted), "{e}");
        drop(kms);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn a_panic_in_create_key_answers_that_request_only() {
        let kms = LocalKms::new();
        let caller = Caller::System {
            account: kms.account_id().to_string(),
        };
        ops::Ops::panic_in_create_key();
        let (result, _) = kms
            .create_key_async(SystemTime::now(), &caller, serde_json::json!({}), "r1")
            .await;
        let e = result.unwrap_err();
        assert_eq!(e.code(), "KMSInternalException");
        assert_eq!(e.message(), "The operation failed unexpectedly.");
        // The lock it held is usable, and not left poisoned.
        assert!(!kms.inner.store.is_poisoned());
        let (result, _) = kms
            .create_key_async(SystemTime::now(), &caller, serde_json::json!({}), "r2")
            .await;
        result.unwrap();
    }
}
