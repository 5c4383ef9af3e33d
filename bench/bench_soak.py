"""Soak: several device ids PUT 0.5 s clips at 2x the Pi's rate through the embedded emulator for minutes.

Reports lost and duplicate results (by frame key + face index), upload -> result latency percentiles, and,
sampled from /proc every few seconds, the Lambda worker count per function and the resident memory of the
emulator and its workers, with least-squares slopes (MB/min): flat means no leak. Clips and frames are
deleted once answered, as the bucket's lifecycle rule would, so stored media does not pass for a leak.
Run: `.venv/bin/python bench/bench_soak.py --minutes 10 --devices 4 --rate 4`.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
from rich.console import Console
from rich.table import Table

from contract import (
    LABELS_FILE,
    Result,
    format_stamp,
    frame_key,
    load_labels,
    next_capture_time,
    percentile,
    put_clip,
    utc_now,
)
from device import ClientConfig, ConsumerConfig, Delivery, ResultsConsumer
from device.config import make_client
from emulator import memtrace
from emulator.config import PROJECT_ROOT
from emulator.daemon import background_emulator, client_environment
from emulator.lambda_runtime import rss_kb, worker_processes
from emulator.state_folder import disk_use, state_root

VIDEOS = PROJECT_ROOT / "fixtures" / "videos"
PI_RATE = 2.0  # clips per second: one 0.5 s clip after another
MAX_EMULATOR_SLOPE = 0.5  # MiB/min after warm-up: issue 15's "flat memory"


@dataclass(frozen=True)
class SoakConfig:
    """How long (s), how many device ids, total clips per second, drain time (s), /proc sampling period (s)."""

    seconds: float = 600.0
    devices: int = 4
    rate: float = 2 * PI_RATE
    drain_seconds: float = 60.0
    sample_seconds: float = 5.0

    def __post_init__(self) -> None:
        if not (1 <= self.seconds <= 86_400 and 1 <= self.devices <= 100 and 0.1 <= self.rate <= 50):
            raise ValueError("seconds 1..86400, devices 1..100, rate 0.1..50 clips/s")


@dataclass(frozen=True)
class Sample:
    """One /proc reading: seconds since the start, workers and their resident memory (MiB) per function."""

    elapsed: float
    workers: dict[str, int]
    worker_mb: dict[str, float]
    emulator_mb: float

    @property
    def workers_mb(self) -> float:
        return sum(self.worker_mb.values())


@dataclass
class SoakReport:
    """What a soak sent and got back, and how the processes looked while it ran."""

    sent: dict[str, str | None] = field(default_factory=dict)  # frame key -> expected person
    receipts: Counter[tuple[str, int | None]] = field(default_factory=Counter)  # (frame key, face index) -> times
    names: dict[str, str | None] = field(default_factory=dict)  # frame key -> first face's name
    latencies_ms: list[tuple[float, float]] = field(default_factory=list)  # (seconds since start, upload->result)
    samples: list[Sample] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def lost(self) -> list[str]:
        answered = {key for key, _ in self.receipts}
        return sorted(key for key in self.sent if key not in answered)

    @property
    def duplicates(self) -> int:
        return sum(count - 1 for count in self.receipts.values())

    @property
    def correct(self) -> int:
        return sum(1 for key, name in self.names.items() if self.sent.get(key) == name)

    def max_workers(self) -> dict[str, int]:
        """The most workers each function had at any sample."""
        peak: Counter[str] = Counter()
        for sample in self.samples:
            for function, count in sample.workers.items():
                peak[function] = max(peak[function], count)
        return dict(peak)


def cut_clips(folder: Path, seconds: float = 0.5, width: int = 640) -> list[tuple[bytes, str | None]]:
    """The first `seconds` of each fixture video at `width` px, as MP4 bytes, with the person it shows."""
    labels = load_labels(PROJECT_ROOT / "fixtures" / LABELS_FILE)
    clips = []
    for video in sorted(VIDEOS.glob("*.mp4")):
        capture = cv2.VideoCapture(str(video))
        fps = capture.get(cv2.CAP_PROP_FPS) or 30.0
        ok, frame = capture.read()
        height = round(frame.shape[0] * width / frame.shape[1]) // 2 * 2
        path = folder / video.name
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), fps, (width, height))
        for _ in range(max(1, round(seconds * fps))):
            if not ok:
                break
            writer.write(cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA))
            ok, frame = capture.read()
        writer.release()
        capture.release()
        clips.append((path.read_bytes(), labels.get(video.name)))
    return clips


class _Janitor:
    """Deletes answered clips and frames in batches, as the bucket's lifecycle rule would."""

    def __init__(self, s3: Any, bucket: str) -> None:
        self._s3, self._bucket = s3, bucket
        self._keys: list[str] = []
        self._lock = threading.Lock()

    def add(self, *keys: str) -> None:
        with self._lock:
            self._keys.extend(keys)

    def sweep(self) -> None:
        with self._lock:
            keys, self._keys = self._keys, []
        for start in range(0, len(keys), 1000):
            chunk = [{"Key": key} for key in keys[start : start + 1000]]
            self._s3.delete_objects(Bucket=self._bucket, Delete={"Objects": chunk, "Quiet": True})


class Soak:
    """One soak run: device threads PUT clips on a schedule; a consumer files results; a sampler reads /proc."""

    def __init__(self, outputs: dict[str, str], emulator_pid: int, config: SoakConfig,
                 clips: list[tuple[bytes, str | None]]) -> None:
        self._outputs, self._pid, self._config, self._clips = outputs, emulator_pid, config, clips
        self.report = SoakReport()
        self._lock = threading.Lock()
        self._s3 = make_client("s3", ClientConfig(max_pool_connections=config.devices + 4))
        self._janitor = _Janitor(self._s3, outputs["VideosBucket"])
        self._stop = threading.Event()
        self._started = time.monotonic()

    def run(self) -> SoakReport:
        """Sends for config.seconds, waits up to config.drain_seconds for the last results, returns the report."""
        consumer = ResultsConsumer(self._outputs["ResultsQueueUrl"], 10, self._on_result, self._stop,
                                   ConsumerConfig(wait_time_seconds=2))
        helpers = [threading.Thread(target=consumer.run, daemon=True),
                   threading.Thread(target=self._sample_forever, daemon=True)]
        senders = [threading.Thread(target=self._send, args=(f"soak-{i}", i)) for i in range(self._config.devices)]
        for thread in helpers + senders:
            thread.start()
        for sender in senders:
            sender.join()
        deadline = time.monotonic() + self._config.drain_seconds
        while self._unanswered() and time.monotonic() < deadline:
            time.sleep(0.5)
        self.report.seconds = time.monotonic() - self._started
        self._stop.set()
        for thread in helpers:
            thread.join(timeout=30)
        return self.report

    def _unanswered(self) -> bool:
        with self._lock:
            return bool(self.report.lost)

    def _on_result(self, result: Result, delivery: Delivery) -> None:
        with self._lock:
            self.report.receipts[(result.frame_key, result.face_index)] += 1
            self.report.latencies_ms.append((time.monotonic() - self._started, delivery.upload_latency_ms))
            if result.face_index in (None, 0):
                self.report.names.setdefault(result.frame_key, result.name)
        self._janitor.add(result.clip_key, result.frame_key)

    def _send(self, device: str, position: int) -> None:
        """One device: a clip every devices/rate seconds, its slots offset from the other devices'."""
        config = self._config
        period, next_at = config.devices / config.rate, self._started + position / config.rate
        previous, count = None, 0
        while next_at - self._started < config.seconds:
            time.sleep(max(0.0, next_at - time.monotonic()))
            captured = next_capture_time(utc_now(), previous)
            stamp = format_stamp(captured)
            body, person = self._clips[(position + count) % len(self._clips)]
            with self._lock:
                self.report.sent[frame_key(device, stamp, 0)] = person
            put_clip(self._s3, self._outputs["VideosBucket"], device, stamp, body)
            previous, count, next_at = captured, count + 1, next_at + period

    def _sample_forever(self) -> None:
        while True:
            workers = worker_processes(self._pid)
            memory: Counter[str] = Counter()
            for worker in workers:
                memory[worker.function] += worker.rss_kb / 1024
            sample = Sample(time.monotonic() - self._started, dict(Counter(w.function for w in workers)),
                            dict(memory), rss_kb(self._pid) / 1024)
            with self._lock:
                self.report.samples.append(sample)
            self._janitor.sweep()
            if self._stop.wait(self._config.sample_seconds):
                return


def slope_per_minute(series: Sequence[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, value) points, per minute (0 with fewer than 2 points)."""
    if len(series) < 2:
        return 0.0
    xs = [elapsed / 60 for elapsed, _ in series]
    ys = [value for _, value in series]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / spread if spread else 0.0


def emulator_slope(report: SoakReport, config: SoakConfig) -> float:
    """The emulator's RSS slope (MiB/min) after the warm-up."""
    warm_up = min(60.0, config.seconds / 4)
    return slope_per_minute([(s.elapsed, s.emulator_mb) for s in report.samples if s.elapsed > warm_up])


def print_report(console: Console, report: SoakReport, config: SoakConfig, dead_letters: int | None,
                 state_bytes: int) -> None:
    """The summary table, the /proc samples table (about 20 rows), the memory slopes and the verdict line."""
    summary = Table(title=f"soak: {config.devices} devices, {config.rate:g} clips/s, {config.seconds:.0f} s "
                          f"({os.cpu_count()} cores)", show_header=False)
    warm_up = min(60.0, config.seconds / 4)  # cold starts, the model download, caches filling
    steady = [ms for at, ms in report.latencies_ms if at > warm_up]
    rows = [("clips sent", len(report.sent)), ("results received", sum(report.receipts.values())),
            ("lost (frames without a result)", len(report.lost)), ("duplicate results", report.duplicates),
            ("dead-letter entries", "-" if dead_letters is None else dead_letters),
            ("right person (first face)", f"{report.correct}/{len(report.names)}"),
            ("upload -> result ms p50/p95/p99", _percentiles([ms for _, ms in report.latencies_ms])),
            (f"  after the first {warm_up:.0f} s", _percentiles(steady)),
            ("max workers per function", report.max_workers())]
    for label, value in rows:
        summary.add_row(label, str(value))
    console.print(summary)
    console.print(_samples_table(report.samples))
    samples = [s for s in report.samples if s.elapsed > warm_up]
    console.print(f"after {warm_up:.0f} s, RSS slopes: emulator {emulator_slope(report, config):+.2f} MiB/min")
    for function in sorted(report.max_workers()):
        per_worker = [(s.elapsed, s.worker_mb[function] / s.workers[function])
                      for s in samples if s.workers.get(function)]
        console.print(f"  {function}: {slope_per_minute(per_worker):+.2f} MiB/min per worker")
    slope = emulator_slope(report, config)
    verdict = "PASS" if slope <= MAX_EMULATOR_SLOPE and not report.lost and not report.duplicates else "FAIL"
    console.print(f"{verdict}: lost {len(report.lost)}, duplicates {report.duplicates}, emulator RSS "
                  f"{slope:+.2f} MiB/min (limit +{MAX_EMULATOR_SLOPE}), state on disk {state_bytes / 1e6:.1f} MB")


def _percentiles(values: list[float]) -> str:
    return " / ".join(f"{percentile(values, q):.0f}" for q in (50, 95, 99)) if values else "-"


def _samples_table(samples: list[Sample]) -> Table:
    table = Table(title="/proc samples")
    for column in ("t (s)", "workers", "emulator RSS MiB", "workers RSS MiB"):
        table.add_column(column, justify="right")
    step = max(1, len(samples) // 20)
    for sample in samples[::step]:
        workers = ", ".join(f"{name.rsplit('-', 1)[-1]} {n}" for name, n in sorted(sample.workers.items()))
        table.add_row(f"{sample.elapsed:.0f}", workers, f"{sample.emulator_mb:.0f}", f"{sample.workers_mb:.0f}")
    return table


def _dead_letter_count(outputs: dict[str, str]) -> int:
    attributes = make_client("sqs").get_queue_attributes(QueueUrl=outputs["DeadLetterQueueUrl"],
                                                         AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])



def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="how long to send clips")
    parser.add_argument("--devices", type=int, default=4, help="device ids sending at once")
    parser.add_argument("--rate", type=float, default=2 * PI_RATE, help="clips per second, all devices together")
    parser.add_argument("--tracemalloc", type=Path, metavar="FILE",
                        help="the emulator traces its allocations and appends growth reports to FILE "
                             f"(emulator/memtrace.py; every {memtrace.ENV_TRACEMALLOC_SECONDS} s, default 30)")
    args = parser.parse_args(argv)
    if args.tracemalloc is not None:
        os.environ[memtrace.ENV_TRACEMALLOC] = str(args.tracemalloc.resolve())
    config = SoakConfig(seconds=args.minutes * 60, devices=args.devices, rate=args.rate)
    console = Console()
    with tempfile.TemporaryDirectory() as state, background_emulator(Path(state) / "emulator") as info:
        os.environ.update(client_environment(info))
        with console.status(f"soaking for {args.minutes:g} min"):
            report = Soak(info["outputs"], info["pid"], config, cut_clips(Path(state))).run()
        dead_letters = _dead_letter_count(info["outputs"])
        state_bytes = disk_use(state_root(Path(state) / "emulator"))
    print_report(console, report, config, dead_letters, state_bytes)
    return 1 if report.lost or report.duplicates or emulator_slope(report, config) > MAX_EMULATOR_SLOPE else 0


if __name__ == "__main__":
    raise SystemExit(main())
