"""The errors of the Lambda runtime, with AWS's own error type strings and messages.

`EmulatorError` is the base of every emulator error; it lives here, at the bottom, so that the runtime needs
nothing above it, and `emulator/errors.py` re-exports it for the rest of the emulator.
Error types and messages: https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html#API_Invoke_Errors
"""

from __future__ import annotations

# AWS's error types, as the Lambda service reports them.
TIMEOUT_ERROR = "Sandbox.Timedout"
EXIT_ERROR = "Runtime.ExitError"
INIT_ERROR = "Runtime.InitError"
OUT_OF_MEMORY_ERROR = "Runtime.OutOfMemory"  # the environment passed its MemorySize and was killed
THROTTLED = "TooManyRequestsException"

RATE_EXCEEDED = "Rate Exceeded."  # AWS's message for a throttled invocation
RESERVED_LIMIT_REASON = "ReservedFunctionConcurrentInvocationLimitExceeded"
ACCOUNT_LIMIT_REASON = "ConcurrentInvocationLimitExceeded"
RESERVED_ZERO_ERROR = {"errorType": THROTTLED, "errorMessage": RATE_EXCEEDED}


class EmulatorError(Exception):
    """Base class for every emulator error."""


class ThrottledError(EmulatorError):
    """The function is already running as many instances as its concurrency limit allows.

    The message and `reason` are AWS's: the reason says whether the function's reserved concurrency or the
    account's limit was reached.
    """

    error_type = THROTTLED

    def __init__(self, reason: str) -> None:
        super().__init__(RATE_EXCEEDED)
        self.reason = reason


class PayloadTooLargeError(EmulatorError):
    """The event is larger than Lambda accepts for this invocation type."""

    error_type = "RequestTooLargeException"
