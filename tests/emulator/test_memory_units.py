"""Flat memory (issue 15): requests and async runs stay on the threads last used; malloc settings defer to glibc."""

from __future__ import annotations

import ctypes
import gc
import threading
import weakref
from collections.abc import Callable

import pytest

from emulator.allocator import ARENA_MAX, MMAP_THRESHOLD_BYTES, long_lived_imports, tune_malloc
from emulator.aws.cheroot import HotThreadsFirst
from emulator.lambda_runtime.run_threads import RunThreads

WAIT_SECONDS = 10.0


def test_one_run_after_another_reuses_one_thread() -> None:
    runs = RunThreads("test-run")
    names: list[str] = []
    for _ in range(5):
        done = threading.Event()
        runs.submit(lambda event=done: (names.append(threading.current_thread().name), event.set()))
        assert done.wait(WAIT_SECONDS)
        _wait_until_idle(runs, expected_idle=1)
    assert runs.started == 1
    assert len(set(names)) == 1


def test_runs_in_flight_at_once_get_a_thread_each_and_no_more() -> None:
    runs = RunThreads("test-run")
    release, started = threading.Event(), threading.Semaphore(0)

    def blocked() -> None:
        started.release()
        release.wait(WAIT_SECONDS)

    for _ in range(3):
        runs.submit(blocked)
    for _ in range(3):
        assert started.acquire(timeout=WAIT_SECONDS)
    release.set()
    _wait_until_idle(runs, expected_idle=3)
    for _ in range(3):
        runs.submit(blocked)
    for _ in range(3):
        assert started.acquire(timeout=WAIT_SECONDS)
    assert runs.started == 3


@pytest.mark.skipif(not hasattr(ctypes.CDLL(None), "mallopt"), reason="not glibc: no mallopt")
def test_malloc_settings_leave_what_glibcs_own_variables_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_", raising=False)
    assert tune_malloc() == {"MALLOC_MMAP_THRESHOLD_": MMAP_THRESHOLD_BYTES}
    monkeypatch.delenv("MALLOC_ARENA_MAX")
    assert tune_malloc() == {"MALLOC_ARENA_MAX": ARENA_MAX, "MALLOC_MMAP_THRESHOLD_": MMAP_THRESHOLD_BYTES}


def _wait_until_idle(runs: RunThreads, expected_idle: int) -> None:
    """Until every thread is back waiting for work (a run ends just before its thread counts itself idle)."""
    _wait_for(lambda: runs.idle >= expected_idle)


def _wait_for(condition: Callable[[], bool]) -> None:
    probe = threading.Event()
    for _ in range(1000):
        if condition():
            return
        probe.wait(0.01)
    raise AssertionError("the threads never got there")


def test_the_api_server_hands_a_connection_to_the_thread_that_went_idle_last() -> None:
    ready = HotThreadsFirst()
    got: dict[str, object] = {}

    def worker(name: str) -> None:
        got[name] = ready.get()

    threads = []
    for count, name in enumerate(("oldest", "middle", "latest"), start=1):
        threads.append(threading.Thread(target=worker, args=(name,), daemon=True))
        threads[-1].start()
        _wait_for(lambda count=count: ready.idle == count)
    ready.put("first")
    threads[2].join(WAIT_SECONDS)
    assert got == {"latest": "first"}
    ready.put("second")
    ready.put("third")
    for thread in threads:
        thread.join(WAIT_SECONDS)
    assert got == {"latest": "first", "middle": "second", "oldest": "third"}


def test_connections_queued_while_every_thread_is_busy_go_out_oldest_first() -> None:
    ready = HotThreadsFirst()
    for item in ("a", "b", "c"):
        ready.put(item)
    assert ready.qsize() == 3
    assert [ready.get() for _ in range(3)] == ["a", "b", "c"]


class _Node:
    def __init__(self) -> None:
        self.link: _Node | None = None


def test_what_the_start_imports_is_frozen_after_its_garbage_is_collected() -> None:
    with long_lived_imports():
        assert not gc.isenabled()
        kept = _Node()
        cycle = _Node()
        cycle.link = cycle
        garbage = weakref.ref(cycle)
        del cycle
    assert gc.isenabled()
    assert garbage() is None
    assert not any(tracked is kept for tracked in gc.get_objects())  # frozen: no collection walks it
