"""Class grading settings: parallelism, limits per submission, account ids and the points of each rubric line.

Kept apart from grader/config.py (the single-run settings), in the same settings style (contract.settings).
"""

from typing import ClassVar

from pydantic import Field

from contract.settings import Settings
from grader.classroom.contention import QUIET_WAIT_SECONDS
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
# Lines a busy machine can fail on its own (how fast, how many at once): failed under contention, they are regraded.
TIMING_LINES = ("latency", "frame extractor average Duration", "face classifier average Duration",
                "max ConcurrentExecutions")
# The deploy command's nice value: untimed, it takes CPU from other submissions' timed workloads last (sched(7)).
DEPLOY_NICE = 19


# Timed workloads at once a core, by default: on 2 cores four of this project's submissions ran their course
# workloads together and all scored 100, while eight admitted at low pressure all lost their opening's answers
# (each opening asks for the whole machine for 2-3 s, docs/grading.md "Quiet starts").
WORKLOADS_PER_CORE = 2


class ClassSettings(Settings):
    """A class run: submissions graded at once, and per submission its wall-clock limit (s) and the limits of its
    deploy command (CPU s, address space MiB, seconds), the workload (uploads, uploads/s, answer wait s), a
    rubric thresholds file (grader.config.load_thresholds; None: the defaults), whether a submission whose
    timing lines failed on a busy machine is regraded alone at the end (each after waiting at most `quiet_wait` s
    for a quiet machine), whether each workload waits for a quiet start (grader.classroom.admission), and how many
    timed workloads may run at once with quiet starts (None: WORKLOADS_PER_CORE a core)."""

    invalid: ClassVar[type[Exception]] = ConfigError

    parallel: int = Field(2, ge=1, le=64)
    timeout: float = Field(600.0, ge=5, le=86_400)
    deploy_timeout: float = Field(300.0, ge=1, le=3600)
    deploy_cpu_seconds: int = Field(120, ge=1, le=3600)
    deploy_memory_mib: int = Field(2048, ge=64, le=65_536)
    count: int = Field(100, ge=1, le=10_000)
    rate: float = Field(1.0, ge=0.01, le=100)
    burst: int = Field(4, ge=1, le=8)
    answer_timeout: float = Field(60.0, ge=0.5, le=3600)
    metrics_wait: float = Field(20.0, ge=0, le=3600)
    thresholds: str | None = None
    regrade: bool = True
    quiet_wait: float = Field(QUIET_WAIT_SECONDS, ge=0, le=3600)
    stagger: bool = True
    workloads: int | None = Field(None, ge=1, le=64)

    def workload_slots(self, cores: int) -> int:
        """Timed workloads at once with quiet starts: `workloads`, else WORKLOADS_PER_CORE a core."""
        return self.workloads or WORKLOADS_PER_CORE * max(1, cores)

    @property
    def opening_answers(self) -> int:
        """Answers that end a workload's opening: its burst, or every upload when it sends fewer."""
        return min(self.burst, self.count)


def account_id(index: int) -> str:
    """The 12-digit account id (and access key id, LocalStack's convention) of the index-th submission."""
    if isinstance(index, bool) or not 0 <= index <= 899_999_999_998:
        raise ConfigError(f"submission index must be between 0 and 899999999998, got {index!r}")
    return f"{FIRST_ACCOUNT + index:012d}"
