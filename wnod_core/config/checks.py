"""attrs validators for configuration fields, shared by the core's sections and every plugin's
options, so that a timeout or a path is checked the same way whichever plugin takes it.

Each raises ValueError with a message meant to follow the key's path ("engine.poll_interval:
must be longer than 0s, got 0"): the config loader adds the path and the file.
"""

from typing import Any

from ..model.units import longer_than_zero

__all__ = ["absolute_path", "absolute_path_or_empty", "longer_than_zero", "optional_absolute_path"]


def absolute_path(_inst: object, _attr: Any, value: object) -> None:
    """An absolute path: hooks and daemons may run without PATH or in another directory."""
    if not isinstance(value, str) or not value.startswith("/"):
        raise ValueError(f"must be an absolute path, got {value!r}")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise ValueError(f"a path may not hold control characters, got {value!r}")


def absolute_path_or_empty(inst: object, attr: Any, value: object) -> None:
    """An absolute path, or "" for "not set"."""
    if value != "":
        absolute_path(inst, attr, value)


def optional_absolute_path(inst: object, attr: Any, value: object) -> None:
    """An absolute path, or None for "not set"."""
    if value is not None:
        absolute_path(inst, attr, value)
