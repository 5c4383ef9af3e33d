"""The local cloud: moto's AWS APIs plus a Lambda service that runs handlers in awslambdaric workers."""

from emulator.cloud import LocalCloud
from emulator.config import EmulatorConfig

__all__ = ["EmulatorConfig", "LocalCloud"]
