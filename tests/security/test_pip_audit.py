"""pip-audit over the pinned requirements (pyproject.toml and each Lambda's requirements.txt) finds no known
vulnerability. It asks PyPI's vulnerability API; versions PyPI does not list (a local wheel mirror) cannot be
audited and are reported, and the test skips, printing why, when nothing could be audited."""

import json
import subprocess
import sys
import tomllib

import pytest

from tests.conftest import ROOT

REQUIREMENT_FILES = sorted((ROOT / "lambdas").glob("*/requirements.txt"))


def pinned_requirements() -> list[str]:
    """Every pinned requirement of the project, its optional groups and its Lambdas, once each."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = set(project["dependencies"])
    for group in project["optional-dependencies"].values():
        pins |= set(group)
    for path in REQUIREMENT_FILES:
        pins |= {line.strip() for line in path.read_text().splitlines() if line.strip() and line[0] != "#"}
    return sorted(pins)


@pytest.mark.network
def test_the_pinned_requirements_have_no_known_vulnerability(tmp_path):
    pins = pinned_requirements()
    assert all("==" in pin for pin in pins), "every requirement is pinned"
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("\n".join(pins) + "\n")
    done = subprocess.run([sys.executable, "-m", "pip_audit", "-r", str(requirements), "--no-deps", "--disable-pip",
                           "--progress-spinner", "off", "--format", "json"], capture_output=True, text=True,
                          timeout=300)
    if not done.stdout.strip():
        pytest.skip(f"pip-audit could not run here: {done.stderr.strip()[-500:]}")
    dependencies = json.loads(done.stdout)["dependencies"]
    vulnerable = {d["name"]: [v["id"] for v in d["vulns"]] for d in dependencies if d.get("vulns")}
    assert vulnerable == {}
    audited = [d["name"] for d in dependencies if "skip_reason" not in d]
    if not audited:
        reasons = sorted({d["skip_reason"].split(":")[0] for d in dependencies})
        pytest.skip(f"pip-audit audited none of the {len(dependencies)} pins: {'; '.join(reasons)}")
