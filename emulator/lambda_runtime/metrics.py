"""`AWS/Lambda` metrics, published to the emulator's CloudWatch API as AWS names them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from emulator.lambda_runtime.shipper import BackgroundShipper

NAMESPACE = "AWS/Lambda"
_MAX_DATA_PER_CALL = 1000


class MetricsPublisher(BackgroundShipper[dict[str, Any]]):
    """Invocations, Errors, Duration, Throttles, DeadLetterErrors, DestinationDeliveryFailures, ConcurrentExecutions."""

    def __init__(self, cloudwatch_client: Any) -> None:
        self._client = cloudwatch_client
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
        self.put(_datum("ConcurrentExecutions", account_in_flight, "Count", []))

    def ship(self, batch: list[dict[str, Any]]) -> None:
        for start in range(0, len(batch), _MAX_DATA_PER_CALL):
            self._client.put_metric_data(Namespace=NAMESPACE, MetricData=batch[start : start + _MAX_DATA_PER_CALL])

    def _datum(self, function_name: str, name: str, value: float, unit: str) -> None:
        self.put(_datum(name, value, unit, [{"Name": "FunctionName", "Value": function_name}]))


def _datum(name: str, value: float, unit: str, dimensions: list[dict[str, str]]) -> dict[str, Any]:
    return {
        "MetricName": name,
        "Dimensions": dimensions,
        "Timestamp": datetime.now(UTC),
        "Value": float(value),
        "Unit": unit,
    }
