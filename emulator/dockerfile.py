"""Image functions without Docker: what a function's Dockerfile puts in its image, read with `dockerfile-parse`.

Honoured: `FROM` (the Python version; AWS's `public.ecr.aws/lambda/python` images bring AWS's runtime packages),
`COPY`/`ADD` of local files (into the task root), `RUN pip install -r FILE` / `RUN pip install PKG==X` (into the
function's environment), `ENV`, `WORKDIR` (relative paths), `CMD` / `ENTRYPOINT` (the handler is CMD's first word,
or ImageConfig.Command's, run with awslambdaric). Everything else (`apt-get`, a base image that is not Python,
`COPY --from`, a shell command) is reported in the image's `warnings`; harmless build-only steps (`rm`, `mkdir`,
`python -m compileall`...) are listed as `skipped`. Nothing is dropped silently.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path, PurePosixPath

from dockerfile_parse import DockerfileParser
from dockerfile_parse.util import WordSplitter, extract_key_values

from emulator.errors import EmulatorError
from emulator.lambda_runtime import THIS_PYTHON, EnvironmentRecipe, aws_runtime_requirements, requirement_lines
from emulator.lambda_runtime.spec import FunctionSpec

LAMBDA_BASE = "public.ecr.aws/lambda/python"
DEFAULT_TASK_ROOT = "/var/task"
_PYTHON_IMAGE = re.compile(r"(?:.*/)?python:(\d+\.\d+)(?:\.\d+)?")
_PIP = re.compile(r"(?:pip3?(?:\.\d+)?|python[\d.]*\s+-m\s+pip)\s+install\b")
_NO_EFFECT = ("rm", "mkdir", "chmod", "chown", "ln", "echo", "printf", "true", "touch", "cd")
_COMPILEALL = re.compile(r"python[\d.]*\s+-m\s+compileall\b")
_PIP_VALUE_OPTIONS = {"-r", "--requirement", "-t", "--target", "-c", "--constraint", "-i", "--index-url",
                      "--extra-index-url", "-f", "--find-links", "--prefix", "--root", "--platform",
                      "--python-version", "--only-binary", "--no-binary"}
_PATH_VARIABLES = ("PATH", "PYTHONPATH", "LD_LIBRARY_PATH")


class ImageError(EmulatorError):
    """The Dockerfile cannot be turned into a function the emulator runs."""


@dataclass(frozen=True)
class ImageSource:
    """Where an image is built from: its Dockerfile and build context."""

    dockerfile: Path
    context: Path


@dataclass(frozen=True)
class Copy:
    """A COPY: a file or folder of the build context (a folder's contents) at `destination` in the image."""

    source: Path
    destination: PurePosixPath


@dataclass(frozen=True)
class ImageRecipe:
    """What the emulator takes from a Dockerfile."""

    python: str
    lambda_base: bool
    task_root: PurePosixPath
    copies: tuple[Copy, ...]
    requirements: tuple[str, ...]
    env: tuple[tuple[str, str], ...]
    entrypoint: tuple[str, ...]
    cmd: tuple[str, ...]
    warnings: tuple[str, ...]
    skipped: tuple[str, ...]

    def handler(self, command: list[str] | None = None) -> str:
        """The handler: ImageConfig.Command's first word, else CMD's."""
        words = command or list(self.cmd)
        if not words:
            raise ImageError("the image has no CMD naming the handler: add CMD [\"module.function\"] to the "
                             "Dockerfile or set ImageConfig.Command")
        return words[0]

    def task_copies(self) -> tuple[Copy, ...]:
        """The COPYs that land in the task root, in order."""
        return tuple(c for c in self.copies if c.destination.is_relative_to(self.task_root))

    def code_folder(self) -> Path | None:
        """The folder whose contents the last COPY puts at the task root itself (a function's own folder)."""
        folders = [c.source for c in self.task_copies() if c.destination == self.task_root and c.source.is_dir()]
        return folders[-1] if folders else None

    def environment(self, task_files: tuple[tuple[Path, str], ...] = ()) -> EnvironmentRecipe:
        """The function's environment: what RUN pip installs, plus awslambdaric (and boto3 on a Lambda base)."""
        named = {_project_name(line) for line in self.requirements}
        runtime = [line for line in aws_runtime_requirements()
                   if (self.lambda_base or _project_name(line) == "awslambdaric") and _project_name(line) not in named]
        return EnvironmentRecipe(self.python, (*self.requirements, *runtime), task_files)

    def without_code_folder(self, folder: Path) -> tuple[tuple[Path, str], ...]:
        """The task root's files other than `folder` (which runs in place): (source, path under the task root)."""
        return tuple((c.source, str(c.destination.relative_to(self.task_root)))
                     for c in self.task_copies() if not (c.source == folder and c.destination == self.task_root))


@dataclass
class _Stage:
    base: str
    python: str = THIS_PYTHON
    lambda_base: bool = False
    env: dict[str, str] = field(default_factory=dict)
    workdir: PurePosixPath = field(default_factory=lambda: PurePosixPath("/"))
    args: dict[str, str] = field(default_factory=dict)  # ARG defaults: substituted, not in the function's env
    copies: list[Copy] = field(default_factory=list)
    requirements: list[str] = field(default_factory=list)
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    warnings: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def copy(self) -> _Stage:
        return replace(self, env=dict(self.env), args=dict(self.args), copies=list(self.copies),
                       requirements=list(self.requirements), warnings=list(self.warnings), skipped=list(self.skipped))


def read_image(source: ImageSource) -> ImageRecipe:
    """Parses the Dockerfile (cached while it is unchanged)."""
    try:
        stamp = source.dockerfile.stat().st_mtime_ns
    except OSError as exc:
        raise ImageError(f"cannot read Dockerfile {source.dockerfile}: {exc}") from exc
    return _read_image(source.dockerfile.resolve(), source.context.resolve(), stamp)


@cache
def _read_image(dockerfile: Path, context: Path, _stamp: int) -> ImageRecipe:
    parser = DockerfileParser(path=str(dockerfile), env_replace=False)
    stages: dict[str, _Stage] = {}
    stage: _Stage | None = None
    global_args = _Stage("")
    for instruction in parser.structure:
        kind, value = instruction["instruction"], instruction["value"]
        if kind == "FROM":
            stage = _from(_words(value, global_args), stages)
            stage.args = {**global_args.args, **stage.args}
        elif kind not in ("COMMENT", "ARG") and stage is None:
            raise ImageError(f"{dockerfile}: {kind} before FROM")
        else:
            _apply(stage or global_args, kind, value, context)
    if stage is None:
        raise ImageError(f"{dockerfile} has no FROM")
    task_root = PurePosixPath(stage.env.get("LAMBDA_TASK_ROOT") or stage.workdir)  # awslambdaric imports from cwd
    env = tuple((k, v) for k, v in stage.env.items() if k not in _PATH_VARIABLES)
    warnings = [*stage.warnings, *(f"ENV {k}: not applied (a path inside the image)" for k in stage.env
                                   if k in _PATH_VARIABLES)]
    if stage.entrypoint and not stage.lambda_base and stage.entrypoint[-2:] != ("-m", "awslambdaric"):
        warnings.append(f"ENTRYPOINT {list(stage.entrypoint)} is not awslambdaric: the emulator runs CMD's handler "
                        "with awslambdaric")
    return ImageRecipe(stage.python, stage.lambda_base, task_root, tuple(stage.copies), tuple(stage.requirements),
                       env, stage.entrypoint, stage.cmd, tuple(warnings), tuple(stage.skipped))


def run_in_place(spec: FunctionSpec, source: ImageSource) -> FunctionSpec:
    """A function whose code folder is an image's own (the COPY onto its task root), with the rest of the image:
    its environment (what RUN pip installs, the other COPYs into the task root), ENV and Python."""
    image = read_image(source)
    task_files = image.without_code_folder(image.code_folder() or spec.code_dir)
    return replace(spec, runtime=f"python{image.python}", environment={**dict(image.env), **spec.environment},
                   recipe=image.environment(task_files))


def metadata_image(metadata: dict[str, str], base: Path) -> ImageSource | None:
    """SAM's `Metadata.Dockerfile` (relative to `DockerContext`) and `DockerContext`, relative to `base`."""
    if "Dockerfile" not in metadata:
        return None
    context = base / metadata.get("DockerContext", ".")
    return ImageSource(context / metadata["Dockerfile"], context)


def stage_task_root(recipe: ImageRecipe, cache_dir: Path) -> Path:
    """The image's task root as a folder: its COPYs in order, cached by their content."""
    copies = recipe.task_copies()
    digest = hashlib.sha256()
    for copy in copies:
        digest.update(f"{copy.source}\0{copy.destination}\0".encode())
        for path in sorted([copy.source] if copy.source.is_file() else copy.source.rglob("*")):
            if path.is_file():
                digest.update(path.read_bytes())
    target = cache_dir / "images" / digest.hexdigest()[:16]
    if target.is_dir():
        return target
    staging = target.with_name(f".{target.name}-staging")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for copy in copies:
        place = staging / copy.destination.relative_to(recipe.task_root)
        if copy.source.is_dir():
            shutil.copytree(copy.source, place, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            place.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(copy.source, place)
    staging.rename(target)
    return target


def _from(words: list[str], stages: dict[str, _Stage]) -> _Stage:
    image = words[0]
    stage = stages[image].copy() if image in stages else _base_stage(image)
    if len(words) == 3 and words[1].upper() == "AS":
        stages[words[2]] = stage
    return stage


def _base_stage(image: str) -> _Stage:
    name = image.split("@")[0]
    if name.startswith(LAMBDA_BASE):
        version = name.partition(":")[2] or THIS_PYTHON
        return _Stage(image, version, True, {"LAMBDA_TASK_ROOT": DEFAULT_TASK_ROOT},
                      PurePosixPath(DEFAULT_TASK_ROOT), entrypoint=("/lambda-entrypoint.sh",))
    match = _PYTHON_IMAGE.fullmatch(name.split("-")[0])
    if match is not None:
        return _Stage(image, match.group(1))
    return _Stage(image, warnings=[f"FROM {image}: not a Python image the emulator knows; the function runs on "
                                   f"python{THIS_PYTHON} with this machine's system libraries"])


def _apply(stage: _Stage, kind: str, value: str, context: Path) -> None:
    if kind == "ENV":
        stage.env.update(extract_key_values(True, {}, {**stage.args, **stage.env}, value))
    elif kind == "ARG":
        name, has_default, default = value.partition("=")
        if has_default:  # `ARG NAME` alone keeps the value it had before (the global ARG's default)
            stage.args[name.strip()] = "".join(_words(default, stage))
    elif kind == "WORKDIR":
        stage.workdir = stage.workdir / _words(value, stage)[0]
    elif kind in ("COPY", "ADD"):
        _copy(stage, kind, _words(value, stage), context)
    elif kind == "RUN":
        for command in _commands(value):
            _run(stage, command)
    elif kind == "CMD":
        stage.cmd = _exec_form(value, stage)
    elif kind == "ENTRYPOINT":
        stage.entrypoint = _exec_form(value, stage)
    elif kind not in ("LABEL", "EXPOSE", "USER", "SHELL", "STOPSIGNAL", "HEALTHCHECK", "COMMENT"):
        stage.warnings.append(f"{kind} {value}: not honoured by the emulator")


def _copy(stage: _Stage, kind: str, words: list[str], context: Path) -> None:
    flags = [w for w in words if w.startswith("--")]
    paths = [w for w in words if not w.startswith("--")]
    if any(f.startswith("--from") for f in flags) or len(paths) < 2:
        stage.warnings.append(f"{kind} {' '.join(words)}: not honoured (the emulator copies from the build "
                              "context only)")
        return
    *sources, target = paths
    destination = stage.workdir / target
    for pattern in sources:
        matches = sorted(context.glob(pattern.rstrip("/"))) if pattern.rstrip("/") else [context]
        if not matches:
            raise ImageError(f"{kind} {pattern}: no such file in the build context {context}")
        for source in matches:
            if not source.resolve().is_relative_to(context):
                raise ImageError(f"{kind} {pattern}: outside the build context {context}")
            into_folder = (target.endswith("/") or len(sources) > 1 or len(matches) > 1
                           or destination in _known_folders(stage))
            place = destination / source.name if into_folder and source.is_file() else destination
            stage.copies.append(Copy(source, place))


def _known_folders(stage: _Stage) -> set[PurePosixPath]:
    """Paths that are folders in the image already: a file COPYed onto one lands inside it, as Docker does."""
    task_root = stage.env.get("LAMBDA_TASK_ROOT")
    return {stage.workdir, *([PurePosixPath(task_root)] if task_root else [])}


def _run(stage: _Stage, command: str) -> None:
    if _PIP.match(command):
        stage.requirements += _pip_requirements(stage, command)
    elif _COMPILEALL.match(command) or command.split()[0] in _NO_EFFECT:
        stage.skipped.append(f"RUN {command}")
    else:
        stage.warnings.append(f"RUN {command}: not run (the emulator runs only `pip install` of a Dockerfile; the "
                              "function gets this machine's system packages and tools)")


def _pip_requirements(stage: _Stage, command: str) -> list[str]:
    words = _words(_PIP.sub("", command, count=1), stage)
    requirements, expect = [], ""
    for word in words:
        if expect in ("-r", "--requirement"):
            requirements += _requirement_file(stage, word)
        elif expect:
            pass  # the value of an option that does not change what is installed (--target, --index-url...)
        elif word in _PIP_VALUE_OPTIONS:
            expect = word
            continue
        elif word.startswith("-"):
            pass  # a flag: -q, --no-cache-dir, --upgrade...
        elif word.startswith((".", "/")):
            stage.warnings.append(f"RUN pip install {word}: a local path is not installed by the emulator")
        else:
            requirements.append(word)
        expect = ""
    return requirements


def _requirement_file(stage: _Stage, image_path: str) -> list[str]:
    path = stage.workdir / image_path
    for copy in reversed(stage.copies):
        if copy.destination == path and copy.source.is_file():
            return list(requirement_lines(copy.source.read_text()))
        if path.is_relative_to(copy.destination) and copy.source.is_dir():
            candidate = copy.source / path.relative_to(copy.destination)
            if candidate.is_file():
                return list(requirement_lines(candidate.read_text()))
    raise ImageError(f"RUN pip install -r {image_path}: no COPY before it puts that file in the image")


def _commands(value: str) -> list[str]:
    return [part.strip() for part in re.split(r"&&|;|\|\|", value) if part.strip()]


def _words(value: str, stage: _Stage) -> list[str]:
    return list(WordSplitter(value, envs={**stage.args, **stage.env}).split())


def _exec_form(value: str, stage: _Stage) -> tuple[str, ...]:
    try:
        words = json.loads(value)
    except json.JSONDecodeError:
        return tuple(_words(value, stage))
    return tuple(str(w) for w in words)


def _project_name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9._-]+", requirement)
    return re.sub(r"[-_.]+", "-", match.group(0)).lower() if match else requirement


def parse_image_map(text: str, base: Path) -> dict[str, ImageSource]:
    """`URI=DOCKERFILE[:CONTEXT],...` (EMULATOR_IMAGES, `serve --image`) -> {uri: source}; context defaults to the
    Dockerfile's folder; relative paths are relative to `base`."""
    images = {}
    for entry in filter(None, (part.strip() for part in text.split(","))):
        uri, sep, rest = entry.partition("=")
        if not sep or not uri or not rest:
            raise ImageError(f"image mapping {entry!r}: expected URI=DOCKERFILE[:CONTEXT]")
        dockerfile, _, context = rest.partition(":")
        path = base / dockerfile
        images[uri] = ImageSource(path, base / context if context else path.parent)
    return images


def find_image(images: dict[str, ImageSource], uri: str) -> ImageSource | None:
    """The mapping of an ImageUri: exact, else by repository (any tag or digest)."""
    repository = re.sub(r"(@.*|:[^/:]*)$", "", uri)
    return images.get(uri) or images.get(repository)
