//! The default HTTP connector: hyper-util's pooled client, with rustls for HTTPS.
//!
//! Any `tower::Service<http::Request<Full<Bytes>>>` that returns an
//! `http::Response` with a body can be the connector instead (the local KMS, a
//! tower-test mock, your own client); this one is what
//! [`KmsClient::builder`](crate::KmsClient::builder) uses when none is given.
//!
//! TLS: rustls with the `ring` provider (feature `rustls-ring`, default) or
//! `aws-lc-rs` (feature `rustls-aws-lc`, preferred when both are on); roots from
//! `webpki-roots` (default) and/or the platform store (`native-roots`). Plain
//! `http://` is always allowed, for loopback and custom endpoints.
//!
//! ```
//! use std::time::Duration;
//! use tower::ServiceBuilder;
//! use tower_kms::connector::HyperConnector;
//! use tower_kms::sign::SigV4Layer;
//!
//! # fn main() -> Result<(), tower_kms::ConfigError> {
//! let connector = HyperConnector::builder()
//!     .connect_timeout(Duration::from_secs(2))
//!     .pool_idle_timeout(Duration::from_secs(30))
//!     .build()?;
//! let creds = aws_credential_types::Credentials::new("AKID", "SECRET", None, None, "static");
//! let _signed = ServiceBuilder::new()
//!     .layer(SigV4Layer::new(creds, "us-east-1"))
//!     .service(connector);
//! # Ok(())
//! # }
//! ```

use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tower::Service;

use crate::error::ConfigError;

/// The default connect timeout (the AWS SDKs' default, 3.1 s).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_millis(3100);

/// The default time an idle pooled connection is kept.
pub const DEFAULT_POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(90);

#[cfg(any(feature = "rustls-ring", feature = "rustls-aws-lc"))]
type Connector = hyper_rustls::HttpsConnector<HttpConnector>;
#[cfg(not(any(feature = "rustls-ring", feature = "rustls-aws-lc")))]
type Connector = HttpConnector;

/// The response future of [`HyperConnector`].
pub type ResponseFuture = hyper_util::client::legacy::ResponseFuture;

/// hyper-util's pooled HTTP/1.1 client as a tower service; see the [module docs](self).
#[derive(Clone, Debug)]
pub struct HyperConnector {
    client: Client<Connector, Full<Bytes>>,
}

impl HyperConnector {
    /// A connector with the default settings.
    pub fn new() -> Result<Self, ConfigError> {
        Self::builder().build()
    }

    /// Starts configuring a connector.
    pub fn builder() -> HyperConnectorBuilder {
        HyperConnectorBuilder {
            connect_timeout: Some(DEFAULT_CONNECT_TIMEOUT),
            pool_idle_timeout: Some(DEFAULT_POOL_IDLE_TIMEOUT),
            pool_max_idle_per_host: usize::MAX,
        }
    }
}

/// Configures a [`HyperConnector`].
#[derive(Debug, Clone)]
pub struct HyperConnectorBuilder {
    connect_timeout: Option<Duration>,
    pool_idle_timeout: Option<Duration>,
    pool_max_idle_per_host: usize,
}

impl HyperConnectorBuilder {
    /// Sets the TCP connect timeout (default [`DEFAULT_CONNECT_TIMEOUT`]).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }
    /// Sets how long idle pooled connections are kept (default [`DEFAULT_POOL_IDLE_TIMEOUT`]).
    pub fn pool_idle_timeout(mut self, timeout: Duration) -> Self {
        self.pool_idle_timeout = Some(timeout);
        self
    }
    /// Sets the most idle connections kept per host (default unlimited).
    pub fn pool_max_idle_per_host(mut self, max: usize) -> Self {
        self.pool_max_idle_per_host = max;
        self
    }

    /// Builds the connector.
    pub fn build(self) -> Result<HyperConnector, ConfigError> {
        let mut http = HttpConnector::new();
        http.set_connect_timeout(self.connect_timeout);
        http.set_nodelay(true);
        http.enforce_http(false);
        let connector = wrap_tls(http)?;
        let mut builder = Client::builder(TokioExecutor::new());
        builder.pool_idle_timeout(self.pool_idle_timeout);
        builder.pool_max_idle_per_host(self.pool_max_idle_per_host);
        builder.pool_timer(hyper_util::rt::TokioTimer::new());
        Ok(HyperConnector {
            client: builder.build(connector),
        })
    }
}

#[cfg(any(feature = "rustls-ring", feature = "rustls-aws-lc"))]
fn wrap_tls(http: HttpConnector) -> Result<Connector, ConfigError> {
    use std::sync::Arc;

    #[cfg(feature = "rustls-aws-lc")]
    let provider = rustls::crypto::aws_lc_rs::default_provider();
    #[cfg(not(feature = "rustls-aws-lc"))]
    let provider = rustls::crypto::ring::default_provider();

    #[allow(unused_mut)]
    let mut roots = rustls::RootCertStore::empty();
    #[cfg(feature = "webpki-roots")]
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    #[cfg(feature = "native-roots")]
    {
        let found = rustls_native_certs::load_native_certs();
        let (_added, _ignored) = roots.add_parsable_certificates(found.certs);
    }
    if roots.is_empty() {
        return Err(ConfigError::new(
            "no TLS root certificates: enable the `webpki-roots` or `native-roots` feature \
             (or the platform store has none)",
        ));
    }
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| ConfigError::new(format!("TLS configuration: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(http))
}

#[cfg(not(any(feature = "rustls-ring", feature = "rustls-aws-lc")))]
fn wrap_tls(mut http: HttpConnector) -> Result<Connector, ConfigError> {
    // Without a TLS feature only plain http:// endpoints work; https:// is an error
    // from the connector rather than a silent downgrade.
    http.enforce_http(true);
    Ok(http)
}

impl Service<http::Request<Full<Bytes>>> for HyperConnector {
    type Response = http::Response<hyper::body::Incoming>;
    type Error = hyper_util::client::legacy::Error;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<Full<Bytes>>) -> ResponseFuture {
        self.client.request(req)
    }
}
