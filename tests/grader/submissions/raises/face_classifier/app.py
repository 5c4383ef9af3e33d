"""Stand-in classifier whose handler always raises."""


def lambda_handler(event: dict, context: object) -> dict:
    """Fail every invocation."""
    raise RuntimeError("stand-in classifier: always fails")
