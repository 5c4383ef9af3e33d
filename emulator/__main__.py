"""`python -m emulator [serve|up|down|status|reset|outputs|env]`: the local cloud on 127.0.0.1:4566."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path

from contract.errors import ContractError
from contract.signals import on_stop_signals
from emulator.allocator import long_lived_imports, tune_malloc
from emulator.config import ENV_IMAGES, ENV_PORT, ENV_TEMPLATE, EmulatorConfig
from emulator.console.cli import register_commands
from emulator.daemon import (
    ENV_STOP_WITH_PID,
    client_environment,
    read_ready,
    start_background,
    stop_background,
    write_ready,
)
from emulator.dockerfile import parse_image_map
from emulator.errors import EmulatorError, NotRunningError
from emulator.iam_policy import register_policy_command
from emulator.lambda_runtime import worker_processes
from emulator.state_folder import disk_use, read_summary, reset, state_root

logger = logging.getLogger("emulator")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m emulator", description=__doc__)
    sub = parser.add_subparsers(dest="command")
    default = EmulatorConfig.default
    for name, text in (("serve", "run in the foreground (default)"), ("up", "start in the background and wait")):
        command = sub.add_parser(name, help=text)
        command.add_argument("--port", type=int, help=f"default {default('port')} or ${ENV_PORT}")
        command.add_argument("--template", type=Path,
                             help=f"SAM template to deploy (default {default('template')} or ${ENV_TEMPLATE})")
        command.add_argument("--no-stack", action="store_true", help="start the APIs only, deploy nothing")
        command.add_argument("--lambdas", type=Path, help="run handlers from DIR/<function folder> instead of ours")
        command.add_argument("--seed", type=Path,
                             help=f"folder with student_data.json and model/ (default {default('seed_dir')})")
        command.add_argument("--image", action="append", default=[], metavar="URI=DOCKERFILE[:CONTEXT]",
                             help="run ImageUri URI from this Dockerfile (repeatable; adds to $EMULATOR_IMAGES)")
        command.add_argument("--fresh", action="store_true", help="start empty: delete the saved state first")
    sub.add_parser("down", help="stop the background emulator")
    sub.add_parser("status", help="say whether it runs, and what its saved state holds")
    sub.add_parser("reset", help="delete the saved state (the emulator must be stopped)")
    sub.add_parser("outputs", help="print the stack outputs as one JSON object")
    sub.add_parser("env", help="print shell exports that point boto3 at the emulator")
    register_commands(sub)  # issue 14: logs, invoke
    register_policy_command(sub)  # issue 22
    return parser


def _config(args: argparse.Namespace) -> EmulatorConfig:
    overrides: dict[str, object] = {}
    if getattr(args, "port", None) is not None:
        overrides["port"] = args.port
    if getattr(args, "template", None) is not None:
        overrides["template"] = args.template.resolve()
    if getattr(args, "no_stack", False):
        overrides["template"] = None
    if getattr(args, "lambdas", None) is not None:
        overrides["lambdas_dir"] = args.lambdas.resolve()
    if getattr(args, "seed", None) is not None:
        overrides["seed_dir"] = args.seed.resolve()
    if getattr(args, "image", None):
        images = parse_image_map(os.environ.get(ENV_IMAGES, ""), Path.cwd())
        overrides["images"] = {**images, **parse_image_map(",".join(args.image), Path.cwd())}
    return EmulatorConfig.from_env(**overrides)


def _serve(config: EmulatorConfig) -> None:
    # Imported here, not at the top: the other commands (status, down, logs...) start without moto and the cloud.
    from emulator.aws.botocore_data import share_parsed_files

    share_parsed_files()  # before moto's import, whose sessions parse EC2's model
    with long_lived_imports():
        from emulator import memtrace
        from emulator.cloud import LocalCloud

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stdout)
    logger.info("malloc settings: %s", tune_malloc() or "glibc's")
    started = time.perf_counter()
    running, stop = threading.Event(), threading.Event()
    cloud = LocalCloud(config)
    with _stopped_by_signals(running, stop):
        try:
            cloud.start()
            write_ready(config, cloud.outputs)
            running.set()
            memtrace.start_from_env()  # after the start: its imports and the deploy are not traced
            print(f"emulator ready on {config.endpoint_url} in {time.perf_counter() - started:.2f} s", flush=True)
            caller = os.environ.pop(ENV_STOP_WITH_PID, None)
            while not stop.wait(0.5):  # a timed wait lets the main thread run the signal handlers
                if caller is not None and os.getppid() != int(caller):
                    logger.warning("the process that started this emulator (pid %s) is gone: stopping", caller)
                    break
        finally:
            stopping = time.perf_counter()
            cloud.stop()
            _kill_lambda_processes_left()
            logger.info("emulator stopped in %.2f s", time.perf_counter() - stopping)


def _stopped_by_signals(running: threading.Event, stop: threading.Event) -> contextlib.AbstractContextManager[None]:
    """SIGTERM or SIGINT: once running, set `stop`; while still starting, abort the start (exit 128 + signal)."""

    def handle(signum: signal.Signals) -> None:
        if running.is_set() or stop.is_set():  # running, or already aborting the start: let the stop go on
            stop.set()
            return
        stop.set()
        logger.info("%s while starting: stopping", signum.name)
        raise SystemExit(128 + signum)

    return on_stop_signals(handle)


def _kill_lambda_processes_left() -> None:
    """SIGKILL, by pid, the Lambda processes the stopped service left (environments busy with an event finish it
    first, which can take the function's timeout): none outlives the emulator."""
    for process in worker_processes(os.getpid(), include_templates=True):
        logger.info("killing %s %s (pid %d), still running at exit", process.function, process.role, process.pid)
        with contextlib.suppress(ProcessLookupError):  # it ended meanwhile: what we wanted
            os.kill(process.pid, signal.SIGKILL)


def _passthrough(args: argparse.Namespace) -> list[str]:
    extra: list[str] = []
    for flag in ("template", "lambdas", "seed"):
        value = getattr(args, flag, None)
        if value is not None:
            extra += [f"--{flag}", str(value.resolve())]
    if getattr(args, "no_stack", False):
        extra.append("--no-stack")
    for image in getattr(args, "image", []):
        extra += ["--image", image]
    return extra


def _print_runtime_status(path: Path) -> None:
    """Functions' isolation (per-function environments, private /tmp) and what image functions' Dockerfiles asked
    that the emulator did not do."""
    if not path.is_file():
        return
    status = json.loads(path.read_text())
    print(f"function environments: {status['function_environments']}; private /tmp: {status['private_tmp']}")
    print(f"isolation between accounts: {status.get('isolation', 'off')}")
    for image in status["images"]:
        print(f"image {image['image_uri']} ({image['dockerfile']}):")
        print("".join(f"  not honoured: {line}\n" for line in image["not_honoured"]), end="")
        print("".join(f"  skipped: {line}\n" for line in image["skipped"]), end="")
def _reset(config: EmulatorConfig) -> str:
    """Deletes the saved state; refused while an emulator runs on it."""
    try:
        info = read_ready(config)
    except NotRunningError:
        reset(state_root(config.state_dir))
        return f"state in {state_root(config.state_dir)} deleted: the next start is empty"
    raise EmulatorError(f"the emulator (pid {info['pid']}) is running on this state; stop it first (`make down`)")


def _state_lines(config: EmulatorConfig) -> list[str]:
    """What the saved state holds, as of its last snapshot, and the disk it takes."""
    root = state_root(config.state_dir)
    summary = read_summary(root)
    if summary is None:
        return [f"state: none saved yet in {root}"]
    saved = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(summary["saved_at"]))
    return [f"state in {root} (last snapshot {saved}; {disk_use(root) / 1e6:.1f} MB on disk):",
            f"  S3: {summary['s3_objects']} objects, {summary['s3_bytes'] / 1e6:.1f} MB",
            f"  SQS: {summary['sqs_messages']} messages; DynamoDB: {summary['dynamodb_items']} items",
            f"  CloudWatch: {summary['log_events']} log events in {summary['log_streams']} streams, "
            f"{summary['metric_datapoints']} metric datapoints",
            f"  Lambda: {summary['lambda_functions']} functions"]


def _status(config: EmulatorConfig) -> None:
    print("\n".join(_state_lines(config)))
    info = read_ready(config)
    print(f"emulator running on {info['endpoint']} (pid {info['pid']})")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    command = args.command or "serve"
    try:
        config = _config(args)
        if hasattr(args, "run"):  # issue 14: logs, invoke
            return args.run(args, config)
        if getattr(args, "fresh", False):
            print(_reset(config))
        if command == "serve":
            _serve(config)
        elif command == "reset":
            print(_reset(config))
        elif command == "up":
            info = start_background(config, _passthrough(args))
            print(f"emulator running on {info['endpoint']} (pid {info['pid']})")
        elif command == "down":
            print("emulator stopped" if stop_background(config) else "emulator was not running")
        elif command == "status":
            _status(config)
            _print_runtime_status(config.state_dir / "runtime.json")
        elif command == "outputs":
            print(json.dumps(read_ready(config)["outputs"], indent=2, sort_keys=True))
        elif command == "env":
            info = read_ready(config)
            print("\n".join(f"export {k}={v}" for k, v in client_environment(info).items()))
    except (EmulatorError, ContractError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
