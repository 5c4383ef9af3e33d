"""Grading a whole class: every submission in its own AWS account in one emulator, in parallel (docs/grading.md).

`python -m grader class SUBMISSIONS_DIR --out DIR`; a submission is a folder with a `grading.toml` (manifest.py).
"""

from grader.classroom.manifest import Manifest, load_manifest
from grader.classroom.runner import grade_class
from grader.classroom.settings import ClassSettings, account_id
from grader.classroom.submission import Summary, only_summary

__all__ = ["ClassSettings", "Manifest", "Summary", "account_id", "grade_class", "load_manifest", "only_summary"]
