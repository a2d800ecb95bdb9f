//! Request and response types of the KMS operations, with their client-side validation.

pub(crate) mod blob;
mod enums;
mod ops;
mod reencrypt;

pub use enums::{DryRunModifierType, EncryptionAlgorithmSpec, KeySpec, KeyState, KeyUsageType};
pub use ops::{
    CreateKeyRequest, CreateKeyResponse, DecryptRequest, DecryptResponse, DescribeKeyRequest,
    EncryptRequest, EncryptResponse, GenerateDataKeyRequest, GenerateDataKeyResponse,
    GenerateDataKeyWithoutPlaintextRequest, KeyMetadata, Plaintext,
};
pub use reencrypt::{
    ReEncryptRequest, ReEncryptRequestBuilder, ReEncryptResponse, ReEncryptResponseBuilder,
};

use std::collections::BTreeMap;

pub use crate::operation::ResponseMetadata;

/// An encryption context: non-secret key-value pairs bound to a ciphertext as
/// additional authenticated data. Kept sorted so the JSON on the wire, and hence
/// the request signature, is deterministic.
pub type EncryptionContext = BTreeMap<String, String>;

/// Implements [`OperationOutput`](crate::operation::OperationOutput) for outputs
/// with a `metadata: ResponseMetadata` field.
macro_rules! operation_output {
    ($($ty:ty),+ $(,)?) => {$(
        impl crate::operation::OperationOutput for $ty {
            fn metadata(&self) -> &ResponseMetadata {
                &self.metadata
            }
            fn metadata_mut(&mut self) -> &mut ResponseMetadata {
                &mut self.metadata
            }
        }
    )+};
}

operation_output!(
    ReEncryptResponse,
    EncryptResponse,
    DecryptResponse,
    GenerateDataKeyResponse,
    CreateKeyResponse,
);
