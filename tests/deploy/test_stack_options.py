"""`deploy aws` onto an endpoint with another template's handlers and with or without seeding (the emulator's stack
command), shown by the dry run; other handlers are refused for AWS."""

import shutil
from pathlib import Path

from tests.conftest import ROOT
from tests.deploy.conftest import aws_free_env, endpoint_env, run_deploy

NOWHERE = "http://127.0.0.1:9"  # the dry run only lists the steps: nothing needs to answer


def _handlers(tmp_path: Path) -> Path:
    """A submission folder with its own frame_extractor (the template's CodeUri folder name)."""
    shutil.copytree(ROOT / "lambdas" / "frame_extractor", tmp_path / "frame_extractor")
    return tmp_path


def test_no_seed_leaves_the_seeding_step_out(tmp_path: Path) -> None:
    seeded = run_deploy("aws", "--dry-run", env=endpoint_env(NOWHERE))
    bare = run_deploy("aws", "--dry-run", "--no-seed", "--lambdas", str(_handlers(tmp_path)), env=endpoint_env(NOWHERE))
    assert seeded.returncode == bare.returncode == 0, seeded.stderr + bare.stderr
    assert "seed the StudentsTable" in seeded.stdout
    assert "seed the StudentsTable" not in bare.stdout
    assert "create stack facepipe at http://127.0.0.1:9" in bare.stdout


def test_other_handlers_need_an_endpoint(tmp_path: Path) -> None:
    result = run_deploy("aws", "--dry-run", "--lambdas", str(_handlers(tmp_path)), env=aws_free_env())
    assert result.returncode == 1
    assert "--lambdas" in result.stderr and "AWS_ENDPOINT_URL" in result.stderr


def test_a_handlers_folder_without_the_templates_functions_is_refused(tmp_path: Path) -> None:
    result = run_deploy("aws", "--dry-run", "--lambdas", str(tmp_path), env=endpoint_env(NOWHERE))
    assert result.returncode == 1
    assert "has none of the template's function folders" in result.stderr
