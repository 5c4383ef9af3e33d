"""Per-function environments, built as `sam build` builds them: a venv per runtime and requirements, offline.

A function runs with what its deployment unit ships (its code, its layers, what its Dockerfile installs) plus
what AWS's Python runtime provides (`emulator/lambda_runtime/aws-runtime.txt`), not with the project's venv.
Each environment is a `uv` venv built from the local wheelhouse that `make install` fills (`--offline
--no-index`), cached (`.venv/function-envs`, EMULATOR_CACHE_DIR) by a hash of the interpreter and the
requirements, so a second start reuses it as it is. A requirement the wheelhouse lacks is resolved from the
user's package index, as a Docker build (`sam build --use-container`) would: `EMULATOR_PACKAGE_INDEX`, else uv's
or pip's own setting (UV_INDEX_URL, PIP_INDEX_URL, `pip config get global.index-url`), else PyPI;
`EMULATOR_PACKAGE_INDEX=offline` keeps to the wheelhouse. Offline, the error names the missing package.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache, cached_property
from io import BytesIO
from pathlib import Path

import uv

from emulator.lambda_runtime.errors import EmulatorError
from emulator.lambda_runtime.procs import running_programs

logger = logging.getLogger(__name__)
_CONTENT_EPOCH, _CONTENT_SPAN = 946_684_800, 2**28  # 2000-01-01 UTC; ~8.5 years of seconds

AWS_RUNTIME_FILE = Path(__file__).with_name("aws-runtime.txt")
DEFAULT_WHEELHOUSE = Path(sys.prefix) / "wheelhouse"  # .venv/wheelhouse, filled by `make install`
DEFAULT_CACHE_DIR = Path(sys.prefix) / "function-envs"  # built from the wheelhouse, beside it (hard links work)
THIS_PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
_PYTHON_RUNTIME = re.compile(r"python(\d+\.\d+)")
_COMPLETE = ".complete"
_PROBE_SECONDS = 15.0


class RuntimeRefusedError(EmulatorError):
    """The emulator cannot run this `Runtime` (not Python, or no interpreter for it on this machine)."""


class EnvironmentBuildError(EmulatorError):
    """A function's environment could not be built (e.g. a requirement missing from the wheelhouse)."""


@dataclass(frozen=True)
class EnvironmentRecipe:
    """What goes into a function's environment: its Python, its requirement lines, files beside its code."""

    python: str = THIS_PYTHON
    requirements: tuple[str, ...] = ()
    task_files: tuple[tuple[Path, str], ...] = ()  # (source, path under the task root): an image's other COPYs


def aws_runtime_requirements() -> tuple[str, ...]:
    """The packages AWS's Python runtime provides (awslambdaric, boto3, botocore), pinned."""
    return requirement_lines(AWS_RUNTIME_FILE.read_text())


def requirement_lines(text: str) -> tuple[str, ...]:
    """The requirements of a requirements.txt, without comments and blank lines."""
    lines = (line.split(" #")[0].strip() for line in text.splitlines())
    return tuple(line for line in lines if line and not line.startswith("#"))


def python_version(runtime: str) -> str:
    """`python3.12` -> `3.12`; a runtime of another language is refused: the emulator runs Python only."""
    match = _PYTHON_RUNTIME.fullmatch(runtime or "")
    if match is None:
        raise RuntimeRefusedError(
            f"The local emulator cannot run runtime {runtime!r}: it runs Python functions only (python3.x, or a "
            "container image built from a Python Dockerfile). Deploy this function to AWS or LocalStack instead.")
    return match.group(1)


@cache
def interpreter(version: str) -> Path:
    """The interpreter for Python `version`: this one for its own version, else a working `pythonX.Y` on PATH."""
    if version == THIS_PYTHON:
        return Path(getattr(sys, "_base_executable", sys.executable))
    found = shutil.which(f"python{version}")
    how = (f"Install Python {version} so that `python{version}` runs from the emulator's PATH (e.g. `uv python "
           f"install {version}` or `apt-get install python{version}`) and restart the emulator, or use "
           f"python{THIS_PYTHON}.")
    if found is None:
        raise RuntimeRefusedError(f"The local emulator has no interpreter for runtime python{version}: no "
                                  f"python{version} on PATH. {how}")
    probe = subprocess.run([found, "-c", "import sys; print(sys.executable)"], capture_output=True, text=True,
                           timeout=_PROBE_SECONDS, check=False)
    if probe.returncode != 0:
        reason = (probe.stderr.strip().splitlines() or ["no output"])[0]
        raise RuntimeRefusedError(f"The local emulator has no interpreter for runtime python{version}: {found} "
                                  f"does not run ({reason}). {how}")
    return Path(probe.stdout.strip())


def check_runtime(runtime: str) -> None:
    """Raises RuntimeRefusedError when the emulator cannot run functions of this runtime."""
    interpreter(python_version(runtime))


ENV_PACKAGE_INDEX = "EMULATOR_PACKAGE_INDEX"
PYPI = "https://pypi.org/simple"


def user_package_index() -> str | None:
    """Where requirements the wheelhouse lacks come from: EMULATOR_PACKAGE_INDEX (`offline`: nowhere), else the
    index uv or pip is configured with, else PyPI."""
    chosen = os.environ.get(ENV_PACKAGE_INDEX) or os.environ.get("UV_INDEX_URL") or os.environ.get("PIP_INDEX_URL")
    if chosen is None:
        configured = subprocess.run([sys.executable, "-m", "pip", "config", "get", "global.index-url"],
                                    capture_output=True, text=True, check=False)
        chosen = configured.stdout.strip() if configured.returncode == 0 and configured.stdout.strip() else PYPI
    return None if chosen == "offline" else chosen


def wheelhouse_only() -> None:
    """No package index: requirements come from the wheelhouse only."""
    return None


class EnvironmentBuilder:
    """Builds and caches environments under `cache_dir/envs`; uv's own cache is `cache_dir/uv`.

    `find_index` names the index for requirements the wheelhouse lacks (None: the wheelhouse only); it is asked
    once, the first time one is needed (user_package_index runs pip: ~0.3 CPU-s a start that builds nothing)."""

    def __init__(self, cache_dir: Path, wheelhouse: Path, find_index: Callable[[], str | None] = wheelhouse_only
                 ) -> None:
        self._envs = cache_dir / "envs"
        self._uv_cache = cache_dir / "uv"
        self._wheelhouse = wheelhouse
        self._find_index = find_index
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    @cached_property
    def _index_url(self) -> str | None:
        return self._find_index()

    def build(self, recipe: EnvironmentRecipe) -> Path:
        """The environment's folder (its interpreter is `bin/python`), built now unless already in the cache."""
        python = interpreter(recipe.python)
        key = _recipe_key(recipe, python)
        target = self._envs / key
        with contextlib.suppress(FileNotFoundError):
            os.utime(target / _COMPLETE)  # its mtime says when it was last used (see prune)
            return target
        with self._exclusive(key):
            if not (target / _COMPLETE).is_file():
                shutil.rmtree(target, ignore_errors=True)
                self._create(recipe, python, target)
                (target / _COMPLETE).touch()
        return target

    def prune(self, unused_days: float) -> list[Path]:
        """Removes environments no function has used for `unused_days` (nor any running process); returns them.

        A code or requirements change builds a new environment and leaves the old one behind, so without this
        the cache only grows. One a running process still uses is kept, however old.
        """
        cutoff = time.time() - unused_days * 86_400
        stale = [target for target in sorted(self._envs.glob("[!.]*")) if _last_used(target) < cutoff]
        programs = running_programs() if stale else set()
        removed = []
        for target in stale:
            if any(program.startswith(str(target) + os.sep) for program in programs):
                continue
            with self._exclusive(target.name):
                (target / _COMPLETE).unlink(missing_ok=True)  # a concurrent build() now rebuilds it
                shutil.rmtree(target, ignore_errors=True)
            removed.append(target)
        return removed

    def _create(self, recipe: EnvironmentRecipe, python: Path, target: Path) -> None:
        self._uv("venv", "--quiet", "--python", str(python), str(target))
        requirements = target / "requirements.txt"
        requirements.write_text("\n".join(recipe.requirements) + "\n")
        install = ("pip", "install", "--quiet", "--find-links", str(self._wheelhouse),
                   "--python", str(target / "bin" / "python"), "-r", str(requirements))
        try:
            self._uv(*install, "--offline", "--no-index")
        except EnvironmentBuildError:
            if self._index_url is None:
                raise
            logger.info("%s: not all in the wheelhouse; resolving from %s", requirements, self._index_url)
            self._uv(*install, "--index-url", self._index_url)
        for source, destination in recipe.task_files:
            _copy(source, target / "task" / destination)

    def _uv(self, *args: str) -> None:
        env = {**os.environ, "UV_CACHE_DIR": str(self._uv_cache), "UV_PYTHON_DOWNLOADS": "never",
               "UV_NO_CONFIG": "1"}
        env.pop("VIRTUAL_ENV", None)
        done = subprocess.run([uv.find_uv_bin(), *args], capture_output=True, text=True, env=env, check=False)
        if done.returncode != 0:
            message = " ".join(done.stderr.split())
            where = (f"the wheelhouse {self._wheelhouse}, then {self._index_url}" if self._index_url else
                     f"the wheelhouse {self._wheelhouse} only, offline (EMULATOR_PACKAGE_INDEX=offline)")
            raise EnvironmentBuildError(f"cannot build the function's environment: {message} (the emulator "
                                        f"installs from {where}; add the package to the wheelhouse: `make "
                                        f"install` fills it, `pip download -d {self._wheelhouse} "
                                        "PACKAGE==VERSION` adds one)")

    @contextlib.contextmanager
    def _exclusive(self, key: str) -> Iterator[None]:
        """One builder per environment, across threads and across emulator processes sharing the cache."""
        with self._locks_guard:
            lock = self._locks.setdefault(key, threading.Lock())
        self._envs.mkdir(parents=True, exist_ok=True)
        with lock, (self._envs / f".{key}.lock").open("w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield


def _last_used(target: Path) -> float:
    """When build() last returned this environment (its folder's mtime if it never completed)."""
    for path in (target / _COMPLETE, target):
        with contextlib.suppress(FileNotFoundError):
            return path.stat().st_mtime
    return 0.0


def layer_folder(cache_dir: Path, sha256: str, data: bytes) -> Path:
    """A layer's zip, extracted once per content hash."""
    return _extracted(cache_dir / "layers" / _safe(sha256), data)


def merged_opt(cache_dir: Path, layers: tuple[Path, ...]) -> Path:
    """The layers merged in order, as Lambda extracts them into /opt (a later layer's file replaces an earlier's)."""
    key = hashlib.sha256("\n".join(str(p) for p in layers).encode()).hexdigest()[:16]
    target = cache_dir / "opt" / key
    if target.is_dir():
        return target
    staging = _staging(target)
    for layer in layers:
        shutil.copytree(layer, staging, dirs_exist_ok=True, symlinks=True)
    return _publish(staging, target)


def extract_zip(data: bytes, target: Path) -> None:
    """Extracts a function's or layer's zip, refusing members that would land outside `target`; keeps modes; every
    file gets the zip's content_mtime."""
    root = target.resolve()
    mtime = content_mtime(data)
    with zipfile.ZipFile(BytesIO(data)) as archive:
        for member in archive.infolist():
            if not (root / member.filename).resolve().is_relative_to(root):
                raise EmulatorError(f"zip member {member.filename!r} escapes the code folder")
        for member in archive.infolist():
            path = Path(archive.extract(member, root))
            mode = member.external_attr >> 16 & 0o777
            if mode and path.is_file():
                path.chmod(mode)
            if path.is_file():
                os.utime(path, (mtime, mtime))


def content_mtime(data: bytes) -> int:
    """A modification time (between 2000 and 2008) that is a function of the zip's bytes.

    Python takes a cached .pyc as current when its source's whole-second mtime and size match. Every function sees
    its code at /var/task (its layers at /opt), so where PYTHONPYCACHEPREFIX puts every environment's .pyc in one
    folder (`make test` does), two zips unpacked in the same second with a file of the same size ran each other's
    bytecode (tests/emulator/test_fidelity_environments.py saw it). The same zip always gets the same mtime (its
    .pyc stays good across emulators); two others, one in 2**28."""
    return _CONTENT_EPOCH + int.from_bytes(hashlib.sha256(data).digest()[:4], "big") % _CONTENT_SPAN


def _extracted(target: Path, data: bytes) -> Path:
    if target.is_dir():
        return target
    staging = _staging(target)
    try:
        extract_zip(data, staging)
    except (OSError, EmulatorError, zipfile.BadZipFile):
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return _publish(staging, target)


def _staging(target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.parent / f".{target.name}-{os.getpid()}-{threading.get_ident()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    return staging


def _publish(staging: Path, target: Path) -> Path:
    """Moves a finished folder into place; another builder that got there first wins."""
    try:
        staging.rename(target)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
        if not target.is_dir():
            raise
    return target


def _copy(source: Path, destination: Path) -> None:
    destination.parent.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, destination, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
    else:
        shutil.copy2(source, destination)


def _recipe_key(recipe: EnvironmentRecipe, python: Path) -> str:
    """Interpreter, version, requirements and the content of the files copied beside the code."""
    digest = hashlib.sha256(json.dumps([str(python), sys.version if recipe.python == THIS_PYTHON else recipe.python,
                                        list(recipe.requirements),
                                        [[str(s), d] for s, d in recipe.task_files]]).encode())
    for source, _ in recipe.task_files:
        for path in sorted([source] if source.is_file() else source.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(source.parent)).encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _safe(name: str) -> str:
    return name.replace("/", "_").replace("+", "-")
