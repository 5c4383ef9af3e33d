"""Old import path of emulator/lambda_runtime/destinations.py, kept only while emulator/moto_hooks.py still uses it
(issue 20): delete this file once it imports `from emulator.lambda_runtime import ...`."""

from emulator.lambda_runtime import AWS_MAX_RETRY_ATTEMPTS, AsyncConfig

__all__ = ["AWS_MAX_RETRY_ATTEMPTS", "AsyncConfig"]
