"""botocore's data files parsed once per process while in use (emulator/aws/botocore_data.py): every session gets
the same parsed model, the file changed is parsed again, and clients made either way work alike."""

from __future__ import annotations

import json
import os
import weakref
from pathlib import Path

from botocore.loaders import JSONFileLoader

from emulator.aws.botocore_data import share_parsed_files
from emulator.config import dummy_session


def _service_model(session_client: object) -> object:
    return session_client.meta.service_model._service_description  # type: ignore[attr-defined]


def test_two_sessions_share_one_parsed_model_and_their_clients_work(moto_endpoint: str) -> None:
    share_parsed_files()
    first = dummy_session().client("sqs", endpoint_url=moto_endpoint)
    second = dummy_session().client("sqs", endpoint_url=moto_endpoint)
    assert _service_model(first) is _service_model(second)
    url = first.create_queue(QueueName="shared-model")["QueueUrl"]
    second.send_message(QueueUrl=url, MessageBody="hello")
    assert [m["Body"] for m in first.receive_message(QueueUrl=url)["Messages"]] == ["hello"]


def test_a_file_changed_on_disk_is_parsed_again(tmp_path: Path) -> None:
    share_parsed_files()
    path = tmp_path / "model.json"
    path.write_text(json.dumps({"version": 1}))
    loader = JSONFileLoader()
    first = loader.load_file(str(tmp_path / "model"))
    assert JSONFileLoader().load_file(str(tmp_path / "model")) is first
    path.write_text(json.dumps({"version": 22}))  # another size
    os.utime(path, ns=(0, 0))  # and another mtime
    assert JSONFileLoader().load_file(str(tmp_path / "model")) == {"version": 22}


def test_a_parsed_file_no_session_holds_is_freed(tmp_path: Path) -> None:
    share_parsed_files()
    (tmp_path / "model.json").write_text(json.dumps({"shapes": list(range(100))}))
    held = JSONFileLoader().load_file(str(tmp_path / "model"))
    parsed = weakref.ref(held)
    assert JSONFileLoader().load_file(str(tmp_path / "model")) is held  # shared while one holds it
    del held
    assert parsed() is None


def test_a_missing_file_is_none_as_botocore_says(tmp_path: Path) -> None:
    share_parsed_files()
    assert JSONFileLoader().load_file(str(tmp_path / "absent")) is None
