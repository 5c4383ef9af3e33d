"""botocore (1.44.5, pinned): a data file (endpoints, a service's model) parsed once per process while in use,
not once per session.

Every boto3 or botocore session has a loader of its own, which parses again each JSON file it needs:
endpoints.json (1.2 MB) and each service's model (EC2's: 14 MB once parsed; moto's import makes three sessions
that each parse it). A process that makes many sessions (the emulator: one per account and service, and moto's; a
test: one per client) spent much of its CPU there and in collecting the garbage it left: measured on two test
files, 9 of the pytest process's 17 CPU-s. `share_parsed_files` makes botocore's JSON loader hand every session the
file already parsed while another still holds it (a weak reference: once no session uses it, it is freed as
before), keyed by the file's path, size and modification time. botocore merges a model's `sdk-extras` into it in
place, once per session: merging the same extras again changes nothing.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from botocore.loaders import JSONFileLoader

from emulator.aws.registry import Internal, Patch, PatchRegistry

LOAD_FILE = Internal(JSONFileLoader, "_load_file", ("self", "full_path", "open_method"),
                     source="json.loads(payload, object_pairs_hook=OrderedDict)")
INTERNALS = (LOAD_FILE,)

_FileKey = tuple[str, int, int]
_registry = PatchRegistry()
_install_lock = threading.Lock()


def share_parsed_files() -> None:
    """From now on in this process, a botocore data file in use by one session is not parsed again for another
    (idempotent)."""
    with _install_lock:
        if not _registry.installed:
            _registry.install([Patch(LOAD_FILE, _shared_parse)])


def _shared_parse(load_file: Callable[[Any, str, Any], Any]) -> Callable[[Any, str, Any], Any]:
    parsed: weakref.WeakValueDictionary[_FileKey, OrderedDict[str, Any]] = weakref.WeakValueDictionary()
    lock = threading.Lock()

    def load_shared(self: Any, full_path: str, open_method: Any) -> Any:
        key = _file_key(full_path)
        if key is None:
            return load_file(self, full_path, open_method)  # nothing to stat: botocore's own answer (None)
        with lock:
            found = parsed.get(key)
        if found is not None:
            return found
        data = load_file(self, full_path, open_method)
        if isinstance(data, OrderedDict):  # what botocore parses a file into; a weak reference can point at it
            with lock:
                data = parsed.setdefault(key, data)  # parsed meanwhile by another thread: that one, for all
        return data

    return load_shared


def _file_key(full_path: str) -> _FileKey | None:
    try:
        stat = os.stat(full_path)
    except OSError:  # missing, or a path through a file: botocore's isfile() says no file either
        return None
    return full_path, stat.st_size, stat.st_mtime_ns
