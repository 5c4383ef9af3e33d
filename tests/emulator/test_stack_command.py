"""The emulator's stack command: what it is called with, and a failing one named with the end of its output."""

import sys
from pathlib import Path

import pytest

from emulator.config import EmulatorConfig
from emulator.errors import StackDeployError
from emulator.stack_command import deploy_stack, stack_argv

FAILING = (sys.executable, "-c", "import sys; print('step one'); print('no model here', file=sys.stderr); sys.exit(3)")


def test_the_command_gets_the_stack_its_handlers_and_its_seed(tmp_path: Path) -> None:
    config = EmulatorConfig(stack_command=("deployer",), template=tmp_path / "t.yaml", lambdas_dir=tmp_path,
                            seed_dir=None, stack_name="mine")
    assert stack_argv(config) == ["deployer", "--stack-name", "mine", "--template", str(tmp_path / "t.yaml"),
                                  "--lambdas", str(tmp_path), "--no-seed"]
    seeded = EmulatorConfig(stack_command=("deployer",), seed_dir=tmp_path)
    assert stack_argv(seeded)[-2:] == ["--seed", str(tmp_path)]


def test_a_failing_command_is_named_with_its_output() -> None:
    with pytest.raises(StackDeployError, match=r"failed \(exit 3\):\n(.|\n)*no model here"):
        deploy_stack(EmulatorConfig(stack_command=FAILING), {"PATH": "/usr/bin:/bin"})


def test_a_missing_command_is_a_clear_error() -> None:
    with pytest.raises(StackDeployError, match="cannot run"):
        deploy_stack(EmulatorConfig(stack_command=("/nonexistent/deployer",)), {})
