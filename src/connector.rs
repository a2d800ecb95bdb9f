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
//! `http://` is always allowed, for loopback and custom endpoints. Without a
//! rustls feature the connector speaks plain HTTP only and `https://` URLs fail
//! when called.
//!
//! ## Trust
//!
//! With a rustls feature the builder also takes:
//!
//! - extra root certificates, for a private CA (a TLS-terminating test
//!   endpoint, a corporate proxy): `add_root_certificates_pem` (a PEM bundle)
//!   and `add_root_certificate_der`;
//! - `built_in_roots(false)`: trust only the roots added, not `webpki-roots` or
//!   the platform store;
//! - `tls_config`: a complete `rustls::ClientConfig`, for full control (client
//!   certificates, a custom verifier, another crypto provider).
//!
//! The connector speaks HTTP/1.1 only. By default it offers no ALPN protocol,
//! which servers answer with HTTP/1.1.
//!
//! To use such a connector in a [`KmsClient`](crate::KmsClient), pass it to
//! [`KmsClientBuilder::connector`](crate::KmsClientBuilder::connector); the
//! client builder's `connect_timeout` applies only to the connector it builds
//! itself, so set the timeout here.
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
            #[cfg(any(feature = "rustls-ring", feature = "rustls-aws-lc"))]
            tls: TlsOptions::default(),
        }
    }
}

/// Configures a [`HyperConnector`].
#[derive(Debug, Clone)]
pub struct HyperConnectorBuilder {
    connect_timeout: Option<Duration>,
    pool_idle_timeout: Option<Duration>,
    pool_max_idle_per_host: usize,
    #[cfg(any(feature = "rustls-ring", feature = "rustls-aws-lc"))]
    tls: TlsOptions,
}

/// What the builder was told about TLS trust.
#[cfg(any(feature = "rustls-ring", feature = "rustls-aws-lc"))]
#[derive(Clone)]
struct TlsOptions {
    /// Roots added with `add_root_certificate*`.
    extra_roots: rustls::RootCertStore,
    /// Whether `webpki-roots` / the platform store are trusted too.
    built_in_roots: bool,
    /// A complete configuration that replaces all of the above.
    config: Option<std::sync::Arc<rustls::ClientConfig>>,
}

/// A summary: the roots are public but long, and a full `ClientConfig` is
/// the caller's own (it may hold a client certificate's key resolver).
#[cfg(any(feature = "rustls-ring", feature = "rustls-aws-lc"))]
impl std::fmt::Debug for TlsOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsOptions")
            .field("extra_roots", &self.extra_roots.len())
            .field("built_in_roots", &self.built_in_roots)
            .field("custom_config", &self.config.is_some())
            .finish()
    }
}

#[cfg(any(feature = "rustls-ring", feature = "rustls-aws-lc"))]
impl Default for TlsOptions {
    fn default() -> Self {
        Self {
            extra_roots: rustls::RootCertStore::empty(),
            built_in_roots: true,
            config: None,
        }
    }
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

    /// Also trusts the certificates of a PEM bundle (one or more
    /// `-----BEGIN CERTIFICATE-----` sections; text between sections and other
    /// kinds of section, such as keys, are skipped) as root certificates.
    ///
    /// Fails when `pem` holds no certificate, is not well-formed PEM, or holds a
    /// certificate that does not parse. The roots come on top of `webpki-roots`
    /// and the platform store unless [`built_in_roots(false)`](Self::built_in_roots)
    /// is set.
    ///
    /// ```
    /// use tower_kms::KmsClient;
    /// use tower_kms::connector::HyperConnector;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let ca = rcgen::CertificateParams::new(Vec::<String>::new())?
    /// #     .self_signed(&rcgen::KeyPair::generate()?)?;
    /// # let ca_pem = ca.pem().into_bytes();
    /// // let ca_pem = std::fs::read("corporate-ca.pem")?;
    /// let connector = HyperConnector::builder()
    ///     .add_root_certificates_pem(&ca_pem)?
    ///     .build()?;
    /// let kms = KmsClient::builder()
    ///     .region("us-east-1")
    ///     .endpoint_url("https://kms.internal.example:8443")
    ///     .connector(connector)
    ///     .build()?;
    /// # let _ = kms;
    /// # Ok(())
    /// # }
    /// ```
    #[cfg(any(feature = "rustls-ring", feature = "rustls-aws-lc"))]
    #[cfg_attr(
        docsrs,
        doc(cfg(any(feature = "rustls-ring", feature = "rustls-aws-lc")))
    )]
    pub fn add_root_certificates_pem(mut self, pem: &[u8]) -> Result<Self, ConfigError> {
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject;

        let mut found = 0usize;
        for cert in CertificateDer::pem_slice_iter(pem) {
            found += 1;
            let cert = cert.map_err(|e| {
                ConfigError::new(format!(
                    "root certificate PEM: section {found} is not valid PEM: {e}"
                ))
            })?;
            self.tls.extra_roots.add(cert).map_err(|e| {
                ConfigError::new(format!(
                    "root certificate PEM: certificate {found} does not parse: {e}"
                ))
            })?;
        }
        if found == 0 {
            return Err(ConfigError::new(
                "root certificate PEM: no certificate found \
                 (expected a -----BEGIN CERTIFICATE----- section)",
            ));
        }
        Ok(self)
    }

    /// Also trusts one DER-encoded certificate as a root certificate.
    ///
    /// Fails when `der` is not an X.509 certificate. See
    /// [`add_root_certificates_pem`](Self::add_root_certificates_pem).
    #[cfg(any(feature = "rustls-ring", feature = "rustls-aws-lc"))]
    #[cfg_attr(
        docsrs,
        doc(cfg(any(feature = "rustls-ring", feature = "rustls-aws-lc")))
    )]
    pub fn add_root_certificate_der(mut self, der: &[u8]) -> Result<Self, ConfigError> {
        self.tls
            .extra_roots
            .add(rustls::pki_types::CertificateDer::from(der))
            .map_err(|e| ConfigError::new(format!("root certificate DER does not parse: {e}")))?;
        Ok(self)
    }

    /// Whether the built-in roots are trusted: the Mozilla roots of
    /// `webpki-roots` and the platform store (`native-roots`), as the features
    /// enable them. Default `true`.
    ///
    /// `false` trusts only the roots added with
    /// [`add_root_certificates_pem`](Self::add_root_certificates_pem) or
    /// [`add_root_certificate_der`](Self::add_root_certificate_der), e.g. so that
    /// an endpoint is trusted only with a certificate from your private CA;
    /// [`build`](Self::build) fails if none was added.
    #[cfg(any(feature = "rustls-ring", feature = "rustls-aws-lc"))]
    #[cfg_attr(
        docsrs,
        doc(cfg(any(feature = "rustls-ring", feature = "rustls-aws-lc")))
    )]
    pub fn built_in_roots(mut self, enabled: bool) -> Self {
        self.tls.built_in_roots = enabled;
        self
    }

    /// Uses `config` for every TLS connection, for full control: client
    /// certificates, a custom certificate verifier, another crypto provider.
    ///
    /// It replaces the crate's own choices: the crypto provider picked by the
    /// features, protocol versions and roots. Combining it with
    /// [`add_root_certificates_pem`](Self::add_root_certificates_pem),
    /// [`add_root_certificate_der`](Self::add_root_certificate_der) or
    /// [`built_in_roots(false)`](Self::built_in_roots) is an error from
    /// [`build`](Self::build): put the roots in `config`.
    ///
    /// The connector speaks HTTP/1.1 only, so leave
    /// [`alpn_protocols`](rustls::ClientConfig::alpn_protocols) empty (the
    /// default) or set it to `http/1.1` alone; anything else (such as `h2`, which
    /// a server could pick) is an error from [`build`](Self::build).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use tower_kms::connector::HyperConnector;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let ca = rcgen::CertificateParams::new(Vec::<String>::new())?
    /// #     .self_signed(&rcgen::KeyPair::generate()?)?;
    /// # let ca_der = ca.der().clone();
    /// # #[cfg(feature = "rustls-aws-lc")]
    /// # let provider = rustls::crypto::aws_lc_rs::default_provider();
    /// # #[cfg(not(feature = "rustls-aws-lc"))]
    /// let provider = rustls::crypto::ring::default_provider();
    /// let mut roots = rustls::RootCertStore::empty();
    /// roots.add(ca_der)?;
    /// let config = rustls::ClientConfig::builder_with_provider(Arc::new(provider))
    ///     .with_protocol_versions(&[&rustls::version::TLS13])?
    ///     .with_root_certificates(roots)
    ///     .with_no_client_auth();
    /// let connector = HyperConnector::builder().tls_config(config).build()?;
    /// # let _ = connector;
    /// # Ok(())
    /// # }
    /// ```
    #[cfg(any(feature = "rustls-ring", feature = "rustls-aws-lc"))]
    #[cfg_attr(
        docsrs,
        doc(cfg(any(feature = "rustls-ring", feature = "rustls-aws-lc")))
    )]
    pub fn tls_config(mut self, config: impl Into<std::sync::Arc<rustls::ClientConfig>>) -> Self {
        self.tls.config = Some(config.into());
        self
    }

    /// Builds the connector.
    ///
    /// Fails when TLS cannot be configured: no root certificate to trust, or a
    /// `tls_config` that conflicts with other settings.
    pub fn build(self) -> Result<HyperConnector, ConfigError> {
        let mut http = HttpConnector::new();
        http.set_connect_timeout(self.connect_timeout);
        http.set_nodelay(true);
        http.enforce_http(false);
        #[cfg(any(feature = "rustls-ring", feature = "rustls-aws-lc"))]
        let connector = wrap_tls(http, self.tls)?;
        #[cfg(not(any(feature = "rustls-ring", feature = "rustls-aws-lc")))]
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
fn wrap_tls(http: HttpConnector, options: TlsOptions) -> Result<Connector, ConfigError> {
    let config = match options.config {
        Some(config) => {
            if !options.extra_roots.is_empty() || !options.built_in_roots {
                return Err(ConfigError::new(
                    "tls_config replaces the root certificate settings: \
                     put the roots in the rustls ClientConfig instead",
                ));
            }
            if config
                .alpn_protocols
                .iter()
                .any(|p| p.as_slice() != b"http/1.1")
            {
                return Err(ConfigError::new(
                    "tls_config: the connector speaks HTTP/1.1 only; \
                     set alpn_protocols to nothing or to http/1.1 alone",
                ));
            }
            config
        }
        None => std::sync::Arc::new(default_tls_config(
            options.extra_roots,
            options.built_in_roots,
        )?),
    };
    // The same connector as hyper-rustls's builder with `https_or_http()` and
    // `enable_http1()`, which would panic on a config with ALPN protocols set.
    Ok(hyper_rustls::HttpsConnector::from((http, config)))
}

#[cfg(any(feature = "rustls-ring", feature = "rustls-aws-lc"))]
fn default_tls_config(
    extra_roots: rustls::RootCertStore,
    built_in_roots: bool,
) -> Result<rustls::ClientConfig, ConfigError> {
    use std::sync::Arc;

    #[cfg(feature = "rustls-aws-lc")]
    let provider = rustls::crypto::aws_lc_rs::default_provider();
    #[cfg(not(feature = "rustls-aws-lc"))]
    let provider = rustls::crypto::ring::default_provider();

    // Not mutated when neither `webpki-roots` nor `native-roots` is on.
    #[allow(unused_mut)]
    let mut roots = extra_roots;
    if built_in_roots {
        #[cfg(feature = "webpki-roots")]
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        #[cfg(feature = "native-roots")]
        {
            let found = rustls_native_certs::load_native_certs();
            let (_added, _ignored) = roots.add_parsable_certificates(found.certs);
        }
    }
    if roots.is_empty() {
        return Err(ConfigError::new(if built_in_roots {
            "no TLS root certificates: enable the `webpki-roots` or `native-roots` feature \
             (or the platform store has none), or add roots to the connector"
        } else {
            "no TLS root certificates: built_in_roots(false) trusts only the roots added \
             to the connector, and none was added"
        }));
    }
    Ok(
        rustls::ClientConfig::builder_with_provider(Arc::new(provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| ConfigError::new(format!("TLS configuration: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
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
