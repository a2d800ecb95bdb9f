//! The default stack, assembled: [`KmsClient`] and its builder.
//!
//! ```text
//! KmsClient
//!   │ GrantTokens        grant tokens configured on the client, merged into each request
//!   │ Trace              `kms.operation` span (feature `tracing`)
//!   │ KmsTimeout         operation timeout, over all attempts and backoffs (default 30 s)
//!   │ Retry              standard retry mode: classify, back off, retry quota, clock skew
//!   │ AdaptiveRateLimit  adaptive mode: CUBIC client-side rate, a token per attempt
//!   │                    (a pass-through in standard mode)
//!   │ Trace              `kms.attempt` span (feature `tracing`)
//!   │ KmsTimeout         attempt timeout (default 10 s)
//!   │ JsonProtocol       awsJson1.1 encode / decode, body limit (1 MiB)
//!   │ SetEndpoint        URI + Host
//!   │ SetUserAgent       user-agent, x-amz-user-agent (tower-kms, OS, Rust, app name)
//!   │ SigV4              fresh signature per attempt, clock-skew offset
//!   ▼ connector          hyper-util + rustls by default (connect timeout 3.1 s)
//! ```
//!
//! The client is cheap to clone, `Send + Sync`, and has a nameable type, so it
//! fits in axum state. It implements `tower::Service<Op>` for every
//! [`KmsOperation`] (e.g. `Service<ReEncryptRequest, Response = ReEncryptResponse,
//! Error = KmsError>`), so your own middleware composes around it.

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use tower::util::BoxCloneSyncService;
use tower::{Service, ServiceBuilder, ServiceExt};

use crate::connector::{DEFAULT_CONNECT_TIMEOUT, HyperConnector};
use crate::endpoint::{Endpoint, EndpointLayer, EndpointVariant};
use crate::error::{BoxError, ConfigError, KmsError};
use crate::grant_tokens::{GrantTokenLayer, GrantTokens, MakeGrantTokens, SharedGrantTokens};
use crate::model::{ReEncryptRequest, ReEncryptResponse};
use crate::operation::KmsOperation;
use crate::paginate::{Paginated, Paginator};
use crate::protocol::{DEFAULT_BODY_LIMIT, JsonProtocol, JsonProtocolLayer};
use crate::retry::{
    AdaptiveRateLimit, ClientRateLimiter, KmsRetry, RetryConfig, RetryLayer, RetryQuota,
};
use crate::sign::{
    Clock, ClockSkew, CredentialsCache, EnvironmentCredentials, SigV4Layer, SystemClock,
};
use crate::timeout::{
    AttemptTimeoutLayer, DEFAULT_ATTEMPT_TIMEOUT, DEFAULT_OPERATION_TIMEOUT, KmsTimeout,
    OperationTimeoutLayer,
};
use crate::user_agent::{UserAgent, UserAgentLayer};

/// A type-erased response body.
pub type HttpBody = UnsyncBoxBody<Bytes, BoxError>;

/// A type-erased connector: what the signing layer hands requests to.
pub type BoxConnector =
    BoxCloneSyncService<http::Request<Full<Bytes>>, http::Response<HttpBody>, BoxError>;

/// The type-erased HTTP part of the stack (endpoint, signing, connector).
pub type HttpStack = BoxCloneSyncService<http::Request<Bytes>, http::Response<HttpBody>, BoxError>;

/// Boxes any connector service into a [`BoxConnector`].
pub fn box_connector<C, B>(connector: C) -> BoxConnector
where
    C: Service<http::Request<Full<Bytes>>, Response = http::Response<B>>
        + Clone
        + Send
        + Sync
        + 'static,
    C::Future: Send + 'static,
    C::Error: Into<BoxError>,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    BoxCloneSyncService::new(
        connector
            .map_response(|resp: http::Response<B>| {
                resp.map(|b| b.map_err(Into::into).boxed_unsync())
            })
            .map_err(Into::into),
    )
}

/// A KMS client: the default stack behind one cloneable, nameable type.
///
/// ```no_run
/// use tower_kms::{KmsClient, ReEncryptRequest};
///
/// # async fn run(blob: Vec<u8>) -> Result<(), Box<dyn std::error::Error>> {
/// let kms = KmsClient::from_env()?; // AWS_REGION, AWS_ACCESS_KEY_ID, ...
/// let out = kms
///     .re_encrypt(
///         ReEncryptRequest::builder()
///             .ciphertext_blob(blob)
///             .destination_key_id("alias/new-key")
///             .build()?,
///     )
///     .await?;
/// println!("now under {:?}", out.key_id);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct KmsClient {
    inner: ClientStack,
    region: Arc<str>,
    endpoint: Endpoint,
    quota: RetryQuota,
    skew: ClockSkew,
    limiter: Option<ClientRateLimiter>,
}

/// The typed part of the default stack.
#[cfg(feature = "tracing")]
type ClientStack = GrantTokens<
    Trace<KmsTimeout<KmsRetry<AdaptiveRateLimit<Trace<KmsTimeout<JsonProtocol<HttpStack>>>>>>>,
    SharedGrantTokens,
>;
#[cfg(not(feature = "tracing"))]
type ClientStack = GrantTokens<
    KmsTimeout<KmsRetry<AdaptiveRateLimit<KmsTimeout<JsonProtocol<HttpStack>>>>>,
    SharedGrantTokens,
>;

#[cfg(feature = "tracing")]
use crate::trace::{Trace, TraceLayer};

/// A layer that is [`TraceLayer`] with the `tracing` feature and nothing without.
#[cfg(feature = "tracing")]
fn trace_layer(operation: bool) -> TraceLayer {
    if operation {
        TraceLayer::operation()
    } else {
        TraceLayer::attempt()
    }
}
#[cfg(not(feature = "tracing"))]
fn trace_layer(_operation: bool) -> tower::layer::util::Identity {
    tower::layer::util::Identity::new()
}

impl KmsClient {
    /// Starts configuring a client.
    pub fn builder() -> KmsClientBuilder {
        KmsClientBuilder::default()
    }

    /// A client configured from the standard environment variables (see
    /// [`KmsClientBuilder::env`]).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::builder().env().build()
    }

    /// The region requests are signed for.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The endpoint requests go to.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The retry quota shared by all clones of this client.
    pub fn retry_quota(&self) -> &RetryQuota {
        &self.quota
    }

    /// The clock offset learnt from the server, applied to every signature.
    pub fn clock_skew(&self) -> &ClockSkew {
        &self.skew
    }

    /// The adaptive mode's rate limiter, shared by all clones (`None` in standard
    /// mode); its [`snapshot`](ClientRateLimiter::snapshot) tells the current rate
    /// and how many throttling responses were seen.
    pub fn rate_limiter(&self) -> Option<&ClientRateLimiter> {
        self.limiter.as_ref()
    }

    /// Calls `ReEncrypt`.
    pub async fn re_encrypt(&self, req: ReEncryptRequest) -> Result<ReEncryptResponse, KmsError> {
        self.send(req).await
    }

    /// Calls any operation.
    pub async fn send<Op: KmsOperation>(&self, op: Op) -> Result<Op::Output, KmsError> {
        self.clone().oneshot(op).await
    }

    /// The pages of a `List*` operation or `DescribeCustomKeyStores`, each page a
    /// call through the whole stack; [`Paginator::items`] gives the items.
    ///
    /// ```no_run
    /// use tower_kms::KmsClient;
    /// use tower_kms::model::ListAliasesRequest;
    ///
    /// # async fn run(kms: KmsClient) -> Result<(), Box<dyn std::error::Error>> {
    /// let mut aliases = std::pin::pin!(kms.paginate(ListAliasesRequest::builder().limit(50).build()?).items());
    /// while let Some(alias) = aliases.as_mut().next().await {
    ///     println!("{:?}", alias?.alias_name);
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn paginate<Op: Paginated>(&self, first: Op) -> Paginator<KmsClient, Op> {
        Paginator::new(self.clone(), first)
    }
}

impl<Op: KmsOperation> Service<Op> for KmsClient {
    type Response = Op::Output;
    type Error = KmsError;
    type Future = <ClientStack as Service<Op>>::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), KmsError>> {
        Service::<Op>::poll_ready(&mut self.inner, cx)
    }

    fn call(&mut self, op: Op) -> Self::Future {
        self.inner.call(op)
    }
}

/// Configures a [`KmsClient`].
///
/// Values set in code win over the environment; [`env`](Self::env) only fills in
/// what is still unset.
#[derive(Default)]
pub struct KmsClientBuilder {
    region: Option<String>,
    endpoint_url: Option<String>,
    fips: Option<bool>,
    dual_stack: Option<bool>,
    credentials: Option<SharedCredentialsProvider>,
    credentials_cache: Option<CredentialsCache>,
    clock: Option<Arc<dyn Clock>>,
    connector: Option<BoxConnector>,
    body_limit: Option<usize>,
    retry: Option<RetryConfig>,
    max_attempts: Option<u32>,
    attempt_timeout: Option<Option<Duration>>,
    operation_timeout: Option<Option<Duration>>,
    connect_timeout: Option<Duration>,
    grant_tokens: Option<SharedGrantTokens>,
    env_error: Option<ConfigError>,
    /// An unreadable `AWS_MAX_ATTEMPTS`, kept apart: `.max_attempts(n)` in code
    /// makes it irrelevant.
    env_attempts_error: Option<ConfigError>,
    /// Whether the application name was set in code (strictly checked) rather
    /// than found in the environment or an `SdkConfig` (ignored if invalid).
    app_name_explicit: bool,
    map_connector: Option<ConnectorMapper>,
    app_name: Option<String>,
    exec_env: Option<String>,
    ca_bundle: Option<std::path::PathBuf>,
}

type ConnectorMapper = Box<dyn FnOnce(BoxConnector) -> BoxConnector + Send>;

impl std::fmt::Debug for KmsClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KmsClientBuilder")
            .field("region", &self.region)
            .field("endpoint_url", &self.endpoint_url)
            .field("fips", &self.fips)
            .field("dual_stack", &self.dual_stack)
            .field("credentials", &self.credentials)
            .field("credentials_cache", &self.credentials_cache)
            .field("custom_connector", &self.connector.is_some())
            .field("map_connector", &self.map_connector.is_some())
            .field("retry", &self.retry)
            .field("max_attempts", &self.max_attempts)
            .field("attempt_timeout", &self.attempt_timeout)
            .field("operation_timeout", &self.operation_timeout)
            .field("app_name", &self.app_name)
            .finish_non_exhaustive()
    }
}

const MAX_ATTEMPTS_VAR: &str = "AWS_MAX_ATTEMPTS";

fn truthy(v: Option<String>) -> bool {
    v.is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

impl KmsClientBuilder {
    /// Sets the region (required; also the signing region).
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// Sends requests to a custom endpoint, e.g. `http://127.0.0.1:4566`.
    pub fn endpoint_url(mut self, url: impl Into<String>) -> Self {
        self.endpoint_url = Some(url.into());
        self
    }

    /// Uses the FIPS endpoint of the region.
    pub fn fips(mut self, fips: bool) -> Self {
        self.fips = Some(fips);
        self
    }

    /// Uses the dual-stack endpoint of the region.
    pub fn dual_stack(mut self, dual_stack: bool) -> Self {
        self.dual_stack = Some(dual_stack);
        self
    }

    /// Signs with credentials from `provider` (a `Credentials` value works as
    /// static credentials; `aws-config`'s providers plug in too). Default:
    /// [`EnvironmentCredentials`].
    ///
    /// Whatever the provider, the client caches it through its
    /// [`credentials_cache`](Self::credentials_cache) (lazy by default: asked once,
    /// again in the background shortly before the credentials expire, never by two
    /// callers at once, with a 5 s load timeout). If `provider` caches already, e.g.
    /// a [`CachedCredentials`](crate::sign::CachedCredentials) you share with other
    /// clients, add `.credentials_cache(CredentialsCache::no_cache())` so it is not
    /// cached twice.
    pub fn credentials_provider(mut self, provider: impl ProvideCredentials + 'static) -> Self {
        self.credentials = Some(SharedCredentialsProvider::new(provider));
        self
    }

    /// Sets how the client caches the credentials provider (see
    /// [`CredentialsCache`]; the AWS SDKs call it the identity cache). Default:
    /// [`CredentialsCache::lazy()`], or the identity cache of an `SdkConfig` given
    /// to `sdk_config` (feature `aws-config`).
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower_kms::KmsClient;
    /// use tower_kms::sign::CredentialsCache;
    ///
    /// # fn main() -> Result<(), tower_kms::ConfigError> {
    /// let kms = KmsClient::builder()
    ///     .region("us-east-1")
    ///     .credentials_cache(
    ///         CredentialsCache::lazy()
    ///             .load_timeout(Duration::from_secs(1))
    ///             .refresh_before(Duration::from_secs(600)),
    ///     )
    ///     .build()?;
    /// # let _ = kms;
    /// # Ok(())
    /// # }
    /// ```
    #[doc(alias = "identity_cache")]
    pub fn credentials_cache(mut self, cache: impl Into<CredentialsCache>) -> Self {
        self.credentials_cache = Some(cache.into());
        self
    }

    /// Uses `clock` for signing times.
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Some(Arc::new(clock));
        self
    }

    /// Sends signed requests through `connector` instead of the default
    /// [`HyperConnector`]: the local KMS, a tower-test mock, or your own client.
    ///
    /// A [`HyperConnector`] you build yourself is also how to trust a private CA
    /// or use your own rustls configuration (see
    /// [`HyperConnectorBuilder`](crate::connector::HyperConnectorBuilder)):
    /// `.connector(HyperConnector::builder().add_root_certificates_pem(&pem)?.build()?)`.
    /// [`connect_timeout`](Self::connect_timeout) does not apply to a connector
    /// given here; set it on that builder.
    pub fn connector<C, B>(mut self, connector: C) -> Self
    where
        C: Service<http::Request<Full<Bytes>>, Response = http::Response<B>>
            + Clone
            + Send
            + Sync
            + 'static,
        C::Future: Send + 'static,
        C::Error: Into<BoxError>,
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        self.connector = Some(box_connector(connector));
        self
    }

    /// Wraps the connector (the default [`HyperConnector`] or the one given to
    /// [`connector`](Self::connector)) with `f`, e.g. to add a rate limit that
    /// counts every HTTP attempt, retries included, or your own middleware:
    ///
    /// ```
    /// use tower::ServiceExt;
    /// use tower_kms::KmsClient;
    /// use tower_kms::client::box_connector;
    ///
    /// # fn main() -> Result<(), tower_kms::ConfigError> {
    /// let kms = KmsClient::builder()
    ///     .region("us-east-1")
    ///     .map_connector(|connector| {
    ///         // Every signed request passes here, after SigV4 and before the wire.
    ///         box_connector(connector.map_request(|req: http::Request<_>| req))
    ///     })
    ///     .build()?;
    /// # let _ = kms;
    /// # Ok(())
    /// # }
    /// ```
    pub fn map_connector(
        mut self,
        f: impl FnOnce(BoxConnector) -> BoxConnector + Send + 'static,
    ) -> Self {
        self.map_connector = Some(Box::new(f));
        self
    }

    /// Sets the largest response body read (default 1 MiB).
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = Some(bytes);
        self
    }

    /// Sets the retry behaviour (default [`RetryConfig::standard`], or what the
    /// environment says after [`env`](Self::env)).
    pub fn retry_config(mut self, config: RetryConfig) -> Self {
        self.retry = Some(config);
        // Code wins: an unreadable retry variable no longer matters.
        self.env_error = None;
        self.env_attempts_error = None;
        self
    }

    /// Sets the number of attempts in total (1 disables retries; a signing-time
    /// rejection still gets its one clock-skew correction).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = Some(attempts.max(1));
        // Code wins: an unreadable AWS_MAX_ATTEMPTS no longer matters.
        self.env_attempts_error = None;
        self
    }

    /// Sets the deadline of each attempt (`None`: no deadline). Default 10 s.
    pub fn attempt_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.attempt_timeout = Some(timeout);
        self
    }

    /// Sets the deadline of a whole call, over all attempts and backoffs
    /// (`None`: no deadline). Default 30 s.
    pub fn operation_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.operation_timeout = Some(timeout);
        self
    }

    /// Trusts the certificates of the PEM file at `path` as root certificates
    /// too (a private CA of a TLS-terminating endpoint or a corporate proxy), as
    /// the AWS CLI's `AWS_CA_BUNDLE` does; [`env`](Self::env) reads that
    /// variable. Applies to the default connector only (for your own, see
    /// [`HyperConnectorBuilder::add_root_certificates_pem`](crate::connector::HyperConnectorBuilder));
    /// an unreadable or certificate-less file makes [`build`](Self::build) fail,
    /// and so does a build without a rustls feature.
    pub fn ca_bundle(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.ca_bundle = Some(path.into());
        self
    }

    /// Sets the default connector's connect timeout (default 3.1 s); ignored with a
    /// custom connector.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// Names the application in the `x-amz-user-agent` header (`app/NAME`), as
    /// `AWS_SDK_UA_APP_ID` does for the AWS SDKs; KMS records it in CloudTrail.
    /// At most 50 characters, letters, digits or ``!#$%&'*+-.^_`|~``; anything
    /// else makes [`build`](Self::build) fail. See [`crate::user_agent`].
    pub fn app_name(mut self, name: impl Into<String>) -> Self {
        self.app_name = Some(name.into());
        self.app_name_explicit = true;
        self
    }

    /// Adds these grant tokens to every request that takes grant tokens.
    pub fn grant_tokens(self, tokens: Vec<String>) -> Self {
        self.grant_token_source(tokens)
    }

    /// Adds the grant tokens `source` gives to every request (see
    /// [`grant_tokens`](crate::grant_tokens)).
    pub fn grant_token_source(mut self, source: impl MakeGrantTokens) -> Self {
        self.grant_tokens = Some(Arc::new(source));
        self
    }

    /// Takes what an `aws_config::SdkConfig` says, for values still unset: region,
    /// credentials provider, identity cache, endpoint URL, FIPS and dual-stack, retry
    /// (standard or adaptive mode, `max_attempts`, initial and maximum backoff) and
    /// timeouts (connect, operation, operation attempt). Feature
    /// `aws-config`.
    ///
    /// The identity cache (`SdkConfig::identity_cache`, which `aws_config` sets to
    /// `IdentityCache::lazy()` for behavior versions from 2024-03-28 on) is used as
    /// the client's credentials cache unless [`credentials_cache`](Self::credentials_cache)
    /// is set: the client drives it as an SDK client would, on the SdkConfig's time
    /// source and sleep implementation (Tokio's if it has none), so its load timeout
    /// and buffer time apply. Limitation: there is no SDK orchestrator here, so the
    /// cache gets an empty per-request `ConfigBag` and inert stand-ins for the
    /// endpoint resolver, retry strategy and signer; the SDK's `lazy()` and
    /// `no_cache()` need none of them, and a custom cache that fails its validation
    /// with these components makes [`build`](Self::build) fail. Without an identity
    /// cache in the SdkConfig, the client's lazy cache is used.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), tower_kms::ConfigError> {
    /// # let sdk_config = aws_types::SdkConfig::builder().build();
    /// // let sdk_config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    /// let kms = tower_kms::KmsClient::builder().sdk_config(&sdk_config).build()?;
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "aws-config")]
    #[cfg_attr(docsrs, doc(cfg(feature = "aws-config")))]
    pub fn sdk_config(mut self, config: &aws_types::SdkConfig) -> Self {
        if self.region.is_none() {
            self.region = config.region().map(|r| r.as_ref().to_owned());
        }
        if self.credentials.is_none() {
            self.credentials = config.credentials_provider();
        }
        if self.credentials_cache.is_none() {
            self.credentials_cache =
                crate::sign::identity_cache::SdkIdentityCache::from_sdk_config(config)
                    .map(CredentialsCache::sdk);
        }
        if self.endpoint_url.is_none() {
            self.endpoint_url = config.endpoint_url().map(str::to_owned);
        }
        if self.fips.is_none() {
            self.fips = config.use_fips();
        }
        if self.dual_stack.is_none() {
            self.dual_stack = config.use_dual_stack();
        }
        if self.app_name.is_none() {
            self.app_name = config.app_name().map(|a| a.as_ref().to_owned());
        }
        if self.retry.is_none()
            && let Some(r) = config.retry_config()
        {
            let adaptive = r.mode() == aws_smithy_types::retry::RetryMode::Adaptive;
            // The SDKs' initial backoff applies to every error class.
            self.retry = Some(
                RetryConfig::standard()
                    .with_adaptive(adaptive)
                    .with_max_attempts(r.max_attempts())
                    .with_base(r.initial_backoff())
                    .with_throttling_base(r.initial_backoff())
                    .with_max_backoff(r.max_backoff()),
            );
            // The SdkConfig's retry settings replace the environment's.
            self.env_error = None;
            if self.max_attempts.is_none() {
                self.env_attempts_error = None;
            }
        }
        if let Some(t) = config.timeout_config() {
            if self.connect_timeout.is_none() {
                self.connect_timeout = t.connect_timeout();
            }
            if self.operation_timeout.is_none() && t.operation_timeout().is_some() {
                self.operation_timeout = Some(t.operation_timeout());
            }
            if self.attempt_timeout.is_none() && t.operation_attempt_timeout().is_some() {
                self.attempt_timeout = Some(t.operation_attempt_timeout());
            }
        }
        self
    }

    /// Fills unset values from the process environment: `AWS_REGION` /
    /// `AWS_DEFAULT_REGION`, `AWS_ENDPOINT_URL_KMS` / `AWS_ENDPOINT_URL` (unless
    /// `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true`), `AWS_USE_FIPS_ENDPOINT`,
    /// `AWS_USE_DUALSTACK_ENDPOINT`, `AWS_MAX_ATTEMPTS`, `AWS_RETRY_MODE`,
    /// `AWS_NEW_RETRIES_2026`, `AWS_SDK_UA_APP_ID` (the application name of the
    /// user agent), `AWS_EXECUTION_ENV` and `AWS_CA_BUNDLE` (see
    /// [`ca_bundle`](Self::ca_bundle)); credentials come from [`EnvironmentCredentials`]
    /// (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`), cached
    /// like any provider (see [`credentials_cache`](Self::credentials_cache)).
    pub fn env(self) -> Self {
        let mut this = self.env_with(|k| std::env::var(k).ok());
        if this.credentials.is_none() {
            this.credentials = Some(SharedCredentialsProvider::new(EnvironmentCredentials::new()));
        }
        this
    }

    /// Like [`env`](Self::env), reading variables through `get`; credentials found
    /// there are captured as static credentials.
    pub fn env_with(mut self, get: impl Fn(&str) -> Option<String>) -> Self {
        let non_empty = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        if self.region.is_none() {
            self.region = non_empty("AWS_REGION").or_else(|| non_empty("AWS_DEFAULT_REGION"));
        }
        if self.endpoint_url.is_none() && !truthy(get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")) {
            self.endpoint_url =
                non_empty("AWS_ENDPOINT_URL_KMS").or_else(|| non_empty("AWS_ENDPOINT_URL"));
        }
        if self.fips.is_none() && get("AWS_USE_FIPS_ENDPOINT").is_some() {
            self.fips = Some(truthy(get("AWS_USE_FIPS_ENDPOINT")));
        }
        if self.dual_stack.is_none() && get("AWS_USE_DUALSTACK_ENDPOINT").is_some() {
            self.dual_stack = Some(truthy(get("AWS_USE_DUALSTACK_ENDPOINT")));
        }
        if self.retry.is_none() {
            // AWS_MAX_ATTEMPTS is judged on its own, so that `.max_attempts(n)`
            // in code overrides an unreadable value.
            let rest = |k: &str| (k != MAX_ATTEMPTS_VAR).then(|| get(k)).flatten();
            match RetryConfig::from_env_with(rest) {
                Ok(mut cfg) => {
                    match crate::retry::max_attempts_from_env(&get) {
                        Ok(Some(n)) => cfg = cfg.with_max_attempts(n),
                        Ok(None) => {}
                        Err(e) if self.max_attempts.is_none() => self.env_attempts_error = Some(e),
                        Err(_) => {}
                    }
                    self.retry = Some(cfg);
                }
                Err(e) => self.env_error = Some(e),
            }
        }
        if self.app_name.is_none() {
            self.app_name = non_empty("AWS_SDK_UA_APP_ID");
        }
        if self.exec_env.is_none() {
            self.exec_env = non_empty("AWS_EXECUTION_ENV");
        }
        if self.ca_bundle.is_none() {
            self.ca_bundle = non_empty("AWS_CA_BUNDLE").map(Into::into);
        }
        if self.credentials.is_none()
            && let Ok(creds) = EnvironmentCredentials::load_with(&get)
        {
            self.credentials = Some(SharedCredentialsProvider::new(creds));
        }
        self
    }

    /// Assembles the client. Fails with a clear message when no region is set or
    /// the endpoint URL is invalid.
    pub fn build(self) -> Result<KmsClient, ConfigError> {
        if let Some(e) = self.env_error.or(self.env_attempts_error) {
            return Err(e);
        }
        let region = self
            .region
            .map(|r| r.trim().to_owned())
            .filter(|r| !r.is_empty())
            .ok_or_else(|| {
                ConfigError::new(
                    "no region: set AWS_REGION (or AWS_DEFAULT_REGION) or call .region(..)",
                )
            })?;
        let endpoint = match &self.endpoint_url {
            Some(url) => Endpoint::from_url(url)?,
            None => Endpoint::for_region_variant(
                &region,
                EndpointVariant::standard()
                    .with_fips(self.fips.unwrap_or(false))
                    .with_dual_stack(self.dual_stack.unwrap_or(false)),
            )?,
        };
        let connector = match self.connector {
            Some(c) => c,
            None => {
                let builder = HyperConnector::builder()
                    .connect_timeout(self.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT));
                let builder = match &self.ca_bundle {
                    Some(path) => with_ca_bundle(builder, path)?,
                    None => builder,
                };
                box_connector(builder.build()?)
            }
        };
        let connector = match self.map_connector {
            Some(f) => f(connector),
            None => connector,
        };
        let clock: Arc<dyn Clock> = self.clock.unwrap_or_else(|| Arc::new(SystemClock));
        let skew = ClockSkew::default();
        let provider = self
            .credentials
            .unwrap_or_else(|| SharedCredentialsProvider::new(EnvironmentCredentials::new()));
        let provider = self.credentials_cache.unwrap_or_default().wrap(provider)?;
        let sigv4 = SigV4Layer::from_shared(provider, region.clone())
            .clock(SharedClock(clock.clone()))
            .clock_skew(skew.clone());
        let mut user_agent = UserAgent::new();
        if let Some(env) = self.exec_env {
            user_agent = user_agent.with_exec_env(env);
        }
        if let Some(name) = self.app_name {
            match user_agent.clone().with_app_name(name) {
                Ok(ua) => user_agent = ua,
                Err(e) if self.app_name_explicit => return Err(e),
                // A value from the environment or an SdkConfig is shared by every
                // AWS tool on the machine (the SDKs only warn about it): it is
                // dropped, not allowed to stop this client.
                Err(_e) => {
                    #[cfg(feature = "tracing")]
                    tracing::warn!(error = %_e, "ignoring the application name from the environment or SdkConfig");
                }
            }
        }
        let http: HttpStack = BoxCloneSyncService::new(
            ServiceBuilder::new()
                .layer(EndpointLayer::new(endpoint.clone()))
                .layer(UserAgentLayer::new(user_agent))
                .layer(sigv4)
                .service(connector),
        );
        let mut retry_config = self.retry.unwrap_or_default();
        if let Some(n) = self.max_attempts {
            retry_config = retry_config.with_max_attempts(n);
        }
        let limiter = retry_config.is_adaptive().then(ClientRateLimiter::new);
        let adaptive = limiter.clone();
        let retry = RetryLayer::new(retry_config).clock_skew(skew.clone(), SharedClock(clock));
        let quota = retry.quota().clone();
        let grant_tokens: SharedGrantTokens =
            self.grant_tokens.unwrap_or_else(|| Arc::new(Vec::new()));
        let inner = ServiceBuilder::new()
            .layer(GrantTokenLayer::from_source(grant_tokens))
            .layer(trace_layer(true))
            .layer(OperationTimeoutLayer::optional(
                self.operation_timeout
                    .unwrap_or(Some(DEFAULT_OPERATION_TIMEOUT)),
            ))
            .layer(retry)
            .layer(tower::layer::layer_fn(move |inner| match &adaptive {
                Some(limiter) => AdaptiveRateLimit::new(inner, limiter.clone()),
                None => AdaptiveRateLimit::disabled(inner),
            }))
            .layer(trace_layer(false))
            .layer(AttemptTimeoutLayer::optional(
                self.attempt_timeout
                    .unwrap_or(Some(DEFAULT_ATTEMPT_TIMEOUT)),
            ))
            .layer(
                JsonProtocolLayer::new().body_limit(self.body_limit.unwrap_or(DEFAULT_BODY_LIMIT)),
            )
            .service(http);
        Ok(KmsClient {
            inner,
            region: region.into(),
            endpoint,
            quota,
            skew,
            limiter,
        })
    }
}

#[cfg(any(feature = "rustls-ring", feature = "rustls-aws-lc"))]
fn with_ca_bundle(
    builder: crate::connector::HyperConnectorBuilder,
    path: &std::path::Path,
) -> Result<crate::connector::HyperConnectorBuilder, ConfigError> {
    let pem = std::fs::read(path).map_err(|e| {
        ConfigError::new(format!("cannot read the CA bundle {}: {e}", path.display()))
    })?;
    builder
        .add_root_certificates_pem(&pem)
        .map_err(|e| ConfigError::new(format!("the CA bundle {}: {}", path.display(), e.message())))
}

#[cfg(not(any(feature = "rustls-ring", feature = "rustls-aws-lc")))]
fn with_ca_bundle(
    _builder: crate::connector::HyperConnectorBuilder,
    path: &std::path::Path,
) -> Result<crate::connector::HyperConnectorBuilder, ConfigError> {
    Err(ConfigError::new(format!(
        "a CA bundle ({}) needs HTTPS: enable the rustls-ring or rustls-aws-lc feature",
        path.display()
    )))
}

#[derive(Debug)]
struct SharedClock(Arc<dyn Clock>);

impl Clock for SharedClock {
    fn now(&self) -> std::time::SystemTime {
        self.0.now()
    }
}
