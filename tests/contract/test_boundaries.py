"""Package boundaries (issue 13): judging loads no image or tensor library; the emulator none of the pipeline."""

import subprocess
import sys

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
    ("emulator", HEAVY | {"device", "facerec", "grader", "lambdas"}),
])
def test_a_module_loads_nothing_it_must_not_depend_on(module: str, forbidden: set[str]) -> None:
    loaded = loaded_packages(module)
    assert module.split(".")[0] in loaded
    assert loaded & forbidden == set()


def test_the_face_library_names_strangers_with_the_contracts_label() -> None:
    import facerec

    assert facerec.UNKNOWN == contract.UNKNOWN
