"""The Dockerfiles parse, pin their base images, end in a CMD, and install the versions pyproject.toml pins."""

import re
import tomllib

import pytest

from tests.conftest import ROOT

DOCKERFILES = [*sorted(ROOT.glob("lambdas/*/Dockerfile")), ROOT / "localstack" / "Dockerfile"]
INSTRUCTIONS = {"FROM", "ARG", "ENV", "WORKDIR", "RUN", "COPY", "ADD", "ENTRYPOINT", "CMD", "LABEL", "USER",
                "EXPOSE", "VOLUME", "SHELL", "HEALTHCHECK", "STOPSIGNAL", "ONBUILD"}
_PIN = re.compile(r"([A-Za-z0-9_.\-\[\]]+)==([0-9][A-Za-z0-9.+\-]*)")


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    return [(line.split()[0].upper(), line.split(maxsplit=1)[1]) for line in joined.splitlines() if line.strip()]


def _base_images(steps: list[tuple[str, str]]) -> list[str]:
    """Each FROM's image with ARG defaults filled in; a FROM of an earlier stage is left out."""
    args, stages, images = {}, set(), []
    for name, value in steps:
        if name == "ARG" and "=" in value:
            key, default = value.split("=", 1)
            args[key] = default
        if name == "FROM":
            image, *alias = re.split(r"\s+AS\s+", value, flags=re.IGNORECASE)
            image = re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), m.group(0)), image)
            if image not in stages:
                images.append(image)
            stages.update(alias)
    return images


def _pinned(image: str) -> bool:
    """A digest, or an exact version tag (no `latest`, no bare major like `3`)."""
    if "@sha256:" in image:
        return True
    tag = image.rsplit(":", 1)[1] if ":" in image.rsplit("/", 1)[-1] else ""
    return bool(re.match(r"^\d+\.\d+\.\d+", tag)) and "latest" not in tag


def _pyproject_pins() -> dict[str, str]:
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    return {_bare(name): version for name, version in (_PIN.match(d).groups() for d in dependencies)}


def _bare(package: str) -> str:
    """`moto[server]` -> `moto`."""
    return re.sub(r"\[.*\]", "", package).lower()


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_parses_pins_its_base_and_ends_in_a_cmd(path):
    steps = instructions(path.read_text())
    assert {name for name, _ in steps} <= INSTRUCTIONS
    images = _base_images(steps)
    assert images and all(_pinned(image) for image in images), images
    final_stage = steps[max(i for i, (name, _) in enumerate(steps) if name == "FROM"):]
    assert "CMD" in [name for name, _ in final_stage]


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_installs_the_versions_pyproject_pins(path):
    pins = _pyproject_pins()
    for name, value in instructions(path.read_text()):
        for package, version in _PIN.findall(value) if name == "RUN" else []:
            assert pins.get(_bare(package)) == version, f"{path}: {package}=={version}, pyproject: {pins}"


def test_the_lambda_images_run_the_template_handler_with_awslambdaric():
    for path in sorted(ROOT.glob("lambdas/*/Dockerfile")):
        steps = dict(instructions(path.read_text()))
        assert steps["ENTRYPOINT"] == '["python", "-m", "awslambdaric"]'
        assert steps["CMD"] == '["app.lambda_handler"]'


@pytest.mark.parametrize("function", ["frame_extractor", "face_classifier"])
def test_both_lambda_images_ship_the_contract_and_pin_pydantic(function):
    steps = instructions((ROOT / "lambdas" / function / "Dockerfile").read_text())
    assert ("COPY", "contract/ ${LAMBDA_TASK_ROOT}/contract/") in steps
    requirements = (ROOT / "lambdas" / function / "requirements.txt").read_text().split()
    assert f"pydantic=={_pyproject_pins()['pydantic']}" in requirements
