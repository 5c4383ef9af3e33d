"""Grader settings: env var names (defined here only), rubric thresholds and run settings, bounded."""

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import yaml
from pydantic import Field, model_validator

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
from contract.settings import Settings
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


class _GraderSettings(Settings):
    invalid: ClassVar[type[Exception]] = ConfigError


class Thresholds(_GraderSettings):
    """Rubric limits as the course's graders score (ms, fractions, counts); latency percentile 100: every request."""

    latency_limit_ms: float = Field(3000.0, ge=1, le=3_600_000)
    latency_percentile: float = Field(100.0, ge=1, le=100)
    min_answered_fraction: float = Field(1.0, ge=0, le=1)
    min_correct_fraction: float = Field(1.0, ge=0, le=1)
    max_extractor_avg_duration_ms: float = Field(2000.0, ge=1, le=900_000)
    max_classifier_avg_duration_ms: float = Field(10000.0, ge=1, le=900_000)
    min_max_concurrency: int = Field(3, ge=0, le=10_000)
    max_contract_violations: int = Field(0, ge=0, le=1_000_000)


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
    return Thresholds(**{str(key): value for key, value in data.items()})


class RunSettings(_GraderSettings):
    """One grading run: workload size, opening burst, upload rate (/s), waits (s) and where reports go.

    The first `burst` uploads start together (a scale-out test: the rubric's concurrency line), the rest
    follow at `rate`.
    """

    workload: str = "course"
    count: int = Field(100, ge=1, le=10_000)
    rate: float = Field(1.0, ge=0.01, le=100)
    timeout: float = Field(60.0, ge=0.5, le=86_400)
    settle: float = Field(1.0, ge=0, le=600)
    metrics_wait: float | None = Field(None, ge=0, le=3600)
    device_id: str = "grader"
    receive_threads: int = Field(2, ge=1, le=50)
    upload_threads: int = Field(8, ge=1, le=64)
    out: Path | None = None
    burst: int = Field(4, ge=1)

    @model_validator(mode="after")
    def _burst_fits_the_upload_threads(self) -> "RunSettings":
        if self.burst > self.upload_threads:
            raise ValueError(f"burst ({self.burst}) must be at most upload_threads ({self.upload_threads})")
        return self


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
