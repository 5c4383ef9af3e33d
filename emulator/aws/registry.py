"""The one registry of every private name of moto, cheroot, awslambdaric and botocore the emulator touches.

Each touch is an `Internal`: where it lives, and what must still be true of it (its leading parameters, a text
its source contains, or both). A `Patch` replaces an internal; a `Setting` changes one entry of a library's
settings dict. The registry verifies every internal before it installs anything, refuses an internal with nothing
to verify, and undoes every patch in reverse order. An internal only read (not patched) is registered too, so an
upgrade that moves it fails loudly at start instead of somewhere inside a request.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any

from emulator.errors import EmulatorError

PINNED = {"moto": "5.2.5", "cheroot": "11.1.2", "awslambdaric": "4.2.2", "botocore": "1.44.5"}
_originals: dict[tuple[int, str], Any] = {}  # what each installed patch replaced: checks look at the library's own


class UnverifiedInternalError(EmulatorError):
    """An internal registered with nothing to check it by: it could move in an upgrade without anyone noticing."""


@dataclass(frozen=True)
class Internal:
    """A private name of a library and what must still hold of it."""

    owner: Any
    attribute: str
    params: tuple[str, ...] = ()
    source: str = ""

    def __post_init__(self) -> None:
        if not self.params and not self.source:
            raise UnverifiedInternalError(f"{self.label}: an internal needs its parameters or a source text to check")

    @property
    def label(self) -> str:
        owner = getattr(self.owner, "__qualname__", None) or getattr(self.owner, "__name__", repr(self.owner))
        return f"{owner}.{self.attribute}"

    def current(self) -> Any:
        """The library's own attribute under the name (the original when a patch replaced it); a class's own
        attribute, not an inherited one."""
        if (id(self.owner), self.attribute) in _originals:
            return _originals[(id(self.owner), self.attribute)]
        namespace = vars(self.owner) if isinstance(self.owner, type) else self.owner.__dict__
        if self.attribute not in namespace:
            raise EmulatorError(f"library internal {self.label} is gone: emulator/aws needs updating")
        return namespace[self.attribute]

    def verify(self) -> None:
        """Raises EmulatorError naming the internal when it moved, changed its signature or its source."""
        target = _callable(self.current())
        if self.params:
            actual = tuple(inspect.signature(target).parameters)[: len(self.params)]
            if actual != self.params:
                raise EmulatorError(f"library internal {self.label} changed signature: expected {list(self.params)}, "
                                    f"found {list(actual)}")
        if self.source and self.source not in inspect.getsource(target):
            raise EmulatorError(f"library internal {self.label} changed: its source no longer holds "
                                f"{self.source!r}")


@dataclass(frozen=True)
class Patch:
    """An internal replaced: `wrap` gets the original (unwrapped from classmethod/staticmethod, a property's getter)
    and returns what goes in its place."""

    internal: Internal
    wrap: Callable[[Any], Any]


@dataclass(frozen=True)
class Setting:
    """One entry of a library's settings dict set to a value."""

    settings: dict[str, Any]
    key: str
    value: Any


def verify_versions() -> None:
    """Raises EmulatorError when an installed library is not the version the internals were written for."""
    for package, pinned in PINNED.items():
        installed = version(package)
        if installed != pinned:
            raise EmulatorError(f"{package} {installed} installed; emulator/aws is written for {pinned}")


def verify(internals: Iterable[Internal]) -> None:
    """Verifies the versions, then each internal."""
    verify_versions()
    for internal in internals:
        internal.verify()


class PatchRegistry:
    """Installs patches and settings, each verified first; uninstall() undoes them all, last first."""

    def __init__(self) -> None:
        self._undo: list[Callable[[], None]] = []

    @property
    def installed(self) -> bool:
        """Whether anything is installed (and not undone yet)."""
        return bool(self._undo)

    def install(self, patches: Iterable[Patch], settings: Iterable[Setting] = ()) -> None:
        patches, settings = list(patches), list(settings)
        for patch in patches:
            if not isinstance(patch, Patch):
                raise UnverifiedInternalError(f"{patch!r} is not a registered Patch")
        verify(patch.internal for patch in patches)
        for patch in patches:
            self._apply(patch)
        for setting in settings:
            self._set(setting)

    def uninstall(self) -> None:
        while self._undo:
            self._undo.pop()()

    def _apply(self, patch: Patch) -> None:
        internal = patch.internal
        original = internal.current()
        replacement = patch.wrap(_callable(original))
        if isinstance(original, classmethod):
            replacement = classmethod(replacement)
        elif isinstance(original, staticmethod):
            replacement = staticmethod(replacement)
        elif isinstance(original, property):
            replacement = property(replacement, original.fset, original.fdel, original.__doc__)
        key = (id(internal.owner), internal.attribute)
        if key in _originals:
            raise EmulatorError(f"{internal.label} is patched already: two patches of one internal would stack")
        _originals[key] = original

        def undo() -> None:
            setattr(internal.owner, internal.attribute, original)
            del _originals[key]

        self._undo.append(undo)
        setattr(internal.owner, internal.attribute, replacement)

    def _set(self, setting: Setting) -> None:
        original = setting.settings[setting.key]
        self._undo.append(lambda: setting.settings.__setitem__(setting.key, original))
        setting.settings[setting.key] = setting.value


def _callable(value: Any) -> Any:
    if isinstance(value, property):
        return value.fget
    return value.__func__ if isinstance(value, classmethod | staticmethod) else value
