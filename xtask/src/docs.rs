//! Doc lines of our own: one per operation, nested structure and exception.
//! (The model's documentation is not used.)

pub(crate) fn op_summary(op: &str) -> &'static str {
    match op {
        "CancelKeyDeletion" => "stops the scheduled deletion of a key; the key is left disabled.",
        "ConnectCustomKeyStore" => {
            "starts connecting a custom key store to its CloudHSM cluster or external key store proxy."
        }
        "CreateAlias" => "gives a key a friendly name (`alias/...`).",
        "CreateCustomKeyStore" => {
            "creates a custom key store backed by a CloudHSM cluster or an external key manager."
        }
        "CreateGrant" => "gives a principal permission to use a key in some operations.",
        "CreateKey" => "creates a KMS key.",
        "Decapsulate" => "recovers a shared secret from its encapsulation with an ML-KEM key.",
        "Decrypt" => "decrypts a ciphertext made by a KMS key.",
        "DeleteAlias" => "deletes an alias (the key stays).",
        "DeleteCustomKeyStore" => "deletes a custom key store that holds no keys.",
        "DeleteImportedKeyMaterial" => {
            "deletes imported key material, leaving the key unusable until a new import."
        }
        "DeriveSharedSecret" => {
            "derives a shared secret from a key agreement key and a peer's public key."
        }
        "DescribeCustomKeyStores" => "lists custom key stores and their connection state.",
        "DescribeKey" => "returns the metadata of a key.",
        "DisableKey" => "disables a key so it cannot be used.",
        "DisableKeyRotation" => "turns automatic rotation of a key's material off.",
        "DisconnectCustomKeyStore" => "disconnects a custom key store from its backing store.",
        "EnableKey" => "enables a disabled key.",
        "EnableKeyRotation" => "turns automatic rotation of a key's material on.",
        "Encapsulate" => "makes a shared secret and its encapsulation under an ML-KEM key.",
        "Encrypt" => "encrypts up to 4096 bytes under a key.",
        "GenerateDataKey" => "returns a new data key, in plaintext and encrypted under a key.",
        "GenerateDataKeyPair" => {
            "returns a new asymmetric data key pair, its private key in plaintext and encrypted."
        }
        "GenerateDataKeyPairWithoutPlaintext" => {
            "returns a new asymmetric data key pair, its private key only encrypted."
        }
        "GenerateDataKeyWithoutPlaintext" => {
            "returns a new data key encrypted under a key, without its plaintext."
        }
        "GenerateMac" => "computes an HMAC of a message with an HMAC key.",
        "GenerateRandom" => "returns random bytes.",
        "GetKeyLastUsage" => "tells when a key was last used in a cryptographic operation.",
        "GetKeyPolicy" => "returns a key policy.",
        "GetKeyRotationStatus" => {
            "tells whether automatic rotation is on for a key, and its period."
        }
        "GetParametersForImport" => {
            "returns the wrapping public key and import token for importing key material."
        }
        "GetPublicKey" => "returns the public key of an asymmetric key.",
        "ImportKeyMaterial" => "imports wrapped key material into a key created without it.",
        "ListAliases" => "lists aliases, optionally of one key.",
        "ListGrants" => "lists the grants of a key.",
        "ListKeyPolicies" => "lists the names of a key's policies.",
        "ListKeyRotations" => "lists the completed rotations of a key's material.",
        "ListKeys" => "lists the keys of the account and Region.",
        "ListResourceTags" => "lists the tags of a key.",
        "ListRetirableGrants" => "lists the grants a principal may retire.",
        "PutKeyPolicy" => "sets a key policy.",
        "ReEncrypt" => {
            "decrypts a ciphertext and encrypts it again under another key or context, inside KMS."
        }
        "ReplicateKey" => "replicates a multi-Region key into another Region.",
        "RetireGrant" => "retires a grant (by its token, or by key and grant id).",
        "RevokeGrant" => "revokes a grant.",
        "RotateKeyOnDemand" => "rotates a key's material now.",
        "ScheduleKeyDeletion" => "schedules the deletion of a key after a waiting period.",
        "Sign" => "signs a message or digest with an asymmetric key.",
        "TagResource" => "adds or replaces tags on a key.",
        "UntagResource" => "removes tags from a key.",
        "UpdateAlias" => "points an alias at another key.",
        "UpdateCustomKeyStore" => "changes the settings of a custom key store.",
        "UpdateKeyDescription" => "changes the description of a key.",
        "UpdatePrimaryRegion" => "makes a replica of a multi-Region key its primary key.",
        "Verify" => "verifies a signature made by an asymmetric key.",
        "VerifyMac" => "verifies an HMAC made by an HMAC key.",
        _ => "an operation of the KMS API.",
    }
}

pub(crate) fn shape_summary(shape: &str) -> &'static str {
    match shape {
        "AliasListEntry" => "An alias, as `ListAliases` returns it.",
        "CustomKeyStoresListEntry" => {
            "A custom key store, as `DescribeCustomKeyStores` returns it."
        }
        "GrantConstraints" => "Encryption context conditions that limit a grant.",
        "GrantListEntry" => "A grant, as `ListGrants` and `ListRetirableGrants` return it.",
        "KeyLastUsageData" => "The last cryptographic use of a key.",
        "KeyListEntry" => "A key, as `ListKeys` returns it.",
        "KeyMetadata" => "The metadata of a key (`CreateKey`, `DescribeKey`, `ReplicateKey`).",
        "MultiRegionConfiguration" => "The primary and replicas of a multi-Region key.",
        "MultiRegionKey" => "One key of a multi-Region key: its ARN and Region.",
        "RecipientInfo" => "A Nitro Enclave attestation, for a response encrypted to the enclave.",
        "RotationsListEntry" => {
            "One rotation of a key's material, as `ListKeyRotations` returns it."
        }
        "Tag" => "A tag: a key and a value.",
        "XksKeyConfigurationType" => "The external key of a key in an external key store.",
        "XksProxyAuthenticationCredentialType" => {
            "The credential KMS uses with an external key store proxy (secret)."
        }
        "XksProxyConfigurationType" => "How KMS reaches an external key store proxy.",
        _ => "A structure of the KMS API.",
    }
}

pub(crate) fn exception_summary(code: &str) -> &'static str {
    match code {
        "AlreadyExistsException" => "the resource to create already exists",
        "CloudHsmClusterInUseException" => {
            "the CloudHSM cluster is already used by another key store"
        }
        "CloudHsmClusterInvalidConfigurationException" => {
            "the CloudHSM cluster is not configured as a key store needs"
        }
        "CloudHsmClusterNotActiveException" => "the CloudHSM cluster is not active",
        "CloudHsmClusterNotFoundException" => "no CloudHSM cluster has that id",
        "CloudHsmClusterNotRelatedException" => {
            "the CloudHSM cluster does not share the key store's backup history"
        }
        "ConflictException" => "a rotation of the key is in progress or about to start",
        "CustomKeyStoreHasCMKsException" => "the custom key store still holds keys",
        "CustomKeyStoreInvalidStateException" => {
            "the custom key store's connection state does not allow the operation"
        }
        "CustomKeyStoreNameInUseException" => "another custom key store has that name",
        "CustomKeyStoreNotFoundException" => "no custom key store has that id or name",
        "DependencyTimeoutException" => {
            "a service KMS depends on did not answer in time; retry later"
        }
        "DisabledException" => "the key is disabled",
        "DryRunOperationException" => "the request would have succeeded, but DryRun was set",
        "ExpiredImportTokenException" => "the import token has expired",
        "IncorrectKeyException" => "the ciphertext was not encrypted under the given key",
        "IncorrectKeyMaterialException" => {
            "the key material does not belong to this key or is not valid"
        }
        "IncorrectTrustAnchorException" => {
            "the trust anchor certificate does not match the cluster"
        }
        "InvalidAliasNameException" => "the alias name is not valid",
        "InvalidArnException" => "an ARN in the request is not valid",
        "InvalidCiphertextException" => {
            "the ciphertext, its encryption context or algorithm is wrong"
        }
        "InvalidGrantIdException" => "the grant id is not valid",
        "InvalidGrantTokenException" => "a grant token is malformed or not valid",
        "InvalidImportTokenException" => "the import token is not valid for this key",
        "InvalidKeyUsageException" => "the key's usage or algorithm does not fit the operation",
        "InvalidMarkerException" => "the pagination marker is not valid",
        "KMSInternalException" => "KMS had an internal error; retry later",
        "KMSInvalidMacException" => "the HMAC does not verify",
        "KMSInvalidSignatureException" => "the signature does not verify",
        "KMSInvalidStateException" => "the key's state does not allow the operation",
        "KeyUnavailableException" => "the key is unavailable for now; retry later",
        "LimitExceededException" => "a resource quota of the account would be exceeded",
        "MalformedPolicyDocumentException" => "the key policy is not valid",
        "NotFoundException" => "the key, alias or other entity does not exist",
        "TagException" => "a tag is not valid or cannot be applied",
        "UnsupportedOperationException" => {
            "the operation is not supported for this key or key store"
        }
        "XksKeyAlreadyInUseException" => "the external key is already used by another key",
        "XksKeyInvalidConfigurationException" => "the external key is not configured as KMS needs",
        "XksKeyNotFoundException" => "the external key store proxy does not know the external key",
        "XksProxyIncorrectAuthenticationCredentialException" => {
            "the proxy rejected the authentication credential"
        }
        "XksProxyInvalidConfigurationException" => "the external key store proxy is misconfigured",
        "XksProxyInvalidResponseException" => "KMS could not understand the proxy's response",
        "XksProxyUriEndpointInUseException" => {
            "another external key store uses that proxy endpoint"
        }
        "XksProxyUriInUseException" => {
            "another external key store uses that proxy endpoint and path"
        }
        "XksProxyUriUnreachableException" => "KMS cannot reach the external key store proxy",
        "XksProxyVpcEndpointServiceInUseException" => {
            "another external key store uses that VPC endpoint service"
        }
        "XksProxyVpcEndpointServiceInvalidConfigurationException" => {
            "the VPC endpoint service is not configured as KMS needs"
        }
        "XksProxyVpcEndpointServiceNotFoundException" => "KMS cannot find the VPC endpoint service",
        _ => "an exception of the KMS API",
    }
}
