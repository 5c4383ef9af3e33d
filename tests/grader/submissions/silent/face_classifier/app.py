"""Stand-in classifier that never answers."""


def lambda_handler(event: dict, context: object) -> dict:
    """Do nothing: no result message."""
    return {"results": 0}
