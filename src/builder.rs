//! `ServiceBuilder` methods for this crate's layers (as tower-http's
//! `ServiceBuilderExt`).
//!
//! ```
//! use std::time::Duration;
//! use tower::ServiceBuilder;
//! use tower_kms::ServiceBuilderExt;
//! use tower_kms::endpoint::Endpoint;
//! use tower_kms::retry::RetryConfig;
//! use tower_kms::sign::SigV4Layer;
//! use tower_kms::user_agent::UserAgent;
//!
//! # fn main() -> Result<(), tower_kms::ConfigError> {
//! let creds = aws_credential_types::Credentials::new("AKID", "SECRET", None, None, "static");
//! let connector = tower_kms::connector::HyperConnector::new()?;
//! let kms = ServiceBuilder::new()
//!     .kms_grant_tokens(vec!["grant-token".to_owned()])
//!     .kms_operation_timeout(Duration::from_secs(30))
//!     .kms_retry(RetryConfig::adaptive())
//!     .kms_adaptive_rate_limit()
//!     .kms_attempt_timeout(Duration::from_secs(5))
//!     .kms_json_protocol()
//!     .kms_endpoint(Endpoint::for_region("eu-west-1")?)
//!     .kms_user_agent(UserAgent::new())
//!     .kms_sigv4(SigV4Layer::new(creds, "eu-west-1"))
//!     .service(connector);
//! # let _ = kms;
//! # Ok(())
//! # }
//! ```

use std::time::Duration;

use tower::ServiceBuilder;
use tower::layer::util::Stack;

use crate::endpoint::{Endpoint, EndpointLayer};
use crate::grant_tokens::GrantTokenLayer;
use crate::protocol::JsonProtocolLayer;
use crate::retry::{AdaptiveRateLimitLayer, RetryConfig, RetryLayer};
use crate::sign::SigV4Layer;
use crate::timeout::{AttemptTimeoutLayer, OperationTimeoutLayer};
use crate::user_agent::{UserAgent, UserAgentLayer};

mod sealed {
    pub trait Sealed {}
    impl<L> Sealed for tower::ServiceBuilder<L> {}
}

/// Adds this crate's layers to [`ServiceBuilder`]; see the [module docs](self).
pub trait ServiceBuilderExt<L>: sealed::Sealed + Sized {
    /// Adds [`GrantTokenLayer::new`] with a static list.
    fn kms_grant_tokens(
        self,
        tokens: Vec<String>,
    ) -> ServiceBuilder<Stack<GrantTokenLayer<Vec<String>>, L>>;
    /// Adds an [`OperationTimeoutLayer`].
    fn kms_operation_timeout(
        self,
        after: Duration,
    ) -> ServiceBuilder<Stack<OperationTimeoutLayer, L>>;
    /// Adds a [`RetryLayer`].
    fn kms_retry(self, config: RetryConfig) -> ServiceBuilder<Stack<RetryLayer, L>>;
    /// Adds an [`AdaptiveRateLimitLayer`] with a new limiter (put it below the
    /// retry layer, so every attempt takes a token).
    fn kms_adaptive_rate_limit(self) -> ServiceBuilder<Stack<AdaptiveRateLimitLayer, L>>;
    /// Adds an [`AttemptTimeoutLayer`].
    fn kms_attempt_timeout(self, after: Duration) -> ServiceBuilder<Stack<AttemptTimeoutLayer, L>>;
    /// Adds a [`JsonProtocolLayer`] with the default body limit.
    fn kms_json_protocol(self) -> ServiceBuilder<Stack<JsonProtocolLayer, L>>;
    /// Adds an [`EndpointLayer`].
    fn kms_endpoint(self, endpoint: Endpoint) -> ServiceBuilder<Stack<EndpointLayer, L>>;
    /// Adds a [`UserAgentLayer`] (put it above the signer: `x-amz-user-agent` is signed).
    fn kms_user_agent(self, ua: UserAgent) -> ServiceBuilder<Stack<UserAgentLayer, L>>;
    /// Adds a [`SigV4Layer`].
    fn kms_sigv4(self, layer: SigV4Layer) -> ServiceBuilder<Stack<SigV4Layer, L>>;
}

impl<L> ServiceBuilderExt<L> for ServiceBuilder<L> {
    fn kms_grant_tokens(
        self,
        tokens: Vec<String>,
    ) -> ServiceBuilder<Stack<GrantTokenLayer<Vec<String>>, L>> {
        self.layer(GrantTokenLayer::new(tokens))
    }
    fn kms_operation_timeout(
        self,
        after: Duration,
    ) -> ServiceBuilder<Stack<OperationTimeoutLayer, L>> {
        self.layer(OperationTimeoutLayer::new(after))
    }
    fn kms_retry(self, config: RetryConfig) -> ServiceBuilder<Stack<RetryLayer, L>> {
        self.layer(RetryLayer::new(config))
    }
    fn kms_adaptive_rate_limit(self) -> ServiceBuilder<Stack<AdaptiveRateLimitLayer, L>> {
        self.layer(AdaptiveRateLimitLayer::new())
    }
    fn kms_attempt_timeout(self, after: Duration) -> ServiceBuilder<Stack<AttemptTimeoutLayer, L>> {
        self.layer(AttemptTimeoutLayer::new(after))
    }
    fn kms_json_protocol(self) -> ServiceBuilder<Stack<JsonProtocolLayer, L>> {
        self.layer(JsonProtocolLayer::new())
    }
    fn kms_endpoint(self, endpoint: Endpoint) -> ServiceBuilder<Stack<EndpointLayer, L>> {
        self.layer(EndpointLayer::new(endpoint))
    }
    fn kms_user_agent(self, ua: UserAgent) -> ServiceBuilder<Stack<UserAgentLayer, L>> {
        self.layer(UserAgentLayer::new(ua))
    }
    fn kms_sigv4(self, layer: SigV4Layer) -> ServiceBuilder<Stack<SigV4Layer, L>> {
        self.layer(layer)
    }
}
