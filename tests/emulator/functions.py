"""Tiny handlers the emulator tests deploy through the Lambda API, zipped on the fly."""

from __future__ import annotations

import io
import textwrap
import uuid
import zipfile
from typing import Any

# Each handler reports every call to the queue in $REPORT_QUEUE_URL, so tests can count invocations.
_REPORTING = """
import json, os, time, boto3
_sqs = boto3.client("sqs")

def _report(event):
    _sqs.send_message(QueueUrl=os.environ["REPORT_QUEUE_URL"], MessageBody=json.dumps(event))
"""

HANDLERS = {
    "echo": "def lambda_handler(event, context):\n    print('echo', context.aws_request_id)\n    return event\n",
    "report": _REPORTING + "\ndef lambda_handler(event, context):\n    _report(event)\n    return 'ok'\n",
    "raise": "def lambda_handler(event, context):\n    raise ValueError('boom')\n",
    "first": "def lambda_handler(event, context):\n    return 'first'\n",
    "other": "def lambda_handler(event, context):\n    return 'other'\n",
    "fail": _REPORTING + "\ndef lambda_handler(event, context):\n    _report(event)\n    raise ValueError('boom')\n",
    "sleep": "import time\n\ndef lambda_handler(event, context):\n    time.sleep(event.get('seconds', 5))\n"
             "    return 'slept'\n",
    # sleeps $SLEEP seconds, then reports: a report present as soon as the caller's call returned means it waited
    "sleep_then_report": _REPORTING + "\ndef lambda_handler(event, context):\n"
                         "    time.sleep(float(os.environ['SLEEP']))\n    _report(event)\n",
    "exit": "import os\n\ndef lambda_handler(event, context):\n    os._exit(3)\n",
    "segfault": "import ctypes\n\ndef lambda_handler(event, context):\n    ctypes.string_at(0)\n",
    # The marker is an S3 object: it must outlive the environment that crashed, and no host path is visible to
    # a function (each environment has its own /tmp, as on AWS).
    "crash_once": textwrap.dedent("""
        import os, boto3
        _s3 = boto3.client("s3")
        def lambda_handler(event, context):
            if not _s3.list_objects_v2(Bucket=event["bucket"], Prefix=event["marker"]).get("Contents"):
                _s3.put_object(Bucket=event["bucket"], Key=event["marker"], Body=b"crashed")
                os._exit(9)
            return "second try"
        """),
    "import_error": "import module_that_does_not_exist\n\ndef lambda_handler(event, context):\n    return 1\n",
    # What an environment restored from a snapshot inherits (INIT's pid and token) and what it must not share.
    "snapshot": textwrap.dedent("""
        import os, random, secrets, tempfile, time
        from snapshot_restore_py import register_after_restore, register_before_snapshot
        INIT_PID, INIT_TOKEN = os.getpid(), secrets.token_hex(8)
        hooks = {"before_snapshot": [], "after_restore": []}

        @register_before_snapshot
        def before():
            hooks["before_snapshot"].append(os.getpid())

        @register_after_restore
        def after():
            hooks["after_restore"].append(os.getpid())

        def lambda_handler(event, context):
            time.sleep(event.get("seconds", 0))
            marker = os.path.join(tempfile.gettempdir(), "marker.txt")
            first = not os.path.exists(marker)
            open(marker, "a").write(context.aws_request_id)
            return {"init_pid": INIT_PID, "init_token": INIT_TOKEN, "pid": os.getpid(), "hooks": hooks,
                    "random": random.random(), "tmpdir": tempfile.gettempdir(), "first_in_tmp": first}
        """),
}


def zip_files(files: dict[str, str | bytes]) -> bytes:
    """A zip holding each file (path -> contents)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def zip_handler(source: str) -> bytes:
    return zip_files({"app.py": source})


def create_function(lam: Any, kind: str, timeout: int = 10, env: dict[str, str] | None = None,
                    dlq_arn: str | None = None) -> str:
    """Creates a uniquely named function running HANDLERS[kind]; returns its name."""
    name = f"test-{kind}-{uuid.uuid4().hex[:8]}"
    extra: dict[str, Any] = {"DeadLetterConfig": {"TargetArn": dlq_arn}} if dlq_arn else {}
    lam.create_function(
        FunctionName=name, Runtime="python3.11", Handler="app.lambda_handler",
        Role="arn:aws:iam::123456789012:role/test-lambda-role", Code={"ZipFile": zip_handler(HANDLERS[kind])},
        Timeout=timeout, MemorySize=256, Environment={"Variables": env or {}}, **extra,
    )
    return name
