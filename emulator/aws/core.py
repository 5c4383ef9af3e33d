"""moto's core: models made untracked, the backends in use, AWS's managed policies, our CloudFormation types.

- `BaseModel.__new__` appends every model instance ever made (each S3 key, SQS message, log event, metric
  datum...) to a class-level `instances_tracked` list used only by moto's dashboard: deleted objects were never
  freed. Instances are made untracked (the dashboard's `/moto-api/data.json` lists none);
- `BackendDict._instances`: every backend dict moto created, which the state snapshot pickles;
- moto's `iam.load_aws_managed_policies` setting is on: `arn:aws:iam::aws:policy/...` exist, as on AWS;
- moto's CloudFormation parser caches its model map: cleared so our types (emulator/aws/cloudformation.py) count.
"""

from __future__ import annotations

from typing import Any

import moto.cloudformation.parsing as cloudformation_parsing
from moto.core.base_backend import BackendDict
from moto.core.common_models import BaseModel
from moto.core.config import default_user_config
from moto.iam.models import IAMBackend

from emulator.aws import cloudformation  # noqa: F401  (defining the models registers them)
from emulator.aws.registry import Internal, Patch, Setting

NEW_MODEL = Internal(BaseModel, "__new__", ("cls",), source="instances_tracked.append")
BACKEND_DICTS = Internal(BackendDict, "_create_account_specific_backend", source="BackendDict._instances.append(self)")
MANAGED_POLICIES = Internal(IAMBackend, "_init_aws_policies", ("self",), source="load_iam_aws_managed_policies()")
MODEL_MAP = Internal(cloudformation_parsing, "get_model_map", source="get_model_list()")
INTERNALS = (NEW_MODEL, BACKEND_DICTS, MANAGED_POLICIES, MODEL_MAP)


def state_patches() -> list[Patch]:
    return [Patch(NEW_MODEL, lambda _: _untracked_new)]


def settings() -> list[Setting]:
    return [Setting(default_user_config["iam"], "load_aws_managed_policies", True)]


def register_cloudformation_types() -> None:
    """moto's parser sees the resource types emulator/aws/cloudformation.py defines."""
    cloudformation_parsing.get_model_map.cache_clear()


def moto_backend_dicts() -> list[BackendDict[Any]]:
    """Every backend dict of moto's services created so far."""
    return [b for b in BackendDict._instances if b.backend.__module__.startswith("moto.")]  # type: ignore[misc]


def _untracked_new(cls: type, *args: Any, **kwargs: Any) -> Any:
    return super(BaseModel, cls).__new__(cls)  # type: ignore[misc]
