"""Memory diagnostics for soaks: `EMULATOR_TRACEMALLOC=<file>` makes the serving process trace its allocations.

Every `EMULATOR_TRACEMALLOC_SECONDS` (default 30) a background thread appends to `<file>`: the process's RSS,
thread count and what moto holds (`emulator.state.holdings`), then the allocation sites (grouped by traceback,
innermost frames first) whose live memory grew most since the first snapshot (the baseline, taken after one
period, once start-up allocations are done). Tracing costs CPU and memory: it is for finding leaks, not for use.

Each line also shows the cyclic garbage collector's state: the objects it tracks, per generation, and how many
full (generation 2) collections ran. Python collects generation 2 only once the objects that survived into it
since the last full collection pass a quarter of all long-lived objects, so cyclic garbage can pile up there for
minutes; the traced snapshots collect first (`gc_freed`: what that collection found), the counters-only mode does
not, so it sees the heap as the server leaves it.
"""

from __future__ import annotations

import ctypes
import gc
import os
import sys
import threading
import time
import tracemalloc
from pathlib import Path
from typing import TextIO

from emulator.allocator import libc
from emulator.state import holdings

ENV_TRACEMALLOC = "EMULATOR_TRACEMALLOC"
ENV_TRACEMALLOC_SECONDS = "EMULATOR_TRACEMALLOC_SECONDS"
ENV_TRACEMALLOC_FRAMES = "EMULATOR_TRACEMALLOC_FRAMES"
_TOP = 12
_IGNORED = (tracemalloc.__file__, "<frozen importlib._bootstrap>", "<frozen importlib._bootstrap_external>",
            "<unknown>")


def start_from_env() -> threading.Thread | None:
    """Starts tracing and the report thread when EMULATOR_TRACEMALLOC names a file; None otherwise.

    EMULATOR_TRACEMALLOC_FRAMES (default 6) frames per traceback; 0 reports the counters only, without tracing
    (cheap enough to leave on during a measured soak)."""
    target = os.environ.get(ENV_TRACEMALLOC)
    if not target:
        return None
    period = float(os.environ.get(ENV_TRACEMALLOC_SECONDS, "30"))
    frames = int(os.environ.get(ENV_TRACEMALLOC_FRAMES, "6"))
    if frames:
        tracemalloc.start(frames)
    thread = threading.Thread(target=_report_forever, args=(Path(target), period), name="memtrace", daemon=True)
    thread.start()
    return thread


def _report_forever(target: Path, period: float) -> None:
    started = time.monotonic()
    time.sleep(period)
    baseline = None
    if tracemalloc.is_tracing():
        gc.collect()
        baseline = _snapshot()
    with target.open("a", encoding="utf-8") as out:
        while True:
            time.sleep(period)
            counters = _counters()
            now = _snapshot() if baseline is not None else None
            _write_report(out, time.monotonic() - started, counters, baseline, now)
            out.flush()


def _snapshot() -> tracemalloc.Snapshot:
    """Its callers collect first, so cyclic garbage waiting for the collector does not pass for growth."""
    return tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(False, name) for name in _IGNORED])


def _counters() -> str:
    """The process's memory as the server left it, then (when tracing) what a full collection frees of it."""
    traced, _ = tracemalloc.get_traced_memory()
    line = (f"{_status()} traced={traced / 2**20:.1f}MiB threads={threading.active_count()} "
            f"pymalloc_blocks={sys.getallocatedblocks()} {_malloc_stats()} {_collector_state()}")
    if tracemalloc.is_tracing():
        freed = gc.collect()
        line += f" gc_freed={freed} traced_after_gc={tracemalloc.get_traced_memory()[0] / 2**20:.1f}MiB"
    return line


def _collector_state() -> str:
    """Objects tracked per generation (youngest first), those frozen at start (allocator.long_lived_imports), and
    how many full collections ran so far."""
    tracked = "/".join(str(len(gc.get_objects(generation))) for generation in range(3))
    return (f"gc_tracked={tracked} gc_frozen={gc.get_freeze_count()} "
            f"gc_full_collections={gc.get_stats()[2]['collections']}")


def _write_report(out: TextIO, elapsed: float, counters: str, baseline: tracemalloc.Snapshot | None,
                  now: tracemalloc.Snapshot | None) -> None:
    out.write(f"=== t={elapsed:.0f}s {counters} holdings={holdings()}\n")
    if baseline is None or now is None:
        return
    for stat in now.compare_to(baseline, "traceback")[:_TOP]:
        out.write(f"{stat.size_diff / 1024:+9.1f} KiB {stat.count_diff:+7d} blocks\n")
        for frame in reversed(stat.traceback):
            out.write(f"      {frame.filename}:{frame.lineno}\n")


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                    "fsmblks", "uordblks", "fordblks", "keepcost")]


def _malloc_stats() -> str:
    """glibc's view: bytes malloc holds from the system (brk/arenas + mmapped), in use, and free inside it."""
    try:
        mallinfo2 = libc().mallinfo2
    except AttributeError:
        return "malloc=?"
    mallinfo2.restype = _MallInfo2
    info = mallinfo2()
    mib = 2**20
    return (f"malloc_arenas={info.arena / mib:.1f}MiB mmapped={info.hblkhd / mib:.1f}MiB "
            f"in_use={info.uordblks / mib:.1f}MiB free={info.fordblks / mib:.1f}MiB")


def _status() -> str:
    """The kernel's resident set: all of it, anonymous memory (heap, arenas, stacks) and file mappings."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    return " ".join(f"{name}={int(fields[name].split()[0]) / 1024:.1f}MiB" for name in ("VmRSS", "RssAnon", "RssFile")
                    if name in fields)
