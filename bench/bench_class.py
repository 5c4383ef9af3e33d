"""Class grading throughput: submissions graded per hour with the course's 100-video workload, and the peak memory
(PSS of the grader, the emulator and every Lambda process, sampled each second), at --parallel 1, 2, 4, 8.

Each level grades `--rounds` x parallel copies of this project's own template (a real submission: OpenCV frames,
dlib + torch recognition), each in its own account and stack, as `python -m grader class` does (functions isolated
per account: EMULATOR_ISOLATION=accounts unless set otherwise), `--repeats` times; the table gives the medians.
Long: at the defaults about (1 + 2 + 4 + 8) x 2 x 3 submissions of >= 100 s each. Target: >= 100 per hour.
Regrades alone (a timing line failed while the machine was busy) count in the wall time; the table says how many
there were, and the machine's 1-minute load average when each class started and ended (other jobs count too).
Not part of the test suite.

`.venv/bin/python bench/bench_class.py [--levels 1,2,4,8] [--rounds 2] [--repeats 3] [--count 100] [--rate 1]
[--no-stagger]`
"""

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
SUBMISSION_LINKS = ("template.yaml", "lambdas", "facerec", "contract", "fixtures")
SAMPLE_SECONDS = 1.0
TARGET_PER_HOUR = 100


@dataclass(frozen=True)
class Level:
    """One class run: how many at once, how many graded, how long (s), the peak PSS (MiB), the totals, how many
    were regraded alone, and the 1-minute load average at its start and end."""

    parallel: int
    submissions: int
    seconds: float
    peak_mib: float
    graded: int
    full_marks: int
    regraded: int
    load: tuple[float, float]
    pressures: list[float]  # each submission's CPU pressure (PSI) during its first run's workload
    waits: list[tuple[float, bool]]  # each first run's wait for a quiet start (s) and whether it started anyway

    @property
    def per_hour(self) -> float:
        return self.submissions / self.seconds * 3600


def make_class(folder: Path, size: int) -> Path:
    """`size` submissions of this project's template, each its own student and stack name."""
    for index in range(size):
        submission = folder / f"s{index:03d}"
        submission.mkdir(parents=True)
        for name in SUBMISSION_LINKS:
            (submission / name).symlink_to(ROOT / name)
        (submission / "grading.toml").write_text(
            f'student = "bench{index:03d}"\n[deploy]\ntemplate = "template.yaml"\nstack_name = "fp{index:03d}"\n')
    return folder


def grade(parallel: int, size: int, count: int, rate: float, work: Path, extra: list[str]) -> Level:
    """Grade a class of `size` at `parallel` (extra: more `grader class` options); wall time and peak PSS of the
    whole process tree."""
    submissions, out = make_class(work / "submissions", size), work / "out"
    command = [sys.executable, "-m", "grader", "class", str(submissions), "--out", str(out), "--parallel",
               str(parallel), "--count", str(count), "--rate", str(rate), "--timeout", str(max(600, 3 * count / rate)),
               *extra]
    started, load_before = time.monotonic(), os.getloadavg()[0]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL)
    peak = PeakMemory(process.pid)
    peak.start()
    process.wait()
    seconds = time.monotonic() - started
    peak.stop()
    with (out / "grades.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    graded = sum(not row["note"].startswith(("deploy", "resources", "timeout", "crashed", "manifest")) for row in rows)
    regraded = sum(row["note"].startswith("regraded alone") for row in rows)
    return Level(parallel, size, seconds, peak.mib, graded, sum(row["total"] == "100" for row in rows), regraded,
                 (load_before, os.getloadavg()[0]), first_run_pressures(out), first_run_waits(out))


def _first_run_summaries(out: Path) -> list[dict]:
    """Each submission's first summary.json (first-run/ after a regrade alone)."""
    return [json.loads((path.parent / "first-run" / "summary.json" if (path.parent / "first-run").is_dir()
                        else path).read_text()) for path in out.glob("*/summary.json")]


def first_run_pressures(out: Path) -> list[float]:
    """Each graded submission's CPU pressure during its first workload (before any regrade), from summary.json."""
    figures = [summary.get("contention") for summary in _first_run_summaries(out)]
    return sorted(figure["cpu_pressure"] for figure in figures if figure and figure.get("cpu_pressure") is not None)


def first_run_waits(out: Path) -> list[tuple[float, bool]]:
    """Each graded submission's wait for a quiet start in its first run, and whether the wait ran out."""
    admissions = [summary.get("admission") for summary in _first_run_summaries(out)]
    return sorted((a["waited_seconds"], a["forced"]) for a in admissions if a)


class PeakMemory(threading.Thread):
    """Samples the PSS of a process and all its descendants until stopped; keeps the largest sum (MiB)."""

    def __init__(self, root: int) -> None:
        super().__init__(daemon=True)
        self._root, self._stop_event, self.mib = root, threading.Event(), 0.0

    def run(self) -> None:
        while not self._stop_event.wait(SAMPLE_SECONDS):
            self.mib = max(self.mib, sum(_pss_kib(pid) for pid in _tree(self._root)) / 1024)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


def _tree(root: int) -> list[int]:
    """root and every descendant (by /proc's parent links; the emulator runs in a session of its own)."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(parents.get(pid, []))
    return found


def _pss_kib(pid: int) -> int:
    """A process's proportional set size (kB); 0 if it is gone."""
    try:
        lines = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
    except OSError:
        return 0
    return next((int(line.split()[1]) for line in lines if line.startswith("Pss:")), 0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--levels", default="1,2,4,8", help="--parallel values, comma-separated")
    parser.add_argument("--rounds", type=int, default=2, help="submissions per class = rounds x parallel")
    parser.add_argument("--repeats", type=int, default=3, help="classes graded per level (the medians are shown)")
    parser.add_argument("--count", type=int, default=100, help="uploads per submission (the course's 100)")
    parser.add_argument("--rate", type=float, default=1.0, help="uploads per second")
    parser.add_argument("--no-stagger", action="store_true", help="start workloads without waiting for quiet starts")
    args = parser.parse_args()
    console = Console()
    levels: dict[int, list[Level]] = {}
    for parallel in (int(p) for p in args.levels.split(",")):
        for repeat in range(args.repeats):
            with tempfile.TemporaryDirectory(prefix="bench-class-") as work:
                console.print(f"--parallel {parallel}, class {repeat + 1}/{args.repeats}: "
                              f"{args.rounds * parallel} submissions ...")
                levels.setdefault(parallel, []).append(
                    grade(parallel, args.rounds * parallel, args.count, args.rate, Path(work),
                          ["--no-stagger"] if args.no_stagger else []))
    console.print(_table(levels, args))
    best = max(statistics.median(level.per_hour for level in runs) for runs in levels.values())
    console.print(f"best median: {best:.0f} submissions per hour (target >= {TARGET_PER_HOUR})")
    return 0 if best >= TARGET_PER_HOUR else 1


def _table(levels: dict[int, list[Level]], args: argparse.Namespace) -> Table:
    """One row per level: medians over its classes (per hour, peak PSS, wall time), and the totals."""
    table = Table(title=f"class grading, {args.count} uploads at {args.rate:g}/s per submission, median of "
                        f"{args.repeats} classes per level (this machine)")
    for column in ("--parallel", "submissions", "wall s", "per hour", "peak PSS MiB", "graded", "100 points",
                   "regraded alone", "load avg start-end", "first-run CPU pressure", "start waits s (* forced)"):
        table.add_column(column, justify="right")
    for parallel, runs in levels.items():
        table.add_row(str(parallel), f"{runs[0].submissions} x {len(runs)}",
                      f"{statistics.median(r.seconds for r in runs):.0f}",
                      f"{statistics.median(r.per_hour for r in runs):.0f}",
                      f"{statistics.median(r.peak_mib for r in runs):.0f}",
                      str(sum(r.graded for r in runs)), str(sum(r.full_marks for r in runs)),
                      str(sum(r.regraded for r in runs)), " ".join(f"{r.load[0]:.1f}-{r.load[1]:.1f}" for r in runs),
                      " ".join(f"{p:.0%}" for r in runs for p in r.pressures),
                      " ".join(f"{w:.0f}{'*' if forced else ''}" for r in runs for w, forced in r.waits))
    return table


if __name__ == "__main__":
    sys.exit(main())
