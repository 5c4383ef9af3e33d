"""Deploys template.yaml (AWS SAM) through the CloudFormation API: translate, package, create, seed.

Only public AWS APIs (boto3) are used, so the same code deploys to the embedded emulator (which uses it for its
own stack), to LocalStack and, seeding included, after `sam deploy` on AWS.
(moto's CloudFormation ignores a bucket's S3 -> Lambda notifications; emulator/aws/s3.py applies them.)
"""

from __future__ import annotations

import io
import json
import logging
import zipfile
from pathlib import Path
from typing import Any

import boto3
from boto3.dynamodb.types import TypeSerializer
from botocore.exceptions import ClientError
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator

from contract import STACK_OUTPUTS
from contract.aws import OUTPUT_MODELS_BUCKET, OUTPUT_STUDENTS_TABLE
from contract.template import function_code_uri, load_template
from deploy.errors import TemplateError

logger = logging.getLogger(__name__)

_CODE_URI_SKIP = {"__pycache__", ".pytest_cache"}
EMULATOR_RUNTIME = "python3.11"


def translate(sam: dict[str, Any], region: str, parameters: dict[str, str] | None = None) -> dict[str, Any]:
    """SAM -> plain CloudFormation, as the AWS::Serverless transform would do it."""
    translator = Translator(None, Parser(), boto_session=boto3.Session(region_name=region))
    try:
        # The template names managed policies by ARN only, so no IAM lookup is needed.
        return translator.translate(json.loads(json.dumps(sam)), dict(parameters or {}),
                                    get_managed_policy_map=dict)
    except Exception as exc:
        raise TemplateError(f"SAM translation failed: {exc}") from exc


def zip_code_dir(code_dir: Path) -> bytes:
    """A deterministic zip of a function's CodeUri or a layer's ContentUri folder (no caches, fixed timestamps)."""
    if not code_dir.is_dir():
        raise TemplateError(f"{code_dir} is not a folder (a function's CodeUri or a layer's ContentUri)")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(code_dir.rglob("*")):
            if path.is_file() and not _CODE_URI_SKIP & set(path.relative_to(code_dir).parts):
                info = zipfile.ZipInfo(path.relative_to(code_dir).as_posix(), date_time=(2020, 1, 1, 0, 0, 0))
                info.external_attr = 0o644 << 16
                archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


class StackDeployer:
    """Creates and deletes one stack from a SAM template with the clients it is given."""

    def __init__(self, session: Any, stack_name: str, template_path: Path,
                 code_overrides: dict[str, Path] | None = None) -> None:
        self._session = session
        self.stack_name = stack_name
        self._template_path = template_path
        self._code_overrides = code_overrides or {}
        self._cfn = session.client("cloudformation")
        self._s3 = session.client("s3")

    def deploy(self, parameters: dict[str, str] | None = None) -> dict[str, str]:
        """Creates the stack (replacing an old one) and returns its outputs."""
        account = self._session.client("sts").get_caller_identity()["Account"]
        sam = self._package(load_template(self._template_path), account)
        template = translate(sam, self._session.region_name, parameters)
        if self.exists():
            self.destroy()
        self._cfn.create_stack(
            StackName=self.stack_name,
            TemplateBody=json.dumps(template),
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in (parameters or {}).items()],
            Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
        )
        self._cfn.get_waiter("stack_create_complete").wait(StackName=self.stack_name, WaiterConfig={"Delay": 1})
        return self.outputs()

    def exists(self) -> bool:
        try:
            stacks = self._cfn.describe_stacks(StackName=self.stack_name)["Stacks"]
        except ClientError:
            return False
        return any(s["StackStatus"] != "DELETE_COMPLETE" for s in stacks)

    def outputs(self) -> dict[str, str]:
        stack = self._cfn.describe_stacks(StackName=self.stack_name)["Stacks"][0]
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        missing = [key for key in STACK_OUTPUTS if key not in outputs]
        if missing:
            raise TemplateError(f"stack {self.stack_name} lacks outputs {missing}")
        return outputs

    def destroy(self) -> None:
        """Empties the stack's buckets (CloudFormation cannot delete full ones), then deletes it."""
        for bucket in self._physical_ids("AWS::S3::Bucket"):
            self._empty_bucket(bucket)
        self._cfn.delete_stack(StackName=self.stack_name)
        self._cfn.get_waiter("stack_delete_complete").wait(StackName=self.stack_name, WaiterConfig={"Delay": 1})

    def seed_table(self, records: list[dict[str, Any]]) -> int:
        """Writes the students' records into the stack's table; returns how many."""
        table = self.outputs()[OUTPUT_STUDENTS_TABLE]
        dynamodb = self._session.client("dynamodb")
        serializer = TypeSerializer()
        for start in range(0, len(records), 25):
            chunk = records[start : start + 25]
            items = [{"PutRequest": {"Item": {k: serializer.serialize(v) for k, v in r.items()}}} for r in chunk]
            dynamodb.batch_write_item(RequestItems={table: items})
        return len(records)

    def artifacts_bucket(self, account: str) -> str:
        """The bucket `deploy` uploads the functions' zips to (left in place by `destroy`); lowercase, as a bucket
        name must be."""
        return f"{self.stack_name.lower()}-artifacts-{account}-{self._session.region_name}"

    def _package(self, sam: dict[str, Any], account: str) -> dict[str, Any]:
        """Zips each function's code folder and each layer's content folder to the artifacts bucket, as `sam
        package` does; Image functions become zip functions."""
        bucket = self.artifacts_bucket(account)
        self._ensure_bucket(bucket)
        for logical_id, resource in sam.get("Resources", {}).items():
            code_uri = function_code_uri(logical_id, resource)
            if code_uri is not None:
                if resource["Properties"].get("PackageType") == "Image":
                    _as_zip_function(logical_id, resource["Properties"])
                code_dir = self._code_overrides.get(logical_id) or self._template_path.parent / code_uri
                resource["Properties"]["CodeUri"] = self._upload(bucket, logical_id, Path(code_dir))
            elif _local_layer_content(resource) is not None:
                content_dir = self._template_path.parent / resource["Properties"]["ContentUri"]
                resource["Properties"]["ContentUri"] = self._upload(bucket, logical_id, content_dir)
        return sam

    def _upload(self, bucket: str, logical_id: str, folder: Path) -> str:
        key = f"{self.stack_name}/{logical_id}.zip"
        self._s3.put_object(Bucket=bucket, Key=key, Body=zip_code_dir(folder))
        return f"s3://{bucket}/{key}"

    def _ensure_bucket(self, bucket: str) -> None:
        try:
            self._s3.head_bucket(Bucket=bucket)
        except ClientError:
            self._s3.create_bucket(Bucket=bucket)

    def _physical_ids(self, resource_type: str) -> list[str]:
        if not self.exists():
            return []
        resources = self._cfn.describe_stack_resources(StackName=self.stack_name)["StackResources"]
        return [r["PhysicalResourceId"] for r in resources if r["ResourceType"] == resource_type
                and r.get("PhysicalResourceId")]

    def _empty_bucket(self, bucket: str) -> None:
        paginator = self._s3.get_paginator("list_object_versions")
        for page in paginator.paginate(Bucket=bucket):
            objects = [{"Key": o["Key"], "VersionId": o["VersionId"]}
                       for o in page.get("Versions", []) + page.get("DeleteMarkers", [])]
            if objects:
                self._s3.delete_objects(Bucket=bucket, Delete={"Objects": objects})


def _local_layer_content(resource: dict[str, Any]) -> str | None:
    """A SAM layer's ContentUri when it names a local folder (not s3:// nor a Bucket/Key map)."""
    content = resource.get("Properties", {}).get("ContentUri")
    if resource.get("Type") != "AWS::Serverless::LayerVersion" or not isinstance(content, str):
        return None
    return None if content.startswith("s3://") else content


def _as_zip_function(logical_id: str, properties: dict[str, Any]) -> None:
    """Rewrites an Image function's properties into a python3.11 zip function (handler from ImageConfig.Command)."""
    command = properties.pop("ImageConfig", {}).get("Command") or []
    if not command:
        raise TemplateError(f"{logical_id}: an Image function needs ImageConfig.Command [handler] for the emulator")
    for key in ("PackageType", "ImageUri"):
        properties.pop(key, None)
    properties.update(Handler=command[0], Runtime=EMULATOR_RUNTIME)


def seed_stack(session: Any, deployer: StackDeployer, seed_dir: Path) -> None:
    """Loads the students table and publishes the face model, where the seed folder has them."""
    students = seed_dir / "student_data.json"
    if students.is_file():
        count = deployer.seed_table(json.loads(students.read_text()))
        logger.info("seeded %d student records from %s", count, students)
    model = seed_dir / "model"
    if not (model / "model.json").is_file():
        logger.warning("no face model in %s: the classifier fails until one is published", model)
        return
    from facerec.store import publish_model  # imported late: only a seeded stack needs the face library

    pointer = publish_model(session.client("s3"), deployer.outputs()[OUTPUT_MODELS_BUCKET], model)
    logger.info("published face model %s from %s", pointer["version"], model)
