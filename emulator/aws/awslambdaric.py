"""awslambdaric (4.2.2, pinned here and in emulator/lambda_runtime/aws-runtime.txt): the private names the snapshot
template uses inside each function's own interpreter.

`emulator/lambda_runtime/snapshot_template.py` runs in the function's environment, where nothing of the emulator
can be imported; it validates the handler with `bootstrap._get_handler` during INIT and swaps the module-level
`lambda_runtime_client.runtime_client` for a fresh native client in each forked environment (a fork must not share
its parent's connection). They are registered here and verified against the same pinned version installed beside
the emulator, so an upgrade that moves them fails at the emulator's start, not inside a function.
"""

from __future__ import annotations

from awslambdaric import bootstrap, lambda_runtime_client

from emulator.aws.registry import Internal

GET_HANDLER = Internal(bootstrap, "_get_handler", ("handler",))
FAULT_RESULT = Internal(bootstrap, "build_fault_result", ("exc_info", "msg"))
RUN = Internal(bootstrap, "run", ("handler", "lambda_runtime_client"))
USER_AGENT = Internal(lambda_runtime_client, "_user_agent", source="aws-lambda-python/")
NATIVE_CLIENT = Internal(lambda_runtime_client.BaseLambdaRuntimeClient, "wait_next_invocation", ("self",),
                         source="runtime_client.next()")
INTERNALS = (GET_HANDLER, FAULT_RESULT, RUN, USER_AGENT, NATIVE_CLIENT)
