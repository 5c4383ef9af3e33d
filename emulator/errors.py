"""Errors the emulator raises; Lambda failures carry AWS's own error type strings."""


class EmulatorError(Exception):
    """Base class for every emulator error."""


class ConfigError(EmulatorError):
    """A setting is missing or out of bounds."""


class NotRunningError(EmulatorError):
    """No emulator answers where one was expected."""


class StackDeployError(EmulatorError):
    """The stack command (deploy/ by default) could not put the stack on the emulator."""


class PortInUseError(EmulatorError):
    """The port the emulator should listen on is taken by another program."""


# AWS's error types, as the Lambda service reports them.
TIMEOUT_ERROR = "Sandbox.Timedout"
EXIT_ERROR = "Runtime.ExitError"
INIT_ERROR = "Runtime.InitError"
THROTTLED = "TooManyRequestsException"
