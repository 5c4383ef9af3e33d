"""The restricted unpickler: the course encoding loads, anything executable is refused without running."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest

from facerec import EnrolmentError
from facerec.safe_pickle import load_course_encoding


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
