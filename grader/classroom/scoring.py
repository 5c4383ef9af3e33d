"""Points from a report: each rubric line's share of 100 (settings.POINTS), fraction lines in proportion."""

from collections.abc import Mapping
from typing import Any

from grader.classroom.settings import POINTS, PROPORTIONAL
from grader.errors import ConfigError


def line_key(name: str) -> str:
    """The POINTS key a rubric line's name starts with."""
    for key in POINTS:
        if name.startswith(key):
            return key
    raise ConfigError(f"rubric line {name!r} has no points in grader.classroom.settings.POINTS")


def points(document: Mapping[str, Any]) -> dict[str, float]:
    """Points per POINTS key earned by a report.json document."""
    earned = dict.fromkeys(POINTS, 0.0)
    for line in document["rubric"]:
        key = line_key(line["name"])
        if line["passed"]:
            earned[key] = POINTS[key]
        elif key in PROPORTIONAL and document["total"]:
            earned[key] = round(POINTS[key] * document[PROPORTIONAL[key]] / document["total"], 2)
    return earned
