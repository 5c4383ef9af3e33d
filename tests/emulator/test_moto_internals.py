"""Every private name of moto, cheroot, awslambdaric and botocore the emulator touches is registered and verified;
nothing else is patched."""

import ast
import inspect
from pathlib import Path

import pytest

import emulator.aws.s3 as s3_wing
from emulator.aws import hooks, registry
from emulator.aws.registry import Internal, Patch, PatchRegistry, UnverifiedInternalError
from emulator.errors import EmulatorError

EMULATOR = Path(__file__).resolve().parents[2] / "emulator"
PRIVATE_OWNERS = ("moto", "cheroot", "awslambdaric", "botocore")


class Owner:
    @staticmethod
    def greet(name: str) -> str:
        return f"hello {name}"


def test_every_registered_internal_is_where_the_emulator_expects_it():
    hooks.verify_internals()


def test_a_moved_internal_is_reported_by_name(monkeypatch):
    monkeypatch.setattr(s3_wing.s3_notifications, "_invoke_awslambda", lambda event: None)
    with pytest.raises(EmulatorError, match="_invoke_awslambda changed signature"):
        hooks.verify_internals()


def test_a_different_library_version_is_refused(monkeypatch):
    monkeypatch.setitem(registry.PINNED, "moto", "9.9.9")
    with pytest.raises(EmulatorError, match=r"moto 5\.2\.5 installed; emulator/aws is written for 9\.9\.9"):
        hooks.verify_internals()


def test_an_internal_with_nothing_to_check_is_refused():
    with pytest.raises(UnverifiedInternalError):
        Internal(Owner, "greet")


def test_the_registry_refuses_anything_but_a_registered_patch():
    with pytest.raises(UnverifiedInternalError):
        PatchRegistry().install([(Owner, "greet", lambda original: original)])  # type: ignore[list-item]


def test_the_registry_installs_nothing_when_one_patch_fails_its_check():
    good = Patch(Internal(Owner, "greet", ("name",)), lambda original: lambda name: "patched")
    stale = Patch(Internal(Owner, "greet", source="goodbye"), lambda original: original)
    with pytest.raises(EmulatorError, match="no longer holds 'goodbye'"):
        PatchRegistry().install([good, stale])
    assert Owner.greet("x") == "hello x"


def test_every_patch_the_hooks_install_is_verified_first(monkeypatch, tmp_path):
    verified: list[str] = []
    original_verify = Internal.verify
    monkeypatch.setattr(Internal, "verify", lambda self: (verified.append(self.label), original_verify(self))[1])
    applied: list[str] = []
    original_apply = PatchRegistry._apply
    monkeypatch.setattr(PatchRegistry, "_apply",
                        lambda self, patch: (applied.append(patch.internal.label), original_apply(self, patch))[1])
    registry_ = PatchRegistry()
    registry_.install([*s3_wing.notification_patches(lambda arn, body: None), *s3_wing.state_patches(None)])
    registry_.uninstall()
    assert applied and set(applied) <= set(verified)


def test_uninstall_restores_the_originals():
    before = inspect.getattr_static(Owner, "greet")
    patches = PatchRegistry()
    patches.install([Patch(Internal(Owner, "greet", ("name",)), lambda original: lambda name: "patched")])
    assert Owner.greet("x") == "patched"
    patches.uninstall()
    assert inspect.getattr_static(Owner, "greet") is before


def test_s3_notifications_still_call_the_hooked_function():
    assert "_invoke_awslambda(" in inspect.getsource(s3_wing.s3_notifications.send_event)


def _private_attributes_of_libraries(path: Path) -> list[str]:
    """`x._name` reads in a module that imports moto, cheroot or awslambdaric, x not being self/cls."""
    tree = ast.parse(path.read_text())
    imports_library = any(
        (isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in PRIVATE_OWNERS)
        or (isinstance(node, ast.Import) and any(a.name.split(".")[0] in PRIVATE_OWNERS for a in node.names))
        for node in ast.walk(tree))
    if not imports_library:
        return []
    return [f"{path.name}:{node.lineno} {node.attr}" for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__")
            and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls", "super"))]


def test_no_module_outside_the_wing_touches_a_library_private_name():
    outside = [p for p in EMULATOR.rglob("*.py") if "aws" not in p.relative_to(EMULATOR).parts
               and p.name != "snapshot_template.py"]  # runs in the function's interpreter: emulator/aws/awslambdaric.py
    touches = [touch for path in outside for touch in _private_attributes_of_libraries(path)]
    assert touches == []


def test_checks_look_at_the_library_even_while_its_internals_are_patched():
    patches = PatchRegistry()
    patches.install(s3_wing.notification_patches(lambda arn, body: None))
    try:
        hooks.verify_internals()
        with pytest.raises(EmulatorError, match="patched already"):
            PatchRegistry().install(s3_wing.notification_patches(lambda arn, body: None))
    finally:
        patches.uninstall()
    hooks.verify_internals()


def test_functions_get_the_awslambdaric_whose_internals_are_verified():
    runtime = (EMULATOR / "lambda_runtime" / "aws-runtime.txt").read_text()
    assert f"awslambdaric=={registry.PINNED['awslambdaric']}" in runtime.split()
