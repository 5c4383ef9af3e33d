"""Errors the emulator raises; the base and Lambda's AWS error strings live in emulator/lambda_runtime/errors.py."""

from emulator.lambda_runtime.errors import EmulatorError

__all__ = ["ConfigError", "EmulatorError", "NotRunningError", "PortInUseError"]


class ConfigError(EmulatorError):
    """A setting is missing or out of bounds."""


class NotRunningError(EmulatorError):
    """No emulator answers where one was expected."""


class StackDeployError(EmulatorError):
    """The stack command (deploy/ by default) could not put the stack on the emulator."""


class PortInUseError(EmulatorError):
    """The port the emulator should listen on is taken by another program."""
