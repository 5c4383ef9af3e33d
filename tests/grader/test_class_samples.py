"""`python -m grader class` grades the sample class together (tests/grader/class_samples/README.md): each gets the
score it deserves, and a crashing, hanging or oversized submission changes nobody else's."""

import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from grader.classroom.settings import POINTS, account_id

SAMPLES = Path(__file__).resolve().parent / "class_samples"
ROOT = SAMPLES.parents[2]
# Here a create_function'd function is set up on its first event, so the opening burst waits seconds for it:
# the latency limit is raised for these samples; the slow one (12 s per frame) still fails it.
# The samples are graded 4 at a time on 2 cores, beside the rest of the suite: how late answers are and whether a
# burst of 4 clips overlaps in 3 environments at once depend on that load, not on the submission. Those two lines
# are opened up here; the slow sample still fails latency (its answers take longer than 10 s).
# Regrades alone are off (--no-regrade): which sample the machine's load sends to one is not deterministic, and a
# regrade deploys again in another account; test_class_fairness.py tests the rule, the note and the page.
# Quiet starts are off (--no-stagger) for the same reason: beside the rest of the suite the CPU pressure is high, so
# every start would wait its whole limit; test_class_admission.py tests the gate.
THRESHOLDS = "latency_limit_ms: 10000\nmin_max_concurrency: 1\n"
ACCOUNTS_PENDING = "the emulator does not yet map a 12-digit access key to its account (wip/iam, issue 23)"


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The whole sample class graded once, 4 at a time, 8 uploads each."""
    work = tmp_path_factory.mktemp("class")
    (work / "thresholds.yaml").write_text(THRESHOLDS)
    command = [sys.executable, "-m", "grader", "class", str(SAMPLES), "--out", str(work / "out"), "--parallel", "4",
               "--count", "8", "--rate", "4", "--answer-timeout", "25", "--timeout", "240", "--deploy-timeout", "60",
               "--thresholds", str(work / "thresholds.yaml"), "--no-regrade", "--no-stagger"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=900, env=env)
    assert run.returncode == 0, run.stdout + run.stderr
    return work / "out"


def summary(out: Path, student: str) -> dict:
    return json.loads((out / student / "summary.json").read_text())


@pytest.mark.slow
@pytest.mark.integration
def test_each_sample_gets_the_score_it_deserves(graded: Path) -> None:
    correct, slow, crashing = summary(graded, "correct01"), summary(graded, "slow03"), summary(graded, "crashing04")
    assert (correct["stage"], correct["total"]) == ("graded", 100), correct
    assert slow["points"]["correctness"] == POINTS["correctness"] and slow["points"]["latency"] == 0, slow
    assert slow["points"]["face classifier average Duration"] == 0 and slow["total"] == 80, slow
    assert crashing["points"]["completeness"] == 0 and crashing["points"]["correctness"] == 0, crashing
    assert "8 missing" in crashing["note"], crashing
    assert summary(graded, "noperm05")["stage"] == "graded"
    assert (summary(graded, "hostile07")["stage"], summary(graded, "hostile07")["total"]) == ("graded", 100)


@pytest.mark.slow
@pytest.mark.integration
def test_what_failed_where_is_named(graded: Path) -> None:
    wrong, large, hangs = summary(graded, "wrongnames02"), summary(graded, "toolarge06"), summary(graded, "hangs08")
    assert wrong["stage"] == "resources" and "bucket 'wrongnames02-input'" in wrong["note"], wrong
    assert large["stage"] == "deploy" and "Unzipped size must be smaller than" in large["note"], large
    assert hangs["stage"] == "deploy" and "did not finish within 60 s" in hangs["note"], hangs
    assert all(s["total"] == 0 for s in (wrong, large, hangs))
    assert "Unzipped size" in (graded / "toolarge06" / "deploy.log").read_text()


@pytest.mark.slow
@pytest.mark.integration
def test_the_gradebook_has_a_row_per_student_and_the_page_links_each_report(graded: Path) -> None:
    with (graded / "grades.csv").open() as handle:
        rows = {row["student_id"]: row for row in csv.DictReader(handle)}
    assert set(rows) == {"correct01", "wrongnames02", "slow03", "crashing04", "noperm05", "toolarge06", "hostile07",
                         "hangs08"}
    assert rows["correct01"]["total"] == "100" and rows["hangs08"]["note"].startswith("deploy: ")
    assert float(rows["slow03"]["correctness (40)"]) == 40 and float(rows["slow03"]["latency (15)"]) == 0
    page = (graded / "index.html").read_text()
    assert "data:image/png;base64," in page and 'href="correct01/report.html"' in page
    assert (graded / "correct01" / "report.json").is_file() and (graded / "correct01" / "report.html").is_file()
    assert "resources" in page and "deploy" in page


@pytest.mark.slow
@pytest.mark.integration
def test_each_report_says_how_busy_the_machine_was_while_its_workload_ran(graded: Path) -> None:
    figure = json.loads((graded / "correct01" / "report.json").read_text())["machine_cpu_pressure"]
    assert figure["source"] in ("psi", "loadavg") and figure["window_seconds"] > 0 and figure["cores"] >= 1
    assert figure == summary(graded, "correct01")["contention"]
    warned = "4 submissions at once on" in (graded / "index.html").read_text()
    assert warned is ((os.cpu_count() or 1) < 4)


@pytest.mark.slow
@pytest.mark.integration
def test_each_submission_deployed_into_its_own_account(graded: Path) -> None:
    deployed = (graded / "correct01" / "deploy.log").read_text()
    if f"in account {account_id(0)}" not in deployed:
        pytest.xfail(ACCOUNTS_PENDING)
    accounts = {re.search(r"in account (\d{12})", (graded / s / "deploy.log").read_text()).group(1)
                for s in ("correct01", "slow03", "crashing04", "noperm05", "hostile07")}
    assert len(accounts) == 5


@pytest.mark.slow
@pytest.mark.integration
def test_the_hostile_submission_sees_nothing_of_the_others(graded: Path) -> None:
    if f"in account {account_id(0)}" not in (graded / "correct01" / "deploy.log").read_text():
        pytest.xfail(ACCOUNTS_PENDING)
    setup = (graded / "hostile07" / "deploy.log").read_text()
    handler = [line for line in (graded / "emulator.log").read_text().splitlines() if "PEEK bucket" in line]
    others = ("correct01", "slow03", "crashing04", "noperm05", "toolarge06", "wrongnames02")
    assert "PEEK setup sees buckets" in setup and handler, "the hostile sample did not run its probes"
    assert not [o for o in others if o in setup], setup
    listed = [line for line in handler if any(o in line for o in others) and "refused" not in line]
    assert any("PEEK bucket correct01-input: ['refused" in line for line in handler), handler
    assert not listed, listed


@pytest.mark.slow
@pytest.mark.integration
def test_a_missing_permission_is_listed_from_the_functions_iam_lines(graded: Path) -> None:
    noperm = summary(graded, "noperm05")
    if not noperm["iam"]:
        pytest.xfail("the emulator does not yet log `IAM:` warnings for a missing permission (wip/iam)")
    assert any("s3:PutObject" in line for line in noperm["iam"]), noperm["iam"]
    assert "noperm05-output" in " ".join(noperm["iam"])


@pytest.mark.slow
@pytest.mark.integration
def test_the_hostile_submissions_function_reads_no_file_of_the_others_nor_of_the_emulator(graded: Path) -> None:
    """Isolation per account (on for class grading): the classmates' files its deploy script found, the emulator's
    environment and working folder (found through /proc) are all refused to the function; as root, the emulator's
    process is not even listed in the function's /proc."""
    log = (graded / "emulator.log").read_text().splitlines()
    peeks = [line.split("PEEK file ", 1)[1] for line in log if "PEEK file " in line]
    listed = [int(line.rsplit(": ", 1)[1]) for line in log if "PEEK emulator processes listed: " in line]
    assert listed, "the hostile sample did not look for the emulator's process"
    if os.geteuid() == 0:  # its jailed deploy found no classmate's file to hand its function (test below)
        assert set(listed) == {0}, listed
    else:
        assert any("/correct/grading.toml" in peek for peek in peeks), peeks
        assert any("/environ" in peek for peek in peeks), peeks
    read = [peek for peek in peeks if ": refused: " not in peek]
    assert not read, read


@pytest.mark.slow
@pytest.mark.integration
@pytest.mark.skipif(os.geteuid() != 0, reason="a deploy is jailed only as root")
def test_the_hostile_submissions_deploy_finds_and_reads_nothing_of_the_others_nor_of_the_grader(graded: Path) -> None:
    """Its setup script looks beside its folder, through /proc for the grader's command lines (the class folder,
    the out dir) and in the emulator's state folders: jailed, it finds none of them, and still deploys."""
    setup = (graded / "hostile07" / "deploy.log").read_text().splitlines()
    assert "PEEK setup grader processes listed: 0" in setup, setup
    assert not [line for line in setup if line.startswith("PEEK setup file ")], setup
    assert summary(graded, "hostile07")["stage"] == "graded" and summary(graded, "correct01")["total"] == 100
