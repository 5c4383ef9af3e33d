"""AWS's full S3 event record (event version 2.1), from the thinner one moto's notifications build.

The shape is AWS's: https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html
(tests/events/s3-object-created-put.json is its example, the reference the fidelity tests compare against).
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import secrets
import time
from typing import Any
from urllib.parse import quote_plus

SOURCE_IP = "127.0.0.1"  # the emulator binds loopback only, so every request comes from this machine
_sequence = itertools.count(time.time_ns())  # next() on a count is atomic: sequencers never repeat or go back


def aws_record(record: dict[str, Any], account_id: str, key_name: str, version_id: str | None) -> dict[str, Any]:
    """`record` with what moto leaves out: who, from where, S3's request ids, the owner and the sequencer.

    The key is URL-encoded as S3 encodes it (spaces as '+', '/' kept); `versionId` is there only when the
    bucket is versioned, as on AWS.
    """
    s3 = record["s3"]
    obj: dict[str, Any] = {"key": quote_plus(key_name, safe="/"), "size": s3["object"]["size"],
                           "eTag": s3["object"]["eTag"]}
    if version_id:
        obj["versionId"] = version_id
    obj["sequencer"] = f"{next(_sequence):018X}"
    return {
        **{field: record[field] for field in ("eventVersion", "eventSource", "awsRegion", "eventTime", "eventName")},
        "userIdentity": {"principalId": f"AWS:AIDA{_account_code(account_id, 17)}"},
        "requestParameters": {"sourceIPAddress": SOURCE_IP},
        "responseElements": {"x-amz-request-id": secrets.token_hex(8).upper(),
                             "x-amz-id-2": base64.b64encode(secrets.token_bytes(48)).decode()},
        "s3": {
            "s3SchemaVersion": s3["s3SchemaVersion"],
            "configurationId": s3["configurationId"],
            "bucket": {"name": s3["bucket"]["name"],
                       "ownerIdentity": {"principalId": f"A{_account_code(account_id, 13)}"},
                       "arn": s3["bucket"]["arn"]},
            "object": obj,
        },
    }


def _account_code(account_id: str, length: int) -> str:
    """A stable upper-case id derived from the account, shaped like AWS's principal ids."""
    return base64.b32encode(hashlib.sha256(account_id.encode()).digest()).decode()[:length]
