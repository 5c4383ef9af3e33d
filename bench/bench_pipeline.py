"""Pipeline benchmark at the Pi's rate: the device's file camera -> S3 -> both Lambdas -> FIFO -> consumer.

Runs the real device Recorder/Uploader and ResultsConsumer against a fresh embedded emulator and prints
medians and p95 from the consumer and from the functions' REPORT lines. Targets (2-core machine):
upload -> result p50 <= 400 ms, p95 <= 1 s; classifier warm Duration <= 150 ms; frame extractor <= 100 ms
per 0.5 s 640x480 clip; classifier new environment (restored from its snapshot, or a full INIT with
EMULATOR_COLD_START=spawn) <= 2 s.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table

from device import ConsumerConfig, FileCamera, RecordConfig, Recorder, ResultsConsumer, Uploader
from device.config import make_client
from emulator.aws.iam import ENV_IAM
from emulator.config import PROJECT_ROOT
from emulator.daemon import background_emulator, client_environment
from grader.metrics import ReportLine, read_report_lines

VIDEOS = PROJECT_ROOT / "fixtures" / "videos"



def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def run_workload(outputs: dict[str, str], clips: int, spool: Path) -> list[float]:
    """Records `clips` 0.5 s 640-wide clips in real time and returns the upload -> result latencies (ms)."""
    latencies: list[float] = []
    lock = threading.Lock()

    def collect(result: object, delivery: object) -> None:
        with lock:
            latencies.append(delivery.upload_latency_ms)  # type: ignore[attr-defined]

    stop = threading.Event()
    consumer = ResultsConsumer(outputs["ResultsQueueUrl"], 10, collect, stop, ConsumerConfig(wait_time_seconds=2))
    consumer_thread = threading.Thread(target=consumer.run, daemon=True)
    consumer_thread.start()
    camera = FileCamera(VIDEOS, realtime=True, max_width=640)
    uploader = Uploader(make_client("s3"), outputs["VideosBucket"], "bench-pi", spool)
    try:
        Recorder(camera, uploader, RecordConfig(clip_seconds=0.5, clips=clips)).run()
    finally:
        camera.close()
    deadline = time.monotonic() + 30
    while len(latencies) < clips and time.monotonic() < deadline:
        time.sleep(0.2)
    consumer.stop()
    consumer_thread.join(timeout=10)
    return latencies


def _durations(lines: list[ReportLine], cold: bool) -> list[float]:
    """Durations of warm invocations, or of a new environment's first (plus its Init or Restore Duration)."""
    return [line.duration_ms + line.startup_ms for line in lines if line.new_environment == cold]


def _row(table: Table, label: str, values: Sequence[float], target: str) -> None:
    if not values:
        table.add_row(label, "0", "-", "-", target)
        return
    table.add_row(label, str(len(values)), f"{statistics.median(values):.0f}", f"{_percentile(values, 95):.0f}", target)


def compare_iam_modes(modes: list[str], rounds: int, clips: int, console: Console) -> None:
    """One emulator per EMULATOR_IAM mode, all started first; rounds of `clips` clips alternate between them
    (ABAB...), so both modes share the machine's noise; the first round of each is a warm-up."""
    latencies: dict[str, list[float]] = {mode: [] for mode in modes}
    with tempfile.TemporaryDirectory() as state, contextlib.ExitStack() as stack:
        emulators = {}
        for mode in modes:
            os.environ[ENV_IAM] = mode
            emulators[mode] = stack.enter_context(background_emulator(Path(state) / mode))
        for round_number in range(rounds + 1):
            for mode in modes if round_number % 2 == 0 else reversed(modes):
                os.environ.update(client_environment(emulators[mode]))
                with console.status(f"round {round_number}/{rounds}: {clips} clips, EMULATOR_IAM={mode}"):
                    measured = run_workload(emulators[mode]["outputs"], clips, Path(state) / f"spool-{mode}")
                if round_number:
                    latencies[mode] += measured
    table = Table(title=f"upload -> result by EMULATOR_IAM, {rounds} alternating rounds of {clips} clips "
                        f"({os.cpu_count()} cores)")
    for column in ("EMULATOR_IAM", "n", "median", "p95", f"median vs {modes[0]}"):
        table.add_column(column)
    base = statistics.median(latencies[modes[0]]) if latencies[modes[0]] else float("nan")
    for mode, values in latencies.items():
        median = statistics.median(values) if values else float("nan")
        table.add_row(mode, str(len(values)), f"{median:.0f}", f"{_percentile(values, 95):.0f}" if values else "-",
                      f"{(median / base - 1) * 100:+.1f} %")
    console.print(table)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=110, help="clips to record at 2 per second (>= 100)")
    parser.add_argument("--warmup", type=int, default=10, help="first clips left out of the steady-state figures")
    parser.add_argument("--iam", metavar="MODES", help="compare EMULATOR_IAM modes side by side, e.g. off,warn: "
                        "one emulator each, --rounds rounds of --clips clips alternated between them")
    parser.add_argument("--rounds", type=int, default=4, help="with --iam: measured rounds per mode (default 4)")
    args = parser.parse_args(argv)
    console = Console()
    if args.iam:
        compare_iam_modes([mode.strip() for mode in args.iam.split(",")], args.rounds, args.clips, console)
        return
    with tempfile.TemporaryDirectory() as state, background_emulator(Path(state) / "emulator") as info:
        os.environ.update(client_environment(info))
        started = time.time()
        with console.status(f"recording {args.clips} clips at 2 clips/s through the pipeline"):
            latencies = run_workload(info["outputs"], args.clips, Path(state) / "spool")
        logs = make_client("logs")
        extractor = read_report_lines(logs, info["outputs"]["FrameExtractorFunction"], started, time.time() + 5)
        classifier = read_report_lines(logs, info["outputs"]["FaceClassifierFunction"], started, time.time() + 5)
    table = Table(title=f"pipeline benchmark: {len(latencies)}/{args.clips} results ({os.cpu_count()} cores)")
    for column in ("measure (ms)", "n", "median", "p95", "target"):
        table.add_column(column)
    _row(table, "upload -> result, all clips", latencies, "-")
    steady = latencies[args.warmup :]
    _row(table, f"upload -> result, after {args.warmup} warm-up clips", steady, "p50 <= 400, p95 <= 1000")
    _row(table, "frame extractor Duration, warm", _durations(extractor, cold=False), "<= 100")
    _row(table, "classifier Duration, warm", _durations(classifier, cold=False), "<= 150")
    _row(table, "classifier new environment: Init or Restore + first Duration", _durations(classifier, cold=True),
         "<= 2000")
    _row(table, "frame extractor new environment: Init or Restore + first Duration",
         _durations(extractor, cold=True), "-")
    console.print(table)


if __name__ == "__main__":
    main()
