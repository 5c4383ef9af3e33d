"""Handlers never build a local path from an S3 key: the code passes no key-derived value to a filesystem
call (and spools through tempfile), and keys with `../` leave no file anywhere outside the worker's /tmp."""

import ast
import uuid
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, ROOT
from tests.pipeline.conftest import new_device, upload_clip
from tests.reliability.conftest import put_clip

LAMBDAS = ROOT / "lambdas"
FILESYSTEM_CALLS = {"open", "Path", "PurePath", "join", "mkdir", "makedirs", "rename", "replace", "copy",
                    "copyfile", "move", "write_bytes", "write_text", "download_file", "NamedTemporaryFile",
                    "mkdtemp", "mkstemp", "VideoWriter", "imwrite"}


def _called_name(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def _mentions_a_key(node: ast.AST) -> bool:
    names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
    names |= {n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)}
    return any("key" in name.lower() for name in names)


def _key_paths(source: Path) -> list[str]:
    """file:line of each filesystem call one of whose arguments is derived from something named *key*."""
    tree = ast.parse(source.read_text())
    return [f"{source.name}:{call.lineno}" for call in ast.walk(tree)
            if isinstance(call, ast.Call) and _called_name(call) in FILESYSTEM_CALLS
            and any(_mentions_a_key(arg) for arg in [*call.args, *(k.value for k in call.keywords)])]


def test_the_check_catches_a_path_built_from_a_key(tmp_path):
    handler = tmp_path / "app.py"
    handler.write_text("import os\n\ndef f(record):\n    key = record.s3.get_object.key\n"
                       "    with open(os.path.join('/tmp', key), 'wb'):\n        pass\n")
    assert _key_paths(handler) == ["app.py:5", "app.py:5"]


def test_no_handler_passes_an_s3_key_to_a_filesystem_call():
    sources = sorted(LAMBDAS.rglob("*.py"))
    assert len(sources) >= 4
    assert [hit for source in sources for hit in _key_paths(source)] == []


def test_the_frame_extractor_spools_clips_through_tempfile():
    assert "tempfile.NamedTemporaryFile(" in (LAMBDAS / "frame_extractor" / "app.py").read_text()


@pytest.mark.integration
def test_keys_climbing_out_with_dot_dot_create_no_file(emulator, results):
    marker, device = f"escaped-{uuid.uuid4().hex}", new_device()
    body = (FIXTURES / "videos" / "test_2.mp4").read_bytes()
    climbs = "../" * 12
    put_clip(emulator, device, body, key=f"videos/{device}/{climbs}tmp/{marker}.mp4")
    put_clip(emulator, device, body, key=f"frames/{device}/{climbs}tmp/{marker}/0000.png")
    upload_clip(emulator, device, "test_2.mp4")
    assert results.wait_for(device), "the functions ran after the hostile keys"
    # twelve ../ climb to / from any working directory: a key-built path would land in /tmp itself
    found = [*Path("/tmp").glob(f"*{marker}*"), *ROOT.glob(f"*{marker}*"), *emulator.state_dir.rglob(f"*{marker}*")]
    assert found == []
