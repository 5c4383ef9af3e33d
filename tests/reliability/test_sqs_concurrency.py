"""Many consumers and producers on one FIFO queue at once: every message delivered once, none dropped.

moto alone fails this (it takes no lock: two receivers can get one message, a delete racing a send drops the
new message, a receive can die of "Set changed size during iteration"); emulator/aws/sqs.py serialises
each queue's receive, send and delete. The race windows are a few bytecodes wide, so the test runs moto
in-process with the interpreter switching threads every microsecond.
"""

import sys
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from moto.server import ThreadedMotoServer

from emulator.aws import sqs as sqs_wing
from emulator.aws.registry import PatchRegistry
from emulator.config import DEFAULT_REGION, dummy_session

MESSAGES, GROUPS, PRODUCERS, CONSUMERS = 150, 15, 3, 6


@pytest.fixture
def sqs() -> Iterator[object]:
    """An SQS client on an in-process moto with the emulator's hooks, threads switching every microsecond."""
    hooks = PatchRegistry()
    hooks.install(sqs_wing.patches())
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield dummy_session(DEFAULT_REGION).client("sqs", endpoint_url=f"http://{host}:{port}")
    finally:
        sys.setswitchinterval(interval)
        server.stop()
        hooks.uninstall()


def _produce(sqs, queue_url: str, numbers: range) -> None:
    for number in numbers:
        sqs.send_message(QueueUrl=queue_url, MessageBody=str(number), MessageGroupId=f"g{number % GROUPS}",
                         MessageDeduplicationId=str(number))


def _consume(sqs, queue_url: str, received: list[str], lock: threading.Lock, done: threading.Event) -> None:
    while not done.is_set():
        batch = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                    VisibilityTimeout=30).get("Messages", [])
        for message in batch:
            with lock:
                received.append(message["Body"])
                if len(received) >= MESSAGES:
                    done.set()
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def test_concurrent_fifo_consumers_get_each_message_exactly_once(sqs):
    queue_url = sqs.create_queue(QueueName=f"race-{uuid.uuid4().hex[:8]}.fifo",
                                 Attributes={"FifoQueue": "true"})["QueueUrl"]
    received: list[str] = []
    lock, done = threading.Lock(), threading.Event()
    share = MESSAGES // PRODUCERS
    with ThreadPoolExecutor(PRODUCERS + CONSUMERS) as pool:
        consumers = [pool.submit(_consume, sqs, queue_url, received, lock, done) for _ in range(CONSUMERS)]
        producers = [pool.submit(_produce, sqs, queue_url, range(i * share, (i + 1) * share)) for i in range(PRODUCERS)]
        for future in producers:
            future.result()
        done.wait(60)
        done.set()
        for future in consumers:
            future.result()
    assert sorted(map(int, received)) == list(range(MESSAGES))
