"""Publishing to and fetching from S3 (moto): pointer object, versioned prefix, atomic local cache."""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from facerec import StoreError, load_model
from facerec.model import ARTIFACT_FILES
from facerec.store import fetch_current_model, publish_model

BUCKET = "facerec-test-models"


@pytest.fixture
def s3(monkeypatch):
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing-dummy")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing-dummy")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        client = boto3.client("s3")
        client.create_bucket(Bucket=BUCKET)
        yield client


def test_publish_writes_files_then_pointer(s3, model_dir):
    pointer = publish_model(s3, BUCKET, model_dir)
    version = load_model(model_dir).version
    assert pointer["version"] == version and pointer["prefix"] == f"models/{version}/"
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]}
    assert keys == {"models/current.json"} | {f"models/{version}/{n}" for n in ARTIFACT_FILES}
    assert set(ARTIFACT_FILES) == {"model.json", "head.npz", "gallery.npy", "cohort.npy"}
    stored = json.loads(s3.get_object(Bucket=BUCKET, Key="models/current.json")["Body"].read())
    assert stored["version"] == version


def test_fetch_downloads_once_then_only_reads_the_pointer(s3, model_dir, tmp_path):
    publish_model(s3, BUCKET, model_dir)
    first = fetch_current_model(s3, BUCKET, tmp_path)
    assert load_model(first).version == first.name
    for key in ARTIFACT_FILES:  # a second fetch must not need them
        s3.delete_object(Bucket=BUCKET, Key=f"models/{first.name}/{key}")
    assert fetch_current_model(s3, BUCKET, tmp_path) == first
    assert [p.name for p in tmp_path.iterdir()] == [first.name]  # no staging leftovers


def test_a_new_version_is_noticed(s3, model_dir, tmp_path):
    publish_model(s3, BUCKET, model_dir)
    first = fetch_current_model(s3, BUCKET, tmp_path)
    publish_model(s3, BUCKET, model_dir / "encoding_only")
    second = fetch_current_model(s3, BUCKET, tmp_path)
    assert second != first and len(load_model(second).labels) == 11


def test_missing_pointer(s3, tmp_path):
    with pytest.raises(StoreError, match=r"current\.json"):
        fetch_current_model(s3, BUCKET, tmp_path)


@pytest.mark.parametrize("pointer", [b"{not json", b'{"version": "../../etc", "prefix": "models/../../etc/"}',
                                     b'{"version": "0123456789abcdef", "prefix": "elsewhere/"}'])
def test_bad_pointer(s3, tmp_path, pointer):
    s3.put_object(Bucket=BUCKET, Key="models/current.json", Body=pointer)
    with pytest.raises(StoreError):
        fetch_current_model(s3, BUCKET, tmp_path)


def test_tampered_upload_is_not_cached(s3, model_dir, tmp_path):
    version = publish_model(s3, BUCKET, model_dir)["version"]
    s3.put_object(Bucket=BUCKET, Key=f"models/{version}/gallery.npy", Body=b"tampered")
    with pytest.raises(StoreError, match="bad model"):
        fetch_current_model(s3, BUCKET, tmp_path)
    assert list(tmp_path.iterdir()) == []
