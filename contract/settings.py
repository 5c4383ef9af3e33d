"""The one bounds check every part's settings use (device, grader), so limits read and fail alike."""


def check_bounds(name: str, value: float | None, low: float, high: float, error: type[Exception]) -> None:
    """Raise `error` unless value is a number with low <= value <= high (None passes: the setting is off)."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise error(f"{name} must be a number between {low} and {high}, got {value!r}")
