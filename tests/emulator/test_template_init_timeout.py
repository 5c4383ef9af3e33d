"""A snapshot's INIT that outlasts the init timeout ends as Lambda's Init error, for the event that waited and for
pre-warming alike: the template is closed and the error returned (its control socket was closed before its timeout
was reset, and the reset raised EBADF: pre-warming's thread died with a traceback, the event got an OSError)."""

import os
from pathlib import Path

from emulator.config import dummy_session
from emulator.lambda_runtime import FunctionSpec, LambdaService, LambdaSettings, LogShipper, MetricsPublisher, Telemetry

SLOW_INIT = "import time\ntime.sleep(5)\n\ndef handler(event, context):\n    return event\n"


def test_an_init_longer_than_the_timeout_is_an_init_error_not_an_exception(tmp_path: Path, moto_endpoint: str) -> None:
    code = tmp_path / "code"
    code.mkdir()
    (code / "app.py").write_text(SLOW_INIT)
    spec = FunctionSpec("slow-init", "arn:aws:lambda:us-east-1:123456789012:function:slow-init", "app.handler", code,
                        timeout_seconds=10, memory_mb=128)
    session = dummy_session()
    logs, cloudwatch = (session.client(s, endpoint_url=moto_endpoint) for s in ("logs", "cloudwatch"))
    telemetry = Telemetry(LogShipper(lambda account: logs), MetricsPublisher(lambda account: cloudwatch))
    settings = LambdaSettings(base_env={**os.environ, "AWS_ENDPOINT_URL": moto_endpoint}, tmp_root=tmp_path / "tmp",
                              init_timeout_seconds=1, cold_start="fork", builder=None, function_env_days=14,
                              account_concurrency=2, async_retry_delays=(0, 0), max_event_age_seconds=60,
                              worker_idle_seconds=60)
    service = LambdaService(settings, telemetry, lambda name: spec)
    try:
        result = service.invoke(spec.name, b'{"a": 1}')
        assert result.error == {"errorType": "Runtime.InitError", "errorMessage": "Init did not finish within 1 s"}
    finally:
        service.stop()
        telemetry.logs.close()
        telemetry.metrics.close()
