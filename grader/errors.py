"""Errors raised by the grader: one base class and a few named cases."""


class GraderError(Exception):
    """Base class for every error the grader raises on purpose."""


class ConfigError(GraderError):
    """A setting or thresholds file is invalid, or a resource name cannot be resolved."""


class WorkloadError(GraderError):
    """The workload cannot be built: missing videos, labels or student records."""
