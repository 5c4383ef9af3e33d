"""emulator/lambda_runtime/ imports nothing of the emulator above it (issue 20): settings and code come in as
arguments."""

from __future__ import annotations

import ast
from pathlib import Path

import emulator.lambda_runtime

PACKAGE = "emulator.lambda_runtime"
RUNTIME_DIR = Path(emulator.lambda_runtime.__file__).parent


def imports_above(source: str, depth: int = 1) -> list[str]:
    """The modules `source` imports from `emulator` outside the runtime package; `depth`: how deep the module lies
    below the package (a relative import of more levels leaves it)."""
    above = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level > depth:
            names = ["." * node.level + (node.module or "")]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""] if node.level == 0 else []
        else:
            continue
        above += [name for name in names if name.startswith(".") or _emulator_outside_runtime(name)]
    return above


def _emulator_outside_runtime(name: str) -> bool:
    inside = name == PACKAGE or name.startswith(PACKAGE + ".")
    return (name == "emulator" or name.startswith("emulator.")) and not inside


def test_no_runtime_module_imports_from_the_emulator_above_it() -> None:
    modules = sorted(RUNTIME_DIR.rglob("*.py"))
    assert len(modules) > 10
    offenders = {}
    for path in modules:
        depth = len(path.relative_to(RUNTIME_DIR).parts)
        found = imports_above(path.read_text(), depth)
        if found:
            offenders[str(path.relative_to(RUNTIME_DIR))] = found
    assert offenders == {}


def test_the_check_sees_every_way_of_reaching_up() -> None:
    source = ("import emulator.config\n"
              "from emulator import cloud\n"
              "from emulator.hot_reload import LocalCode\n"
              "from .. import errors\n"
              "def late():\n    from emulator.packaging import interpreter\n")
    assert imports_above(source) == ["emulator.config", "emulator", "emulator.hot_reload", "..", "emulator.packaging"]


def test_imports_inside_the_runtime_and_elsewhere_pass() -> None:
    source = ("import json\n"
              "from emulator.lambda_runtime.spec import FunctionSpec\n"
              "from emulator.lambda_runtime import errors\n"
              "from . import pool\n"
              "import emulatorish\n")
    assert imports_above(source) == []
