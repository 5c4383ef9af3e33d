"""What an execution environment is made from: the function's spec, the emulator's settings, its environment."""

from __future__ import annotations

import os
import secrets
import stat
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from emulator.lambda_runtime.isolation import Isolation
from emulator.lambda_runtime.packaging import (
    EnvironmentBuilder,
    EnvironmentRecipe,
    aws_runtime_requirements,
    python_version,
)
from emulator.lambda_runtime.snapshot_template import MOUNT_KEEP_ENV, MOUNT_OPT_ENV, MOUNT_TASK_ENV, TASK_ROOT

COLD_START_MODES = ("fork", "spawn")
FUNCTION_ENV_MODES = ("isolated", "project")
TEMPLATE_SCRIPT = Path(__file__).with_name("snapshot_template.py")
_HOST_TMP = Path("/tmp")  # noqa: S108 - what a private /tmp hides


LATEST = "$LATEST"


@dataclass(frozen=True)
class WorkerSettings:
    """What every environment starts from: the environment, the init time limit, where /tmp lives, how it starts.

    cold_start "fork": environments are forked from a template that ran INIT once (SnapStart's model);
    "spawn": each environment is a new process that runs INIT itself.
    """

    base_env: dict[str, str]
    init_timeout: float
    tmp_root: Path
    cold_start: str = "fork"
    init_retry_seconds: float = 5.0
    builder: EnvironmentBuilder | None = None  # None: functions run on the project's venv (EMULATOR_FUNCTION_ENVS)
    private_tmp: bool = False  # each environment its own /tmp (a mount namespace), else its own TMPDIR only
    isolation: Isolation = field(default_factory=Isolation)  # accounts kept apart; needs private_tmp


@dataclass(frozen=True)
class FunctionSpec:
    """What an environment needs to know about the function it runs."""

    name: str
    arn: str
    handler: str
    code_dir: Path
    timeout_seconds: float
    memory_mb: int
    environment: dict[str, str] = field(default_factory=dict)
    reserved_concurrency: int | None = None
    dead_letter_arn: str | None = None
    code_sha256: str = ""
    runtime: str = "python3.11"
    recipe: EnvironmentRecipe | None = None  # None: the packages of AWS's runtime only (a zip function)
    opt_dir: Path | None = None  # the function's layers, merged in order (its /opt)
    version: str = LATEST  # a published version runs its own code and configuration
    ephemeral_storage_mb: int = 512  # the size of its /tmp

    @property
    def log_group(self) -> str:
        return f"/aws/lambda/{self.name}"

    @property
    def account(self) -> str:
        return self.arn.split(":")[4]

    @property
    def qualified_name(self) -> str:
        """`name` for $LATEST, `name:VERSION` for a published version: one pool (and snapshot) each."""
        return self.name if self.version == LATEST else f"{self.name}:{self.version}"


def qualified_name_of(name_or_arn: str) -> str:
    """`my-fn[:qualifier]` or `arn:aws:lambda:<region>:<account>:function:my-fn[:qualifier]` -> `my-fn[:qualifier]`."""
    if name_or_arn.startswith("arn:"):
        return ":".join(name_or_arn.split(":")[6:8])
    return name_or_arn


def new_log_stream(version: str = LATEST) -> str:
    """A fresh stream name in AWS's shape: `YYYY/MM/DD/[$LATEST]<32 hex>` (the version in the brackets)."""
    return f"{datetime.now(UTC):%Y/%m/%d}/[{version}]{secrets.token_hex(16)}"


@dataclass(frozen=True)
class Runtime:
    """What a function's environments run on: an interpreter and the variables that make up its environment."""

    python: Path
    env: dict[str, str]


def function_runtime(spec: FunctionSpec, settings: WorkerSettings) -> Runtime:
    """The interpreter and variables of the function's environments; builds its environment if it must."""
    version = python_version(spec.runtime)
    env = dict(settings.base_env)
    task_root = TASK_ROOT if settings.private_tmp else str(spec.code_dir)  # the code at /var/task, as on AWS
    path = [task_root]
    if settings.builder is None:
        python = Path(sys.executable)
        path += filter(None, [settings.base_env.get("PYTHONPATH")])
    else:
        folder = settings.builder.build(spec.recipe or EnvironmentRecipe(version, aws_runtime_requirements()))
        python = folder / "bin" / "python"
        path += [str(folder / "task")] if (folder / "task").is_dir() else []
        for name in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"):
            env.pop(name, None)
        project_bin = str(Path(sys.executable).parent)
        env["PATH"] = os.pathsep.join([str(python.parent), *(p for p in env.get("PATH", "").split(os.pathsep)
                                                              if p and p != project_bin)])
    if spec.opt_dir is not None:
        opt = "/opt" if settings.private_tmp else str(spec.opt_dir)
        path += [f"{opt}/python/lib/python{version}/site-packages", f"{opt}/python"]
        env["PATH"] = os.pathsep.join([env.get("PATH", ""), f"{opt}/bin"])
        env["LD_LIBRARY_PATH"] = os.pathsep.join(filter(None, [env.get("LD_LIBRARY_PATH"), f"{opt}/lib"]))
        if settings.private_tmp:
            env[MOUNT_OPT_ENV] = str(spec.opt_dir)
    if settings.private_tmp:
        # the interpreter's whole environment (bin/ and lib/...site-packages), not just bin/: a project or a cache
        # under /tmp (a CI checkout) must stay visible
        env[MOUNT_KEEP_ENV] = os.pathsep.join(_under_host_tmp([settings.tmp_root, spec.code_dir,
                                                                python.parent.parent, spec.opt_dir]))
    env = function_environment(spec, env, task_root)
    if settings.private_tmp:
        env[MOUNT_TASK_ENV] = str(spec.code_dir)
    env["PYTHONPATH"] = os.pathsep.join(path)
    env.update(settings.isolation.variables(spec.account, spec.memory_mb))
    if settings.isolation.enabled:
        env.update(_isolated(spec, settings, python, [Path(p) for p in path if p != task_root]))
    return Runtime(python, env)


def _isolated(spec: FunctionSpec, settings: WorkerSettings, python: Path, import_path: list[Path]) -> dict[str, str]:
    """The mounts that isolate the function's environments, whose uid must read the code."""
    if any(spec.code_dir.resolve().is_relative_to(h.resolve()) for h in settings.isolation.hidden):
        _readable_by_all(spec.code_dir)  # our own copy of the zip: a local folder (hot reload) is left as it is
    settings.tmp_root.mkdir(parents=True, exist_ok=True)
    settings.tmp_root.chmod(0o711)  # environments pass through to their /tmp; none lists the others' names
    interpreter = [python.parent.parent, python.resolve().parent.parent]
    return settings.isolation.mounts([*interpreter, *import_path], settings.tmp_root)


def _readable_by_all(folder: Path) -> None:
    """Files a+r, folders a+rx, as Lambda asks of a package ("644 for files, 755 for folders":
    https://repost.aws/knowledge-center/lambda-deployment-package-errors); unlike Lambda, a zip's 0600 files (Python's
    zipfile writes them so) are opened rather than refused."""
    for path in [folder, *folder.rglob("*")]:
        mode = path.lstat().st_mode
        if not stat.S_ISLNK(mode):
            path.chmod(mode | (0o555 if stat.S_ISDIR(mode) else 0o444 | (0o111 if mode & 0o100 else 0)))


def _under_host_tmp(paths: list[Path | None]) -> list[str]:
    """The folders an environment needs that a private /tmp would hide (outermost first, no nested ones)."""
    inside = sorted({p.resolve() for p in paths if p is not None and p.resolve().is_relative_to(_HOST_TMP)})
    kept: list[Path] = []
    for path in inside:
        if path != _HOST_TMP and not any(path.is_relative_to(k) for k in kept):
            kept.append(path)
    return [str(p) for p in kept]


def probe_private_tmp(env: dict[str, str]) -> str | None:
    """None when environments can have their own /tmp here (mount namespaces allowed), with the isolation `env`
    asks for; else why not."""
    with tempfile.TemporaryDirectory(prefix="emulator-probe-") as folder:
        probe = subprocess.run([sys.executable, str(TEMPLATE_SCRIPT), "--probe", folder], capture_output=True,
                               text=True, timeout=30, check=False, env={**os.environ, **env})
    return None if probe.returncode == 0 else probe.stderr.strip() or f"exit status {probe.returncode}"


def function_environment(spec: FunctionSpec, base_env: dict[str, str], task_root: str) -> dict[str, str]:
    """The variables every environment of the function has; each adds its Runtime API, log stream and TMPDIR."""
    env = dict(base_env)
    env.update(spec.environment)
    env.update(
        {
            "_HANDLER": spec.handler,
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
            "AWS_LAMBDA_FUNCTION_VERSION": spec.version,
            "AWS_LAMBDA_LOG_GROUP_NAME": spec.log_group,
            "LAMBDA_TASK_ROOT": task_root,
            "LAMBDA_RUNTIME_DIR": task_root,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
            "PYTHONUNBUFFERED": "1",
        }
    )
    # AWS's defaults for variables a function may set itself: UTC whatever the host's zone, and the task root's
    # lib/ on the loader path (a zip may ship native libraries there)
    loader_path = [env.get("LD_LIBRARY_PATH"), f"{task_root}/lib"]
    defaults = {"TZ": ":UTC", "LD_LIBRARY_PATH": os.pathsep.join(filter(None, loader_path))}
    env.update({key: value for key, value in defaults.items() if key not in spec.environment})
    return env
