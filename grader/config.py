"""Grader settings: env var names (defined here only), rubric thresholds and run settings, bounded."""

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import yaml

from contract import StackOutputsError, stack_outputs
from contract.aws import (
    DEFAULT_STACK_NAME,
    ENV_RESULTS_QUEUE_URL,
    ENV_STACK_NAME,
    ENV_VIDEOS_BUCKET,
    OUTPUT_FACE_CLASSIFIER,
    OUTPUT_FRAME_EXTRACTOR,
    OUTPUT_RESULTS_QUEUE_URL,
    OUTPUT_VIDEOS_BUCKET,
)
from contract.settings import check_bounds
from grader.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
FIXTURES = PROJECT_ROOT / "fixtures"
REPORTS_DIR = Path("reports")

ENV_FRAME_EXTRACTOR = "FRAME_EXTRACTOR_FUNCTION"
ENV_FACE_CLASSIFIER = "FACE_CLASSIFIER_FUNCTION"
ENV_ENDPOINT = "AWS_ENDPOINT_URL"

_RESOURCES = (
    ("bucket", OUTPUT_VIDEOS_BUCKET, ENV_VIDEOS_BUCKET),
    ("queue_url", OUTPUT_RESULTS_QUEUE_URL, ENV_RESULTS_QUEUE_URL),
    ("frame_extractor", OUTPUT_FRAME_EXTRACTOR, ENV_FRAME_EXTRACTOR),
    ("face_classifier", OUTPUT_FACE_CLASSIFIER, ENV_FACE_CLASSIFIER),
)


def _check(name: str, value: float, low: float, high: float) -> None:
    """Raise the grader's ConfigError unless value is a number with low <= value <= high (None included)."""
    if value is None:
        raise ConfigError(f"{name} must be a number between {low} and {high}, got None")
    check_bounds(name, value, low, high, ConfigError)


@dataclass(frozen=True)
class Thresholds:
    """Rubric limits as the course's graders score (ms, fractions, counts); latency percentile 100: every request."""

    latency_limit_ms: float = 3000.0
    latency_percentile: float = 100.0
    min_answered_fraction: float = 1.0
    min_correct_fraction: float = 1.0
    max_extractor_avg_duration_ms: float = 2000.0
    max_classifier_avg_duration_ms: float = 10000.0
    min_max_concurrency: int = 3
    max_contract_violations: int = 0

    def __post_init__(self) -> None:
        _check("latency_limit_ms", self.latency_limit_ms, 1, 3_600_000)
        _check("latency_percentile", self.latency_percentile, 1, 100)
        _check("min_answered_fraction", self.min_answered_fraction, 0, 1)
        _check("min_correct_fraction", self.min_correct_fraction, 0, 1)
        _check("max_extractor_avg_duration_ms", self.max_extractor_avg_duration_ms, 1, 900_000)
        _check("max_classifier_avg_duration_ms", self.max_classifier_avg_duration_ms, 1, 900_000)
        _check("min_max_concurrency", self.min_max_concurrency, 0, 10_000)
        _check("max_contract_violations", self.max_contract_violations, 0, 1_000_000)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> "Thresholds":
        """Thresholds from a mapping; unknown keys are errors."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown threshold(s) {unknown}; known: {sorted(known)}")
        return cls(**data)


def load_thresholds(path: Path | None) -> Thresholds:
    """Thresholds from a JSON or YAML file (a mapping of field to value); defaults when path is None."""
    if path is None:
        return Thresholds()
    try:
        text = Path(path).read_text()
        data = json.loads(text) if Path(path).suffix == ".json" else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read thresholds from {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a mapping of threshold names to values")
    return Thresholds.from_mapping(data)


@dataclass(frozen=True)
class RunSettings:
    """One grading run: workload size, opening burst, upload rate (/s), waits (s) and where reports go.

    The first `burst` uploads start together (a scale-out test: the rubric's concurrency line), the rest
    follow at `rate`.
    """

    workload: str = "course"
    count: int = 100
    rate: float = 1.0
    timeout: float = 60.0
    settle: float = 1.0
    metrics_wait: float | None = None
    device_id: str = "grader"
    receive_threads: int = 2
    upload_threads: int = 8
    out: Path | None = None
    burst: int = 4

    def __post_init__(self) -> None:
        _check("count", self.count, 1, 10_000)
        _check("rate", self.rate, 0.01, 100)
        _check("timeout", self.timeout, 0.5, 86_400)
        _check("settle", self.settle, 0, 600)
        if self.metrics_wait is not None:
            _check("metrics_wait", self.metrics_wait, 0, 3600)
        _check("receive_threads", self.receive_threads, 1, 50)
        _check("upload_threads", self.upload_threads, 1, 64)
        _check("burst", self.burst, 1, self.upload_threads)
        if not math.isfinite(self.rate):
            raise ConfigError("rate must be finite")


@dataclass(frozen=True)
class Stack:
    """The resources a run uses (stack outputs)."""

    bucket: str
    queue_url: str
    frame_extractor: str
    face_classifier: str

    @classmethod
    def from_outputs(cls, outputs: Mapping[str, str]) -> "Stack":
        """From a stack's Outputs; ConfigError names what is missing."""
        missing = [output for _, output, _ in _RESOURCES if output not in outputs]
        if missing:
            raise ConfigError(f"the stack outputs lack {missing} (they have {sorted(outputs)})")
        return cls(**{attr: outputs[output] for attr, output, _ in _RESOURCES})


def resolve_stack(cloudformation: Any, environ: Mapping[str, str] | None = None) -> Stack:
    """Each resource: environment variable > output of the stack $STACK_NAME (default facepipe)."""
    env = os.environ if environ is None else environ
    values = {attr: env[var] for attr, _, var in _RESOURCES if env.get(var)}
    if len(values) == len(_RESOURCES):
        return Stack(**values)
    stack = env.get(ENV_STACK_NAME) or DEFAULT_STACK_NAME
    try:
        outputs = stack_outputs(cloudformation, stack)
    except StackOutputsError as exc:
        raise ConfigError(f"{exc}; set {[var for _, _, var in _RESOURCES]} or deploy stack {stack!r}") from exc
    return Stack.from_outputs({**outputs, **{output: values[attr] for attr, output, _ in _RESOURCES if attr in values}})
