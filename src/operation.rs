//! The description of a KMS operation that the generic layers work from.
//!
//! The protocol layer, the retry policy and the grant-token layer are written once
//! against [`KmsOperation`]; every operation of the KMS API is a generated type that
//! implements it (see [`model`](crate::model)).

use crate::error::ValidationError;
use crate::model::DecodeError;

/// A KMS operation: its name, its input (the implementing type) and its output.
pub trait KmsOperation: Clone + Send + Sized + 'static {
    /// The operation name, e.g. `ReEncrypt`.
    const NAME: &'static str;
    /// The `X-Amz-Target` header value, e.g. `TrentService.ReEncrypt`.
    const TARGET: &'static str;
    /// The decoded response.
    type Output: OperationOutput;

    /// Checks every documented constraint of the input; called before any I/O.
    fn validate(&self) -> Result<(), ValidationError>;

    /// Encodes the input as the awsJson1.1 body.
    fn to_json(&self) -> Vec<u8>;

    /// Decodes a successful awsJson1.1 response body (unknown members are ignored)
    /// and attaches the response metadata.
    fn from_json(body: &[u8], metadata: ResponseMetadata) -> Result<Self::Output, DecodeError>;

    /// The operation's grant tokens, for operations that take them.
    fn grant_tokens_mut(&mut self) -> Option<&mut Vec<String>> {
        None
    }

    /// Extensions carried with the input and copied onto the HTTP request, so layers
    /// below the protocol layer (and tests) can see them, e.g. the [`Attempt`].
    fn extensions(&self) -> Option<&http::Extensions> {
        None
    }

    /// The extensions, mutably (the retry layer records the attempt number here).
    fn extensions_mut(&mut self) -> Option<&mut http::Extensions> {
        None
    }
}

/// The output of a [`KmsOperation`]: decoded from the JSON body, carrying the
/// response's [`ResponseMetadata`] (request id, status) for callers, tracing and logs.
pub trait OperationOutput: Send + 'static {
    /// The response metadata.
    fn metadata(&self) -> &ResponseMetadata;
    /// The response metadata, mutably (set by [`KmsOperation::from_json`]).
    fn metadata_mut(&mut self) -> &mut ResponseMetadata;
}

/// The attempt number of a request (1 for the first), found in the extensions of
/// the operation and of the `http::Request` the protocol layer makes from it.
/// The protocol layer adds `Attempt(1)` when no retry layer has set it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Attempt(pub u32);

/// Metadata of a KMS response.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ResponseMetadata {
    /// The `x-amzn-RequestId` header, if present.
    pub request_id: Option<String>,
    /// The HTTP status of the response, if it came over HTTP.
    pub status: Option<http::StatusCode>,
}

impl ResponseMetadata {
    /// Metadata with the given request id.
    pub fn with_request_id(request_id: impl Into<String>) -> Self {
        Self {
            request_id: Some(request_id.into()),
            status: None,
        }
    }
}
