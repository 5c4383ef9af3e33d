"""Where and as whom a submission's deploy command runs (docs/grading.md, "Isolation").

As root: under its account's uid (the uid its functions run as, emulator/lambda_runtime/isolation.py), in a private
copy of its folder beside copies of the class's shared folders (`_*`), with a HOME and TMPDIR of its own; the
class's folders, the emulator's state and the out dir covered by empty tmpfs, /proc listing only its own processes.
Not root (or where the kernel refuses the mounts): in its own folder as the grader's user, and the class report
says so (`jail_refusal`)."""

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from emulator.lambda_runtime.isolation import FIRST_UID, account_uid, cover_and_reveal
from grader.classroom.sandbox import Jail, enter
from grader.config import PROJECT_ROOT
from grader.errors import GraderError

STAGE_PREFIX = "grader-deploy-"
WORK, HOME, TMP = "work", "home", "tmp"


@dataclass(frozen=True)
class ClassFolders:
    """What the class's deploy commands must not see (`hidden`: the submissions, the out dir, the emulator's state)
    and the shared folders each gets a copy of; nothing hidden: no jail (not root)."""

    hidden: tuple[Path, ...] = ()
    shared: tuple[Path, ...] = ()


UNJAILED = ClassFolders()


@dataclass(frozen=True)
class Stage:
    """Where a deploy command runs (`cwd`), its HOME and TMPDIR, and its jail (None: as the grader's user)."""

    cwd: Path
    home: Path | None
    tmp: Path
    jail: Jail | None


def jail_refusal() -> str | None:
    """Why deploy commands cannot run jailed here (None: they can): not root, or the kernel refused a jail's
    mount namespace, tmpfs, /proc or uid switch to a probe."""
    if os.geteuid() != 0:
        return f"not root (uid {os.geteuid()}): no uid of their own"
    probe = Jail(FIRST_UID, (), ())
    try:
        done = subprocess.run(["/bin/true"], preexec_fn=lambda: enter(probe), check=False)
    except subprocess.SubprocessError as exc:
        return f"the kernel refused a jail's mount namespace or uid switch ({exc})"
    return None if done.returncode == 0 else f"a jailed probe exited with {done.returncode}"


@contextmanager
def staged(folder: Path, account: str, folders: ClassFolders, scratch: Path) -> Iterator[Stage]:
    """The deploy's stage, removed after. Nothing hidden: the folder itself, TMPDIR scratch/tmp, as the grader's
    user. Else a private folder of the account's uid (0700): work/<folder name> (a copy of the submission, symlinks
    kept as links: the copy follows none for it), work/<each shared folder>, home/, tmp/; the hidden ones covered."""
    if not folders.hidden:
        yield Stage(folder, None, scratch / TMP, None)
        return
    uid = account_uid(account)
    root = Path(tempfile.mkdtemp(prefix=STAGE_PREFIX))
    try:
        for source in (folder, *folders.shared):
            _copy(source, root / WORK / source.name)
        for name in (HOME, TMP):
            (root / name).mkdir()
        _give(root, uid)
        cover, reveal = cover_and_reveal(folders.hidden, _needed(root))
        yield Stage(root / WORK / folder.name, root / HOME, root / TMP,
                    Jail(uid, tuple(map(str, cover)), tuple(map(str, reveal))))
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _copy(source: Path, target: Path) -> None:
    try:
        shutil.copytree(source, target, symlinks=True)
    except (OSError, shutil.Error) as exc:
        raise GraderError(f"could not copy {source} for its deploy: {exc}") from exc


def _give(root: Path, uid: int) -> None:
    """Everything under root to uid:uid (links themselves, not what they point to)."""
    os.chown(root, uid, uid)
    for folder, names, files in os.walk(root):
        for name in (*names, *files):
            os.lchown(os.path.join(folder, name), uid, uid)


def _needed(stage: Path) -> list[Path]:
    """What a deploy command reads besides its stage: the interpreter (a venv and the Python it was made from) and
    this project (our SAM deploy, the seed fixtures, the editable install's packages)."""
    return [stage, Path(sys.prefix), Path(sys.base_prefix), Path(sys.executable).resolve().parent.parent,
            PROJECT_ROOT]
