"""The Lambda service's front: one pool per function version, sync and async entry points, idle reaping.

Whoever starts it (emulator/cloud.py) passes everything in: the settings, where telemetry goes, how a function
name becomes a FunctionSpec, and which functions run from a local folder.
"""

from __future__ import annotations

import logging
import math
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

from emulator.lambda_runtime.async_events import AsyncInvoker
from emulator.lambda_runtime.errors import PayloadTooLargeError
from emulator.lambda_runtime.isolation import plan_isolation
from emulator.lambda_runtime.packaging import EnvironmentBuilder
from emulator.lambda_runtime.pool import AccountConcurrency, FunctionPool, Telemetry
from emulator.lambda_runtime.spec import FunctionSpec, WorkerSettings, probe_private_tmp
from emulator.lambda_runtime.supervisor import Supervisor
from emulator.lambda_runtime.workers import InvocationResult

logger = logging.getLogger(__name__)

SpecResolver = Callable[[str], FunctionSpec]
# https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html: "6 MB" synchronous, "1 MB" asynchronous
MAX_SYNC_PAYLOAD_BYTES = 6 * 1024 * 1024  # AWS's limit for RequestResponse invocations
MAX_ASYNC_PAYLOAD_BYTES = 1024 * 1024  # AWS's limit for Event invocations (256 KB before October 2025)


@dataclass(frozen=True)
class LambdaSettings:
    """How the service runs its functions; emulator/cloud.py builds it from EmulatorConfig.

    builder None: functions run on the project's venv, not each in its own environment.
    """

    base_env: dict[str, str]
    tmp_root: Path
    init_timeout_seconds: float
    cold_start: str
    builder: EnvironmentBuilder | None
    function_env_days: float
    account_concurrency: int
    async_retry_delays: tuple[float, ...]
    max_event_age_seconds: float
    worker_idle_seconds: float


class LocalSource(Protocol):
    """A function's local code folder (hot reload), valid while the function runs the code deployed from it."""

    @property
    def code_sha256(self) -> str: ...

    def applied_to(self, spec: FunctionSpec) -> FunctionSpec: ...


class LambdaService:
    """Runs functions on demand: one pool per function version, sync and async entry points."""

    def __init__(self, settings: LambdaSettings, telemetry: Telemetry, resolve: SpecResolver) -> None:
        self._settings = settings
        if settings.builder is not None:
            threading.Thread(target=_prune_environments, args=(settings.builder, settings.function_env_days),
                             name="prune-function-envs", daemon=True).start()
        isolation, self.private_tmp_unavailable = plan_isolation(os.environ, settings.tmp_root.parent,
                                                                 probe_private_tmp)
        if self.private_tmp_unavailable is not None:
            logger.warning("environments get their own TMPDIR only, not their own /tmp: %s",
                           self.private_tmp_unavailable)
        self._worker_settings = WorkerSettings(settings.base_env, settings.init_timeout_seconds, settings.tmp_root,
                                               settings.cold_start, builder=settings.builder,
                                               private_tmp=self.private_tmp_unavailable is None, isolation=isolation)
        self._telemetry = telemetry
        self._resolve = resolve
        self._supervisor = Supervisor()
        self._supervisor.every(min(5.0, settings.worker_idle_seconds), self._reap_idle)
        self._pools: dict[str, FunctionPool] = {}
        self._local_code: dict[str, LocalSource] = {}
        self._lock = threading.Lock()
        self._account = AccountConcurrency(settings.account_concurrency)
        self.events = AsyncInvoker(self.pool, telemetry, settings.async_retry_delays, settings.max_event_age_seconds)

    def isolation(self) -> dict[str, str]:
        """How functions are kept apart: their environments and their /tmp (for `python -m emulator status`)."""
        return {"function_environments": "isolated" if self._worker_settings.builder is not None else "project",
                "private_tmp": "mount namespace per environment" if self._worker_settings.private_tmp else
                f"off, TMPDIR per environment only ({self.private_tmp_unavailable})",
                "isolation": self._worker_settings.isolation.note}

    def pool(self, function_name: str) -> FunctionPool:
        """The pool for the function's current configuration; a changed function gets fresh environments."""
        spec = self._spec(function_name)
        with self._lock:
            current = self._pools.get(spec.arn)
            if current is not None and current.spec == spec:
                return current
            limit = self._settings.account_concurrency
            if spec.reserved_concurrency is not None:  # 0 is a valid setting: AWS then throttles every event
                limit = min(spec.reserved_concurrency, limit)
            settings = self._worker_settings
            if spec.name in self._local_code:  # a broken edit fails until the next save, not on a timer
                settings = replace(settings, init_retry_seconds=math.inf)
            fresh = FunctionPool(spec, limit, settings, self._telemetry, self._account, self._supervisor)
            self._pools[spec.arn] = fresh
        if current is not None:
            current.retire()
        return fresh

    def prepare(self, function_names: list[str]) -> None:
        """Snapshots of these functions, made side by side; returns when all are ready (or failed)."""
        threads = [threading.Thread(target=self.pool(name).prepare, name=f"prepare-{name}") for name in function_names]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def environment_folder(self, spec: FunctionSpec) -> Path | None:
        """The folder of the function's own environment (built if it is not yet), None when functions run on the
        project's venv or the function has no packages of its own beyond the runtime's."""
        builder = self._settings.builder
        if builder is None or spec.recipe is None:
            return None
        return builder.build(spec.recipe)

    def use_local_code(self, local_code: dict[str, LocalSource]) -> None:
        """Functions that run from their local folder (while their deployed code is the one zipped from it)."""
        with self._lock:
            self._local_code = dict(local_code)

    def reload(self, function_name: str, files_changed: int) -> None:
        """A saved change: idle environments and the snapshot go now, busy ones after their event."""
        with self._lock:
            reloaded = [arn for arn, pool in self._pools.items() if pool.spec.name == function_name]
            pools = [self._pools.pop(arn) for arn in reloaded]
        for pool in pools:
            pool.retire()
        logger.warning("reloaded %s (%d files changed)", function_name, files_changed)
        self.prepare([function_name])

    def _spec(self, function_name: str) -> FunctionSpec:
        spec = self._resolve(function_name)
        local = self._local_code.get(spec.name)
        if local is not None and local.code_sha256 == spec.code_sha256:
            return local.applied_to(spec)
        return spec

    def invoke(self, function_name: str, payload: bytes, accepted_at: float | None = None) -> InvocationResult:
        """A synchronous invoke; `accepted_at`: when the request was taken (the function's deadline counts from it)."""
        _check_payload(payload, MAX_SYNC_PAYLOAD_BYTES, "RequestResponse")
        return self.pool(function_name).invoke(payload, accepted_at)

    def invoke_async(self, function_name: str, payload: bytes) -> str:
        _check_payload(payload, MAX_ASYNC_PAYLOAD_BYTES, "Event")
        return self.events.submit(function_name, payload)

    def worker_counts(self) -> dict[str, int]:
        with self._lock:
            return {pool.spec.qualified_name: pool.worker_count for pool in self._pools.values()}

    def stop(self) -> None:
        """Stops the event queue and every environment; the supervisor ends once the last is reaped."""
        self.events.stop()
        with self._lock:
            pools = list(self._pools.values())
        for pool in pools:
            pool.retire()
        self._supervisor.stop()

    def _reap_idle(self) -> None:
        with self._lock:
            pools = list(self._pools.values())
        for pool in pools:
            pool.reap_idle(self._settings.worker_idle_seconds)


def _prune_environments(builder: EnvironmentBuilder, unused_days: float) -> None:
    removed = builder.prune(unused_days)
    if removed:
        logger.warning("removed %d cached function environment(s) unused for %g days (EMULATOR_FUNCTION_ENV_DAYS): %s",
                       len(removed), unused_days, ", ".join(path.name for path in removed))


def _check_payload(payload: bytes, limit: int, invocation_type: str) -> None:
    if len(payload) > limit:
        raise PayloadTooLargeError(f"{invocation_type} payload of {len(payload)} bytes exceeds the {limit}-byte "
                                   "limit of the Invoke operation")
