#!/usr/bin/env python3
"""Extracts the facts of the KMS API from botocore's model into codegen/kms-model.json.

Run once by hand when the model is updated (CI does not run it: it needs botocore):

    pip download botocore==1.44.8 --no-deps -d /tmp/bc && \
        python3 codegen/extract.py /tmp/bc/botocore-1.44.8-py3-none-any.whl > codegen/kms-model.json

The argument is a botocore wheel or an unpacked botocore directory. What is kept:
operations (target, input, output, errors, pagination), structures and their members
(in the model's order, with `required`), simple shapes with their constraints (lengths,
ranges, patterns, `sensitive`), enums, lists, maps, and the exceptions with their
fault, HTTP status and retry traits. No documentation prose is kept.

botocore does not carry the HTTP status of KMS's exceptions; HTTP_STATUS below is
transcribed from the Smithy model (`smithy.api#httpError`) in aws-sdk-rust's
aws-models/kms.json at commit f2caf53f2cc83766a096ef38f7fe8d07ae2165af.
"""

import gzip
import io
import json
import os
import sys
import zipfile

MODEL = "botocore/data/kms/2014-11-01/service-2.json.gz"
PAGINATORS = "botocore/data/kms/2014-11-01/paginators-1.json"

# `smithy.api#httpError` of each exception in the Smithy model (see the module docs).
HTTP_STATUS = {
    "AlreadyExistsException": 409,
    "CloudHsmClusterInUseException": 400,
    "CloudHsmClusterInvalidConfigurationException": 400,
    "CloudHsmClusterNotActiveException": 400,
    "CloudHsmClusterNotFoundException": 400,
    "CloudHsmClusterNotRelatedException": 400,
    "ConflictException": 409,
    "CustomKeyStoreHasCMKsException": 400,
    "CustomKeyStoreInvalidStateException": 400,
    "CustomKeyStoreNameInUseException": 400,
    "CustomKeyStoreNotFoundException": 400,
    "DependencyTimeoutException": 503,
    "DisabledException": 409,
    "DryRunOperationException": 412,
    "ExpiredImportTokenException": 400,
    "IncorrectKeyException": 400,
    "IncorrectKeyMaterialException": 400,
    "IncorrectTrustAnchorException": 400,
    "InvalidAliasNameException": 400,
    "InvalidArnException": 400,
    "InvalidCiphertextException": 400,
    "InvalidGrantIdException": 400,
    "InvalidGrantTokenException": 400,
    "InvalidImportTokenException": 400,
    "InvalidKeyUsageException": 400,
    "InvalidMarkerException": 400,
    "KMSInternalException": 500,
    "KMSInvalidMacException": 400,
    "KMSInvalidSignatureException": 400,
    "KMSInvalidStateException": 409,
    "KeyUnavailableException": 500,
    "LimitExceededException": 400,
    "MalformedPolicyDocumentException": 400,
    "NotFoundException": 404,
    "TagException": 400,
    "UnsupportedOperationException": 400,
    "XksKeyAlreadyInUseException": 400,
    "XksKeyInvalidConfigurationException": 400,
    "XksKeyNotFoundException": 400,
    "XksProxyIncorrectAuthenticationCredentialException": 400,
    "XksProxyInvalidConfigurationException": 400,
    "XksProxyInvalidResponseException": 400,
    "XksProxyUriEndpointInUseException": 400,
    "XksProxyUriInUseException": 400,
    "XksProxyUriUnreachableException": 400,
    "XksProxyVpcEndpointServiceInUseException": 400,
    "XksProxyVpcEndpointServiceInvalidConfigurationException": 400,
    "XksProxyVpcEndpointServiceNotFoundException": 400,
}


def read(src, name):
    if os.path.isdir(src):
        with open(os.path.join(src, name), "rb") as f:
            return f.read()
    with zipfile.ZipFile(src) as z:
        return z.read(name)


def botocore_version(src):
    if os.path.isdir(src):
        return "unknown"
    base = os.path.basename(src)
    return base.split("-")[1] if base.startswith("botocore-") else "unknown"


def main():
    src = sys.argv[1]
    model = json.load(gzip.GzipFile(fileobj=io.BytesIO(read(src, MODEL))))
    pages = json.loads(read(src, PAGINATORS))["pagination"]
    shapes = model["shapes"]
    meta = model["metadata"]

    ops = []
    for name in sorted(model["operations"]):
        op = model["operations"][name]
        entry = {
            "name": name,
            "input": op["input"]["shape"],
            "output": op["output"]["shape"] if "output" in op else None,
            "errors": [e["shape"] for e in op.get("errors", [])],
        }
        if name in pages:
            p = pages[name]
            entry["paginator"] = {
                "input_token": p["input_token"],
                "output_token": p["output_token"],
                "limit": p["limit_key"],
                "more": p["more_results"],
                "items": p["result_key"],
            }
        ops.append(entry)

    out = {"structures": {}, "strings": {}, "enums": {}, "blobs": {}, "integers": {},
           "booleans": [], "timestamps": [], "lists": {}, "maps": {}, "errors": {}}
    for name in sorted(shapes):
        s = shapes[name]
        t = s["type"]
        limits = {k: s[k] for k in ("min", "max", "pattern") if k in s}
        if s.get("sensitive"):
            limits["sensitive"] = True
        if s.get("exception"):
            if set(s["members"]) != {"message"}:
                sys.exit(f"{name}: an exception with members other than message")
            out["errors"][name] = {
                "http": HTTP_STATUS[name],
                "fault": "server" if s.get("fault") else "client",
                "retryable": "retryable" in s,
                "throttling": bool(s.get("retryable", {}).get("throttling")),
            }
        elif t == "structure":
            required = set(s.get("required", []))
            members = []
            for m, v in s["members"].items():
                member = {"name": m, "shape": v["shape"]}
                if m in required:
                    member["required"] = True
                if v.get("deprecated"):
                    member["deprecated"] = True
                members.append(member)
            out["structures"][name] = members
        elif t == "string" and "enum" in s:
            out["enums"][name] = s["enum"]
        elif t == "string":
            out["strings"][name] = limits
        elif t == "blob":
            out["blobs"][name] = limits
        elif t == "integer":
            out["integers"][name] = limits
        elif t == "boolean":
            out["booleans"].append(name)
        elif t == "timestamp":
            out["timestamps"].append(name)
        elif t == "list":
            out["lists"][name] = dict(member=s["member"]["shape"], **limits)
        elif t == "map":
            out["maps"][name] = dict(key=s["key"]["shape"], value=s["value"]["shape"], **limits)
        else:
            sys.exit(f"{name}: unknown shape type {t}")
    missing = set(HTTP_STATUS) ^ set(out["errors"])
    if missing:
        sys.exit(f"exceptions without an HTTP status, or statuses without an exception: {missing}")

    # Compact and reviewable: one line per operation, shape or exception.
    w = sys.stdout.write
    dump = lambda v: json.dumps(v, separators=(", ", ": "), ensure_ascii=False)
    w("{\n")
    w(f'  "source": {dump({"botocore": botocore_version(src), "file": MODEL, "http_status": "aws-sdk-rust aws-models/kms.json @ f2caf53f2cc83766a096ef38f7fe8d07ae2165af"})},\n')
    w(f'  "service": {dump({"api_version": meta["apiVersion"], "protocol": "awsJson" + meta["jsonVersion"], "target_prefix": meta["targetPrefix"], "signing_name": meta.get("signingName", meta["endpointPrefix"])})},\n')
    w('  "operations": [\n')
    w(",\n".join("    " + dump(o) for o in ops))
    w("\n  ],\n")
    sections = list(out.items())
    for i, (key, val) in enumerate(sections):
        last = i == len(sections) - 1
        if isinstance(val, list):
            w(f'  "{key}": {dump(val)}')
        else:
            w(f'  "{key}": {{\n')
            w(",\n".join(f"    {dump(k)}: {dump(v)}" for k, v in val.items()))
            w("\n  }")
        w("\n" if last else ",\n")
    w("}\n")


if __name__ == "__main__":
    main()
