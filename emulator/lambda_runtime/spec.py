"""What an execution environment is made from: the function's spec, the emulator's settings, its environment."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

COLD_START_MODES = ("fork", "spawn")


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

    @property
    def log_group(self) -> str:
        return f"/aws/lambda/{self.name}"


def function_name_of(name_or_arn: str) -> str:
    """`my-fn` or `arn:aws:lambda:<region>:<account>:function:my-fn[:qualifier]` -> `my-fn`."""
    if name_or_arn.startswith("arn:"):
        return name_or_arn.split(":")[6]
    return name_or_arn


def new_log_stream() -> str:
    """A fresh stream name in AWS's shape: `YYYY/MM/DD/[$LATEST]<32 hex>`."""
    return f"{datetime.now(UTC):%Y/%m/%d}/[$LATEST]{secrets.token_hex(16)}"


def function_environment(spec: FunctionSpec, base_env: dict[str, str]) -> dict[str, str]:
    """The variables every environment of the function has; each adds its Runtime API, log stream and TMPDIR."""
    env = dict(base_env)
    env.update(spec.environment)
    env.update(
        {
            "_HANDLER": spec.handler,
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": spec.log_group,
            "LAMBDA_TASK_ROOT": str(spec.code_dir),
            "LAMBDA_RUNTIME_DIR": str(spec.code_dir),
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.11",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(spec.code_dir), base_env.get("PYTHONPATH")])),
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env
