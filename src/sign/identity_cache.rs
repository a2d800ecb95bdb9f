//! Caching through an `SdkConfig`'s identity cache (feature `aws-config`).
//!
//! An identity cache (`aws_smithy_runtime_api::client::identity::ResolveCachedIdentity`)
//! is driven by the SDK's orchestrator with the client's `RuntimeComponents` and a
//! per-request `ConfigBag`. There is no orchestrator here, so this module builds
//! the `RuntimeComponents` once, at `build()`: the SdkConfig's time source (default:
//! the system clock) and sleep implementation (default: Tokio's), the identity
//! cache itself, the credentials provider as the `sigv4` identity resolver, and
//! inert stand-ins for the components an orchestrator needs but a cache does not
//! (auth scheme option resolver, auth scheme and signer, endpoint resolver, retry
//! strategy: each answers with an error if it is ever called). Each call passes
//! an empty `ConfigBag`.
//!
//! That is everything the SDK's own caches use (`IdentityCache::lazy()` reads
//! the time source and sleep implementation; `IdentityCache::no_cache()` reads
//! nothing). A custom cache that reads per-request configuration from the
//! `ConfigBag`, or calls the inert components, will not find what an SDK client
//! would give it; a cache whose validation fails makes `build()` fail.

use std::fmt;
use std::sync::Arc;

use aws_credential_types::Credentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider, future};
use aws_smithy_async::rt::sleep::{SharedAsyncSleep, TokioSleep};
use aws_smithy_async::time::SharedTimeSource;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::auth::static_resolver::StaticAuthSchemeOptionResolver;
use aws_smithy_runtime_api::client::auth::{
    AuthScheme, AuthSchemeEndpointConfig, AuthSchemeId, Sign,
};
use aws_smithy_runtime_api::client::endpoint::{
    EndpointFuture, EndpointResolverParams, ResolveEndpoint,
};
use aws_smithy_runtime_api::client::identity::{
    Identity, ResolveCachedIdentity, SharedIdentityCache, SharedIdentityResolver,
};
use aws_smithy_runtime_api::client::interceptors::context::InterceptorContext;
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::retries::{RetryStrategy, ShouldAttempt};
use aws_smithy_runtime_api::client::runtime_components::{GetIdentityResolver, RuntimeComponents};
use aws_smithy_types::config_bag::ConfigBag;

use crate::ConfigError;

const SIGV4: AuthSchemeId = AuthSchemeId::new("sigv4");

/// An `SdkConfig`'s identity cache with the time source and sleep implementation
/// it runs on.
#[derive(Clone)]
pub(crate) struct SdkIdentityCache {
    cache: SharedIdentityCache,
    time: SharedTimeSource,
    sleep: SharedAsyncSleep,
}

impl fmt::Debug for SdkIdentityCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SdkIdentityCache")
            .field("cache", &self.cache)
            .finish_non_exhaustive()
    }
}

impl SdkIdentityCache {
    /// The identity cache `config` sets, if any.
    pub(crate) fn from_sdk_config(config: &aws_types::SdkConfig) -> Option<Self> {
        Some(Self {
            cache: config.identity_cache()?,
            time: config.time_source().unwrap_or_default(),
            sleep: config
                .sleep_impl()
                .unwrap_or_else(|| SharedAsyncSleep::new(TokioSleep::new())),
        })
    }

    /// `provider` behind this cache; fails if the cache rejects the components.
    pub(crate) fn wrap(
        &self,
        provider: SharedCredentialsProvider,
    ) -> Result<IdentityCached, ConfigError> {
        // One resolver for the client's lifetime: its cache partition is the key
        // the identity cache files the credentials under.
        let resolver = SharedIdentityResolver::new(provider);
        let builder = RuntimeComponents::builder("tower-kms")
            .with_auth_scheme_option_resolver(Some(StaticAuthSchemeOptionResolver::new(vec![
                SIGV4,
            ])))
            .with_auth_scheme(Inert)
            .with_endpoint_resolver(Some(Inert))
            .with_retry_strategy(Some(Inert))
            .with_identity_cache(Some(self.cache.clone()))
            .with_identity_resolver(SIGV4, resolver.clone())
            .with_time_source(Some(self.time.clone()))
            .with_sleep_impl(Some(self.sleep.clone()));
        let config = ConfigBag::base();
        let rejected = |e: BoxError| {
            ConfigError::new(format!(
                "the SdkConfig's identity cache cannot run outside an AWS SDK client ({e}); \
                 set .credentials_cache(..) on the builder instead"
            ))
        };
        builder
            .validate_base_client_config(&config)
            .map_err(rejected)?;
        let components = builder.build().map_err(|e| rejected(e.into()))?;
        components
            .validate_final_config(&config)
            .map_err(rejected)?;
        Ok(IdentityCached {
            cache: self.cache.clone(),
            resolver,
            components: Arc::new(components),
            config: Arc::new(config),
        })
    }
}

/// A credentials provider behind an SDK identity cache.
pub(crate) struct IdentityCached {
    cache: SharedIdentityCache,
    resolver: SharedIdentityResolver,
    components: Arc<RuntimeComponents>,
    config: Arc<ConfigBag>,
}

impl fmt::Debug for IdentityCached {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdentityCached")
            .field("cache", &self.cache)
            .field("resolver", &self.resolver)
            .finish_non_exhaustive()
    }
}

impl ProvideCredentials for IdentityCached {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(async move {
            let identity: Identity = self
                .cache
                .resolve_cached_identity(self.resolver.clone(), &self.components, &self.config)
                .await
                .map_err(|e| match e.downcast::<CredentialsError>() {
                    Ok(e) => *e,
                    Err(e) => CredentialsError::provider_error(e),
                })?;
            identity.data::<Credentials>().cloned().ok_or_else(|| {
                CredentialsError::unhandled(
                    "the SdkConfig's identity cache returned an identity that is not AWS credentials",
                )
            })
        })
    }
}

/// The components an orchestrator needs and an identity cache does not; each
/// answers with an error if called.
#[derive(Debug)]
struct Inert;

const INERT: &str = "tower-kms drives only the identity cache of an SdkConfig";

impl AuthScheme for Inert {
    fn scheme_id(&self) -> AuthSchemeId {
        SIGV4
    }

    fn identity_resolver(
        &self,
        identity_resolvers: &dyn GetIdentityResolver,
    ) -> Option<SharedIdentityResolver> {
        identity_resolvers.identity_resolver(SIGV4)
    }

    fn signer(&self) -> &dyn Sign {
        self
    }
}

impl Sign for Inert {
    fn sign_http_request(
        &self,
        _request: &mut HttpRequest,
        _identity: &Identity,
        _endpoint_config: AuthSchemeEndpointConfig<'_>,
        _components: &RuntimeComponents,
        _config: &ConfigBag,
    ) -> Result<(), BoxError> {
        Err(INERT.into())
    }
}

impl ResolveEndpoint for Inert {
    fn resolve_endpoint<'a>(&'a self, _params: &'a EndpointResolverParams) -> EndpointFuture<'a> {
        EndpointFuture::ready(Err(INERT.into()))
    }
}

impl RetryStrategy for Inert {
    fn should_attempt_initial_request(
        &self,
        _components: &RuntimeComponents,
        _config: &ConfigBag,
    ) -> Result<ShouldAttempt, BoxError> {
        Err(INERT.into())
    }

    fn should_attempt_retry(
        &self,
        _context: &InterceptorContext,
        _components: &RuntimeComponents,
        _config: &ConfigBag,
    ) -> Result<ShouldAttempt, BoxError> {
        Err(INERT.into())
    }
}
