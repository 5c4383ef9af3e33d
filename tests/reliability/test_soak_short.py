"""A short soak (bench/bench_soak.py for 15 s, 2 devices, 4 clips/s): nothing lost, nothing twice, workers bounded."""

import pytest

from bench.bench_soak import Soak, SoakConfig, cut_clips
from emulator.config import EmulatorConfig
from tests.conftest import DUMMY_ENV

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_a_short_soak_loses_nothing_duplicates_nothing_and_stays_within_the_worker_limits(
        emulator, results, tmp_path, monkeypatch):
    for name, value in {**DUMMY_ENV, "AWS_ENDPOINT_URL": emulator.endpoint}.items():
        monkeypatch.setenv(name, value)
    lam = emulator.client("lambda")
    limits = {}
    for output in ("FrameExtractorFunction", "FaceClassifierFunction"):
        reserved = lam.get_function_concurrency(FunctionName=emulator.outputs[output])["ReservedConcurrentExecutions"]
        limits[emulator.outputs[output]] = min(reserved, EmulatorConfig().account_concurrency)
    config = SoakConfig(seconds=15, devices=2, rate=4, drain_seconds=30, sample_seconds=2)
    with results.paused():  # the soak's own consumer takes every result
        report = Soak(emulator.outputs, emulator.process.pid, config, cut_clips(tmp_path)).run()
    assert len(report.sent) == 60
    assert report.lost == [] and report.duplicates == 0
    peak = report.max_workers()
    assert all(peak.get(function, 0) <= limit for function, limit in limits.items()), (peak, limits)
