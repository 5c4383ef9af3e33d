"""Hot reload: functions whose code is a local folder run from it, and a saved change retires their environments."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import watchfiles

from contract.template import function_code_uri, load_template
from emulator.dockerfile import ImageSource, metadata_image, run_in_place
from emulator.lambda_runtime import (
    EnvironmentRecipe,
    FunctionSpec,
    aws_runtime_requirements,
    python_version,
    requirement_lines,
)

logger = logging.getLogger(__name__)

OnChange = Callable[[str, int], None]  # (function name, files changed)


@dataclass(frozen=True)
class LocalCode:
    """A deployed function's local code folder, valid while the function still runs the code deployed from it."""

    folder: Path
    code_sha256: str
    image: ImageSource | None = None  # an image function's Dockerfile and build context (SAM's Metadata)

    def applied_to(self, spec: FunctionSpec) -> FunctionSpec:
        """The deployed function run from this folder, with the environment `sam build` would give it: its
        Dockerfile's (the COPY of this folder onto the task root runs in place), else its requirements.txt's."""
        if self.image is not None:
            return run_in_place(replace(spec, code_dir=self.folder), self.image)
        requirements = self.folder / "requirements.txt"
        if not requirements.is_file():
            return replace(spec, code_dir=self.folder)
        lines = (*aws_runtime_requirements(), *requirement_lines(requirements.read_text()))
        return replace(spec, code_dir=self.folder, recipe=EnvironmentRecipe(python_version(spec.runtime), lines))


def local_code_of_stack(session: Any, stack_name: str, template: Path,
                        overrides: dict[str, Path] | None = None) -> dict[str, LocalCode]:
    """Each deployed function of the stack (by physical name) -> the folder its code was zipped from."""
    cfn, lam = session.client("cloudformation"), session.client("lambda")
    resources = cfn.describe_stack_resources(StackName=stack_name)["StackResources"]
    physical = {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in resources
                if r["ResourceType"] == "AWS::Lambda::Function"}
    local = {}
    for logical_id, resource in load_template(template).get("Resources", {}).items():
        code_uri = function_code_uri(logical_id, resource)
        if code_uri is None or logical_id not in physical:
            continue
        folder = (overrides or {}).get(logical_id) or template.parent / code_uri
        sha = lam.get_function(FunctionName=physical[logical_id])["Configuration"]["CodeSha256"]
        local[physical[logical_id]] = LocalCode(Path(folder).resolve(), sha, _image_source(template, resource))
    return local


def _image_source(template: Path, resource: dict[str, Any]) -> ImageSource | None:
    """An image function's Dockerfile and build context, from its SAM Metadata."""
    if resource.get("Properties", {}).get("PackageType") != "Image":
        return None
    return metadata_image(resource.get("Metadata", {}), template.parent)


class CodeWatcher:
    """Watches the functions' folders in a thread and reports which function changed and how many files."""

    def __init__(self, folders: dict[str, Path], on_change: OnChange) -> None:
        self._folders = folders
        self._on_change = on_change
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="code-watcher", daemon=True)

    @property
    def functions(self) -> list[str]:
        return list(self._folders)

    def start(self) -> None:
        if self._folders:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5.0)

    def _watch(self) -> None:
        paths = sorted(set(self._folders.values()))
        for changes in watchfiles.watch(*paths, stop_event=self._stop, debounce=200, step=50,
                                        raise_interrupt=False):
            for function, count in self._count_by_function(changes).items():
                self._on_change(function, count)

    def _count_by_function(self, changes: set[tuple[watchfiles.Change, str]]) -> dict[str, int]:
        counts: dict[str, int] = {}
        for _, path in changes:
            for function, folder in self._folders.items():
                if Path(path).is_relative_to(folder):
                    counts[function] = counts.get(function, 0) + 1
        return counts
