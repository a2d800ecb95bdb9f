//! The client knows every operation of the KMS API (aws-sdk-kms 1.129's 56),
//! and every exception of the model is a `KmsError` variant.

use tower_kms::model::OPERATIONS;
use tower_kms::{KmsError, ServiceError};

/// The operations of aws-sdk-kms 1.129, written out by hand.
const AWS_SDK_KMS: &str = "CancelKeyDeletion, ConnectCustomKeyStore, CreateAlias, \
CreateCustomKeyStore, CreateGrant, CreateKey, Decapsulate, Decrypt, DeleteAlias, \
DeleteCustomKeyStore, DeleteImportedKeyMaterial, DeriveSharedSecret, DescribeCustomKeyStores, \
DescribeKey, DisableKey, DisableKeyRotation, DisconnectCustomKeyStore, EnableKey, \
EnableKeyRotation, Encapsulate, Encrypt, GenerateDataKey, GenerateDataKeyPair, \
GenerateDataKeyPairWithoutPlaintext, GenerateDataKeyWithoutPlaintext, GenerateMac, \
GenerateRandom, GetKeyLastUsage, GetKeyPolicy, GetKeyRotationStatus, GetParametersForImport, \
GetPublicKey, ImportKeyMaterial, ListAliases, ListGrants, ListKeyPolicies, ListKeyRotations, \
ListKeys, ListResourceTags, ListRetirableGrants, PutKeyPolicy, ReEncrypt, ReplicateKey, \
RetireGrant, RevokeGrant, RotateKeyOnDemand, ScheduleKeyDeletion, Sign, TagResource, \
UntagResource, UpdateAlias, UpdateCustomKeyStore, UpdateKeyDescription, UpdatePrimaryRegion, \
Verify, VerifyMac";

#[test]
fn the_client_knows_the_56_operations_of_aws_sdk_kms() {
    let expected: Vec<&str> = AWS_SDK_KMS.split(", ").collect();
    assert_eq!(expected.len(), 56);
    assert_eq!(OPERATIONS, expected.as_slice());
}

#[test]
fn every_modelled_exception_is_a_variant_with_its_classification() {
    assert_eq!(KmsError::MODELED_CODES.len(), 48);
    for code in KmsError::MODELED_CODES {
        let status = KmsError::modeled_status(code).expect("a modelled status");
        let err = KmsError::from_service_error(ServiceError::new(*code, status));
        assert!(!matches!(err, KmsError::Unknown(_)), "{code}");
        assert_eq!(err.code(), Some(*code));
        assert!(
            !err.is_throttling(),
            "{code}: no KMS exception is throttling"
        );
        let server = matches!(
            *code,
            "KMSInternalException" | "DependencyTimeoutException" | "KeyUnavailableException"
        );
        assert_eq!(err.is_transient(), server, "{code}");
        assert_eq!(err.is_retryable(), server, "{code}");
        // Without a message, Display says what it means in our words.
        assert!(!err.to_string().contains("no message"), "{err}");
    }
    // KMS's LimitExceededException is a resource quota, not throttling.
    let err = KmsError::from_service_error(ServiceError::new(
        "LimitExceededException",
        http::StatusCode::BAD_REQUEST,
    ));
    assert!(matches!(err, KmsError::LimitExceeded(_)));
    assert!(!err.is_retryable());
    assert_eq!(
        KmsError::modeled_status("NotFoundException"),
        Some(http::StatusCode::NOT_FOUND)
    );
    assert_eq!(KmsError::modeled_status("ThrottlingException"), None);
}
