"""The contract between the parts (docs/contracts.md): keys, times, metadata, the result message, AWS habits.

The device, both Lambdas, the grader and the tests import these; nothing here needs OpenCV, dlib or numpy.
"""

from contract.aws import (
    CLIENT_CONFIG,
    DEFAULT_STACK_NAME,
    ENV_STACK_NAME,
    STACK_OUTPUTS,
    Endpoint,
    client_config,
    join_pollers,
    poll_until_stopped,
    put_clip,
    release_messages,
    stack_outputs,
)
from contract.errors import BadKeyError, ContractError, LabelsError, MalformedResultError, StackOutputsError
from contract.keys import (
    ClipKey,
    FrameKey,
    carried_metadata,
    check_device_id,
    clip_key,
    clip_metadata,
    format_stamp,
    frame_key,
    next_capture_time,
    parse_stamp,
    utc_now,
    utc_stamp,
)
from contract.labels import LABELS_FILE, load_labels
from contract.latency import LatencyStats, percentile
from contract.result import SCHEMA, STATUSES, UNKNOWN, Origin, Outcome, Result, Student

__all__ = [
    "CLIENT_CONFIG",
    "DEFAULT_STACK_NAME",
    "ENV_STACK_NAME",
    "LABELS_FILE",
    "SCHEMA",
    "STACK_OUTPUTS",
    "STATUSES",
    "UNKNOWN",
    "BadKeyError",
    "ClipKey",
    "ContractError",
    "Endpoint",
    "FrameKey",
    "LabelsError",
    "LatencyStats",
    "MalformedResultError",
    "Origin",
    "Outcome",
    "Result",
    "StackOutputsError",
    "Student",
    "carried_metadata",
    "check_device_id",
    "client_config",
    "clip_key",
    "clip_metadata",
    "format_stamp",
    "frame_key",
    "join_pollers",
    "load_labels",
    "next_capture_time",
    "parse_stamp",
    "percentile",
    "poll_until_stopped",
    "put_clip",
    "release_messages",
    "stack_outputs",
    "utc_now",
    "utc_stamp",
]
