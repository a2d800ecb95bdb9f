//! Middleware that signs requests with AWS Signature Version 4 (the `aws-sigv4` crate).
//!
//! Credentials come from any [`ProvideCredentials`] (static keys, the
//! environment, or `aws-config`'s default chain); they are fetched and the request
//! is signed on every call, with a fresh timestamp, so a retry layer above re-signs
//! every attempt. Session credentials add `X-Amz-Security-Token`. The layer hands
//! the signed request to the connector as `http::Request<Full<Bytes>>`.
//!
//! The layer asks its provider on every call and caches nothing: give it a
//! [`CachedCredentials`] around a provider that fetches (SSO, web identity, ECS,
//! IMDS). A [`KmsClient`](crate::KmsClient) does that by default; see
//! [`CredentialsCache`].
//!
//! ```
//! use aws_credential_types::Credentials;
//! use bytes::Bytes;
//! use http_body_util::Full;
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//! use tower_kms::sign::SigV4Layer;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), tower_kms::BoxError> {
//! let creds = Credentials::new("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", None, None, "static");
//! let connector = service_fn(|req: http::Request<Full<Bytes>>| async move {
//!     let auth = req.headers()["authorization"].to_str().unwrap();
//!     assert!(auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"));
//!     Ok::<_, std::convert::Infallible>(http::Response::new(Full::new(Bytes::new())))
//! });
//! let svc = ServiceBuilder::new()
//!     .layer(SigV4Layer::new(creds, "eu-west-1"))
//!     .service(connector);
//!
//! let req = http::Request::builder()
//!     .method("POST")
//!     .uri("https://kms.eu-west-1.amazonaws.com/")
//!     .header("host", "kms.eu-west-1.amazonaws.com")
//!     .body(Bytes::from_static(b"{}"))?;
//! svc.oneshot(req).await?;
//! # Ok(())
//! # }
//! ```

mod cache;
mod credentials;
mod fast;
#[cfg(feature = "aws-config")]
pub(crate) mod identity_cache;

pub use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
pub use cache::{
    CachedCredentials, CredentialsCache, DEFAULT_LOAD_TIMEOUT, DEFAULT_REFRESH_BEFORE,
    LazyCredentialsCache,
};
pub use credentials::{Clock, ClockSkew, EnvironmentCredentials, FixedClock, SystemClock};

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use pin_project_lite::pin_project;
use tower::{Layer, Service};

use crate::error::{BoxError, CredentialsError, KmsError, SigningError};

/// The SigV4 service name of KMS.
pub const SERVICE_NAME: &str = "kms";

/// Signs `req` in place for `region` and `service` at `time`: adds `X-Amz-Date`,
/// `Authorization` and, for session credentials, `X-Amz-Security-Token`.
///
/// The signed headers are all headers of the request except `authorization`,
/// `user-agent`, `x-amzn-trace-id` and `transfer-encoding`; set `host` first.
pub fn sign_request(
    req: &mut Request<Bytes>,
    credentials: &Credentials,
    region: &str,
    service: &str,
    time: SystemTime,
) -> Result<(), SigningError> {
    prepare(req, time)?;
    sign_general(req, credentials, region, service, time)
}

/// aws-sigv4's general signer, on a request [`prepare`] accepted.
fn sign_general(
    req: &mut Request<Bytes>,
    credentials: &Credentials,
    region: &str,
    service: &str,
    time: SystemTime,
) -> Result<(), SigningError> {
    let identity: Identity = credentials.clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .map_err(SigningError::new)?
        .into();
    let uri = req.uri().to_string();
    let mut headers = Vec::with_capacity(req.headers().len());
    for (name, value) in req.headers() {
        let value = value
            .to_str()
            .map_err(|_| SigningError::new(format!("header {name} is not visible ASCII")))?;
        headers.push((name.as_str(), value));
    }
    let signable = SignableRequest::new(
        req.method().as_str(),
        &uri,
        headers.into_iter(),
        SignableBody::Bytes(req.body()),
    )
    .map_err(SigningError::new)?;
    let (instructions, _signature) = sign(signable, &params)
        .map_err(SigningError::new)?
        .into_parts();
    instructions.apply_to_request_http1x(req);
    Ok(())
}

fn sign_with_cache(
    req: &mut Request<Bytes>,
    credentials: &Credentials,
    region: &str,
    service: &str,
    time: SystemTime,
    keys: &fast::KeyCache,
) -> Result<(), SigningError> {
    let date = prepare(req, time)?;
    if fast::try_sign(req, credentials, region, service, time, &date, keys) {
        return Ok(());
    }
    sign_general(req, credentials, region, service, time)
}

/// Refuses what aws-sigv4 would panic on (a signing time outside the years 1970
/// to 9999, e.g. after a wild clock-skew correction or a broken clock; a request
/// with neither a `host` header nor a URI authority), removes the headers a
/// previous signature left, and returns the `X-Amz-Date` value.
fn prepare(req: &mut Request<Bytes>, time: SystemTime) -> Result<[u8; 16], SigningError> {
    let date = fast::amz_date(time).ok_or_else(|| {
        SigningError::new(
            "the signing time is outside the years 1970 to 9999; check the clock and the clock-skew offset",
        )
    })?;
    if !req.headers().contains_key(http::header::HOST) && req.uri().authority().is_none() {
        return Err(SigningError::new(
            "the request has no host: put an EndpointLayer (or an absolute URI) before the SigV4 layer",
        ));
    }
    let h = req.headers_mut();
    h.remove(http::header::AUTHORIZATION);
    h.remove("x-amz-date");
    h.remove("x-amz-security-token");
    Ok(date)
}

/// A signer that keeps its derived signing key between calls: the same result as
/// [`sign_request`], faster for the `POST /` requests the protocol layer makes
/// (their canonical request is filled in directly and the key is derived once a
/// day); any other request goes through aws-sigv4's general signer.
///
/// ```
/// use std::time::SystemTime;
/// use tower_kms::sign::RequestSigner;
/// # fn main() -> Result<(), tower_kms::SigningError> {
/// let creds = aws_credential_types::Credentials::new("AKID", "SECRET", None, None, "static");
/// let signer = RequestSigner::new("us-east-1", "kms");
/// let mut req = http::Request::post("https://kms.us-east-1.amazonaws.com/")
///     .header("content-type", "application/x-amz-json-1.1")
///     .header("host", "kms.us-east-1.amazonaws.com")
///     .header("x-amz-target", "TrentService.ReEncrypt")
///     .body(bytes::Bytes::from_static(b"{}"))
///     .unwrap();
/// signer.sign(&mut req, &creds, SystemTime::now())?;
/// assert!(req.headers().contains_key("authorization"));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Default)]
pub struct RequestSigner {
    region: String,
    service: String,
    keys: fast::KeyCache,
}

impl RequestSigner {
    /// A signer for `region` and `service`.
    pub fn new(region: impl Into<String>, service: impl Into<String>) -> Self {
        Self {
            region: region.into(),
            service: service.into(),
            keys: fast::KeyCache::default(),
        }
    }

    /// Signs `req` in place at `time` (see [`sign_request`]).
    pub fn sign(
        &self,
        req: &mut Request<Bytes>,
        credentials: &Credentials,
        time: SystemTime,
    ) -> Result<(), SigningError> {
        sign_with_cache(
            req,
            credentials,
            &self.region,
            &self.service,
            time,
            &self.keys,
        )
    }
}

struct SignerConfig {
    provider: SharedCredentialsProvider,
    region: String,
    service: String,
    clock: Arc<dyn Clock>,
    skew: ClockSkew,
    keys: Arc<fast::KeyCache>,
}

/// Layer that applies [`SigV4`]; see the [module docs](self).
#[derive(Clone)]
pub struct SigV4Layer {
    config: Arc<SignerConfig>,
}

impl fmt::Debug for SigV4Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigV4Layer")
            .field("region", &self.config.region)
            .field("service", &self.config.service)
            .field("clock", &self.config.clock)
            .field("skew_ms", &self.config.skew.offset_millis())
            .finish_non_exhaustive()
    }
}

impl SigV4Layer {
    /// Signs for `region` with credentials from `provider` (a [`Credentials`] value
    /// works as a static provider).
    pub fn new(provider: impl ProvideCredentials + 'static, region: impl Into<String>) -> Self {
        Self::from_shared(SharedCredentialsProvider::new(provider), region)
    }

    /// Like [`SigV4Layer::new`] with an already shared provider.
    pub fn from_shared(provider: SharedCredentialsProvider, region: impl Into<String>) -> Self {
        Self {
            config: Arc::new(SignerConfig {
                provider,
                region: region.into(),
                service: SERVICE_NAME.to_owned(),
                clock: Arc::new(SystemClock),
                skew: ClockSkew::default(),
                keys: Arc::default(),
            }),
        }
    }

    fn edit(mut self, f: impl FnOnce(&mut SignerConfig)) -> Self {
        let c = &*self.config;
        let mut next = SignerConfig {
            provider: c.provider.clone(),
            region: c.region.clone(),
            service: c.service.clone(),
            clock: c.clock.clone(),
            skew: c.skew.clone(),
            keys: Arc::default(),
        };
        f(&mut next);
        self.config = Arc::new(next);
        self
    }

    /// Uses `clock` for signing times (e.g. a [`FixedClock`] in tests).
    pub fn clock(self, clock: impl Clock) -> Self {
        self.edit(|c| c.clock = Arc::new(clock))
    }

    /// Signs for another service name than `kms`.
    pub fn service_name(self, name: impl Into<String>) -> Self {
        let name = name.into();
        self.edit(|c| c.service = name)
    }

    /// Shares `skew` as the clock offset applied to signing times of requests
    /// that carry none: a [`ClockSkew`] in a request's extensions (which the
    /// [`RetryLayer`](crate::retry::RetryLayer) puts there) wins.
    pub fn clock_skew(self, skew: ClockSkew) -> Self {
        self.edit(|c| c.skew = skew)
    }

    /// The clock offset applied to signing times.
    pub fn skew(&self) -> &ClockSkew {
        &self.config.skew
    }
}

impl<S> Layer<S> for SigV4Layer {
    type Service = SigV4<S>;
    fn layer(&self, inner: S) -> SigV4<S> {
        SigV4 {
            inner,
            config: self.config.clone(),
        }
    }
}

/// Service that signs each request with SigV4 before passing it to the connector;
/// see the [module docs](self).
#[derive(Clone)]
pub struct SigV4<S> {
    inner: S,
    config: Arc<SignerConfig>,
}

impl<S: fmt::Debug> fmt::Debug for SigV4<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigV4")
            .field("inner", &self.inner)
            .field("region", &self.config.region)
            .field("service", &self.config.service)
            .finish_non_exhaustive()
    }
}

impl<S> SigV4<S> {
    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }
    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

type CredentialsFuture =
    Pin<Box<dyn Future<Output = aws_credential_types::provider::Result> + Send + 'static>>;

pin_project! {
    #[project = StateProj]
    enum State<S, F> {
        Credentials { fut: CredentialsFuture, req: Option<Request<Bytes>>, inner: Option<S> },
        Calling { #[pin] fut: F },
    }
}

pin_project! {
    /// Response future of [`SigV4`]: fetches credentials, signs, then calls the connector.
    pub struct ResponseFuture<S, F> {
        #[pin]
        state: State<S, F>,
        config: Arc<SignerConfig>,
    }
}

impl<S, F> fmt::Debug for ResponseFuture<S, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<S, B> Service<Request<Bytes>> for SigV4<S>
where
    S: Service<Request<Full<Bytes>>, Response = http::Response<B>> + Clone,
    S::Error: Into<BoxError>,
{
    type Response = http::Response<B>;
    type Error = BoxError;
    type Future = ResponseFuture<S, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: Request<Bytes>) -> Self::Future {
        // The ready service goes into the future; a fresh clone stays here.
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        let provider = self.config.provider.clone();
        let fut: CredentialsFuture = Box::pin(async move { provider.provide_credentials().await });
        ResponseFuture {
            state: State::Credentials {
                fut,
                req: Some(req),
                inner: Some(inner),
            },
            config: self.config.clone(),
        }
    }
}

impl<S, F, B, E> Future for ResponseFuture<S, F>
where
    S: Service<Request<Full<Bytes>>, Response = http::Response<B>, Future = F, Error = E>,
    F: Future<Output = Result<http::Response<B>, E>>,
    E: Into<BoxError>,
{
    type Output = Result<http::Response<B>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::Credentials { fut, req, inner } => {
                    let creds = ready!(fut.as_mut().poll(cx));
                    let (Some(mut req), Some(mut inner)) = (req.take(), inner.take()) else {
                        return Poll::Ready(Err(
                            "SigV4 response future polled after completion".into()
                        ));
                    };
                    let creds = match creds {
                        Ok(c) => c,
                        Err(e) => {
                            return Poll::Ready(Err(Box::new(KmsError::Credentials(
                                CredentialsError::from(e),
                            ))));
                        }
                    };
                    let cfg = &**this.config;
                    // The retry layer's handle, carried by the request, wins.
                    let skew = req.extensions().get::<ClockSkew>().unwrap_or(&cfg.skew);
                    let time = skew.apply(cfg.clock.now());
                    if let Err(e) = sign_with_cache(
                        &mut req,
                        &creds,
                        &cfg.region,
                        &cfg.service,
                        time,
                        &cfg.keys,
                    ) {
                        return Poll::Ready(Err(Box::new(KmsError::Signing(e))));
                    }
                    let fut = inner.call(req.map(Full::new));
                    this.state.set(State::Calling { fut });
                }
                StateProj::Calling { fut } => {
                    return fut.poll(cx).map_err(Into::into);
                }
            }
        }
    }
}
