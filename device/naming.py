"""The spool's file names; capture stamps and S3 keys are the contract's (docs/contracts.md, "Keys")."""

import re

import contract
from contract.keys import STAMP_PATTERN
from device.errors import ConfigError

SPOOL_NAME_RE = re.compile(rf"^({STAMP_PATTERN})\.mp4$")


def check_device_id(device_id: str) -> str:
    """The contract's device-id check, failing with the device's ConfigError."""
    try:
        return contract.check_device_id(device_id)
    except contract.BadKeyError as exc:
        raise ConfigError(str(exc)) from exc
