"""Per-function environments and Dockerfiles, without an emulator: what goes into an environment, and errors."""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path, PurePosixPath

import pytest

from emulator.dockerfile import ImageError, ImageRecipe, ImageSource, find_image, parse_image_map, read_image
from emulator.lambda_runtime import (
    DEFAULT_WHEELHOUSE,
    EnvironmentBuilder,
    EnvironmentBuildError,
    EnvironmentRecipe,
    RuntimeRefusedError,
    python_version,
    user_package_index,
)

ROOT = Path(__file__).resolve().parents[2]


def image(tmp_path: Path, dockerfile: str) -> ImageRecipe:
    (tmp_path / "Dockerfile").write_text(dockerfile)
    (tmp_path / "app.py").write_text("def handler(event, context):\n    return 1\n")
    return read_image(ImageSource(tmp_path / "Dockerfile", tmp_path))


def test_the_classifier_image_installs_its_requirements_and_puts_facerec_beside_its_code():
    recipe = read_image(ImageSource(ROOT / "lambdas/face_classifier/Dockerfile", ROOT))
    assert recipe.handler() == "app.lambda_handler"
    assert recipe.code_folder() == ROOT / "lambdas/face_classifier"
    assert set(recipe.without_code_folder(ROOT / "lambdas/face_classifier")) == {(ROOT / "facerec", "facerec"),
                                                                                 (ROOT / "contract", "contract")}
    environment = recipe.environment()
    assert "dlib-bin==20.0.1.post1" in environment.requirements and "awslambdaric==4.2.2" in environment.requirements
    assert recipe.warnings == ()  # its compileall, rm and the LocalStack bootstrap are listed as skipped
    assert any("compileall" in step for step in recipe.skipped)


def test_a_lambda_base_image_brings_the_runtime_packages_and_its_task_root(tmp_path):
    recipe = image(tmp_path, "FROM public.ecr.aws/lambda/python:3.12\nCOPY app.py ${LAMBDA_TASK_ROOT}\n"
                             "RUN pip install -q requests==2.0 --target \"${LAMBDA_TASK_ROOT}\"\n"
                             "CMD [\"app.handler\"]\n")
    assert (recipe.python, recipe.task_root) == ("3.12", PurePosixPath("/var/task"))
    assert recipe.task_copies()[0].destination == PurePosixPath("/var/task/app.py")
    assert {"requests==2.0", "boto3==1.44.5", "awslambdaric==4.2.2"} <= set(recipe.environment().requirements)


def test_instructions_the_emulator_cannot_honour_are_reported(tmp_path):
    recipe = image(tmp_path, "FROM ubuntu:24.04\nRUN apt-get install -y ffmpeg && rm -rf /var/lib/apt\n"
                             "COPY --from=builder /x /y\nCOPY app.py /app/\nWORKDIR /app\nCMD [\"app.handler\"]\n")
    assert any("FROM ubuntu:24.04" in w for w in recipe.warnings)
    assert any("apt-get install -y ffmpeg" in w for w in recipe.warnings)
    assert any("--from=builder" in w for w in recipe.warnings)
    assert recipe.skipped == ("RUN rm -rf /var/lib/apt",)


def test_an_image_without_cmd_names_no_handler(tmp_path):
    recipe = image(tmp_path, "FROM python:3.11\nCOPY app.py /var/task/\n")
    with pytest.raises(ImageError, match="CMD"):
        recipe.handler()


def test_image_uris_map_by_uri_or_repository(tmp_path):
    images = parse_image_map("repo.example/a:1=a/Dockerfile,repo.example/b=b/Dockerfile:ctx", tmp_path)
    assert find_image(images, "repo.example/a:1") == ImageSource(tmp_path / "a/Dockerfile", tmp_path / "a")
    assert find_image(images, "repo.example/b@sha256:00") == ImageSource(tmp_path / "b/Dockerfile", tmp_path / "ctx")
    assert find_image(images, "repo.example/a:2") is None


def test_non_python_runtimes_are_refused():
    assert python_version("python3.12") == "3.12"
    with pytest.raises(RuntimeRefusedError, match=r"nodejs20\.x"):
        python_version("nodejs20.x")


def test_a_requirement_missing_from_the_wheelhouse_fails_naming_it(tmp_path):
    builder = EnvironmentBuilder(tmp_path / "cache", tmp_path / "empty-wheelhouse")
    (tmp_path / "empty-wheelhouse").mkdir()
    with pytest.raises(EnvironmentBuildError, match="no-such-package"):
        builder.build(EnvironmentRecipe(requirements=("no-such-package==1.0",)))


def _cached_env(cache: Path, key: str, days_ago: float) -> Path:
    target = cache / "envs" / key
    (target / "bin").mkdir(parents=True)
    (target / ".complete").touch()
    when = time.time() - days_ago * 86_400
    os.utime(target / ".complete", (when, when))
    return target


def test_prune_removes_environments_unused_for_the_given_days_unless_a_process_runs_one(tmp_path):
    cache = tmp_path / "cache"
    old, recent, running = (_cached_env(cache, key, days) for key, days in (("old", 20), ("recent", 2), ("run", 30)))
    (running / "bin" / "python").symlink_to(sys.executable)
    process = subprocess.Popen([str(running / "bin" / "python"), "-c", "import time; time.sleep(60)"])
    try:
        _until_running(process.pid, running)
        removed = EnvironmentBuilder(cache, tmp_path / "wheelhouse").prune(unused_days=14)
    finally:
        process.kill()
        process.wait()
    assert removed == [old]
    assert not old.exists() and recent.is_dir() and running.is_dir()


def _until_running(pid: int, environment: Path) -> None:
    """Until /proc shows the process running the environment's interpreter (it may still be exec'ing)."""
    cmdline = Path(f"/proc/{pid}/cmdline")
    for _ in range(500):
        if cmdline.read_bytes().startswith(str(environment).encode()):
            return
        time.sleep(0.01)
    raise AssertionError(f"process {pid} never showed {environment}/bin/python")


def test_a_cache_hit_marks_the_environment_used(tmp_path):
    (tmp_path / "wheelhouse").mkdir()
    builder = EnvironmentBuilder(tmp_path / "cache", tmp_path / "wheelhouse")
    target = builder.build(EnvironmentRecipe())
    month_ago = time.time() - 30 * 86_400
    os.utime(target / ".complete", (month_ago, month_ago))
    assert builder.build(EnvironmentRecipe()) == target
    assert builder.prune(unused_days=14) == [] and target.is_dir()
    os.utime(target / ".complete", (month_ago, month_ago))
    assert builder.prune(unused_days=14) == [target] and not target.exists()


def test_a_requirement_missing_from_the_wheelhouse_is_resolved_from_the_users_index(tmp_path):
    """As a Docker build resolves it: here the user's index is a local folder index (offline), served by uv."""
    index = tmp_path / "index"
    (tmp_path / "empty-wheelhouse").mkdir()
    wheel = next(DEFAULT_WHEELHOUSE.glob("six-*.whl"), None) or pytest.skip("no six wheel in the wheelhouse")
    (index / "six").mkdir(parents=True)
    shutil.copy(wheel, index / "six" / wheel.name)
    (index / "six" / "index.html").write_text(f'<a href="{wheel.name}">{wheel.name}</a>')
    builder = EnvironmentBuilder(tmp_path / "cache", tmp_path / "empty-wheelhouse", find_index=index.as_uri)
    target = builder.build(EnvironmentRecipe(requirements=("six",)))
    assert list((target / "lib").glob("python*/site-packages/six.py"))


def test_the_users_index_comes_from_the_emulator_then_uv_then_pip(monkeypatch):
    monkeypatch.setenv("PIP_INDEX_URL", "https://pip.example/simple")
    monkeypatch.setenv("UV_INDEX_URL", "https://uv.example/simple")
    assert user_package_index() == "https://uv.example/simple"
    monkeypatch.setenv("EMULATOR_PACKAGE_INDEX", "offline")
    assert user_package_index() is None
