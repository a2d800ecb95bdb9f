//! The error type of the composed client, and the marker errors layers use inside the stack.
//!
//! Inside a stack, layers return tower's [`BoxError`]; the protocol layer and the
//! client fold it back into one concrete [`KmsError`] that users can `match` on:
//!
//! ```
//! use tower_kms::KmsError;
//!
//! fn describe(err: &KmsError) -> &'static str {
//!     match err {
//!         KmsError::NotFound(_) => "no such key or alias",
//!         KmsError::IncorrectKey(_) => "the ciphertext belongs to another key",
//!         KmsError::Validation(_) => "the request was invalid, nothing was sent",
//!         e if e.is_retryable() => "transient, try again later",
//!         _ => "failed",
//!     }
//! }
//! ```

use std::error::Error as StdError;
use std::fmt;
use std::time::Duration;

use http::StatusCode;

/// Alias for a type-erased error, as used by tower.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// Defines [`KmsError`] from the generated exception table (one variant per
/// exception of the KMS API model) and the hand-written variants below.
macro_rules! define_kms_error {
    ($( #[doc = $doc:expr] $variant:ident = $code:literal, $status:literal, $server:literal, $hint:literal; )*) => {
        /// An error returned by a KMS service of this crate.
        ///
        /// There is one variant per exception in the KMS API model (48, each
        /// operation's docs list those it may return), variants for throttling
        /// and authentication failures, [`KmsError::Unknown`] for any other error
        /// code a server sends, and kinds for failures that happen on the client
        /// side: validation, credentials, signing, transport, timeouts and
        /// responses that could not be understood.
        ///
        /// Every variant that comes from a response carries the HTTP status, the
        /// server's message and the request id ([`ServiceError`]).
        ///
        /// The client-side variants are transparent: their `Display` is the inner
        /// error's one phrase and [`source`](StdError::source) is the inner error's
        /// cause, so a chain printer (`anyhow`'s `{:#}`, `tracing`'s error fields,
        /// [`DisplayChain`]) shows every cause exactly once:
        ///
        /// ```text
        /// could not connect to KMS: client error (Connect): tcp connect error: Connection refused (os error 111)
        /// ```
        #[derive(Debug)]
        #[non_exhaustive]
        pub enum KmsError {
            $( #[doc = $doc] $variant(ServiceError), )*
            /// A throttling error (`ThrottlingException` and the other codes AWS SDKs treat as
            /// throttling, or HTTP 429). Retryable.
            Throttling(ServiceError),
            /// `AccessDeniedException`: the caller is not authorized.
            AccessDenied(ServiceError),
            /// `InvalidSignatureException`: the request signature does not match, or the signing time is too far off.
            InvalidSignature(ServiceError),
            /// `UnrecognizedClientException`: the access key or security token is not valid.
            UnrecognizedClient(ServiceError),
            /// `ExpiredTokenException`: the session credentials have expired.
            ExpiredToken(ServiceError),
            /// Another authentication error (`MissingAuthenticationTokenException`,
            /// `IncompleteSignatureException`, `RequestExpired`, `InvalidClientTokenId`, ...).
            Authentication(ServiceError),
            /// An error code this crate does not model; the code and message are kept.
            Unknown(ServiceError),
            /// The server answered with something that is not a KMS response: a non-JSON error
            /// page from a proxy, an undecodable success body, or a body over the size limit.
            UnexpectedResponse(UnexpectedResponse),
            /// The request broke a documented constraint; nothing was sent.
            Validation(ValidationError),
            /// No credentials could be loaded for signing; nothing was sent.
            Credentials(CredentialsError),
            /// The request could not be signed; nothing was sent.
            Signing(SigningError),
            /// Connecting, sending or receiving failed.
            Transport(TransportError),
            /// A deadline passed before a response arrived.
            Timeout(TimeoutError),
        }

        impl KmsError {
            /// Every exception code of the KMS API model this crate has a variant for.
            pub const MODELED_CODES: &'static [&'static str] = &[$($code),*];

            /// The variant of a modelled exception code, or the error back.
            fn from_modeled(err: ServiceError) -> Result<Self, ServiceError> {
                match err.code.as_str() {
                    $( $code => Ok(Self::$variant(err)), )*
                    _ => Err(err),
                }
            }

            /// For a modelled exception: its details, whether the model calls it
            /// a server fault, and our one-phrase hint.
            fn modeled(&self) -> Option<(&ServiceError, bool, &'static str)> {
                match self {
                    $( Self::$variant(e) => Some((e, $server, $hint)), )*
                    _ => None,
                }
            }

            /// The HTTP status the KMS API model gives a modelled exception code.
            pub fn modeled_status(code: &str) -> Option<StatusCode> {
                match code {
                    $( $code => StatusCode::from_u16($status).ok(), )*
                    _ => None,
                }
            }
        }
    };
}

crate::model::with_kms_exceptions!(define_kms_error);

impl KmsError {
    /// Builds the variant that matches a (sanitized) KMS error `code`.
    ///
    /// The exceptions of the KMS API model come first (so KMS's
    /// `LimitExceededException`, a resource quota, is [`KmsError::LimitExceeded`]
    /// and not throttling), then authentication codes, then the codes AWS SDKs
    /// treat as throttling.
    pub fn from_service_error(err: ServiceError) -> Self {
        let err = match Self::from_modeled(err) {
            Ok(e) => return e,
            Err(err) => err,
        };
        let code = err.code.as_str();
        match code {
            "AccessDeniedException" => Self::AccessDenied(err),
            "InvalidSignatureException" => Self::InvalidSignature(err),
            "UnrecognizedClientException" => Self::UnrecognizedClient(err),
            "ExpiredTokenException" | "ExpiredToken" => Self::ExpiredToken(err),
            c if is_throttling_code(c) => Self::Throttling(err),
            c if is_authentication_code(c) => Self::Authentication(err),
            _ if err.status == StatusCode::TOO_MANY_REQUESTS => Self::Throttling(err),
            _ => Self::Unknown(err),
        }
    }

    /// The server's error details, for every variant that came from an error response.
    pub fn service_error(&self) -> Option<&ServiceError> {
        if let Some((e, _, _)) = self.modeled() {
            return Some(e);
        }
        match self {
            Self::Throttling(e)
            | Self::AccessDenied(e)
            | Self::InvalidSignature(e)
            | Self::UnrecognizedClient(e)
            | Self::ExpiredToken(e)
            | Self::Authentication(e)
            | Self::Unknown(e) => Some(e),
            _ => None,
        }
    }

    /// The KMS error code (e.g. `NotFoundException`), if the server sent one.
    pub fn code(&self) -> Option<&str> {
        self.service_error().map(|e| e.code.as_str())
    }

    /// The server's error message, if any.
    pub fn message(&self) -> Option<&str> {
        self.service_error().and_then(|e| e.message.as_deref())
    }

    /// The `x-amzn-RequestId` of the response, if there was a response.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Self::UnexpectedResponse(e) => e.request_id.as_deref(),
            _ => self.service_error().and_then(|e| e.request_id.as_deref()),
        }
    }

    /// The HTTP status of the response, if there was a response.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Self::UnexpectedResponse(e) => Some(e.status),
            _ => self.service_error().map(|e| e.status),
        }
    }

    /// Whether the error is throttling (the server asks the client to slow down).
    pub fn is_throttling(&self) -> bool {
        matches!(self, Self::Throttling(_))
            || matches!(self, Self::UnexpectedResponse(e) if e.status == StatusCode::TOO_MANY_REQUESTS)
    }

    /// Whether the error is transient: a server-side fault that may pass (HTTP 500, 502, 503,
    /// 504, the exceptions the KMS API model calls server faults:
    /// `KMSInternalException`, `DependencyTimeoutException`, `KeyUnavailableException`,
    /// and the codes the AWS SDKs retry as transient, `RequestTimeout` and
    /// `RequestTimeoutException`, or an HTTP 408 without a code),
    /// a transport failure (except a rejected TLS certificate, see
    /// [`TransportError::is_certificate_error`]) or an attempt timeout.
    pub fn is_transient(&self) -> bool {
        if let Some((_, server, _)) = self.modeled() {
            return server;
        }
        match self {
            Self::Unknown(e) => is_transient_status(e.status) || is_transient_code(&e.code),
            Self::UnexpectedResponse(e) => {
                is_transient_status(e.status) || e.status == StatusCode::REQUEST_TIMEOUT
            }
            Self::Transport(t) => !t.is_certificate_error(),
            Self::Timeout(t) => t.kind != TimeoutKind::Operation,
            _ => false,
        }
    }

    /// Whether retrying the same request may succeed: throttling or a transient error.
    ///
    /// Everything else (the client-fault KMS exceptions such as `NotFoundException` or
    /// `LimitExceededException`, authentication errors, validation, credentials) is final.
    pub fn is_retryable(&self) -> bool {
        self.is_throttling() || self.is_transient()
    }

    /// Whether a deadline passed.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Self::Timeout(_))
    }

    /// Folds an error from inside a tower stack back into a [`KmsError`].
    ///
    /// A boxed `KmsError` is unwrapped; hyper and hyper-util errors become
    /// [`KmsError::Transport`]; a [`TimeoutError`] becomes [`KmsError::Timeout`] of
    /// its own kind, and tower's `Elapsed` (from a `tower::timeout` layer of your
    /// own) a timeout of kind [`TimeoutKind::Unclassified`] with no duration,
    /// because nothing says which deadline it was; anything else is a transport
    /// error of kind [`TransportKind::Other`].
    pub fn from_box(err: BoxError) -> Self {
        let err = match err.downcast::<KmsError>() {
            Ok(e) => return *e,
            Err(e) => e,
        };
        let err = match err.downcast::<TimeoutError>() {
            Ok(e) => return Self::Timeout(*e),
            Err(e) => e,
        };
        if err.is::<tower::timeout::error::Elapsed>() {
            // tower's own timeout: this crate cannot tell which deadline it was
            // (a user's layer may wrap one attempt or the whole call), nor how long.
            return Self::Timeout(TimeoutError::new(TimeoutKind::Unclassified, None));
        }
        let kind = transport_kind(&*err);
        if kind == TransportKind::Connect && chain_has_timed_out(&*err) {
            // hyper-util reports its connect timeout as a connect error caused by
            // an io::Error of kind TimedOut.
            return Self::Timeout(TimeoutError::new(TimeoutKind::Connect, None));
        }
        Self::Transport(TransportError { kind, source: err })
    }
}

fn chain_has_timed_out(err: &(dyn StdError + 'static)) -> bool {
    let mut cur: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = cur {
        if e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut)
        {
            return true;
        }
        cur = e.source();
    }
    false
}

fn transport_kind(err: &(dyn StdError + 'static)) -> TransportKind {
    let mut cur: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(h) = e.downcast_ref::<hyper_util::client::legacy::Error>()
            && h.is_connect()
        {
            return TransportKind::Connect;
        }
        if e.is::<hyper::Error>() {
            return TransportKind::Io;
        }
        if e.is::<std::io::Error>() {
            return TransportKind::Io;
        }
        cur = e.source();
    }
    TransportKind::Other
}

fn is_transient_status(s: StatusCode) -> bool {
    matches!(s.as_u16(), 500 | 502 | 503 | 504)
}

/// The error codes AWS SDKs treat as throttling.
pub(crate) const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    // `LimitExceededException` is on the SDKs' list too, but in KMS it is a
    // modelled client error (a resource quota): `KmsError::LimitExceeded`.
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
];

/// Error codes botocore and smithy-rs retry as transient whatever the status.
fn is_transient_code(code: &str) -> bool {
    matches!(code, "RequestTimeout" | "RequestTimeoutException")
}

fn is_throttling_code(code: &str) -> bool {
    THROTTLING_CODES.contains(&code)
}

fn is_authentication_code(code: &str) -> bool {
    matches!(
        code,
        "MissingAuthenticationTokenException"
            | "MissingAuthenticationToken"
            | "IncompleteSignatureException"
            | "IncompleteSignature"
            | "InvalidClientTokenId"
            | "SignatureDoesNotMatch"
            | "RequestExpired"
            | "AuthFailure"
            | "InvalidAccessKeyId"
    )
}

impl fmt::Display for KmsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnexpectedResponse(e) => e.fmt(f),
            Self::Validation(e) => e.fmt(f),
            Self::Credentials(e) => e.fmt(f),
            Self::Signing(e) => e.fmt(f),
            Self::Transport(e) => e.fmt(f),
            Self::Timeout(e) => e.fmt(f),
            _ => match self.service_error() {
                Some(e) => {
                    let hint = self.hint();
                    write!(f, "KMS returned {}: ", e.code)?;
                    match (&e.message, hint) {
                        (Some(m), _) => f.write_str(m)?,
                        (None, Some(h)) => f.write_str(h)?,
                        (None, None) => f.write_str("no message")?,
                    }
                    write!(f, " (HTTP {}", e.status.as_u16())?;
                    if let Some(id) = &e.request_id {
                        write!(f, ", request id {id}")?;
                    }
                    f.write_str(")")
                }
                None => f.write_str("KMS error"),
            },
        }
    }
}

impl KmsError {
    fn hint(&self) -> Option<&'static str> {
        if let Some((_, _, hint)) = self.modeled() {
            return Some(hint);
        }
        Some(match self {
            Self::Throttling(_) => "the request rate is too high; slow down and retry",
            Self::AccessDenied(_) => "the caller is not authorized for this operation",
            Self::InvalidSignature(_) => "the request signature was rejected",
            Self::UnrecognizedClient(_) => "the access key or security token is not valid",
            Self::ExpiredToken(_) => "the session credentials have expired",
            _ => return None,
        })
    }
}

impl StdError for KmsError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            Self::Credentials(e) => e.source.as_ref().map(|s| &**s as _),
            Self::Signing(e) => Some(&*e.source),
            Self::Transport(e) => Some(&*e.source),
            _ => None,
        }
    }
}

/// Displays an error followed by its [`source`](StdError::source) chain, each
/// cause once, separated by `": "` (what `anyhow`'s `{:#}` prints).
///
/// ```
/// use tower_kms::error::{DisplayChain, TransportError, TransportKind};
/// let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
/// let err = tower_kms::KmsError::Transport(TransportError::new(TransportKind::Connect, io));
/// assert_eq!(err.to_string(), "could not connect to KMS");
/// assert_eq!(DisplayChain(&err).to_string(), "could not connect to KMS: refused");
/// ```
#[derive(Clone, Copy)]
pub struct DisplayChain<'a>(pub &'a (dyn StdError + 'static));

impl fmt::Display for DisplayChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut cur = self.0.source();
        while let Some(e) = cur {
            write!(f, ": {e}")?;
            cur = e.source();
        }
        Ok(())
    }
}

impl fmt::Debug for DisplayChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The details of an error response from KMS.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServiceError {
    /// The sanitized error code, e.g. `NotFoundException`.
    pub code: String,
    /// The server's message, if it sent one.
    pub message: Option<String>,
    /// The `x-amzn-RequestId` header, if present.
    pub request_id: Option<String>,
    /// The HTTP status.
    pub status: StatusCode,
    /// The server's clock, from the response's `Date` header (used for clock-skew correction).
    pub server_time: Option<std::time::SystemTime>,
    /// The delay the server asked for in `x-amz-retry-after` (milliseconds on the wire).
    pub retry_after: Option<Duration>,
}

impl ServiceError {
    /// Creates the details of an error response, e.g. to script a mock.
    ///
    /// ```
    /// use tower_kms::{KmsError, ServiceError};
    /// let err = KmsError::from_service_error(
    ///     ServiceError::new("NotFoundException", http::StatusCode::NOT_FOUND)
    ///         .with_message("Key 'alias/x' does not exist")
    ///         .with_request_id("req-1"),
    /// );
    /// assert!(matches!(err, KmsError::NotFound(_)));
    /// ```
    pub fn new(code: impl Into<String>, status: StatusCode) -> Self {
        Self {
            code: code.into(),
            message: None,
            request_id: None,
            status,
            server_time: None,
            retry_after: None,
        }
    }

    /// Sets the message.
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }

    /// Sets the request id.
    pub fn with_request_id(mut self, request_id: impl Into<String>) -> Self {
        self.request_id = Some(request_id.into());
        self
    }

    /// Sets the server time (as from a `Date` header).
    pub fn with_server_time(mut self, time: std::time::SystemTime) -> Self {
        self.server_time = Some(time);
        self
    }

    /// Sets the delay asked for by `x-amz-retry-after`.
    pub fn with_retry_after(mut self, delay: Duration) -> Self {
        self.retry_after = Some(delay);
        self
    }
}

/// A response that is not a KMS response (see [`KmsError::UnexpectedResponse`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UnexpectedResponse {
    /// The HTTP status.
    pub status: StatusCode,
    /// The `x-amzn-RequestId` header, if present.
    pub request_id: Option<String>,
    /// What was wrong with it.
    pub reason: String,
    /// The start of the body, lossily decoded as UTF-8 and truncated (at most
    /// [`UnexpectedResponse::SNIPPET_LEN`] characters), for diagnosis.
    pub snippet: String,
}

impl UnexpectedResponse {
    /// The longest snippet of a body that is kept, in characters.
    pub const SNIPPET_LEN: usize = 256;

    /// Describes an unexpected response, keeping a short snippet of its body.
    pub fn new(
        status: StatusCode,
        request_id: Option<String>,
        reason: impl Into<String>,
        body: &[u8],
    ) -> Self {
        let text = String::from_utf8_lossy(&body[..body.len().min(Self::SNIPPET_LEN * 4)]);
        let mut snippet: String = text
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .take(Self::SNIPPET_LEN)
            .collect();
        if text.chars().count() > Self::SNIPPET_LEN || body.len() > Self::SNIPPET_LEN * 4 {
            snippet.push('…');
        }
        Self {
            status,
            request_id,
            reason: reason.into(),
            snippet: snippet.trim().to_owned(),
        }
    }
}

impl fmt::Display for UnexpectedResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unexpected response from KMS (HTTP {}): {}",
            self.status.as_u16(),
            self.reason
        )?;
        if let Some(id) = &self.request_id {
            write!(f, ", request id {id}")?;
        }
        if !self.snippet.is_empty() {
            write!(f, "; body starts with: {}", self.snippet)?;
        }
        Ok(())
    }
}

/// A request that breaks a documented constraint (see [`KmsError::Validation`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationError {
    operation: &'static str,
    field: &'static str,
    rule: String,
}

impl ValidationError {
    /// Creates a validation error for `field` of `operation` that broke `rule`.
    pub fn new(operation: &'static str, field: &'static str, rule: impl Into<String>) -> Self {
        Self {
            operation,
            field,
            rule: rule.into(),
        }
    }

    /// The operation, e.g. `ReEncrypt`.
    pub fn operation(&self) -> &'static str {
        self.operation
    }

    /// The member as KMS names it, e.g. `CiphertextBlob`.
    pub fn field(&self) -> &'static str {
        self.field
    }

    /// The rule it broke, as a sentence.
    pub fn rule(&self) -> &str {
        &self.rule
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid {} request: {} {}",
            self.operation, self.field, self.rule
        )
    }
}

impl StdError for ValidationError {}

impl From<ValidationError> for KmsError {
    fn from(e: ValidationError) -> Self {
        Self::Validation(e)
    }
}

/// Credentials could not be loaded (see [`KmsError::Credentials`]).
///
/// `Display` says only that; what the provider reported is the
/// [`source`](StdError::source) (print the chain, e.g. with `anyhow`'s `{:#}`).
#[derive(Debug)]
pub struct CredentialsError {
    message: Option<String>,
    source: Option<BoxError>,
}

impl CredentialsError {
    /// Creates a credentials error with a message and an optional cause.
    pub fn new(message: impl Into<String>, source: Option<BoxError>) -> Self {
        Self {
            message: Some(message.into()),
            source,
        }
    }
}

impl fmt::Display for CredentialsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("could not load AWS credentials")?;
        match &self.message {
            Some(m) => write!(f, ": {m}"),
            None => Ok(()),
        }
    }
}

impl From<aws_credential_types::provider::error::CredentialsError> for CredentialsError {
    fn from(e: aws_credential_types::provider::error::CredentialsError) -> Self {
        Self {
            message: None,
            source: Some(Box::new(e)),
        }
    }
}

/// Signing failed (see [`KmsError::Signing`]).
#[derive(Debug)]
pub struct SigningError {
    source: BoxError,
}

impl SigningError {
    /// Wraps the cause.
    pub fn new(source: impl Into<BoxError>) -> Self {
        Self {
            source: source.into(),
        }
    }
}

impl fmt::Display for SigningError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("could not sign the request")
    }
}

/// What part of the exchange failed in a [`TransportError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportKind {
    /// The connection could not be established (DNS, TCP, TLS).
    Connect,
    /// The connection broke while sending the request or receiving the response head.
    Io,
    /// The connection broke while the response body was being read.
    Body,
    /// Any other failure of the connector.
    Other,
}

/// Connecting, sending or receiving failed (see [`KmsError::Transport`]).
#[derive(Debug)]
pub struct TransportError {
    kind: TransportKind,
    source: BoxError,
}

impl TransportError {
    /// Creates a transport error of `kind` caused by `source`.
    pub fn new(kind: TransportKind, source: impl Into<BoxError>) -> Self {
        Self {
            kind,
            source: source.into(),
        }
    }

    /// Which part of the exchange failed.
    pub fn kind(&self) -> TransportKind {
        self.kind
    }

    /// Whether the server's TLS certificate was rejected (an unknown issuer, a
    /// name it is not valid for, an expired certificate, ...). Retrying cannot
    /// help, so such an error is not [transient](KmsError::is_transient): fix
    /// the trust settings (see [`crate::connector`]) or the endpoint.
    pub fn is_certificate_error(&self) -> bool {
        #[cfg(any(feature = "rustls-ring", feature = "rustls-aws-lc"))]
        {
            let mut cur: Option<&(dyn StdError + 'static)> = Some(&*self.source);
            while let Some(e) = cur {
                // hyper-rustls wraps the rustls error in io::Errors, whose
                // source() skips what they wrap: open them with get_ref.
                let mut inner: &(dyn StdError + 'static) = e;
                while let Some(wrapped) = inner
                    .downcast_ref::<std::io::Error>()
                    .and_then(|io| io.get_ref())
                {
                    inner = wrapped;
                }
                if matches!(
                    inner.downcast_ref::<rustls::Error>(),
                    Some(rustls::Error::InvalidCertificate(_))
                ) {
                    return true;
                }
                cur = e.source();
            }
        }
        false
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            TransportKind::Connect => "could not connect to KMS",
            TransportKind::Io => "the connection to KMS failed",
            TransportKind::Body => "the connection broke while reading the KMS response",
            TransportKind::Other => "the request to KMS failed",
        };
        f.write_str(what)
    }
}

/// Which deadline fired in a [`TimeoutError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimeoutKind {
    /// The deadline of a single attempt.
    Attempt,
    /// The deadline over all attempts and backoffs.
    Operation,
    /// The default connector's connect timeout.
    Connect,
    /// A timeout this crate did not set and cannot place: tower's own
    /// `Elapsed`, from a `tower::timeout` layer in your stack. Its duration is
    /// unknown. Treated as transient (retried when it fires below the retry layer).
    Unclassified,
}

/// A deadline passed (see [`KmsError::Timeout`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeoutError {
    kind: TimeoutKind,
    after: Option<Duration>,
}

impl TimeoutError {
    /// Creates a timeout error of `kind` that fired after `after`.
    pub fn new(kind: TimeoutKind, after: Option<Duration>) -> Self {
        Self { kind, after }
    }

    /// Which deadline fired.
    pub fn kind(&self) -> TimeoutKind {
        self.kind
    }

    /// The configured duration, if known.
    pub fn after(&self) -> Option<Duration> {
        self.after
    }
}

impl fmt::Display for TimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            TimeoutKind::Attempt => "the attempt timeout",
            TimeoutKind::Operation => "the operation timeout",
            TimeoutKind::Connect => "the connect timeout",
            TimeoutKind::Unclassified => "a timeout set outside this crate",
        };
        write!(f, "KMS did not answer before {what}")?;
        if let Some(d) = self.after {
            write!(f, " ({} ms)", d.as_millis())?;
        }
        Ok(())
    }
}

impl StdError for TimeoutError {}

/// A client or endpoint could not be configured (a missing region, a bad endpoint URL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    message: String,
}

impl ConfigError {
    /// Creates a configuration error.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

impl ConfigError {
    /// What is wrong, without the "invalid KMS client configuration" prefix.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid KMS client configuration: {}", self.message)
    }
}

impl StdError for ConfigError {}

impl StdError for CredentialsError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source.as_ref().map(|s| &**s as _)
    }
}

impl StdError for SigningError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&*self.source)
    }
}

impl StdError for TransportError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&*self.source)
    }
}

impl StdError for UnexpectedResponse {}
