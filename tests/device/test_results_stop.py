"""A consumer that stops leaves nothing behind: no open long poll takes the next result, and whatever its last
polls brought is visible again at once, so the next consumer gets it in its first poll (receive count 1 when
nothing received it before)."""

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from device.config import ConsumerConfig
from device.consumer import Delivery, ResultsConsumer
from tests.sqs_doubles import PollsOpenAtStop

REPO = Path(__file__).resolve().parents[2]
COUNTS = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]


def _counts(sqs: Any, queue_url: str) -> tuple[int, int]:
    """(visible, in flight) messages of the queue."""
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=COUNTS)["Attributes"]
    return int(attributes[COUNTS[0]]), int(attributes[COUNTS[1]])


def _results_command(queue_url: str, *options: str) -> list[str]:
    return [sys.executable, "-m", "device", "results", "--queue-url", queue_url, "--threads", "5", *options]


def _next_consumer(queue_url: str) -> list[Delivery]:
    """A second consumer that takes one result (or gives up after 5 idle seconds); its deliveries."""
    seen: list[Delivery] = []
    config = ConsumerConfig(wait_time_seconds=20, max_results=1, idle_timeout=5)
    ResultsConsumer(queue_url, 5, lambda result, delivery: seen.append(delivery), config=config).run()
    return seen


def test_after_an_idle_timeout_the_next_consumer_gets_the_next_result_in_its_first_poll(
    fifo_queue: str, sqs: Any, send: Callable[..., None], make_result: Callable[..., dict[str, Any]]
) -> None:
    # 20-second polls and a 1-second idle timeout: polls left open would outlive the process by ~19 s.
    first = subprocess.run(_results_command(fifo_queue, "--idle-timeout", "1", "--wait-time", "20"),
                           cwd=REPO, env=os.environ, capture_output=True, text=True, timeout=60)
    assert first.returncode == 0, first.stderr

    send(fifo_queue, [make_result(frame_index=7)])
    seen = _next_consumer(fifo_queue)

    assert [d.receive_count for d in seen] == [1]


def test_after_ctrl_c_the_next_consumer_gets_the_next_result_in_its_first_poll(
    fifo_queue: str, sqs: Any, send: Callable[..., None], make_result: Callable[..., dict[str, Any]]
) -> None:
    first = subprocess.Popen(_results_command(fifo_queue, "--wait-time", "3"), cwd=REPO, env=os.environ,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        send(fifo_queue, [make_result(frame_index=0)])
        assert first.stdout is not None
        for line in first.stdout:  # once it printed a result, its threads are polling
            if "mr_bean" in line:
                break
        first.send_signal(signal.SIGINT)
        output, _ = first.communicate(timeout=30)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert first.returncode == 0, output
    assert "results summary" in output

    send(fifo_queue, [make_result(frame_index=8)])
    seen = _next_consumer(fifo_queue)

    assert [d.receive_count for d in seen] == [1]


def test_what_open_polls_bring_after_the_stop_is_handed_back_at_once(
    fifo_queue: str, sqs: Any, send: Callable[..., None], make_result: Callable[..., dict[str, Any]]
) -> None:
    stop = threading.Event()
    gated = PollsOpenAtStop(sqs, stop)
    config = ConsumerConfig(wait_time_seconds=1, visibility_timeout=60)
    reported: list[Delivery] = []
    first = ResultsConsumer(fifo_queue, 2, lambda result, delivery: reported.append(delivery), stop, config, gated)
    runner = threading.Thread(target=first.run)
    runner.start()
    gated.wait_for_polls(2)
    send(fifo_queue, [make_result(frame_index=3)])

    stop.set()
    runner.join(30)

    assert not runner.is_alive() and first.open_polls == 0
    assert reported == []
    assert _counts(sqs, fifo_queue) == (1, 0)  # visible again now, not in 60 s
    assert [d.receive_count for d in _next_consumer(fifo_queue)] == [2]
