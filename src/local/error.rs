//! KMS error codes, their HTTP statuses and the awsJson1.1 error body.

use std::fmt;

use http::StatusCode;

/// An error as KMS reports it: a `__type` code, a message and the HTTP
/// status that goes with the code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalKmsError {
    pub(crate) code: &'static str,
    pub(crate) message: String,
}

impl fmt::Display for LocalKmsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for LocalKmsError {}

impl LocalKmsError {
    /// The error code, e.g. `NotFoundException` (the `__type` member).
    pub fn code(&self) -> &str {
        self.code
    }

    /// The human-readable message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The HTTP status KMS uses for this error code.
    pub fn status(&self) -> StatusCode {
        status_for(self.code)
    }

    pub(crate) fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    pub(crate) fn validation(message: impl Into<String>) -> Self {
        Self::new("ValidationException", message)
    }

    /// The standard "1 validation error detected" shape for a missing member.
    pub(crate) fn missing(member: &str) -> Self {
        Self::validation(format!(
            "1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null"
        ))
    }

    pub(crate) fn serialization(message: impl Into<String>) -> Self {
        Self::new("SerializationException", message)
    }

    pub(crate) fn invalid_ciphertext() -> Self {
        Self::new(
            "InvalidCiphertextException",
            "The ciphertext is invalid, was altered, or does not match the key, algorithm or encryption context.",
        )
    }

    pub(crate) fn internal(message: impl Into<String>) -> Self {
        Self::new("KMSInternalException", message)
    }

    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::new("NotFoundException", message)
    }

    pub(crate) fn invalid_signature(message: impl Into<String>) -> Self {
        Self::new("InvalidSignatureException", message)
    }

    /// KMS's answer to a request over its quota.
    pub(crate) fn throttling() -> Self {
        Self::new(
            THROTTLING,
            "You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls.",
        )
    }

    pub(crate) fn dry_run() -> Self {
        Self::new(
            "DryRunOperationException",
            "The request would have succeeded, but the DryRun option is set.",
        )
    }

    /// The awsJson1.1 error body. `AccessDeniedException`, a generic AWS
    /// error rather than a modelled KMS one, carries `Message` as KMS sends
    /// it; the others `message`.
    pub(crate) fn body(&self) -> Vec<u8> {
        let member = if self.code == "AccessDeniedException" {
            "Message"
        } else {
            "message"
        };
        let v = serde_json::json!({ "__type": self.code, member: self.message });
        serde_json::to_vec(&v).unwrap_or_else(|_| b"{}".to_vec())
    }
}

/// The code of [`LocalKmsError::throttling`], and only of it.
pub(crate) const THROTTLING: &str = "ThrottlingException";

/// HTTP status for a KMS error code.
pub(crate) fn status_for(code: &str) -> StatusCode {
    match code {
        "NotFoundException" => StatusCode::NOT_FOUND,
        "DisabledException" | "KMSInvalidStateException" => StatusCode::CONFLICT,
        "DryRunOperationException" => StatusCode::PRECONDITION_FAILED,
        "KMSInternalException" | "KeyUnavailableException" => StatusCode::INTERNAL_SERVER_ERROR,
        "DependencyTimeoutException" => StatusCode::SERVICE_UNAVAILABLE,
        "RequestEntityTooLargeException" => StatusCode::PAYLOAD_TOO_LARGE,
        "RequestTimeoutException" => StatusCode::REQUEST_TIMEOUT,
        _ => StatusCode::BAD_REQUEST,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses() {
        assert_eq!(status_for("NotFoundException"), 404);
        assert_eq!(status_for("DisabledException"), 409);
        assert_eq!(status_for("KMSInvalidStateException"), 409);
        assert_eq!(status_for("DryRunOperationException"), 412);
        assert_eq!(status_for("KMSInternalException"), 500);
        assert_eq!(status_for("KeyUnavailableException"), 500);
        assert_eq!(status_for("DependencyTimeoutException"), 503);
        assert_eq!(status_for("RequestTimeoutException"), 408);
        for c in [
            "IncorrectKeyException",
            "InvalidCiphertextException",
            "InvalidGrantTokenException",
            "InvalidKeyUsageException",
            "ValidationException",
            "UnsupportedOperationException",
            "AlreadyExistsException",
            "InvalidAliasNameException",
            "InvalidArnException",
            "UnrecognizedClientException",
            "InvalidSignatureException",
            "MissingAuthenticationTokenException",
            "SerializationException",
            "UnknownOperationException",
            "ThrottlingException",
        ] {
            assert_eq!(status_for(c), 400, "{c}");
        }
    }

    #[test]
    fn body_shape() {
        let e = LocalKmsError::new("NotFoundException", "Key 'x' does not exist");
        let v: serde_json::Value = serde_json::from_slice(&e.body()).unwrap();
        assert_eq!(v["__type"], "NotFoundException");
        assert_eq!(v["message"], "Key 'x' does not exist");
        let e = LocalKmsError::new("AccessDeniedException", "User: u is not authorized");
        let v: serde_json::Value = serde_json::from_slice(&e.body()).unwrap();
        assert_eq!(v["Message"], "User: u is not authorized");
        assert!(v.get("message").is_none());
        assert_eq!(e.status(), 400);
    }

    #[test]
    fn throttling_is_kms_answer() {
        let e = LocalKmsError::throttling();
        assert_eq!(e.status(), 400);
        assert_eq!(
            e.body(),
            br#"{"__type":"ThrottlingException","message":"You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls."}"#
        );
    }
}
