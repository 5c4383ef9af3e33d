"""Pickles are read only through facerec.safe_pickle's restricted unpickler (the course `encoding` file; our
own model needs none: numpy `.npz`/`.npy` read with allow_pickle=False). That they refuse code is tested in
tests/facerec/test_safe_pickle.py; this checks that
nothing in the served code path goes around them."""

import ast
from pathlib import Path

from tests.conftest import ROOT

SAFE_MODULE = ROOT / "facerec" / "safe_pickle.py"
UNSAFE_MODULES = {"pickle", "cPickle", "dill", "joblib", "torch", "_pickle"}


def _unsafe_loads(source: Path) -> list[str]:
    """Calls that unpickle outside safe_pickle: pickle/torch/joblib load(s), Unpickler, np.load(allow_pickle=True)."""
    hits = []
    for call in ast.walk(ast.parse(source.read_text())):
        if not isinstance(call, ast.Call) or not isinstance(call.func, ast.Attribute):
            continue
        owner = getattr(call.func.value, "id", "")
        name = call.func.attr
        pickles = owner in UNSAFE_MODULES and name in {"load", "loads", "Unpickler"}
        numpy_pickles = owner in {"np", "numpy"} and name == "load" and not any(
            k.arg == "allow_pickle" and getattr(k.value, "value", None) is False for k in call.keywords)
        if pickles or numpy_pickles:
            hits.append(f"{source.name}:{call.lineno} {owner}.{name}")
    return hits


def test_the_check_catches_an_unrestricted_load(tmp_path):
    module = tmp_path / "loader.py"
    module.write_text("import pickle, torch, numpy as np\n\ndef f(p):\n    pickle.loads(p)\n    torch.load(p)\n"
                      "    np.load(p, allow_pickle=False)\n    np.load(p)\n")
    assert _unsafe_loads(module) == ["loader.py:4 pickle.loads", "loader.py:5 torch.load", "loader.py:7 np.load"]


def test_only_safe_pickle_unpickles_in_the_face_library_and_the_lambdas():
    sources = [p for folder in ("facerec", "lambdas") for p in sorted((ROOT / folder).rglob("*.py"))]
    assert SAFE_MODULE in sources
    assert [hit for source in sources if source != SAFE_MODULE for hit in _unsafe_loads(source)] == []
