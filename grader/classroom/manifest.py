"""A submission's `grading.toml`: who it is, how it deploys, where its input and answers are (docs/grading.md)."""

import re
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from grader.classroom.settings import MANIFEST
from grader.errors import ConfigError

STUDENT_PLACEHOLDER = "{student}"
_STUDENT_ID = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Deploy(_Strict):
    """Exactly one of: a command run in the submission's folder, or a SAM template deployed as a stack."""

    command: str | None = None
    template: str | None = None
    stack_name: str = Field("facepipe", pattern=r"^[A-Za-z][A-Za-z0-9-]{0,127}$")
    parameters: dict[str, str] = {}
    seed: bool = True

    @model_validator(mode="after")
    def _one_way(self) -> "Deploy":
        if (self.command is None) == (self.template is None):
            raise ValueError("give exactly one of deploy.command and deploy.template")
        return self


class Resources(_Strict):
    """Names (`{student}` is replaced by the student id); all empty with a template: the stack's outputs."""

    input_bucket: str | None = None
    output_queue: str | None = None
    output_bucket: str | None = None
    frame_extractor: str | None = None
    face_classifier: str | None = None
    upload: Literal["contract", "course"] | None = None

    @property
    def from_stack(self) -> bool:
        """No name given: read them from the stack's outputs (docs/contracts.md)."""
        return not any((self.input_bucket, self.output_queue, self.output_bucket, self.frame_extractor,
                        self.face_classifier))

    @property
    def upload_keys(self) -> str:
        """contract: `videos/<device>/<stamp>.mp4` with metadata; course: the request's name at the bucket's root."""
        return self.upload or ("course" if self.output_bucket else "contract")

    @model_validator(mode="after")
    def _complete(self) -> "Resources":
        if self.from_stack:
            return self
        missing = [n for n in ("input_bucket", "frame_extractor", "face_classifier") if not getattr(self, n)]
        if missing:
            raise ValueError(f"resources lack {missing}")
        if bool(self.output_queue) == bool(self.output_bucket):
            raise ValueError("give exactly one of resources.output_queue and resources.output_bucket")
        if self.output_bucket and self.upload_keys != "course":
            raise ValueError("answers in a bucket are named after the uploaded video: upload must be 'course'")
        return self


class Manifest(_Strict):
    """The whole `grading.toml`."""

    student: str = Field(pattern=_STUDENT_ID)
    deploy: Deploy
    resources: Resources = Resources()

    @model_validator(mode="after")
    def _names_or_stack(self) -> "Manifest":
        if self.resources.from_stack and self.deploy.template is None:
            raise ValueError("a deploy command must name its resources ([resources] input_bucket, ...)")
        return self

    def name(self, value: str) -> str:
        """A resource name with `{student}` filled in."""
        return value.replace(STUDENT_PLACEHOLDER, self.student)


def load_manifest(folder: Path) -> Manifest:
    """The submission folder's grading.toml, checked; ConfigError names the file and every problem."""
    path = folder / MANIFEST
    try:
        return Manifest.model_validate(tomllib.loads(path.read_text()))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read it ({exc.strerror})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not TOML: {exc}") from exc
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'grading.toml'}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"{path}: {problems}") from exc


def fallback_student(folder: Path) -> str:
    """A gradebook key for a folder whose manifest is unreadable: the folder's name, made safe."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", folder.name)[:64] or "submission"
