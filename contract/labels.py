"""The labels file (fixtures/labels.json, a workload folder's labels.json): the person each source video shows.

Read by the device (`record --labels`, for the expected-names file), the grader (workloads) and the bench.
"""

from __future__ import annotations

import json
from pathlib import Path

from contract.errors import LabelsError

LABELS_FILE = "labels.json"


def load_labels(path: Path) -> dict[str, str]:
    """{video file name: person name}; LabelsError naming the file unless it is a JSON object of non-empty names."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise LabelsError(f"cannot read labels from {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise LabelsError(f"{path} must be a JSON object mapping video file names to person names")
    bad = sorted(str(name) for name, person in data.items() if not _is_entry(name, person))
    if bad:
        raise LabelsError(f"{path}: {bad} must be plain video file names mapped to non-empty person names")
    return data


def _is_entry(name: str, person: object) -> bool:
    """A plain file name (no folder) mapped to a non-empty person name."""
    return bool(name) and "/" not in name and name not in {".", ".."} and isinstance(person, str) and bool(person)
