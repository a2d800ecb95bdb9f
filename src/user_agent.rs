//! Middleware that tells KMS who is calling: `user-agent` and `x-amz-user-agent`
//! headers in the AWS SDKs' shape, so CloudTrail and KMS's own logs show the
//! client, its version, the platform and (when set) the application.
//!
//! The values follow the AWS SDKs' user-agent format (version 2.1 of the SDKs'
//! user-agent specification, as aws-sdk-rust emits it), with tower-kms in the
//! place of the SDK:
//!
//! ```text
//! user-agent:       tower-kms/0.1.0 os/linux lang/rust/1.95.0
//! x-amz-user-agent: tower-kms/0.1.0 ua/2.1 api/kms/0.1.0 os/linux lang/rust/1.95.0 [exec-env/ENV] [app/APP_ID]
//! ```
//!
//! `x-amz-user-agent` is part of the SigV4 signature (as in the SDKs), so put
//! this layer above the signer; `user-agent` is never signed (proxies rewrite it).
//! [`KmsClient`](crate::KmsClient) adds it with the application id from
//! [`KmsClientBuilder::app_name`](crate::KmsClientBuilder::app_name),
//! `AWS_SDK_UA_APP_ID` or `SdkConfig::app_name`.
//!
//! ```
//! use bytes::Bytes;
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//! use tower_kms::user_agent::{UserAgent, UserAgentLayer};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let ua = UserAgent::new().with_app_name("billing-rotation")?;
//! let svc = ServiceBuilder::new()
//!     .layer(UserAgentLayer::new(ua))
//!     .service(service_fn(|req: http::Request<Bytes>| async move {
//!         let ua = req.headers()["x-amz-user-agent"].to_str().unwrap().to_owned();
//!         assert!(ua.starts_with("tower-kms/") && ua.ends_with(" app/billing-rotation"));
//!         Ok::<_, std::convert::Infallible>(())
//!     }));
//! svc.oneshot(http::Request::new(Bytes::new())).await?;
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::task::{Context, Poll};

use http::HeaderValue;
use http::header::USER_AGENT;
use tower::{Layer, Service};

use crate::error::ConfigError;

/// The `x-amz-user-agent` header name.
pub const X_AMZ_USER_AGENT: &str = "x-amz-user-agent";

/// The longest application id accepted (the AWS SDKs' limit).
pub const MAX_APP_NAME_LEN: usize = 50;

const VERSION: &str = env!("CARGO_PKG_VERSION");
const RUSTC: &str = env!("TOWER_KMS_RUSTC_VERSION");

/// The two user-agent header values; see the [module docs](self).
#[derive(Clone, PartialEq, Eq)]
pub struct UserAgent {
    version: &'static str,
    os: &'static str,
    rust: &'static str,
    exec_env: Option<String>,
    app_name: Option<String>,
    user_agent: HeaderValue,
    x_amz_user_agent: HeaderValue,
}

impl fmt::Debug for UserAgent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserAgent")
            .field("user_agent", &self.user_agent)
            .field("x_amz_user_agent", &self.x_amz_user_agent)
            .finish()
    }
}

impl Default for UserAgent {
    fn default() -> Self {
        Self::new()
    }
}

/// The OS family as the AWS SDKs name it.
fn os_family() -> &'static str {
    match std::env::consts::OS {
        "linux" => "linux",
        "macos" => "macos",
        "windows" => "windows",
        "android" => "android",
        "ios" => "ios",
        _ => "other",
    }
}

/// The characters the SDKs allow in a user-agent token (besides alphanumerics).
fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            '!' | '#'
                | '$'
                | '%'
                | '&'
                | '\''
                | '*'
                | '+'
                | '-'
                | '.'
                | '^'
                | '_'
                | '`'
                | '|'
                | '~'
        )
}

impl UserAgent {
    /// This crate, its version, the OS family and the Rust version it was built with.
    pub fn new() -> Self {
        Self::from_platform(VERSION, os_family(), RUSTC)
    }

    fn from_platform(version: &'static str, os: &'static str, rust: &'static str) -> Self {
        let mut ua = Self {
            version,
            os,
            rust,
            exec_env: None,
            app_name: None,
            user_agent: HeaderValue::from_static("tower-kms"),
            x_amz_user_agent: HeaderValue::from_static("tower-kms"),
        };
        ua.render();
        ua
    }

    /// A fixed version and platform (`tower-kms/test ... os/linux
    /// lang/rust/1.95.0`), so golden tests depend on neither the crate version,
    /// the machine nor the compiler.
    #[doc(hidden)]
    pub fn for_tests() -> Self {
        Self::from_platform("test", "linux", "1.95.0")
    }

    /// Names the application (`app/NAME` in `x-amz-user-agent`), as
    /// `AWS_SDK_UA_APP_ID` does for the AWS SDKs: at most
    /// [`MAX_APP_NAME_LEN`] characters, alphanumerics or ``!#$%&'*+-.^_`|~``.
    pub fn with_app_name(mut self, name: impl Into<String>) -> Result<Self, ConfigError> {
        let name = name.into();
        let name = name.trim();
        if name.is_empty() || name.chars().count() > MAX_APP_NAME_LEN {
            return Err(ConfigError::new(format!(
                "the application name for the user agent must have 1 to {MAX_APP_NAME_LEN} characters, got {}",
                name.chars().count()
            )));
        }
        if let Some(bad) = name.chars().find(|c| !is_token_char(*c)) {
            return Err(ConfigError::new(format!(
                "the application name for the user agent may not contain {bad:?}: use letters, digits or !#$%&'*+-.^_`|~"
            )));
        }
        self.app_name = Some(name.to_owned());
        self.render();
        Ok(self)
    }

    /// Names the execution environment (`exec-env/ENV`), as the SDKs do with
    /// `AWS_EXECUTION_ENV` (e.g. `AWS_Lambda_rust`); characters outside the
    /// user-agent token set are replaced by `_`.
    pub fn with_exec_env(mut self, env: impl Into<String>) -> Self {
        let env: String = env
            .into()
            .trim()
            .chars()
            .take(64)
            .map(|c| if is_token_char(c) { c } else { '_' })
            .collect();
        self.exec_env = (!env.is_empty()).then_some(env);
        self.render();
        self
    }

    /// The application name, if set.
    pub fn app_name(&self) -> Option<&str> {
        self.app_name.as_deref()
    }

    /// The `user-agent` value.
    pub fn user_agent(&self) -> &HeaderValue {
        &self.user_agent
    }

    /// The `x-amz-user-agent` value.
    pub fn x_amz_user_agent(&self) -> &HeaderValue {
        &self.x_amz_user_agent
    }

    fn render(&mut self) {
        let client = format!("tower-kms/{}", self.version);
        let platform = format!("os/{} lang/rust/{}", self.os, self.rust);
        let mut amz = format!("{client} ua/2.1 api/kms/{} {platform}", self.version);
        if let Some(env) = &self.exec_env {
            amz.push_str(" exec-env/");
            amz.push_str(env);
        }
        if let Some(app) = &self.app_name {
            amz.push_str(" app/");
            amz.push_str(app);
        }
        // Every part is made of token characters, so both values are valid.
        if let Ok(v) = HeaderValue::from_str(&format!("{client} {platform}")) {
            self.user_agent = v;
        }
        if let Ok(v) = HeaderValue::from_str(&amz) {
            self.x_amz_user_agent = v;
        }
    }
}

/// Layer that applies [`SetUserAgent`]; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct UserAgentLayer {
    ua: UserAgent,
}

impl UserAgentLayer {
    /// Sets the headers of `ua` on every request.
    pub fn new(ua: UserAgent) -> Self {
        Self { ua }
    }
}

impl<S> Layer<S> for UserAgentLayer {
    type Service = SetUserAgent<S>;
    fn layer(&self, inner: S) -> SetUserAgent<S> {
        SetUserAgent {
            inner,
            user_agent: self.ua.user_agent.clone(),
            x_amz_user_agent: self.ua.x_amz_user_agent.clone(),
        }
    }
}

/// Service that sets `user-agent` and `x-amz-user-agent` (replacing any value
/// already there); see the [module docs](self).
#[derive(Debug, Clone)]
pub struct SetUserAgent<S> {
    inner: S,
    user_agent: HeaderValue,
    x_amz_user_agent: HeaderValue,
}

impl<S> SetUserAgent<S> {
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

impl<S, B> Service<http::Request<B>> for SetUserAgent<S>
where
    S: Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> S::Future {
        let h = req.headers_mut();
        h.insert(USER_AGENT, self.user_agent.clone());
        h.insert(X_AMZ_USER_AGENT, self.x_amz_user_agent.clone());
        self.inner.call(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        let v = "test";
        let ua = UserAgent::for_tests();
        assert_eq!(
            ua.user_agent(),
            &format!("tower-kms/{v} os/linux lang/rust/1.95.0")
        );
        assert_eq!(
            ua.x_amz_user_agent(),
            &format!("tower-kms/{v} ua/2.1 api/kms/{v} os/linux lang/rust/1.95.0")
        );
        let ua = ua
            .with_exec_env("AWS_Lambda_rust")
            .with_app_name("my_app")
            .unwrap();
        assert_eq!(
            ua.x_amz_user_agent(),
            &format!(
                "tower-kms/{v} ua/2.1 api/kms/{v} os/linux lang/rust/1.95.0 exec-env/AWS_Lambda_rust app/my_app"
            )
        );
        assert_eq!(ua.app_name(), Some("my_app"));
    }

    #[test]
    fn bad_app_names_are_config_errors() {
        for bad in ["", "   ", "has space", "slash/no", "é", &"x".repeat(51)] {
            assert!(UserAgent::new().with_app_name(bad).is_err(), "{bad:?}");
        }
        assert!(UserAgent::new().with_app_name("x".repeat(50)).is_ok());
        assert_eq!(
            UserAgent::new()
                .with_exec_env("a b/c")
                .x_amz_user_agent()
                .to_str()
                .unwrap()
                .rsplit(' ')
                .next(),
            Some("exec-env/a_b_c")
        );
    }

    #[test]
    fn the_build_knows_its_rust_version() {
        assert!(
            RUSTC.split('.').count() >= 3 || RUSTC == "unknown",
            "{RUSTC}"
        );
        let ua = UserAgent::new();
        let ua = ua.user_agent().to_str().unwrap();
        assert!(
            ua.starts_with(concat!("tower-kms/", env!("CARGO_PKG_VERSION"), " os/")),
            "{ua}"
        );
        assert!(ua.contains(" lang/rust/"), "{ua}");
    }
}
