"""Class grading settings: parallelism, limits per submission, account ids and the points of each rubric line.

Kept apart from grader/config.py (the single-run settings); bounds use the same check.
"""

from dataclasses import dataclass

from contract.settings import check_bounds
from grader.errors import ConfigError

MANIFEST = "grading.toml"
FIRST_ACCOUNT = 100_000_000_001  # 12 digits; LocalStack and moto's default 000000000000 / 123456789012 stay unused
SECRET_KEY = "class-grading-dummy-secret"  # noqa: S105 (obviously dummy, as the emulator's)
REGION = "us-east-1"

# Points per rubric line, matched by the start of grader.rubric's line names; they add up to 100.
POINTS = {
    "completeness": 20.0,
    "correctness": 40.0,
    "latency": 15.0,
    "frame extractor average Duration": 5.0,
    "face classifier average Duration": 5.0,
    "max ConcurrentExecutions": 5.0,
    "message contract": 10.0,
}
# Short names of the lines, for `python -m grader line OUT SLUG` (one GitHub Classroom step each).
SLUGS = dict(zip(("completeness", "correctness", "latency", "extractor-duration", "classifier-duration",
                  "concurrency", "contract"), POINTS, strict=True))
# Lines measured as a fraction of the uploads earn their points in proportion; the others all or nothing.
PROPORTIONAL = {"completeness": "answered", "correctness": "correct"}


@dataclass(frozen=True)
class ClassSettings:
    """A class run: submissions graded at once, and per submission its wall-clock limit (s) and the limits of its
    deploy command (CPU s, address space MiB, seconds), the workload (uploads, uploads/s, answer wait s) and a
    rubric thresholds file (grader.config.load_thresholds; None: the defaults)."""

    parallel: int = 2
    timeout: float = 600.0
    deploy_timeout: float = 300.0
    deploy_cpu_seconds: int = 120
    deploy_memory_mib: int = 2048
    count: int = 100
    rate: float = 1.0
    burst: int = 4
    answer_timeout: float = 60.0
    metrics_wait: float = 20.0
    thresholds: str | None = None

    def __post_init__(self) -> None:
        for name, low, high in (
            ("parallel", 1, 64),
            ("timeout", 5, 86_400),
            ("deploy_timeout", 1, 3600),
            ("deploy_cpu_seconds", 1, 3600),
            ("deploy_memory_mib", 64, 65_536),
            ("count", 1, 10_000),
            ("rate", 0.01, 100),
            ("burst", 1, 8),
            ("answer_timeout", 0.5, 3600),
            ("metrics_wait", 0, 3600),
        ):
            check_bounds(name, getattr(self, name), low, high, ConfigError)


def account_id(index: int) -> str:
    """The 12-digit account id (and access key id, LocalStack's convention) of the index-th submission."""
    check_bounds("submission index", index, 0, 899_999_999_998, ConfigError)
    return f"{FIRST_ACCOUNT + index:012d}"
