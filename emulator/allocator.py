"""glibc malloc settings for the serving process, so its memory follows what it holds (issue 15, flat memory).

With glibc's defaults the emulator's RSS crept up while Python's heap stayed flat (emulator/memtrace.py: in a
soak at 2 clips/s, malloc held ~380 MiB for ~77 MiB in use, and the gap grew):
- each of the server's threads (cheroot's pool, the Lambda service's) takes one of up to 8 x cores malloc arenas;
  an arena keeps its freed pages, so each grows to its own peak and the sum keeps creeping;
- the first large body freed (an S3 object of a few hundred KB) raises malloc's mmap threshold to its size
  (glibc's dynamic threshold, up to 32 MiB), after which such bodies are carved out of the arenas and fragment them
  instead of being mapped and unmapped whole.
`M_ARENA_MAX` 2 and a fixed `M_MMAP_THRESHOLD` of 128 KiB (which also turns the dynamic threshold off) fix both.
glibc's own variables win: `MALLOC_ARENA_MAX` / `MALLOC_MMAP_THRESHOLD_` set in the environment are left alone.

Python's cyclic garbage collector, at start: `long_lived_imports`.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import logging
import os
from collections.abc import Iterator
from functools import cache

logger = logging.getLogger(__name__)

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter numbers (malloc.h)
M_ARENA_MAX = -8
ARENA_MAX = 2
MMAP_THRESHOLD_BYTES = 128 * 1024
_SETTINGS = (("MALLOC_ARENA_MAX", M_ARENA_MAX, ARENA_MAX),
             ("MALLOC_MMAP_THRESHOLD_", M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))


@cache
def libc() -> ctypes.CDLL:
    """The C library this process runs on (glibc's malloc functions are looked up on it)."""
    return ctypes.CDLL(None)


def tune_malloc() -> dict[str, int]:
    """Applies the settings above that the environment does not set; returns those applied (none off glibc)."""
    try:
        mallopt = libc().mallopt
    except AttributeError:
        logger.info("not glibc (no mallopt): malloc settings left as they are")
        return {}
    applied = {}
    for variable, parameter, value in _SETTINGS:
        if variable in os.environ:
            continue
        if not mallopt(parameter, value):
            logger.warning("mallopt(%s, %d) refused; malloc keeps its default", variable, value)
            continue
        applied[variable] = value
    return applied


def release_free_memory() -> bool:
    """Gives the pages malloc holds free back to the system (glibc's malloc_trim); False off glibc.

    What a sweep or a burst freed stays in malloc's arenas otherwise, and a long-running process's RSS only ratchets.
    """
    trim = getattr(libc(), "malloc_trim", None)
    if trim is None:
        return False
    trim(0)
    return True


@contextlib.contextmanager
def long_lived_imports() -> Iterator[None]:
    """For imports whose objects (moto's, ~250,000) live as long as the process: no collection while they run
    (each full one walked them all again: 6 per start, ~0.6 CPU-s), one after, then they are frozen (gc.freeze):
    later collections, the one at exit included, skip them. Their garbage is collected as before."""
    if not gc.isenabled():  # someone else manages the collector here
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.collect()
        gc.freeze()
        gc.enable()
