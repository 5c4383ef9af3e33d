"""Accounts from access keys: one emulator holds many AWS accounts, each request is the account of its key.

LocalStack's convention (https://docs.localstack.cloud/references/multi-account-setups/): an access key id that is
a 12-digit number is that account's. moto 5.2.5 (pinned) already maps the keys it issued (IAM users' `AKIA...`,
STS sessions' `ASIA...`) to their account in `moto.iam.models.get_account_id_from`, and everything else to its
default account (123456789012, the emulator's DEFAULT_ACCOUNT too). Two touches make the 12-digit rule hold:

- `BaseResponse.get_access_key` finds a key only when it is 20 upper-case letters and digits (the shape of AWS's
  own keys); it now reads the key id from SigV4's `Credential=` (header or presigned URL) whatever its shape;
- `get_account_id_from`: a 12-digit key is its own account; other keys as moto maps them, looked up in the IAM
  backends that exist. moto's lookup indexes every account's backend of all six partitions, which creates them:
  each one loads AWS's ~1,400 managed policies (about a second of CPU) and adds ~200 KB to every state snapshot,
  so one request with a non-numeric key made every account cost six times that. A key is only ever created in a
  backend that exists, so the answer is the same.
"""

from __future__ import annotations

import re
from typing import Any

import moto.iam.models as iam_models
from moto.core.responses import BaseResponse

from emulator.aws.registry import Internal, Patch

GET_ACCESS_KEY = Internal(BaseResponse, "get_access_key", ("self",), source="access_key_regex")
ACCOUNT_OF_KEY = Internal(iam_models, "get_account_id_from", ("access_key",),
                          source="for partition in PARTITION_NAMES")
INTERNALS = (GET_ACCESS_KEY, ACCOUNT_OF_KEY)

_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/")
_ACCOUNT_ID = re.compile(r"\d{12}")


def patches() -> list[Patch]:
    return [Patch(GET_ACCESS_KEY, _reading_any_key), Patch(ACCOUNT_OF_KEY, _twelve_digits_first)]


def access_key_of(headers: Any, querystring: dict[str, Any]) -> str | None:
    """The access key id a SigV4 request was signed with (Authorization header or presigned URL), None if unsigned."""
    match = _CREDENTIAL.search(str(headers.get("Authorization") or ""))
    if match:
        return match.group(1)
    presigned = querystring.get("X-Amz-Credential")
    if presigned:
        value = presigned[0] if isinstance(presigned, list) else presigned
        return str(value).split("/")[0] or None
    return None


def account_of_key(access_key: str) -> str | None:
    """The account a 12-digit access key id names, None for any other key."""
    return access_key if _ACCOUNT_ID.fullmatch(access_key) else None


def _reading_any_key(original: Any) -> Any:
    def get_access_key(response: BaseResponse) -> str:
        return access_key_of(response.headers, response.querystring) or original(response)

    return get_access_key


def _twelve_digits_first(original: Any) -> Any:
    def get_account_id_from(access_key: str) -> str:
        return account_of_key(access_key) or account_holding(access_key)

    return get_account_id_from


def account_holding(access_key: str) -> str:
    """The account whose IAM has this access key, else moto's default account: moto's lookup over the IAM backends
    that exist, none created by looking."""
    for account_id, partitions in list(iam_models.iam_backends.items()):
        if any(access_key in backend.access_keys for backend in list(dict.values(partitions))):
            return account_id
    return iam_models.DEFAULT_ACCOUNT_ID
