"""The local KMS's data plane seen by botocore and checked with `cryptography`,
two independent implementations: signatures verify outside KMS, MACs verify
and a flipped bit does not, ECDH secrets match, data key pairs match their
public keys, and tags, aliases, descriptions and the unmodelled operations
parse as botocore models them (errors as botocore's modelled exceptions).

Run by tests/local/botocore_dataplane.rs with the server's URL:

    python3 tests/local/botocore_dataplane.py http://127.0.0.1:PORT

Prints one JSON object with what it saw; exits non-zero (with the reason on
stderr) at the first mismatch.
"""

import json
import sys

import botocore
import botocore.session
from botocore.config import Config
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, utils


def check(ok, what, seen=None):
    if not ok:
        sys.exit(f"botocore_dataplane: {what}: {seen!r}")


def raises(kms, code, call, **kwargs):
    try:
        call(**kwargs)
    except kms.exceptions.ClientError as e:
        got = e.response["Error"]["Code"]
        check(got == code, f"{call.__name__} raised {got}, not {code}", e.response)
        return e
    sys.exit(f"botocore_dataplane: {call.__name__} did not raise {code}")


def main(url):
    kms = botocore.session.get_session().create_client(
        "kms",
        region_name="us-east-1",
        endpoint_url=url,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"total_max_attempts": 1}),
    )
    seen = {"botocore": botocore.__version__}
    message = b"signed by the local KMS, verified by cryptography"

    # Signatures, RAW and DIGEST, verified outside KMS.
    for spec, alg, hash_, verify in [
        ("ECC_NIST_P384", "ECDSA_SHA_384", hashes.SHA384(), "ecdsa"),
        ("ECC_SECG_P256K1", "ECDSA_SHA_256", hashes.SHA256(), "ecdsa"),
        ("RSA_2048", "RSASSA_PSS_SHA_256", hashes.SHA256(), "pss"),
        ("RSA_2048", "RSASSA_PKCS1_V1_5_SHA_512", hashes.SHA512(), "pkcs1"),
    ]:
        meta = kms.create_key(KeySpec=spec, KeyUsage="SIGN_VERIFY")["KeyMetadata"]
        check(alg in meta["SigningAlgorithms"], "SigningAlgorithms", meta)
        key = meta["Arn"]
        public = serialization.load_der_public_key(
            kms.get_public_key(KeyId=key)["PublicKey"]
        )
        digest = hashes.Hash(hash_)
        digest.update(message)
        digest = digest.finalize()
        for body, message_type in [(message, "RAW"), (digest, "DIGEST")]:
            sig = kms.sign(
                KeyId=key, Message=body, MessageType=message_type, SigningAlgorithm=alg
            )["Signature"]
            if verify == "ecdsa":
                public.verify(sig, message, ec.ECDSA(hash_))
            elif verify == "pss":
                public.verify(
                    sig,
                    message,
                    padding.PSS(mgf=padding.MGF1(hash_), salt_length=hash_.digest_size),
                    hash_,
                )
            else:
                public.verify(sig, message, padding.PKCS1v15(), hash_)
            out = kms.verify(
                KeyId=key, Message=message, Signature=sig, SigningAlgorithm=alg
            )
            check(out["SignatureValid"] is True, "SignatureValid", out)
        bad = bytes([sig[0] ^ 1]) + sig[1:]
        raises(
            kms,
            "KMSInvalidSignatureException",
            kms.verify,
            KeyId=key,
            Message=message,
            Signature=bad,
            SigningAlgorithm=alg,
        )
    # A signature made outside KMS with a prehashed digest verifies too:
    # DIGEST and RAW are the same message to KMS.
    meta = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    sig = kms.sign(KeyId=meta["KeyId"], Message=message, SigningAlgorithm="ECDSA_SHA_256")[
        "Signature"
    ]
    public = serialization.load_der_public_key(
        kms.get_public_key(KeyId=meta["KeyId"])["PublicKey"]
    )
    h = hashes.Hash(hashes.SHA256())
    h.update(message)
    public.verify(sig, h.finalize(), ec.ECDSA(utils.Prehashed(hashes.SHA256())))
    raises(
        kms,
        "ValidationException",
        kms.sign,
        KeyId=meta["KeyId"],
        Message=b"x" * 31,
        MessageType="DIGEST",
        SigningAlgorithm="ECDSA_SHA_256",
    )
    raises(
        kms,
        "InvalidKeyUsageException",
        kms.sign,
        KeyId=meta["KeyId"],
        Message=message,
        SigningAlgorithm="ECDSA_SHA_512",
    )

    # MACs.
    hmac = kms.create_key(KeySpec="HMAC_384", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]
    check(hmac["MacAlgorithms"] == ["HMAC_SHA_384"], "MacAlgorithms", hmac)
    mac = kms.generate_mac(KeyId=hmac["KeyId"], Message=message, MacAlgorithm="HMAC_SHA_384")
    check(len(mac["Mac"]) == 48, "Mac length", mac)
    out = kms.verify_mac(
        KeyId=hmac["KeyId"], Message=message, MacAlgorithm="HMAC_SHA_384", Mac=mac["Mac"]
    )
    check(out["MacValid"] is True, "MacValid", out)
    raises(
        kms,
        "KMSInvalidMacException",
        kms.verify_mac,
        KeyId=hmac["KeyId"],
        Message=message,
        MacAlgorithm="HMAC_SHA_384",
        Mac=bytes([mac["Mac"][0] ^ 0x80]) + mac["Mac"][1:],
    )

    # ECDH.
    agree = kms.create_key(KeySpec="ECC_NIST_P521", KeyUsage="KEY_AGREEMENT")["KeyMetadata"]
    check(agree["KeyAgreementAlgorithms"] == ["ECDH"], "KeyAgreementAlgorithms", agree)
    peer = ec.generate_private_key(ec.SECP521R1())
    spki = peer.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    out = kms.derive_shared_secret(
        KeyId=agree["KeyId"], KeyAgreementAlgorithm="ECDH", PublicKey=spki
    )
    kms_public = serialization.load_der_public_key(
        kms.get_public_key(KeyId=agree["KeyId"])["PublicKey"]
    )
    check(
        out["SharedSecret"] == peer.exchange(ec.ECDH(), kms_public),
        "SharedSecret",
        out,
    )
    check(out["KeyAgreementAlgorithm"] == "ECDH", "KeyAgreementAlgorithm", out)

    # Data key pairs.
    sym = kms.create_key(
        Description="wraps data key pairs",
        Tags=[{"TagKey": "team", "TagValue": "kms"}],
    )["KeyMetadata"]
    ctx = {"purpose": "botocore"}
    pair = kms.generate_data_key_pair(
        KeyId=sym["KeyId"], KeyPairSpec="ECC_NIST_P384", EncryptionContext=ctx
    )
    private = serialization.load_der_private_key(pair["PrivateKeyPlaintext"], None)
    check(
        private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        == pair["PublicKey"],
        "the private key's public key",
        pair["KeyPairSpec"],
    )
    plain = kms.decrypt(
        CiphertextBlob=pair["PrivateKeyCiphertextBlob"], EncryptionContext=ctx
    )["Plaintext"]
    check(plain == pair["PrivateKeyPlaintext"], "decrypted private key", None)
    without = kms.generate_data_key_pair_without_plaintext(
        KeyId=sym["KeyId"], KeyPairSpec="RSA_2048"
    )
    check("PrivateKeyPlaintext" not in without, "no plaintext", without)

    # Tags, aliases, descriptions.
    kms.tag_resource(KeyId=sym["KeyId"], Tags=[{"TagKey": "env", "TagValue": "test"}])
    tags = kms.list_resource_tags(KeyId=sym["KeyId"])
    check(
        tags["Tags"]
        == [{"TagKey": "env", "TagValue": "test"}, {"TagKey": "team", "TagValue": "kms"}],
        "Tags",
        tags,
    )
    raises(
        kms,
        "TagException",
        kms.tag_resource,
        KeyId=sym["KeyId"],
        Tags=[{"TagKey": "aws:reserved", "TagValue": "x"}],
    )
    kms.untag_resource(KeyId=sym["KeyId"], TagKeys=["team"])
    other = kms.create_key()["KeyMetadata"]
    kms.create_alias(AliasName="alias/botocore", TargetKeyId=sym["KeyId"])
    kms.update_alias(AliasName="alias/botocore", TargetKeyId=other["KeyId"])
    aliases = kms.list_aliases(KeyId=other["KeyId"])["Aliases"]
    check(aliases[0]["AliasName"] == "alias/botocore", "alias moved", aliases)
    kms.update_key_description(KeyId=other["KeyId"], Description="updated by botocore")
    described = kms.describe_key(KeyId="alias/botocore")["KeyMetadata"]
    check(described["Description"] == "updated by botocore", "Description", described)

    # The unmodelled operations, as botocore models their errors.
    stores = kms.describe_custom_key_stores()
    check(stores["CustomKeyStores"] == [], "CustomKeyStores", stores)
    raises(
        kms,
        "CustomKeyStoreNotFoundException",
        kms.connect_custom_key_store,
        CustomKeyStoreId="cks-1234567890abcdef0",
    )
    raises(
        kms,
        "UnsupportedOperationException",
        kms.get_parameters_for_import,
        KeyId=sym["KeyId"],
        WrappingAlgorithm="RSAES_OAEP_SHA_256",
        WrappingKeySpec="RSA_2048",
    )
    raises(
        kms,
        "UnsupportedOperationException",
        kms.replicate_key,
        KeyId=sym["KeyId"],
        ReplicaRegion="eu-west-1",
    )

    if "GetKeyLastUsage" in kms.meta.service_model.operation_names:
        usage = kms.get_key_last_usage(KeyId=sym["KeyId"])
        last = usage["KeyLastUsage"]
        check(
            last["Operation"] == "GenerateDataKeyPairWithoutPlaintext", "KeyLastUsage", usage
        )
        seen["last_usage"] = last["Timestamp"].timestamp()
        seen["last_request_id"] = last["KmsRequestId"]
    seen["key_id"] = sym["KeyId"]
    print(json.dumps(seen))


if __name__ == "__main__":
    main(sys.argv[1])
