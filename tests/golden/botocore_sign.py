"""Computes the golden SigV4 Authorization headers of tests/wire.rs with botocore,
an independent reference signer. Run: pip install botocore && python3 tests/golden/botocore_sign.py
"""
import datetime
from unittest import mock

import botocore
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

AKID = "AKIDEXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
TOKEN = "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI"
FULL_BODY = (
    '{"CiphertextBlob":"AQIDIGNpcGhlcnRleHQ=",'
    '"DestinationEncryptionAlgorithm":"SYMMETRIC_DEFAULT",'
    '"DestinationEncryptionContext":{"purpose":"rotation","tenant":"acme"},'
    '"DestinationKeyId":"arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",'
    '"DryRun":true,"DryRunModifiers":["IGNORE_CIPHERTEXT"],'
    '"GrantTokens":["GrantToken1","GrantToken2"],'
    '"SourceEncryptionAlgorithm":"SYMMETRIC_DEFAULT",'
    '"SourceEncryptionContext":{"purpose":"backup"},'
    '"SourceKeyId":"alias/ExampleAlias"}'
)
MINIMAL_BODY = '{"CiphertextBlob":"AQIDIGNpcGhlcnRleHQ=","DestinationKeyId":"alias/new"}'
NOW = datetime.datetime(2015, 8, 30, 12, 36, 0)


class FixedDatetime(datetime.datetime):
    @classmethod
    def utcnow(cls):
        return NOW

    @classmethod
    def now(cls, tz=None):
        return NOW.replace(tzinfo=tz) if tz else NOW


# tower_kms::user_agent::UserAgent::for_tests() with app name "golden-app".
USER_AGENT = "tower-kms/test os/linux lang/rust/1.95.0"
X_AMZ_USER_AGENT = "tower-kms/test ua/2.1 api/kms/test os/linux lang/rust/1.95.0 app/golden-app"


def sign(body, token=None, user_agent=False):
    headers = {
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": "TrentService.ReEncrypt",
        "Host": "kms.us-east-1.amazonaws.com",
    }
    if user_agent:
        # botocore, like aws-sigv4, signs x-amz-user-agent but never user-agent.
        headers["User-Agent"] = USER_AGENT
        headers["X-Amz-User-Agent"] = X_AMZ_USER_AGENT
    req = AWSRequest(
        method="POST",
        url="https://kms.us-east-1.amazonaws.com/",
        data=body.encode(),
        headers=headers,
    )
    with mock.patch("botocore.auth.datetime.datetime", FixedDatetime):
        SigV4Auth(Credentials(AKID, SECRET, token), "kms", "us-east-1").add_auth(req)
    return req.headers["Authorization"], req.headers["X-Amz-Date"]


print("botocore", botocore.__version__)
for name, body, token, ua in [
    ("full", FULL_BODY, None, False),
    ("minimal", MINIMAL_BODY, None, False),
    ("minimal+session", MINIMAL_BODY, TOKEN, False),
    ("minimal+session+user-agent", MINIMAL_BODY, TOKEN, True),
]:
    auth, date = sign(body, token, ua)
    print(name, date)
    print(auth)
