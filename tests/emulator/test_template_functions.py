"""A CloudFormation function with SAM's `Metadata.Dockerfile` (emulator/aws/awslambda.py, _function_from_template):
its INIT starts only once its image is known. Started by the CreateFunction inside CloudFormation's create, INIT
ran before, without the image's packages, failed, and ran again on the first event (class submissions paid for it
on their timed openings)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from emulator.aws import awslambda
from emulator.config import PROJECT_ROOT

TEMPLATE_FUNCTION = {"Metadata": {"Dockerfile": "lambdas/frame_extractor/Dockerfile", "DockerContext": "."},
                     "Properties": {"FunctionName": "door"}}


def test_a_template_functions_init_starts_after_its_dockerfile_is_known(monkeypatch) -> None:
    monkeypatch.chdir(PROJECT_ROOT)
    seen: list[tuple[str, Any]] = []

    def cloudformation_create(cls: type, name: str, template: dict[str, Any]) -> Any:
        seen.append(("create_function while creating", awslambda._from_template.creating))
        return SimpleNamespace()

    def prepare(fn: Any) -> None:
        seen.append(("prepare with image", getattr(fn, awslambda._DOCKERFILE_ATTRIBUTE).dockerfile.name))

    create = awslambda._function_from_template(cloudformation_create, prepare)
    create(object, "Door", TEMPLATE_FUNCTION)

    assert seen == [("create_function while creating", True), ("prepare with image", "Dockerfile")]
    assert awslambda._from_template.creating is False
