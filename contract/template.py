"""The SAM template (template.yaml) as deploy/ and the emulator's hot reload both read it: each function's code folder.

Imported by name (`contract.template`), not by `import contract`: it needs aws-sam-translator's YAML reader, which
the Lambdas do not ship.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from samtranslator.yaml_helper import yaml_parse

from contract.errors import TemplateError

EMULATOR_CODE_URI = "EmulatorCodeUri"  # an Image function's handler folder, for runs without Docker (SAM Metadata)


def load_template(path: Path) -> dict[str, Any]:
    """Reads a SAM template (short-form tags such as !Ref are expanded)."""
    try:
        return yaml_parse(path.read_text())
    except (OSError, ValueError) as exc:
        raise TemplateError(f"cannot read template {path}: {exc}") from exc


def function_code_uri(logical_id: str, resource: dict[str, Any]) -> str | None:
    """The folder a SAM function's code comes from (CodeUri, or an Image function's EmulatorCodeUri); None if the
    resource is no function."""
    properties = resource.get("Properties", {})
    if resource.get("Type") != "AWS::Serverless::Function":
        return None
    if properties.get("PackageType") != "Image":
        return properties.get("CodeUri")
    code_uri = resource.get("Metadata", {}).get(EMULATOR_CODE_URI)
    if not isinstance(code_uri, str):
        raise TemplateError(f"{logical_id} is an Image function without Metadata.{EMULATOR_CODE_URI}: "
                            "the emulator (no Docker) needs the handler folder to run it as a zip")
    return code_uri


def code_overrides(template: Path, lambdas_dir: Path) -> dict[str, Path]:
    """Maps each function to `lambdas_dir/<its CodeUri folder name>`, where that folder exists (a submission's
    handlers run in the template's place)."""
    overrides = {}
    for logical_id, resource in load_template(template).get("Resources", {}).items():
        code_uri = function_code_uri(logical_id, resource)
        if isinstance(code_uri, str):
            candidate = lambdas_dir / Path(code_uri).name
            if candidate.is_dir():
                overrides[logical_id] = candidate
    if not overrides:
        raise TemplateError(f"{lambdas_dir} has none of the template's function folders")
    return overrides
