"""`AWS/Lambda` metrics, published to the emulator's CloudWatch API as AWS names them."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from emulator.lambda_runtime.shipper import (
    AccountClients,
    BackgroundShipper,
    NotShipped,
    account_of,
    function_name_of,
)

NAMESPACE = "AWS/Lambda"
_MAX_DATA_PER_CALL = 1000


class MetricsPublisher(BackgroundShipper[tuple[str, dict[str, Any]]]):
    """Invocations, Errors, Duration, Throttles, DeadLetterErrors, DestinationDeliveryFailures, ConcurrentExecutions."""

    def __init__(self, clients: AccountClients) -> None:
        self._clients = clients
        super().__init__()

    def invocation(self, function_name: str, duration_ms: float, failed: bool) -> None:
        self._datum(function_name, "Invocations", 1, "Count")
        self._datum(function_name, "Errors", 1 if failed else 0, "Count")
        self._datum(function_name, "Duration", duration_ms, "Milliseconds")

    def throttle(self, function_name: str) -> None:
        self._datum(function_name, "Throttles", 1, "Count")

    def dead_letter_error(self, function_name: str) -> None:
        self._datum(function_name, "DeadLetterErrors", 1, "Count")

    def destination_delivery_failure(self, function_name: str) -> None:
        self._datum(function_name, "DestinationDeliveryFailures", 1, "Count")

    def concurrency(self, function_name: str, in_flight: int, account_in_flight: int) -> None:
        self._datum(function_name, "ConcurrentExecutions", in_flight, "Count")
        self.put((account_of(function_name), _datum("ConcurrentExecutions", account_in_flight, "Count", [])))

    def ship(self, batch: list[tuple[str, dict[str, Any]]]) -> None:
        """Each account's data in calls of at most _MAX_DATA_PER_CALL; only the calls that failed are tried again
        (NotShipped), so a datum is never counted twice."""
        by_account: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for account, datum in batch:
            by_account[account].append(datum)
        unshipped: list[tuple[str, dict[str, Any]]] = []
        cause: Exception | None = None
        for account, data in by_account.items():
            for start in range(0, len(data), _MAX_DATA_PER_CALL):
                chunk = data[start : start + _MAX_DATA_PER_CALL]
                try:
                    self._clients(account).put_metric_data(Namespace=NAMESPACE, MetricData=chunk)
                except (BotoCoreError, ClientError) as exc:
                    unshipped, cause = unshipped + [(account, datum) for datum in chunk], exc
        if cause is not None:
            raise NotShipped(unshipped, cause)

    def _datum(self, function: str, name: str, value: float, unit: str) -> None:
        """`function`: a name, or an ARN whose account the datum goes to (its dimension is the name alone)."""
        dimensions = [{"Name": "FunctionName", "Value": function_name_of(function)}]
        self.put((account_of(function), _datum(name, value, unit, dimensions)))


def _datum(name: str, value: float, unit: str, dimensions: list[dict[str, str]]) -> dict[str, Any]:
    return {
        "MetricName": name,
        "Dimensions": dimensions,
        "Timestamp": datetime.now(UTC),
        "Value": float(value),
        "Unit": unit,
    }
