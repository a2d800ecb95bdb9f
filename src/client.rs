//! The default stack, assembled: [`KmsClient`] and its builder.
//!
//! ```text
//! KmsClient ── JsonProtocol ── SetEndpoint ── SigV4 ── connector (hyper-util + rustls by default)
//! ```
//!
//! The client is cheap to clone, `Send + Sync`, and has a nameable type, so it
//! fits in axum state. It implements `tower::Service<Op>` for every
//! [`KmsOperation`] (e.g. `Service<ReEncryptRequest, Response = ReEncryptResponse,
//! Error = KmsError>`), so your own middleware composes around it.

use std::sync::Arc;
use std::task::{Context, Poll};

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use tower::util::BoxCloneSyncService;
use tower::{Layer, Service, ServiceBuilder, ServiceExt};

use crate::connector::HyperConnector;
use crate::endpoint::{Endpoint, EndpointLayer, EndpointVariant};
use crate::error::{BoxError, ConfigError, KmsError};
use crate::model::{ReEncryptRequest, ReEncryptResponse};
use crate::operation::KmsOperation;
use crate::protocol::{DEFAULT_BODY_LIMIT, JsonProtocol, JsonProtocolLayer};
use crate::sign::{Clock, EnvironmentCredentials, SigV4Layer, SystemClock};

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
    inner: JsonProtocol<HttpStack>,
    region: Arc<str>,
    endpoint: Endpoint,
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

    /// Calls `ReEncrypt`.
    pub async fn re_encrypt(&self, req: ReEncryptRequest) -> Result<ReEncryptResponse, KmsError> {
        self.send(req).await
    }

    /// Calls any operation.
    pub async fn send<Op: KmsOperation>(&self, op: Op) -> Result<Op::Output, KmsError> {
        self.clone().oneshot(op).await
    }
}

impl<Op: KmsOperation> Service<Op> for KmsClient {
    type Response = Op::Output;
    type Error = KmsError;
    type Future = <JsonProtocol<HttpStack> as Service<Op>>::Future;

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
    variant: EndpointVariant,
    credentials: Option<SharedCredentialsProvider>,
    clock: Option<Arc<dyn Clock>>,
    connector: Option<BoxConnector>,
    body_limit: Option<usize>,
}

impl std::fmt::Debug for KmsClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KmsClientBuilder")
            .field("region", &self.region)
            .field("endpoint_url", &self.endpoint_url)
            .field("variant", &self.variant)
            .field("credentials", &self.credentials)
            .field("custom_connector", &self.connector.is_some())
            .finish_non_exhaustive()
    }
}

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
        self.variant.fips = fips;
        self
    }

    /// Uses the dual-stack endpoint of the region.
    pub fn dual_stack(mut self, dual_stack: bool) -> Self {
        self.variant.dual_stack = dual_stack;
        self
    }

    /// Signs with credentials from `provider` (a `Credentials` value works as
    /// static credentials; `aws-config`'s providers plug in too). Default:
    /// [`EnvironmentCredentials`].
    pub fn credentials_provider(mut self, provider: impl ProvideCredentials + 'static) -> Self {
        self.credentials = Some(SharedCredentialsProvider::new(provider));
        self
    }

    /// Uses `clock` for signing times.
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Some(Arc::new(clock));
        self
    }

    /// Sends signed requests through `connector` instead of the default
    /// [`HyperConnector`]: the local KMS, a tower-test mock, or your own client.
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

    /// Sets the largest response body read (default 1 MiB).
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = Some(bytes);
        self
    }

    /// Fills unset values from the process environment: `AWS_REGION` /
    /// `AWS_DEFAULT_REGION`, `AWS_ENDPOINT_URL_KMS` / `AWS_ENDPOINT_URL` (unless
    /// `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true`), `AWS_USE_FIPS_ENDPOINT`,
    /// `AWS_USE_DUALSTACK_ENDPOINT`; credentials come from [`EnvironmentCredentials`]
    /// (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`).
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
        if truthy(get("AWS_USE_FIPS_ENDPOINT")) {
            self.variant.fips = true;
        }
        if truthy(get("AWS_USE_DUALSTACK_ENDPOINT")) {
            self.variant.dual_stack = true;
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
            None => Endpoint::for_region_variant(&region, self.variant)?,
        };
        let connector = match self.connector {
            Some(c) => c,
            None => box_connector(HyperConnector::new()?),
        };
        let provider = self
            .credentials
            .unwrap_or_else(|| SharedCredentialsProvider::new(EnvironmentCredentials::new()));
        let mut sigv4 = SigV4Layer::from_shared(provider, region.clone());
        sigv4 = match self.clock {
            Some(clock) => sigv4.clock(SharedClock(clock)),
            None => sigv4.clock(SystemClock),
        };
        let http: HttpStack = BoxCloneSyncService::new(
            ServiceBuilder::new()
                .layer(EndpointLayer::new(endpoint.clone()))
                .layer(sigv4)
                .service(connector),
        );
        let inner = JsonProtocolLayer::new()
            .body_limit(self.body_limit.unwrap_or(DEFAULT_BODY_LIMIT))
            .layer(http);
        Ok(KmsClient {
            inner,
            region: region.into(),
            endpoint,
        })
    }
}

#[derive(Debug)]
struct SharedClock(Arc<dyn Clock>);

impl Clock for SharedClock {
    fn now(&self) -> std::time::SystemTime {
        self.0.now()
    }
}
