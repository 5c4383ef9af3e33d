"""Which account a request's access key names (emulator/aws/accounts.py), without creating IAM backends."""

from __future__ import annotations

from collections.abc import Iterator

import moto.iam.models as iam_models
import pytest
from moto.core import DEFAULT_ACCOUNT_ID

from emulator.aws import accounts
from emulator.aws.registry import PatchRegistry

STUDENT = "210987654321"
OTHER = "345678901234"


@pytest.fixture
def account_of() -> Iterator[object]:
    registry = PatchRegistry()
    registry.install(accounts.patches())
    yield iam_models.get_account_id_from
    registry.uninstall()
    for account in (STUDENT, OTHER):
        iam_models.iam_backends.pop(account, None)


def _partitions(account: str) -> list[str]:
    return sorted(dict.keys(iam_models.iam_backends[account]))


def test_a_twelve_digit_key_is_its_own_account(account_of) -> None:
    assert account_of(STUDENT) == STUDENT


def _issue_key(account: str, key: str) -> None:
    """An access key in the account's IAM, as IAM's CreateAccessKey stores it (the lookup reads only its id): no
    moto model is made, which would outlive the test in moto's class-level list of instances (its dashboard)."""
    iam_models.iam_backends[account]["aws"].access_keys[key] = object()


def test_an_iam_users_key_names_the_account_of_the_user(account_of) -> None:
    _issue_key(STUDENT, "key-of-a-student-user")
    assert account_of("key-of-a-student-user") == STUDENT
    assert account_of("test") == DEFAULT_ACCOUNT_ID


def test_looking_a_key_up_creates_no_iam_backend_of_another_partition(account_of) -> None:
    """moto's own lookup created all six partitions' IAM of every account (each loading AWS's managed policies)."""
    _issue_key(STUDENT, "key-of-a-student-user")
    iam_models.iam_backends[OTHER]["aws"]

    account_of("a-key-no-account-issued")

    assert _partitions(STUDENT) == ["aws"]
    assert _partitions(OTHER) == ["aws"]
