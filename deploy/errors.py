"""Errors the deploy raises; each message says what to do next."""

from contract.errors import TemplateError as UnreadableTemplateError


class DeployError(Exception):
    """Base class for every deploy error."""


class ConfigError(DeployError):
    """A setting is invalid (stack name, parameter)."""


class PrerequisiteError(DeployError):
    """Something the deploy needs is missing: credentials, the SAM CLI, Docker, Lambda concurrency."""


class TemplateError(DeployError, UnreadableTemplateError):
    """The stack template cannot be translated or deployed (or, as contract.template says, read)."""


class CommandError(DeployError):
    """A SAM CLI command failed."""
