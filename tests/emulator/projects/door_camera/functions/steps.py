"""The report state machine's tasks: `tally` the counts, then `label` the day busy or quiet."""


def lambda_handler(event, context):
    if event["action"] == "tally":
        counts = event["counts"]
        return {"total": sum(counts.values()), "busiest": max(counts, key=counts.get) if counts else None}
    if event["action"] == "label":
        return {"level": event["level"], "total": event["total"], "busiest": event["busiest"]}
    raise ValueError(f"unknown action {event['action']!r}: expected tally or label")
