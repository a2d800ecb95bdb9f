//! Middleware that points requests at a KMS endpoint: it sets the absolute URI
//! and the `Host` header (which SigV4 signs).
//!
//! An [`Endpoint`] comes from a region (with the China, GovCloud and ISO
//! partitions, FIPS and dual-stack variants) or from a custom URL such as a local
//! KMS on `http://127.0.0.1:PORT`.
//!
//! ```
//! use bytes::Bytes;
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//! use tower_kms::endpoint::{Endpoint, EndpointLayer};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let endpoint = Endpoint::for_region("cn-north-1")?;
//! assert_eq!(endpoint.url(), "https://kms.cn-north-1.amazonaws.com.cn/");
//!
//! let svc = ServiceBuilder::new()
//!     .layer(EndpointLayer::new(endpoint))
//!     .service(service_fn(|req: http::Request<Bytes>| async move {
//!         assert_eq!(req.headers()["host"], "kms.cn-north-1.amazonaws.com.cn");
//!         Ok::<_, std::convert::Infallible>(req.uri().to_string())
//!     }));
//! let uri = svc.oneshot(http::Request::new(Bytes::new())).await?;
//! assert_eq!(uri, "https://kms.cn-north-1.amazonaws.com.cn/");
//! # Ok(())
//! # }
//! ```

use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{HOST, HeaderValue};
use http::uri::{Authority, PathAndQuery, Scheme, Uri};
use tower::{Layer, Service};

use crate::error::ConfigError;

/// Variants of the regional endpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct EndpointVariant {
    /// Use the FIPS endpoint (`kms-fips.{region}...`).
    pub fips: bool,
    /// Use the dual-stack (IPv4 and IPv6) endpoint (`api.aws` and its partition equivalents).
    pub dual_stack: bool,
}

impl EndpointVariant {
    /// The standard endpoint.
    pub fn standard() -> Self {
        Self::default()
    }
    /// Sets the FIPS flag.
    pub fn with_fips(mut self, fips: bool) -> Self {
        self.fips = fips;
        self
    }
    /// Sets the dual-stack flag.
    pub fn with_dual_stack(mut self, dual_stack: bool) -> Self {
        self.dual_stack = dual_stack;
        self
    }
}

/// A resolved KMS endpoint: the URI requests go to and the `Host` they carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    scheme: Scheme,
    authority: Authority,
    path: PathAndQuery,
    host: HeaderValue,
    /// The full URI for the path `/`, built once.
    root: Uri,
}

/// (region prefix, DNS suffix, dual-stack DNS suffix) of the AWS partitions.
const PARTITIONS: &[(&str, &str, &str)] = &[
    ("cn-", "amazonaws.com.cn", "api.amazonwebservices.com.cn"),
    ("us-gov-", "amazonaws.com", "api.aws"),
    ("us-isob-", "sc2s.sgov.gov", "api.aws.scloud"),
    ("us-isof-", "csp.hci.ic.gov", "api.aws.hci.ic.gov"),
    ("us-iso-", "c2s.ic.gov", "api.aws.ic.gov"),
    ("eu-isoe-", "cloud.adc-e.uk", "api.cloud-aws.adc-e.uk"),
    ("eusc-", "amazonaws.eu", "api.amazonwebservices.eu"),
];

impl Endpoint {
    /// The standard endpoint of `region`, e.g. `https://kms.us-east-1.amazonaws.com`.
    pub fn for_region(region: &str) -> Result<Self, ConfigError> {
        Self::for_region_variant(region, EndpointVariant::standard())
    }

    /// The endpoint of `region` with FIPS and/or dual-stack.
    pub fn for_region_variant(region: &str, variant: EndpointVariant) -> Result<Self, ConfigError> {
        let valid = !region.is_empty()
            && region.len() <= 63
            && region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !region.starts_with('-')
            && !region.ends_with('-');
        if !valid {
            return Err(ConfigError::new(format!(
                "region {region:?} is not a valid AWS region name (e.g. us-east-1)"
            )));
        }
        let (suffix, dual_suffix) = PARTITIONS
            .iter()
            .find(|(prefix, _, _)| region.starts_with(prefix))
            .map(|(_, s, d)| (*s, *d))
            .unwrap_or(("amazonaws.com", "api.aws"));
        let service = if variant.fips { "kms-fips" } else { "kms" };
        let dns = if variant.dual_stack {
            dual_suffix
        } else {
            suffix
        };
        Self::from_url(&format!("https://{service}.{region}.{dns}"))
    }

    /// A custom endpoint such as `http://127.0.0.1:4566` or `https://kms.example.com/prefix`.
    pub fn from_url(url: &str) -> Result<Self, ConfigError> {
        let uri: Uri = url
            .trim()
            .parse()
            .map_err(|e| ConfigError::new(format!("endpoint URL {url:?} is not a URL: {e}")))?;
        let parts = uri.into_parts();
        let scheme = parts
            .scheme
            .filter(|s| *s == Scheme::HTTP || *s == Scheme::HTTPS)
            .ok_or_else(|| {
                ConfigError::new(format!(
                    "endpoint URL {url:?} must start with http:// or https://"
                ))
            })?;
        let authority = parts
            .authority
            .filter(|a| !a.host().is_empty())
            .ok_or_else(|| ConfigError::new(format!("endpoint URL {url:?} has no host")))?;
        if authority.as_str().contains('@') {
            return Err(ConfigError::new(format!(
                "endpoint URL {url:?} must not contain user information"
            )));
        }
        let path = match parts.path_and_query {
            Some(p) if p.query().is_some() => {
                return Err(ConfigError::new(format!(
                    "endpoint URL {url:?} must not have a query"
                )));
            }
            Some(p) if p.path().ends_with('/') => p,
            Some(p) => PathAndQuery::try_from(format!("{}/", p.path()))
                .map_err(|e| ConfigError::new(format!("endpoint URL {url:?}: {e}")))?,
            None => PathAndQuery::from_static("/"),
        };
        // Host carries the port only when it is not the scheme's default.
        let default_port = if scheme == Scheme::HTTPS { 443 } else { 80 };
        let host = match authority.port_u16() {
            Some(p) if p != default_port => authority.as_str().to_owned(),
            _ => authority.host().to_owned(),
        };
        let host = HeaderValue::from_str(&host)
            .map_err(|_| ConfigError::new(format!("endpoint URL {url:?} has an invalid host")))?;
        let root = Uri::builder()
            .scheme(scheme.clone())
            .authority(authority.clone())
            .path_and_query(path.clone())
            .build()
            .map_err(|e| ConfigError::new(format!("endpoint URL {url:?}: {e}")))?;
        Ok(Self {
            scheme,
            authority,
            path,
            host,
            root,
        })
    }

    /// The endpoint as a URL.
    pub fn url(&self) -> String {
        format!("{}://{}{}", self.scheme, self.authority, self.path)
    }

    /// The `Host` header value.
    pub fn host(&self) -> &HeaderValue {
        &self.host
    }

    /// Whether requests go over plain HTTP.
    pub fn is_plain_http(&self) -> bool {
        self.scheme == Scheme::HTTP
    }

    /// Points `req` at this endpoint (its path is appended to the endpoint's).
    pub fn apply<B>(&self, req: &mut http::Request<B>) {
        if self.path.as_str() == "/" && req.uri().path_and_query().is_none_or(|p| p.as_str() == "/")
        {
            *req.uri_mut() = self.root.clone();
            req.headers_mut().insert(HOST, self.host.clone());
            return;
        }
        let path = if self.path.as_str() == "/" {
            req.uri()
                .path_and_query()
                .cloned()
                .unwrap_or_else(|| PathAndQuery::from_static("/"))
        } else {
            let rest = req
                .uri()
                .path_and_query()
                .map(|p| p.as_str())
                .unwrap_or("/");
            let joined = format!("{}{}", self.path.path().trim_end_matches('/'), rest);
            PathAndQuery::try_from(joined).unwrap_or_else(|_| self.path.clone())
        };
        let mut parts = http::uri::Parts::default();
        parts.scheme = Some(self.scheme.clone());
        parts.authority = Some(self.authority.clone());
        parts.path_and_query = Some(path);
        if let Ok(uri) = Uri::from_parts(parts) {
            *req.uri_mut() = uri;
        }
        req.headers_mut().insert(HOST, self.host.clone());
    }
}

/// Layer that applies [`SetEndpoint`].
#[derive(Debug, Clone)]
pub struct EndpointLayer {
    endpoint: Endpoint,
}

impl EndpointLayer {
    /// Sends every request to `endpoint`.
    pub fn new(endpoint: Endpoint) -> Self {
        Self { endpoint }
    }
}

impl<S> Layer<S> for EndpointLayer {
    type Service = SetEndpoint<S>;
    fn layer(&self, inner: S) -> SetEndpoint<S> {
        SetEndpoint {
            inner,
            endpoint: self.endpoint.clone(),
        }
    }
}

/// Service that sets each request's URI and `Host` to the endpoint; see the
/// [module docs](self).
#[derive(Debug, Clone)]
pub struct SetEndpoint<S> {
    inner: S,
    endpoint: Endpoint,
}

impl<S> SetEndpoint<S> {
    /// The endpoint.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }
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

impl<S> Service<http::Request<Bytes>> for SetEndpoint<S>
where
    S: Service<http::Request<Bytes>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<Bytes>) -> S::Future {
        self.endpoint.apply(&mut req);
        self.inner.call(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(region: &str, fips: bool, dual: bool) -> String {
        Endpoint::for_region_variant(
            region,
            EndpointVariant::standard()
                .with_fips(fips)
                .with_dual_stack(dual),
        )
        .unwrap()
        .url()
    }

    #[test]
    fn regions_and_partitions() {
        assert_eq!(
            url("us-east-1", false, false),
            "https://kms.us-east-1.amazonaws.com/"
        );
        assert_eq!(
            url("us-east-1", true, false),
            "https://kms-fips.us-east-1.amazonaws.com/"
        );
        assert_eq!(
            url("eu-west-3", false, true),
            "https://kms.eu-west-3.api.aws/"
        );
        assert_eq!(
            url("us-east-2", true, true),
            "https://kms-fips.us-east-2.api.aws/"
        );
        assert_eq!(
            url("cn-northwest-1", false, false),
            "https://kms.cn-northwest-1.amazonaws.com.cn/"
        );
        assert_eq!(
            url("cn-north-1", false, true),
            "https://kms.cn-north-1.api.amazonwebservices.com.cn/"
        );
        assert_eq!(
            url("us-gov-west-1", false, false),
            "https://kms.us-gov-west-1.amazonaws.com/"
        );
        assert_eq!(
            url("us-gov-west-1", true, false),
            "https://kms-fips.us-gov-west-1.amazonaws.com/"
        );
        assert_eq!(
            url("us-iso-east-1", false, false),
            "https://kms.us-iso-east-1.c2s.ic.gov/"
        );
        assert_eq!(
            url("us-isob-east-1", false, false),
            "https://kms.us-isob-east-1.sc2s.sgov.gov/"
        );
    }

    #[test]
    fn bad_regions_are_errors() {
        for r in ["", "US-EAST-1", "us east", "-us", "us-", "a/b", "x.y"] {
            assert!(Endpoint::for_region(r).is_err(), "{r:?}");
        }
    }

    #[test]
    fn custom_urls() {
        let e = Endpoint::from_url("http://127.0.0.1:4566").unwrap();
        assert_eq!(e.url(), "http://127.0.0.1:4566/");
        assert_eq!(e.host(), "127.0.0.1:4566");
        assert!(e.is_plain_http());
        let e = Endpoint::from_url("https://kms.example.com:443/prefix").unwrap();
        assert_eq!(e.host(), "kms.example.com");
        let mut req = http::Request::new(());
        e.apply(&mut req);
        assert_eq!(req.uri(), "https://kms.example.com:443/prefix/");
        for bad in [
            "",
            "127.0.0.1:4566",
            "ftp://x",
            "http://",
            "http://u:p@host",
            "http://h/?q=1",
            "not a url",
        ] {
            assert!(Endpoint::from_url(bad).is_err(), "{bad:?}");
        }
    }
}
