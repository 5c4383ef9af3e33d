"""The emulator patches private moto APIs: this fails loudly the day an upgrade moves them."""

import inspect

import pytest

import emulator.moto_hooks as hooks
from emulator.errors import EmulatorError


def test_the_patched_moto_internals_are_where_the_hooks_expect_them():
    hooks.verify_moto_internals()


def test_a_moved_internal_is_reported_by_name(monkeypatch):
    monkeypatch.setattr(hooks.s3_notifications, "_invoke_awslambda", lambda event: None)
    with pytest.raises(EmulatorError, match="_invoke_awslambda changed signature"):
        hooks.verify_moto_internals()


def test_a_different_moto_version_is_refused(monkeypatch):
    monkeypatch.setattr(hooks.moto, "__version__", "9.9.9")
    with pytest.raises(EmulatorError, match=r"written for 5\.2\.5"):
        hooks.verify_moto_internals()


def test_s3_notifications_still_call_the_hooked_function():
    source = inspect.getsource(hooks.s3_notifications.send_event)
    assert "_invoke_awslambda(" in source
