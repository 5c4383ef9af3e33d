"""The local cloud: moto's AWS APIs plus a Lambda service that runs handlers in awslambdaric workers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from emulator.cloud import LocalCloud
    from emulator.config import EmulatorConfig

__all__ = ["EmulatorConfig", "LocalCloud"]


def __getattr__(name: str) -> Any:
    """LocalCloud and EmulatorConfig on first use (PEP 562): importing one module of the package (the CLI's
    `status`/`down`/`logs`, the grader, the device) does not load moto and the whole cloud with it."""
    if name == "LocalCloud":
        from emulator.cloud import LocalCloud

        return LocalCloud
    if name == "EmulatorConfig":
        from emulator.config import EmulatorConfig

        return EmulatorConfig
    raise AttributeError(f"module 'emulator' has no attribute {name!r}")
