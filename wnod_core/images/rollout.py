"""Which version of an image new VWNs get on this host, and the versions a rollback goes back to.

``IMAGE/rollout.json`` in the library: ``{"current": 3, "history": [1, 2]}``, written whole and
renamed into place. Publishing never touches a VWN: the engine retires idle VWNs of another
version at their next reuse decision, and running ones keep theirs to their end.
"""

import json
import os
from collections.abc import Callable
from pathlib import Path

import attrs

from ..errors import ImageError
from .library import Library
from .manifest import check_version

STATE = "rollout.json"


@attrs.frozen
class Rollout:
    current: int | None = None
    history: tuple[int, ...] = ()
    """Versions that were current before, oldest first: what ``rollback`` goes back to."""

    def protected(self) -> set[int]:
        """What pruning keeps whatever its age: the current version and the one a rollback takes."""
        return {v for v in (self.current, *self.history[-1:]) if v is not None}


def read(library: Library, image: str) -> Rollout:
    path = library.image_dir(image) / STATE
    try:
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        return Rollout()
    except (OSError, ValueError) as exc:
        raise ImageError(f"{path}: cannot read which version of {image} is current: {exc}") from None
    try:
        current = data["current"]
        return Rollout(current=None if current is None else check_version(current, f"{path}: current"),
                       history=tuple(check_version(v, f"{path}: history") for v in data.get("history", [])))
    except (TypeError, KeyError) as exc:
        raise ImageError(f"{path}: not a rollout state ({exc!r})") from None


def _write(library: Library, image: str, rollout: Rollout) -> None:
    path = library.image_dir(image) / STATE
    tmp = path.with_name(f".{STATE}.new")
    with open(tmp, "w") as f:
        json.dump({"current": rollout.current, "history": list(rollout.history)}, f)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def publish(library: Library, image: str, version: int) -> tuple[Rollout, Rollout]:
    """Make `version` (already in the library, verified) current for new VWNs; (before, after)."""
    with library.locked(image):
        library.disk(image, version)  # here and whole, or ImageError
        before = read(library, image)
        if before.current == version:
            return before, before
        history = before.history if before.current is None else (*before.history, before.current)
        after = Rollout(current=version, history=tuple(v for v in history if v != version))
        _write(library, image, after)
        return before, after


def rollback(library: Library, image: str, verify: Callable[[int], object] = lambda _version: None,
             only_from: int | None = None) -> tuple[Rollout, Rollout]:
    """Go back to the version that was current before this one, once `verify` of it passed;
    (before, after). With `only_from`, only if that version is the current one (else nothing
    changes, and before == after): a farm's rollback of a version leaves alone the hosts where
    it was never published, which would otherwise go back one version further."""
    with library.locked(image):
        before = read(library, image)
        if only_from is not None and before.current != only_from:
            return before, before
        history = list(before.history)
        while history and not library.has(image, history[-1]):
            history.pop()  # deleted since: not a version to go back to
        if not history:
            raise ImageError(f"{image}: no earlier version to roll back to on this host"
                             f" (current: {before.current or 'none'})")
        verify(history[-1])
        after = Rollout(current=history[-1], history=tuple(history[:-1]))
        _write(library, image, after)
        return before, after


def unpublish_check(rollout: Rollout, image: str, version: int) -> None:
    """Refuse to delete the current version: new VWNs of its types would have no disk."""
    if rollout.current == version:
        raise ImageError(f"{image}@{version} is current on this host: publish another version or roll back first")


def state_path(library: Library, image: str) -> Path:
    return library.image_dir(image) / STATE


def read_problem(library: Library, image: str) -> str:
    """Why `image`'s rollout state cannot be read, or "" if it can."""
    try:
        read(library, image)
    except ImageError as exc:
        return str(exc)
    return ""
