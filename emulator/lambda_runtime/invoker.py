"""Old import path of the Lambda service, split into pool.py, async_events.py, run_threads.py and service.py; kept
only while emulator/moto_hooks.py still uses it (issue 20): delete this file once it imports `from
emulator.lambda_runtime import ...`."""

from emulator.lambda_runtime.errors import PayloadTooLargeError, ThrottledError
from emulator.lambda_runtime.service import LambdaService

__all__ = ["LambdaService", "PayloadTooLargeError", "ThrottledError"]
