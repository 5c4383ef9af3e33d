"""grading.toml: the two documented layouts load; every bad manifest is refused with the field named."""

from pathlib import Path

import pytest

from grader.classroom.manifest import load_manifest
from grader.classroom.settings import ClassSettings, account_id
from grader.errors import ConfigError

COURSE_2024 = '''
student = "1234567890"
[deploy]
command = "python setup.py"
[resources]
input_bucket = "{student}-input"
output_bucket = "{student}-output"
frame_extractor = "video-splitting"
face_classifier = "face-recognition"
'''
TEMPLATE = '''
student = "asmith"
[deploy]
template = "template.yaml"
parameters = { ClassifierReservedConcurrency = "5" }
'''


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "grading.toml").write_text(text)
    return tmp_path


def test_the_course_2024_layout_names_its_buckets_and_answers_in_a_bucket(tmp_path: Path) -> None:
    manifest = load_manifest(write(tmp_path, COURSE_2024))
    assert manifest.name(manifest.resources.input_bucket or "") == "1234567890-input"
    assert manifest.resources.upload_keys == "course" and not manifest.resources.from_stack


def test_a_template_submission_reads_its_resources_from_the_stack(tmp_path: Path) -> None:
    manifest = load_manifest(write(tmp_path, TEMPLATE))
    assert manifest.resources.from_stack and manifest.resources.upload_keys == "contract"
    assert manifest.deploy.stack_name == "facepipe"
    assert manifest.deploy.parameters["ClassifierReservedConcurrency"] == "5"


@pytest.mark.parametrize(("text", "named"), [
    (TEMPLATE.replace('template = "template.yaml"', 'template = "t.yaml"\ncommand = "x"'), "exactly one of deploy"),
    (TEMPLATE.replace('"asmith"', '"../etc"'), "student"),
    (TEMPLATE + "colour = 1\n", "colour"),
    (COURSE_2024.replace('output_bucket = "{student}-output"', ""), "output_queue"),
    (COURSE_2024.replace('frame_extractor = "video-splitting"', ""), "frame_extractor"),
    (COURSE_2024.replace("[resources]", "[resources]\nupload = \"contract\""), "upload must be 'course'"),
    (COURSE_2024.split("[resources]")[0], "must name its resources"),
    ("student = ", "not TOML"),
])
def test_a_bad_manifest_is_refused_naming_the_problem(tmp_path: Path, text: str, named: str) -> None:
    with pytest.raises(ConfigError, match=r"grading\.toml") as error:
        load_manifest(write(tmp_path, text))
    assert named in str(error.value)


def test_a_missing_manifest_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_manifest(tmp_path)


def test_accounts_are_distinct_twelve_digit_ids_and_settings_are_bounded() -> None:
    ids = {account_id(i) for i in range(300)}
    assert len(ids) == 300 and all(len(i) == 12 and i.isdigit() for i in ids)
    assert "123456789012" not in ids and "000000000000" not in ids
    with pytest.raises(ConfigError, match="parallel"):
        ClassSettings(parallel=0)
