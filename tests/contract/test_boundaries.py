"""Package boundaries (issues 13, 20): judging loads no image or tensor library; the emulator none of the pipeline,
nor the deploy that seeds it (the stack is put on the emulator from outside, through its endpoint)."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import contract
from tests.conftest import ROOT

HEAVY = {"cv2", "dlib", "numpy", "torch"}


def loaded_packages(module: str) -> set[str]:
    """Top-level packages `python -X importtime -c 'import <module>'` loads, in a fresh interpreter."""
    run = subprocess.run([sys.executable, "-X", "importtime", "-c", f"import {module}"], cwd=ROOT,
                         capture_output=True, text=True, check=True, timeout=120)
    lines = [line for line in run.stderr.splitlines() if line.startswith("import time:") and "|" in line]
    return {line.rsplit("|", 1)[1].strip().split(".")[0] for line in lines}


@pytest.mark.parametrize(("module", "forbidden"), [
    ("grader.checker", HEAVY | {"device", "facerec"}),
    ("contract", HEAVY | {"device", "facerec", "grader", "lambdas", "emulator"}),
    ("emulator.cloud", HEAVY | {"device", "facerec", "grader", "lambdas"}),  # the whole cloud, loaded lazily
])
def test_a_module_loads_nothing_it_must_not_depend_on(module: str, forbidden: set[str]) -> None:
    loaded = loaded_packages(module)
    assert module.split(".")[0] in loaded
    assert loaded & forbidden == set()


def test_the_face_library_names_strangers_with_the_contracts_label() -> None:
    import facerec

    assert facerec.UNKNOWN == contract.UNKNOWN


def imported_packages(path: Path) -> set[str]:
    """Top-level packages a module's import statements name, wherever they stand (late imports included)."""
    packages = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            packages |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            packages.add(node.module.split(".")[0])
    return packages


@pytest.mark.parametrize("path", sorted((ROOT / "emulator").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_emulator_module_imports_the_deploy_or_the_face_library(path: Path) -> None:
    assert imported_packages(path) & {"deploy", "facerec"} == set()


def test_the_import_walk_sees_late_imports(tmp_path: Path) -> None:
    module = tmp_path / "late.py"
    module.write_text("def seed():\n    from facerec.store import publish_model\n    import deploy.stack\n")
    assert imported_packages(module) == {"facerec", "deploy"}
