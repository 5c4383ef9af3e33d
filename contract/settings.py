"""The one settings style every part uses (device, grader, emulator): frozen pydantic models, bounds as Field
constraints, unknown keys refused, and every bad value named in one error of the part's own type."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.fields import FieldInfo

_FROM_TEXT: ContextVar[bool] = ContextVar("settings_from_text", default=False)


class Settings(BaseModel):
    """Base of a part's settings: set `invalid` to the part's ConfigError; values are checked strictly (no `True`
    for a number, no "3" for an int), so CLI and file values arrive typed; `from_strings` takes text (env vars)."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, allow_inf_nan=False, validate_default=True,
                              arbitrary_types_allowed=True)
    invalid: ClassVar[type[Exception]] = ValueError

    def __init__(self, **values: Any) -> None:
        try:
            self.__pydantic_validator__.validate_python(values, self_instance=self, strict=not _FROM_TEXT.get())
        except ValidationError as exc:
            raise self.invalid(describe(exc, type(self))) from None

    @classmethod
    def from_strings(cls, values: dict[str, Any]) -> Any:
        """Settings from text values (e.g. environment variables), converted leniently ("3" -> 3, "0" -> False)."""
        token = _FROM_TEXT.set(True)
        try:
            return cls(**values)
        finally:
            _FROM_TEXT.reset(token)

    @classmethod
    def default(cls, name: str) -> Any:
        """A field's default: what a CLI shows and falls back to, so it is written once, here."""
        return cls.model_fields[name].get_default(call_default_factory=True)


def describe(exc: ValidationError, model: type[BaseModel]) -> str:
    """Each problem as `field: what is wrong (got value)`, joined by '; '; a bound names the field's whole range."""
    return "; ".join(_problem(error, model) for error in exc.errors(include_url=False))


def _problem(error: Any, model: type[BaseModel]) -> str:
    where = ".".join(str(part) for part in error["loc"]) or "settings"
    if error["type"] == "extra_forbidden":
        return f"{where}: unknown setting"
    if error["type"] in _BOUND_ERRORS and where in model.model_fields:
        return f"{where} must be {_range(model.model_fields[where])}, got {error['input']!r}"
    message = error["msg"].removeprefix("Value error, ")
    return f"{where}: {message[:1].lower()}{message[1:]} (got {error['input']!r})"


_BOUND_ERRORS = frozenset({"greater_than", "greater_than_equal", "less_than", "less_than_equal"})
_BOUND_WORDS = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}


def _range(field: FieldInfo) -> str:
    """'a number between 0.01 and 100' for ge/le bounds, else e.g. 'a number > 0'."""
    bounds = {name: getattr(item, name) for item in field.metadata for name in _BOUND_WORDS if hasattr(item, name)}
    if set(bounds) == {"ge", "le"}:
        return f"a number between {bounds['ge']} and {bounds['le']}"
    return "a number " + " and ".join(f"{_BOUND_WORDS[name]} {value}" for name, value in bounds.items())
