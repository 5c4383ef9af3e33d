"""Restricted unpicklers: the course encoding loads, anything executable is refused without running."""

from __future__ import annotations

import io
import os
import pickle
import zipfile

import numpy as np
import pytest
import torch

from facerec import EnrolmentError, ModelError
from facerec.safe_pickle import load_course_encoding, read_state_dict


class _Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_course_encoding_loads(fixtures_dir):
    names, vectors = load_course_encoding((fixtures_dir / "encoding").read_bytes())
    assert len(names) == 11 and vectors.shape == (11, 128) and vectors.dtype == np.float32
    assert {"denzel_washington", "bush", "travis_ragnar", "president_trump"} <= set(names)


def test_os_system_pickle_is_refused_and_not_run(tmp_path):
    marker = tmp_path / "pwned"
    payload = pickle.dumps({"name": ["x"], "encoding": [_Exploit(marker)]})
    with pytest.raises(EnrolmentError, match="not allowed"):
        load_course_encoding(payload)
    assert not marker.exists()


@pytest.mark.parametrize("payload", [
    pickle.dumps({"name": ["x"], "encoding": [np.array([object()] * 128, dtype=object)]}),
    pickle.dumps({"name": ["x", "y"], "encoding": [np.zeros(128)]}),
    pickle.dumps({"name": ["x"], "encoding": [np.zeros(64)]}),
    pickle.dumps(["not", "a", "dict"]),
    b"\x80\x04garbage",
])
def test_wrong_shapes_and_types_are_refused(payload):
    with pytest.raises(EnrolmentError):
        load_course_encoding(payload)


def test_state_dict_with_an_exploit_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "head.pt"
    torch.save({"weight": torch.zeros(2, 2)}, path)
    with zipfile.ZipFile(path) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    data_pkl = next(name for name in entries if name.endswith("data.pkl"))
    entries[data_pkl] = pickle.dumps({"weight": _Exploit(marker)}, protocol=2)
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    with pytest.raises(ModelError, match="not allowed"):
        read_state_dict(path)
    assert not marker.exists()


def test_state_dict_reads_strided_tensors(tmp_path):
    path = tmp_path / "t.pt"
    tensor = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    torch.save({"t": tensor.t().contiguous(), "view": tensor[:, 1]}, path)
    state = read_state_dict(path)
    assert np.array_equal(state["t"], tensor.t().numpy()) and np.array_equal(state["view"], tensor[:, 1].numpy())


def test_non_zip_is_refused(tmp_path):
    path = tmp_path / "head.pt"
    path.write_bytes(io.BytesIO(b"plain").read())
    with pytest.raises(ModelError):
        read_state_dict(path)
