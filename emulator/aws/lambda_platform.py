"""Will the shared libraries a function ships load on the OS AWS runs its runtime on?

A wheel built on this machine (glibc 2.36) may need symbol versions Amazon Linux does not have: on AWS the import
fails with `GLIBC_2.28 not found`, here it works. Each ELF file in the function's zip and layers is read with
pyelftools: its machine must match the function's `Architectures`, and its `GLIBC_x.y` version needs must be
within the runtime's OS. Runtimes and their OS: https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html
(python3.9-3.11: Amazon Linux 2, glibc 2.26; python3.12 and later: Amazon Linux 2023, glibc 2.34:
https://docs.aws.amazon.com/linux/al2023/ug/compare-with-al2.html).
"""

from __future__ import annotations

import io
import os
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile
from elftools.elf.gnuversions import GNUVerNeedSection

from emulator.errors import ConfigError

ENV_PLATFORM_CHECK = "EMULATOR_PLATFORM_CHECK"  # warn (default): log it; refuse: CreateFunction fails; off
PLATFORM_MODES = ("warn", "refuse", "off")
RUNTIME_GLIBC = {"python3.9": (2, 26), "python3.10": (2, 26), "python3.11": (2, 26), "python3.12": (2, 34),
                 "python3.13": (2, 34), "python3.14": (2, 34)}
RUNTIME_OS = {(2, 26): "Amazon Linux 2", (2, 34): "Amazon Linux 2023"}
ELF_MACHINES = {"x86_64": "EM_X86_64", "arm64": "EM_AARCH64"}
_GLIBC = re.compile(r"GLIBC_(\d+)\.(\d+)")
_ELF_MAGIC = b"\x7fELF"


@dataclass(frozen=True)
class PlatformFinding:
    """One file that would not load on AWS, and why."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


def check_zip(code: bytes, runtime: str | None, architecture: str, origin: str = "") -> list[PlatformFinding]:
    """Every ELF file of a zip whose machine or glibc needs do not fit the runtime's OS on AWS."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(code))
    except zipfile.BadZipFile:
        return []
    findings = []
    with archive:
        for member in archive.infolist():
            if member.is_dir() or member.file_size < len(_ELF_MAGIC):
                continue
            with archive.open(member) as handle:
                if handle.read(len(_ELF_MAGIC)) != _ELF_MAGIC:
                    continue
            reason = elf_problem(archive.read(member), runtime, architecture)
            if reason:
                findings.append(PlatformFinding(f"{origin}{member.filename}", reason))
    return findings


def check_installed(site_packages: Path, runtime: str, architecture: str, origin: str = "") -> list[PlatformFinding]:
    """The installed packages (top-level folders or modules of `site_packages`) with an ELF file that would not
    load for the runtime on AWS: one finding per package, its first such file."""
    findings = []
    for package in sorted(site_packages.iterdir()):
        files = [package] if package.is_file() else sorted(package.rglob("*"))
        for path in files:
            reason = _file_problem(path, runtime, architecture)
            if reason:
                findings.append(PlatformFinding(f"{origin}{path.relative_to(site_packages)}", reason))
                break
    return findings


def _file_problem(path: Path, runtime: str, architecture: str) -> str | None:
    if path.is_symlink() or not path.is_file():
        return None
    with path.open("rb") as handle:
        if handle.read(len(_ELF_MAGIC)) != _ELF_MAGIC:
            return None
        handle.seek(0)
        return elf_problem(handle, runtime, architecture)


def elf_problem(data: bytes | BinaryIO, runtime: str | None, architecture: str) -> str | None:
    """Why this ELF file (its bytes or an open binary file) would not load for the runtime and architecture on
    AWS, None when it would."""
    try:
        elf = ELFFile(io.BytesIO(data) if isinstance(data, bytes) else data)
        machine = elf["e_machine"]
        expected = ELF_MACHINES.get(architecture)
        if expected and machine != expected:
            return f"built for {machine}, the function's architecture is {architecture} ({expected})"
        limit = RUNTIME_GLIBC.get(runtime or "")
        needed = max_glibc_needed(elf)
        if limit and needed and needed > limit:
            return (f"needs GLIBC_{needed[0]}.{needed[1]}; {runtime} runs on {RUNTIME_OS[limit]} with glibc "
                    f"{limit[0]}.{limit[1]} (on AWS: 'version `GLIBC_{needed[0]}.{needed[1]}' not found')")
    except (ELFError, ValueError, KeyError) as exc:
        return f"not a readable ELF file ({exc})"
    return None


def max_glibc_needed(elf: ELFFile) -> tuple[int, int] | None:
    """The highest GLIBC_x.y symbol version the file needs (its .gnu.version_r), None when it needs none."""
    highest = None
    for section in elf.iter_sections():
        if not isinstance(section, GNUVerNeedSection):
            continue
        for _library, versions in section.iter_versions():
            for version in versions:
                match = _GLIBC.fullmatch(version.name)
                if match:
                    found = (int(match.group(1)), int(match.group(2)))
                    highest = found if highest is None or found > highest else highest
    return highest


def platform_mode() -> str:
    """EMULATOR_PLATFORM_CHECK: warn, refuse or off (a bad value is an error, not silently warn)."""
    mode = os.environ.get(ENV_PLATFORM_CHECK, "warn")
    if mode not in PLATFORM_MODES:
        raise ConfigError(f"{ENV_PLATFORM_CHECK}={mode!r}: expected one of {', '.join(PLATFORM_MODES)}")
    return mode
