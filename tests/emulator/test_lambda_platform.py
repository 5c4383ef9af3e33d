"""The platform check: shared libraries a function ships, read as ELF, against the OS AWS runs its runtime on."""

from pathlib import Path

import pytest
from cryptography.hazmat.bindings import _rust

from emulator.aws.lambda_platform import check_zip, elf_problem, platform_mode
from emulator.errors import ConfigError
from tests.emulator.functions import zip_files

NEEDS_GLIBC_2_34 = Path(_rust.__file__).read_bytes()  # cryptography's wheel: manylinux_2_34



def test_a_library_needing_a_newer_glibc_than_amazon_linux_2_is_named_with_the_version():
    problem = elf_problem(NEEDS_GLIBC_2_34, "python3.11", "x86_64")
    assert problem is not None and "GLIBC_2.34" in problem and "Amazon Linux 2 " in problem


def test_the_same_library_fits_amazon_linux_2023():
    assert elf_problem(NEEDS_GLIBC_2_34, "python3.12", "x86_64") is None


def test_a_library_for_another_architecture_is_named():
    problem = elf_problem(NEEDS_GLIBC_2_34, "python3.12", "arm64")
    assert problem is not None and "EM_X86_64" in problem


def test_only_elf_files_of_the_zip_are_judged_and_each_is_named_by_its_path():
    code = zip_files({"app.py": b"def handler(e, c): pass\n", "lib/_rust.so": NEEDS_GLIBC_2_34, "README": b"\x7fE"})
    findings = check_zip(code, "python3.11", "x86_64", origin="layer x: /opt/")
    assert [f.path for f in findings] == ["layer x: /opt/lib/_rust.so"]


def test_a_zip_that_is_not_a_zip_has_no_findings():
    assert check_zip(b"not a zip", "python3.11", "x86_64") == []


def test_a_bad_mode_is_an_error(monkeypatch):
    monkeypatch.setenv("EMULATOR_PLATFORM_CHECK", "loud")
    with pytest.raises(ConfigError, match="warn, refuse, off"):
        platform_mode()
