"""Restricted unpicklers: the course's `encoding` pickle and torch state dicts, with no code execution."""

from __future__ import annotations

import collections
import io
import pickle
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from facerec.errors import EnrolmentError, ModelError

_NUMPY_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): np._core.multiarray._reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): np._core.multiarray._reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("builtins", "list"): list,
    ("builtins", "dict"): dict,
    ("builtins", "str"): str,
}
_TORCH_STORAGES = {"FloatStorage": np.float32, "DoubleStorage": np.float64, "LongStorage": np.int64,
                   "IntStorage": np.int32, "HalfStorage": np.float16}


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


class _StateDictUnpickler(pickle.Unpickler):
    """Reads a torch.save state dict into numpy arrays without importing torch."""

    def __init__(self, archive: zipfile.ZipFile, prefix: str) -> None:
        super().__init__(io.BytesIO(archive.read(f"{prefix}/data.pkl")))
        self._archive, self._prefix = archive, prefix

    def find_class(self, module: str, name: str) -> Any:
        """Allow OrderedDict, the tensor rebuild function and typed storages only."""
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "torch" and name in _TORCH_STORAGES:
            return np.dtype(_TORCH_STORAGES[name])
        raise pickle.UnpicklingError(f"global {module}.{name} is not allowed in a state dict")

    def persistent_load(self, pid: Any) -> np.ndarray:
        """A storage record ('storage', dtype, key, location, numel) becomes a flat array."""
        kind, dtype, key, _location, numel = pid
        if kind != "storage" or not isinstance(dtype, np.dtype):
            raise pickle.UnpicklingError(f"unexpected persistent id {pid!r}")
        raw = self._archive.read(f"{self._prefix}/data/{key}")
        return np.frombuffer(raw, dtype=dtype.newbyteorder("<"), count=int(numel))


def _rebuild_tensor(storage: np.ndarray, offset: int, size: tuple, stride: tuple, *_: Any) -> np.ndarray:
    itemsize = storage.dtype.itemsize
    view = np.lib.stride_tricks.as_strided(storage[offset:], shape=tuple(size),
                                           strides=tuple(s * itemsize for s in stride))
    return np.array(view, dtype=storage.dtype.newbyteorder("="))


def read_state_dict(path: Path) -> dict[str, np.ndarray]:
    """Tensors of a torch.save'd state dict as numpy arrays (same values torch.load would give)."""
    try:
        with zipfile.ZipFile(path) as archive:
            prefix = archive.namelist()[0].split("/")[0]
            if archive.read(f"{prefix}/byteorder").strip() != b"little":
                raise ModelError(f"{path}: only little-endian tensors are supported")
            state = _StateDictUnpickler(archive, prefix).load()
    except ModelError:
        raise
    except Exception as exc:  # any failure of a corrupt file is one error
        raise ModelError(f"{path} is not a readable torch state dict: {exc}") from exc
    if not isinstance(state, dict) or not all(isinstance(v, np.ndarray) for v in state.values()):
        raise ModelError(f"{path} does not hold a flat dict of tensors")
    return dict(state)
