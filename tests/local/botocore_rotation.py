"""Key rotation in tower-kms's local KMS, seen by botocore, an independent client:
a rotated key's old ciphertext re-encrypts to the current key material.

Run by tests/local/botocore.rs with the server's URL:

    python3 tests/local/botocore_rotation.py http://127.0.0.1:PORT

Prints one JSON object with what it saw; exits non-zero (with the reason on
stderr) at the first mismatch.
"""

import datetime
import json
import sys

import botocore
import botocore.session
from botocore.config import Config


def check(ok, what, seen):
    if not ok:
        sys.exit(f"botocore_rotation: {what}: {seen!r}")


def main(url):
    kms = botocore.session.get_session().create_client(
        "kms",
        region_name="us-east-1",
        endpoint_url=url,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"total_max_attempts": 1}),
    )
    ctx = {"app": "botocore"}

    meta = kms.create_key()["KeyMetadata"]
    key_id = meta["KeyId"]
    first = meta["CurrentKeyMaterialId"]
    old = kms.encrypt(KeyId=key_id, Plaintext=b"rotate me", EncryptionContext=ctx)[
        "CiphertextBlob"
    ]

    out = kms.rotate_key_on_demand(KeyId=key_id)
    check(out["KeyId"] == key_id, "RotateKeyOnDemand KeyId", out)
    current = kms.describe_key(KeyId=key_id)["KeyMetadata"]["CurrentKeyMaterialId"]
    check(current != first, "CurrentKeyMaterialId after the rotation", current)

    rotations = kms.list_key_rotations(KeyId=key_id)["Rotations"]
    check(
        [(r["KeyMaterialId"], r["KeyMaterialState"], r["RotationType"]) for r in rotations]
        == [(current, "CURRENT", "ON_DEMAND")],
        "ListKeyRotations",
        rotations,
    )
    check(
        isinstance(rotations[0]["RotationDate"], datetime.datetime),
        "RotationDate parsed as a timestamp",
        rotations,
    )

    dec = kms.decrypt(CiphertextBlob=old, EncryptionContext=ctx)
    check(dec["KeyMaterialId"] == first, "Decrypt of the old blob", dec)

    out = kms.re_encrypt(
        CiphertextBlob=old,
        SourceEncryptionContext=ctx,
        DestinationKeyId=key_id,
        DestinationEncryptionContext=ctx,
    )
    check(out["SourceKeyMaterialId"] == first, "ReEncrypt SourceKeyMaterialId", out)
    check(
        out["DestinationKeyMaterialId"] == current,
        "ReEncrypt DestinationKeyMaterialId",
        out,
    )
    back = kms.decrypt(CiphertextBlob=out["CiphertextBlob"], EncryptionContext=ctx)
    check(back["Plaintext"] == b"rotate me", "Decrypt of the moved blob", back)
    check(back["KeyMaterialId"] == current, "Decrypt of the moved blob", back)

    kms.enable_key_rotation(KeyId=key_id, RotationPeriodInDays=90)
    status = kms.get_key_rotation_status(KeyId=key_id)
    check(
        status["KeyRotationEnabled"] is True
        and status["RotationPeriodInDays"] == 90
        and isinstance(status["NextRotationDate"], datetime.datetime),
        "GetKeyRotationStatus",
        status,
    )

    print(
        json.dumps(
            {
                "botocore": botocore.__version__,
                "key_id": key_id,
                "first": first,
                "current": current,
                "source": out["SourceKeyMaterialId"],
                "destination": out["DestinationKeyMaterialId"],
                "next_rotation": status["NextRotationDate"].timestamp(),
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1])
