"""botocore against a local KMS that authorizes (run by tests/local/botocore.rs).

A denied ReEncrypt surfaces as botocore's AccessDeniedException with KMS's
message; grants made with botocore work at once with their tokens (the local
KMS's clock stands still, so they never propagate); ListGrants, RetireGrant,
GetKeyPolicy and a malformed PutKeyPolicy parse as botocore models them.

Inputs (environment): KMS_ENDPOINT, APP_AKID, APP_SECRET, APP_ARN, SRC, DST,
BLOB (base64), DENIED_MESSAGE. The admin credentials are test / test.
"""
import base64
import datetime
import os
import sys

import botocore
import botocore.config
import botocore.session
from botocore.exceptions import ClientError

ENV = os.environ


def fail(message):
    print("FAIL:", message)
    sys.exit(1)


def check(condition, message):
    if not condition:
        fail(message)


def client(akid, secret):
    return botocore.session.get_session().create_client(
        "kms",
        region_name="us-east-1",
        endpoint_url=ENV["KMS_ENDPOINT"],
        aws_access_key_id=akid,
        aws_secret_access_key=secret,
        config=botocore.config.Config(retries={"max_attempts": 1}),
    )


def denied(call):
    try:
        call()
    except ClientError as e:
        return e
    fail("the call was not denied")


admin = client("test", "test")
app = client(ENV["APP_AKID"], ENV["APP_SECRET"])
src, dst = ENV["SRC"], ENV["DST"]
blob = base64.b64decode(ENV["BLOB"])

# A denied ReEncrypt: AccessDeniedException, HTTP 400, KMS's message.
e = denied(lambda: app.re_encrypt(CiphertextBlob=blob, DestinationKeyId=dst))
err = e.response["Error"]
check(err["Code"] == "AccessDeniedException", f"code {err}")
check(err["Message"] == ENV["DENIED_MESSAGE"], f"message {err['Message']!r}")
check(e.response["ResponseMetadata"]["HTTPStatusCode"] == 400, "status")
check(e.operation_name == "ReEncrypt", "operation")
print("denied ReEncrypt:", err["Code"], "-", err["Message"])

# Grants made with botocore; their tokens work at once.
g_from = admin.create_grant(KeyId=src, GranteePrincipal=ENV["APP_ARN"], Operations=["ReEncryptFrom"])
g_to = admin.create_grant(
    KeyId=dst,
    GranteePrincipal=ENV["APP_ARN"],
    Operations=["ReEncryptTo"],
    Constraints={"EncryptionContextSubset": {"purpose": "rotation"}},
    Name="botocore-test",
)
check(len(g_from["GrantId"]) == 64, "grant id")
tokens = [g_from["GrantToken"], g_to["GrantToken"]]
out = app.re_encrypt(
    CiphertextBlob=blob,
    DestinationKeyId=dst,
    DestinationEncryptionContext={"purpose": "rotation"},
    GrantTokens=tokens,
)
check(out["KeyId"] == dst and out["SourceKeyId"] == src, f"keys {out}")
check(len(out["CiphertextBlob"]) > 0, "ciphertext")
print("ReEncrypt with grant tokens: ok")

# Without the tokens (not propagated), or outside the constraint: denied.
e = denied(lambda: app.re_encrypt(CiphertextBlob=blob, DestinationKeyId=dst,
                                  DestinationEncryptionContext={"purpose": "rotation"}))
check(e.response["Error"]["Code"] == "AccessDeniedException", "no tokens")
e = denied(lambda: app.re_encrypt(CiphertextBlob=blob, DestinationKeyId=dst, GrantTokens=tokens))
check("kms:ReEncryptTo" in e.response["Error"]["Message"], "constraint")

# A token that is not one of this KMS: the modelled exception.
try:
    app.re_encrypt(CiphertextBlob=blob, DestinationKeyId=dst, GrantTokens=["not-a-token"])
    fail("a bad token was accepted")
except app.exceptions.InvalidGrantTokenException:
    pass

# ListGrants as botocore parses it.
grants = admin.list_grants(KeyId=dst)["Grants"]
check(len(grants) == 1, f"grants {grants}")
g = grants[0]
check(g["GrantId"] == g_to["GrantId"] and g["Name"] == "botocore-test", f"grant {g}")
check(isinstance(g["CreationDate"], datetime.datetime), "CreationDate")
check(g["Constraints"] == {"EncryptionContextSubset": {"purpose": "rotation"}}, "constraints")
check(g["IssuingAccount"] == "arn:aws:iam::111122223333:root", "issuing account")
admin.retire_grant(GrantToken=g_from["GrantToken"])
check(admin.list_grants(KeyId=src)["Grants"] == [], "retired")

# Key policies.
policy = admin.get_key_policy(KeyId=src, PolicyName="default")["Policy"]
check('"Id" : "key-default-1"' in policy, "default policy")
check(admin.list_key_policies(KeyId=src)["PolicyNames"] == ["default"], "policy names")
try:
    admin.put_key_policy(KeyId=src, PolicyName="default", Policy='{"Statement": []}')
    fail("a malformed policy was accepted")
except admin.exceptions.MalformedPolicyDocumentException:
    pass

print("botocore", botocore.__version__, "ok")
