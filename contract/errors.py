"""What breaking the contract raises: ValueErrors, so callers at a boundary can name them."""


class ContractError(ValueError):
    """Base class: something does not follow docs/contracts.md."""


class BadKeyError(ContractError):
    """A device id or an S3 key does not have the contract's shape."""


class MalformedResultError(ContractError):
    """A result message does not follow the schema; the message names the field(s) and why."""


class StackOutputsError(ContractError):
    """A stack's outputs cannot be read or lack one the contract names."""


class LabelsError(ContractError):
    """A labels file is unreadable or does not map video file names to person names."""


class TemplateError(ContractError):
    """The SAM template cannot be read, or does not say where a function's code is."""
