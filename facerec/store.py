"""Model artifacts in S3: models/<version>/<file> plus a models/current.json pointer; a local cache by version."""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from contract.keys import MODEL_POINTER, MODELS_PREFIX, utc_stamp
from facerec.errors import ModelError, StoreError
from facerec.model import ARTIFACT_FILES, VERSION_RE, load_model

log = logging.getLogger(__name__)

DEFAULT_PREFIX = MODELS_PREFIX.removesuffix("/")
POINTER = MODEL_POINTER


def publish_model(s3: Any, bucket: str, model_dir: str | Path, prefix: str = DEFAULT_PREFIX,
                  uploaded: Callable[[int], None] | None = None) -> dict[str, str]:
    """Upload a validated model under <prefix>/<version>/, then point <prefix>/current.json at it.

    `uploaded(n)` is called as bytes go up (boto3's transfer callback), for a progress bar.
    """
    directory = Path(model_dir)
    model = load_model(directory)
    version_prefix = f"{prefix}/{model.version}/"
    pointer = {"version": model.version, "prefix": version_prefix, "files": list(ARTIFACT_FILES),
               "published_at": utc_stamp()}
    try:
        for name in ARTIFACT_FILES:
            s3.upload_file(str(directory / name), bucket, version_prefix + name, Callback=uploaded)
        s3.put_object(Bucket=bucket, Key=f"{prefix}/{POINTER}", Body=json.dumps(pointer).encode(),
                      ContentType="application/json")
    except (ClientError, BotoCoreError) as exc:
        raise StoreError(f"publishing {model.version} to s3://{bucket}/{version_prefix} failed: {exc}") from exc
    log.info("published model %s to s3://%s/%s", model.version, bucket, version_prefix)
    return pointer


def read_pointer(s3: Any, bucket: str, prefix: str = DEFAULT_PREFIX) -> dict[str, Any]:
    """The current-version pointer, validated (a version is 16 hex digits; files are the artifact's)."""
    key = f"{prefix}/{POINTER}"
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        pointer = json.loads(body)
    except (ClientError, BotoCoreError) as exc:
        raise StoreError(f"cannot read s3://{bucket}/{key}: {exc}") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise StoreError(f"s3://{bucket}/{key} is not JSON: {exc}") from exc
    if not isinstance(pointer, dict) or not VERSION_RE.match(str(pointer.get("version", ""))):
        raise StoreError(f"s3://{bucket}/{key} names no valid version: {pointer!r}")
    if pointer.get("prefix") != f"{prefix}/{pointer['version']}/":
        raise StoreError(f"s3://{bucket}/{key}: prefix {pointer.get('prefix')!r} does not match its version")
    return pointer


def fetch_current_model(s3: Any, bucket: str, cache_dir: str | Path, prefix: str = DEFAULT_PREFIX) -> Path:
    """Local folder of the current model: one GET for the pointer, a download only for a new version."""
    pointer = read_pointer(s3, bucket, prefix)
    cache = Path(cache_dir)
    target = cache / pointer["version"]
    if (target / "model.json").is_file():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{pointer['version']}-", dir=cache))
    try:
        for name in ARTIFACT_FILES:
            s3.download_file(bucket, pointer["prefix"] + name, str(staging / name))
        if load_model(staging).version != pointer["version"]:
            raise StoreError(f"s3://{bucket}/{pointer['prefix']} holds a different version than its name")
        _move_into_place(staging, target)
    except (ClientError, BotoCoreError) as exc:
        raise StoreError(f"downloading s3://{bucket}/{pointer['prefix']} failed: {exc}") from exc
    except ModelError as exc:
        raise StoreError(f"s3://{bucket}/{pointer['prefix']} holds a bad model: {exc}") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    log.info("cached model %s in %s", pointer["version"], target)
    return target


def _move_into_place(staging: Path, target: Path) -> None:
    """Atomic rename; a concurrent fetch that got there first wins and ours is discarded."""
    try:
        staging.rename(target)
    except OSError:
        if not (target / "model.json").is_file():
            raise
