"""The local cloud: moto's AWS APIs plus our Lambda service, with the stack deployed from template.yaml."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import Any

from contract import StackOutputsError, stack_outputs
from contract.template import code_overrides
from emulator.api_server import ApiServer
from emulator.aws import awslambda
from emulator.aws.hooks import MotoHooks, StateHooks
from emulator.config import DEFAULT_ACCOUNT, DUMMY_CREDENTIALS, EmulatorConfig, clients_by_account, dummy_session
from emulator.console.app import with_console
from emulator.hot_reload import CodeWatcher, LocalCode, local_code_of_stack
from emulator.integrations import Integrations
from emulator.lambda_runtime import (
    Destinations,
    EnvironmentBuilder,
    EventSourceMappings,
    LambdaService,
    LambdaSettings,
    LogShipper,
    MetricsPublisher,
    Telemetry,
    user_package_index,
)
from emulator.lambda_runtime.event_sources import Clients
from emulator.ports import ensure_port_free
from emulator.retention import Retention
from emulator.stack_command import deploy_stack
from emulator.state import StateStore
from emulator.state_folder import state_root

logger = logging.getLogger(__name__)


class EndpointSession:
    """A boto3 session whose clients all talk to one endpoint (the emulator's)."""

    def __init__(self, endpoint_url: str, region: str) -> None:
        self._session = dummy_session(region)
        self.endpoint_url = endpoint_url
        self.region_name = region

    def client(self, service: str) -> Any:
        return self._session.client(service, endpoint_url=self.endpoint_url)


def account_clients(clients: Clients, region: str, service: str) -> Callable[[str], Any]:
    """`clients` for one service and region: function logs and metrics go to the function's own account."""
    return lambda account: clients(service, account, region)


def worker_environment(endpoint_url: str, region: str) -> dict[str, str]:
    """The environment every Lambda worker starts from: ours minus AWS settings, plus the emulator's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(DUMMY_CREDENTIALS)
    env.update({"AWS_ENDPOINT_URL": endpoint_url, "AWS_REGION": region, "AWS_DEFAULT_REGION": region})
    return env


def lambda_settings(config: EmulatorConfig) -> LambdaSettings:
    """What our Lambda service takes from the emulator's settings."""
    isolated = config.function_envs == "isolated"
    return LambdaSettings(
        base_env=worker_environment(config.endpoint_url, config.region),
        tmp_root=config.state_dir / "tmp",
        init_timeout_seconds=config.init_timeout_seconds,
        cold_start=config.cold_start,
        builder=EnvironmentBuilder(config.cache_dir, config.wheelhouse, user_package_index) if isolated
        else None,
        function_env_days=config.function_env_days,
        account_concurrency=config.account_concurrency,
        async_retry_delays=config.async_retry_delays,
        max_event_age_seconds=config.max_event_age_seconds,
        worker_idle_seconds=config.worker_idle_seconds,
    )


class LocalCloud:
    """Starts and stops everything; `outputs` holds the stack outputs once started."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.outputs: dict[str, str] = {}
        self._server: ApiServer | None = None
        self._hooks: MotoHooks | None = None
        self._service: LambdaService | None = None
        self._telemetry: Telemetry | None = None
        self._watcher: CodeWatcher | None = None
        self._deployed_functions: list[str] = []  # created by the stack deploy, prepared after it
        self._state: StateStore | None = None
        self._state_hooks: StateHooks | None = None
        self._retention: Retention | None = None
        self._restored = False
        self._mappings: EventSourceMappings | None = None
        self._integrations: Integrations | None = None

    @property
    def service(self) -> LambdaService:
        assert self._service is not None, "start() first"
        return self._service

    def start(self) -> None:
        """Deploys on a private port first, then opens the public one: nobody sees a half-seeded stack.

        PortInUseError before anything starts if the public port is taken."""
        config = self.config
        ensure_port_free(config.host, config.port)
        session = EndpointSession(config.endpoint_url, config.region)
        clients = clients_by_account(config.endpoint_url)  # one boto3 client per service and account, shared
        self._telemetry = Telemetry(LogShipper(account_clients(clients, config.region, "logs")),
                                    MetricsPublisher(account_clients(clients, config.region, "cloudwatch")))
        self._hooks = MotoHooks(config.state_dir / "code", DEFAULT_ACCOUNT, config.region, config.cache_dir,
                                config.images, config.state_dir / "runtime.json")
        self._service = LambdaService(lambda_settings(config), self._telemetry, self._hooks.resolve)
        destinations = Destinations(session.client, self._service.invoke_async)
        self._service.events.configure(self._hooks.async_config, destinations)
        self._hooks.install(self._service)
        self._integrations = Integrations(session, self.service, config.port, clients)
        self._integrations.install()
        self._open_state()
        if config.template is not None:
            self.outputs = self._deploy_privately()
        self._server = ApiServer(config.host, config.port)
        self._server.wrap_app(lambda app: with_console(app, config, self.service.worker_counts))  # /_console/
        self._server.wrap_app(self._integrations.front_doors)  # API Gateway, function URLs, the clock
        self._server.start()
        self._prepare_stack_functions()
        self._keep_state()
        self._mappings = EventSourceMappings(awslambda.event_source_mappings, clients,
                                             self.service.invoke, self._hooks.streams, destinations.send_record)
        self._mappings.start()
        self._integrations.start()

    def stop(self) -> None:
        if self._integrations is not None:
            self._integrations.stop()
        if self._mappings is not None:
            self._mappings.stop()
        if self._watcher is not None:
            self._watcher.stop()
        if self._service is not None:
            self._service.stop()
        if self._telemetry is not None:
            self._telemetry.logs.close()
            self._telemetry.metrics.close()
        self._close_state()
        if self._hooks is not None:
            self._hooks.uninstall()
        if self._server is not None:
            self._server.stop()

    def __enter__(self) -> LocalCloud:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _deploy_privately(self) -> dict[str, str]:
        """Deploys through a moto server on a free loopback port; moto's state is shared in the process. The
        functions it creates are prepared once the public port serves (_prepare_stack_functions)."""
        assert self._hooks is not None
        private = ApiServer(self.config.host, 0)
        private.start()
        try:
            with self._hooks.functions.preparing_later() as deployed:
                outputs = self._deploy(EndpointSession(f"http://{self.config.host}:{private.port}", self.config.region))
            self._deployed_functions = deployed
            return outputs
        finally:
            private.stop()

    def _deploy(self, session: EndpointSession) -> dict[str, str]:
        config = self.config
        assert config.template is not None
        started = time.perf_counter()
        overrides = code_overrides(config.template, config.lambdas_dir) if config.lambdas_dir else None
        outputs = self._restored_outputs(session)
        if outputs is not None:
            logger.info("stack %s restored from %s (not redeployed, not re-seeded)", config.stack_name,
                        state_root(config.state_dir))
        else:
            deploy_stack(config, worker_environment(session.endpoint_url, config.region))
            outputs = stack_outputs(session.client("cloudformation"), config.stack_name)
            logger.info("stack %s deployed in %.2f s (stack command)", config.stack_name, time.perf_counter() - started)
        self._watch_local_code(local_code_of_stack(session, config.stack_name, config.template, overrides))
        return outputs

    def _restored_outputs(self, session: EndpointSession) -> dict[str, str] | None:
        """The outputs of the stack restored with the saved state; None when there is none to reuse."""
        if not self._restored:
            return None
        try:
            return stack_outputs(session.client("cloudformation"), self.config.stack_name)
        except StackOutputsError:
            return None

    def _open_state(self) -> None:
        """State on disk (emulator/state.py): S3 bodies and log events as files; the last snapshot restored."""
        self._state = StateStore(state_root(self.config.state_dir), self.config.persist)
        self._state_hooks = StateHooks(self._state)
        self._state_hooks.install()
        self._restored = self._state.load()

    def _keep_state(self) -> None:
        """Periodic snapshots and the retention sweep, both in background threads."""
        assert self._state is not None
        self._state.start(self.config.snapshot_seconds)
        self._retention = Retention(self.config.retention_sweep_seconds, self.config.metrics_retention_days)
        self._retention.start()

    def _close_state(self) -> None:
        """The last snapshot, then the state hooks off (before moto_hooks', which were installed first)."""
        if self._retention is not None:
            self._retention.stop()
        if self._state is not None and self._retention is not None:  # only a state that started whole is saved
            self._state.close()
        if self._state_hooks is not None:
            self._state_hooks.uninstall()

    def _prepare_stack_functions(self) -> None:
        """INIT of the stack's functions before anyone uses them (SnapStart: at publish), once each, from their local
        folders (hot reload) where they have one; needs the public port, which INIT code (e.g. the classifier loading
        its model from S3) talks to."""
        names = sorted({*(self._watcher.functions if self._watcher else ()), *self._deployed_functions})
        if not names:
            return
        started = time.perf_counter()
        self.service.prepare(names)
        logger.info("stack functions initialised (snapshots ready) in %.2f s", time.perf_counter() - started)

    def _watch_local_code(self, local_code: dict[str, LocalCode]) -> None:
        """Hot reload: the stack's functions run from their folders; a saved change reaches the next event."""
        self.service.use_local_code(local_code)
        self._watcher = CodeWatcher({name: code.folder for name, code in local_code.items()}, self.service.reload)
        self._watcher.start()
        for name, code in sorted(local_code.items()):
            logger.info("hot reload: %s runs from %s", name, code.folder)

