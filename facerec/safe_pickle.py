"""A restricted unpickler for the course's `encoding` pickle (numbers, strings, lists, dicts, arrays; no code).

Our own model files are plain numpy and JSON; this is the only pickle facerec reads.
"""

from __future__ import annotations

import io
import pickle
from typing import Any

import numpy as np

from facerec.errors import EnrolmentError

_NUMPY_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): np._core.multiarray._reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): np._core.multiarray._reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("builtins", "list"): list,
    ("builtins", "dict"): dict,
    ("builtins", "str"): str,
}


class NumpyUnpickler(pickle.Unpickler):
    """Unpickles only lists, dicts, strings, numbers and numeric numpy arrays."""

    def find_class(self, module: str, name: str) -> Any:
        """Return an allowed global or refuse."""
        try:
            return _NUMPY_GLOBALS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"global {module}.{name} is not allowed") from None


def load_course_encoding(data: bytes) -> tuple[list[str], np.ndarray]:
    """Names and (n, 128) float vectors from the course pickle {"name": [...], "encoding": [...]}."""
    try:
        loaded = NumpyUnpickler(io.BytesIO(data)).load()
    except Exception as exc:  # any failure of untrusted data is one error
        raise EnrolmentError(f"refused or unreadable encoding pickle: {exc}") from exc
    if not isinstance(loaded, dict) or set(loaded) != {"name", "encoding"}:
        raise EnrolmentError("encoding pickle must be a dict with exactly the keys 'name' and 'encoding'")
    names, vectors = loaded["name"], loaded["encoding"]
    if not all(isinstance(n, str) for n in names) or len(names) != len(vectors):
        raise EnrolmentError("encoding pickle needs one string name per vector")
    arrays = [np.asarray(v) for v in vectors]
    if any(a.dtype.kind != "f" or a.shape != (128,) for a in arrays):
        raise EnrolmentError("every encoding must be a float vector of 128 values")
    return list(names), np.stack(arrays).astype(np.float32) if arrays else np.zeros((0, 128), np.float32)
