"""Command line: `python -m device record` (camera → S3) and `python -m device results` (SQS → screen)."""

import argparse
import logging
import signal
import threading
from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path

from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from contract import LabelsError, LatencyStats, Result, format_stamp, load_labels
from contract.keys import VIDEOS_PREFIX
from contract.signals import on_stop_signals
from device.camera import open_camera
from device.config import (
    ConsumerConfig,
    RecordConfig,
    UploadConfig,
    make_client,
    resolve_device_id,
    resolve_results_queue_url,
    resolve_spool_dir,
    resolve_videos_bucket,
)
from device.consumer import Delivery, ResultsConsumer, Summary, load_expected
from device.errors import ConfigError, DeviceError
from device.recorder import ExpectedLabels, Recorder
from device.uploader import UploadedClip, Uploader

console = Console(highlight=False, soft_wrap=True)
STATUS_STYLES = {"recognized": "green", "unknown": "yellow", "no_face": "dim", "not_enrolled": "magenta"}


def main(argv: Sequence[str] | None = None) -> int:
    """Run a subcommand; 2 on a DeviceError (printed in one line), 130 on a second Ctrl-C."""
    args = _parser().parse_args(argv)
    _setup_logging(args.verbose)
    try:
        return args.run(args)
    except DeviceError as exc:
        console.print(f"[red]error:[/] {escape(str(exc))}")
        return 2
    except KeyboardInterrupt:
        console.print("[red]aborted[/]")
        return 130


def _parser() -> argparse.ArgumentParser:
    """The two subcommands and their options."""
    parser = argparse.ArgumentParser(prog="python -m device", description="Raspberry Pi side of facepipe.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")
    _add_record(commands.add_parser("record", help="record clips and upload them to S3"))
    _add_results(commands.add_parser("results", help="print results from the SQS queue"))
    return parser


def _add_record(parser: argparse.ArgumentParser) -> None:
    """Options of `record`."""
    parser.add_argument("--camera", required=True, help="picamera2, or file:PATH (a video or a folder of videos)")
    parser.add_argument("--clip-seconds", type=float, default=RecordConfig.default("clip_seconds"), help="clip length")
    parser.add_argument("--clips", type=int, help="stop after this many clips (default: until Ctrl-C)")
    parser.add_argument("--device-id", help="default: $DEVICE_ID, else the host name")
    parser.add_argument("--spool", type=Path, help="spool root (default: $DEVICE_SPOOL_DIR or ~/.cache/...)")
    parser.add_argument("--bucket", help="default: $VIDEOS_BUCKET, else the stack output VideosBucket")
    parser.add_argument(
        "--realtime",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="pace file:PATH playback at the video's frame rate",
    )
    parser.add_argument("--max-width", type=int, help="file:PATH: scale frames down to this width (e.g. 640)")
    parser.add_argument("--labels", type=Path, help="JSON {source video file name: person} for --expected-out")
    parser.add_argument("--expected-out", type=Path, help="write the expected-names file for `results --expected`")
    parser.add_argument(
        "--drain-timeout",
        type=float,
        default=UploadConfig.default("drain_timeout"),
        help="seconds to keep uploading the spool after recording stops",
    )
    parser.set_defaults(run=_record)


def _add_results(parser: argparse.ArgumentParser) -> None:
    """Options of `results`."""
    parser.add_argument("--threads", type=int, default=50, help="polling threads")
    parser.add_argument("--queue-url", help="default: $RESULTS_QUEUE_URL, else the stack output ResultsQueueUrl")
    parser.add_argument("--expected", type=Path, help="JSON {frame key | clip key | clip file name: name}")
    parser.add_argument("--max-results", type=int, help="stop after this many results")
    parser.add_argument("--idle-timeout", type=float, help="stop after this many seconds without a message")
    parser.add_argument("--wait-time", type=int, default=ConsumerConfig.default("wait_time_seconds"),
                        help="long poll (s)")
    parser.add_argument(
        "--visibility-timeout",
        type=int,
        default=ConsumerConfig.default("visibility_timeout"),
        help="seconds before an unreported message comes back",
    )
    parser.set_defaults(run=_results)


def _record(args: argparse.Namespace) -> int:
    """`record`: camera → spool → S3 until --clips or Ctrl-C."""
    if (args.labels is None) != (args.expected_out is None):
        raise ConfigError("--labels and --expected-out go together")
    record_config = RecordConfig(clip_seconds=args.clip_seconds, clips=args.clips)
    upload_config = UploadConfig(drain_timeout=args.drain_timeout)
    device_id = resolve_device_id(args.device_id)
    bucket = resolve_videos_bucket(args.bucket)
    on_clip = ExpectedLabels(_labels(args.labels), args.expected_out).add if args.labels else None
    uploader = Uploader(
        make_client("s3"), bucket, device_id, resolve_spool_dir(args.spool), upload_config, _print_upload
    )
    camera = open_camera(args.camera, realtime=args.realtime, max_width=args.max_width)
    stop = threading.Event()
    recorder = Recorder(camera, uploader, record_config, stop, on_clip)
    console.print(
        f"recording {escape(args.camera)} as {device_id} → s3://{bucket}/{VIDEOS_PREFIX}{device_id}/ "
        f"(spool {uploader.spool_dir}); Ctrl-C stops after the current clip"
    )
    try:
        with _stop_on_signals(stop, "stopping after the current clip"):
            count = recorder.run()
    finally:
        camera.close()
    console.print(f"recorded {count} clip(s)")
    return 0


def _results(args: argparse.Namespace) -> int:
    """`results`: N polling threads print each result; a summary at the end."""
    config = ConsumerConfig(
        wait_time_seconds=args.wait_time,
        visibility_timeout=args.visibility_timeout,
        max_results=args.max_results,
        idle_timeout=args.idle_timeout,
    )
    queue_url = resolve_results_queue_url(args.queue_url)
    stop = threading.Event()
    consumer = ResultsConsumer(queue_url, args.threads, _print_result, stop, config)
    console.print(f"listening on {queue_url} with {args.threads} threads; Ctrl-C prints the summary")
    with _stop_on_signals(stop, "stopping"):
        consumer.run()
    expected = _expected_or_none(args.expected)
    console.print(summary_table(consumer.summary(expected), expected is not None))
    return 0


def _labels(path: Path) -> dict[str, str]:
    """The --labels file (contract.load_labels), its faults as the device's ConfigError."""
    try:
        return load_labels(path)
    except LabelsError as exc:
        raise ConfigError(str(exc)) from exc


def _expected_or_none(path: Path | None) -> dict[str, str | None] | None:
    """The --expected names, or None (with a red line if the file is unusable: the summary still prints)."""
    if path is None:
        return None
    try:
        return load_expected(path)
    except ConfigError as exc:
        console.print(f"[red]accuracy not computed:[/] {escape(str(exc))}")
        return None


def result_line(result: Result, delivery: Delivery) -> Text:
    """One result: capture time (UTC), device, person, major, year, confidence, latencies."""
    student = result.student
    confidence = "-" if result.confidence is None else f"{result.confidence:.2f}"
    line = Text.assemble(
        (format_stamp(result.captured_at)[11:23], "dim"),
        f"  {result.device_id}  ",
        (f"{result.name or 'no face':<16}", STATUS_STYLES.get(result.status, "")),
        f"  {student.major if student else '-':<18} {student.year if student else '-':<10}",
        f"  conf {confidence}",
        f"  upload→result {delivery.upload_latency_ms:6.0f} ms",
        f"  capture→result {delivery.capture_latency_ms:6.0f} ms",
    )
    if result.reason:
        line.append(f"  ({result.reason})", "dim")
    return line


def summary_table(summary: Summary, judged: bool) -> Table:
    """The end-of-run table: counts, statuses, accuracy, latency percentiles."""
    table = Table(title="results summary", show_header=False)
    table.add_row("results", str(summary.results))
    for status, count in sorted(summary.by_status.items()):
        table.add_row(f"  {status}", str(count))
    table.add_row("results from before this run, left out", str(summary.earlier) if judged else "- (no --expected)")
    table.add_row("malformed deliveries", str(summary.malformed))
    table.add_row("on_result failures", str(summary.failed))
    table.add_row("accuracy", _accuracy(summary) if judged else "- (no --expected)")
    table.add_row("upload→result ms p50/p95/p99", _percentiles(summary.upload_latency))
    table.add_row("capture→result ms p50/p95/p99", _percentiles(summary.capture_latency))
    return table


def _accuracy(summary: Summary) -> str:
    """'95.0 % (19/20 judged)', or a dash when no result had an expected name."""
    if summary.accuracy is None:
        return "- (no result matched an expected key)"
    return f"{summary.accuracy:.1%} ({summary.correct}/{summary.judged} judged)"


def _percentiles(stats: LatencyStats) -> str:
    """'p50 / p95 / p99' in ms, or a dash."""
    if stats.p50 is None or stats.p95 is None or stats.p99 is None:
        return "-"
    return f"{stats.p50:.0f} / {stats.p95:.0f} / {stats.p99:.0f}"


def _print_result(result: Result, delivery: Delivery) -> None:
    """on_result for the CLI."""
    console.print(result_line(result, delivery))


def _print_upload(clip: UploadedClip) -> None:
    """on_uploaded for the CLI."""
    console.print(
        f"[dim]{datetime.now():%H:%M:%S}[/] uploaded {clip.key}  {clip.bytes / 1024:.0f} KB  "
        f"PUT {clip.put_ms:.0f} ms  spool {clip.pending}"
    )


def _stop_on_signals(stop: threading.Event, message: str) -> AbstractContextManager[None]:
    """First Ctrl-C (or SIGTERM) sets `stop`; a second one aborts."""

    def handle(signum: signal.Signals) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        console.print(f"[yellow]{message} (Ctrl-C again to abort)[/]")
        stop.set()

    return on_stop_signals(handle)


def _setup_logging(verbose: bool) -> None:
    """Rich log lines; the device package at INFO (DEBUG with -v), everything else at WARNING."""
    logging.basicConfig(
        level=logging.WARNING, format="%(message)s", handlers=[RichHandler(console=console, show_path=False)]
    )
    logging.getLogger("device").setLevel(logging.DEBUG if verbose else logging.INFO)


if __name__ == "__main__":
    raise SystemExit(main())
