"""Sizes and durations as a farm admin writes them in the config ("2GiB", "30m").

They are parsed once, at the edge, into plain integers (bytes, seconds) so the rest
of wnod never handles strings with units.
"""

import math
import re
from decimal import Decimal
from typing import NewType

Bytes = NewType("Bytes", int)
"""A size in bytes; written in the config as "2GiB", "512MiB" or a plain integer."""
Seconds = NewType("Seconds", float)
"""A duration in seconds; written in the config as "30m", "1h30m" or a plain integer."""

_SIZE_UNITS = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "m": 1000**2,
    "mb": 1000**2,
    "g": 1000**3,
    "gb": 1000**3,
    "t": 1000**4,
    "tb": 1000**4,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "tib": 1024**4,
}
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*\Z")

_DURATION_UNITS = {"": 1, "ms": 0.001, "s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}

MAX_SECONDS = 366 * 86400
"""The longest duration wnod takes: anything longer is a typo (or a TOML ``inf``), and clocks,
sleeps and timeouts must never be handed more than they can count."""
_DURATION_PART_RE = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z]*)")


def parse_size(value: object) -> int:
    """Bytes from ``"2GiB"``, ``"512 MiB"``, ``"10G"`` or a plain integer of bytes.

    Raises ValueError with a message fit to show next to the config key.
    """
    if isinstance(value, bool):
        raise ValueError(f'expected a size like "2GiB", got {value!r}')
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"expected a size of zero or more bytes, got {value}")
        return value
    if isinstance(value, str):
        match = _SIZE_RE.match(value)
        if match and match.group(2).lower() in _SIZE_UNITS:
            # Decimal, not float: byte counts beyond 2**53 must stay exact.
            return int(Decimal(match.group(1)) * _SIZE_UNITS[match.group(2).lower()])
    raise ValueError(f'expected a size like "2GiB", got {_show(value)}')


def parse_duration(value: object) -> float:
    """Seconds from ``"30m"``, ``"1h30m"``, ``"90s"``, ``"250ms"``, ``"2d"`` or a plain number of seconds.

    Whole seconds come back as an int; fractions (polling intervals) as a float. Refuses what is
    not a finite number of seconds from 0 to MAX_SECONDS (TOML's ``nan`` and ``inf`` included)."""
    if isinstance(value, bool):
        raise ValueError(f'expected a duration like "30m", got {value!r}')
    if isinstance(value, int | float):
        return _bounded(value)
    if isinstance(value, str):
        text = value.strip().lower().replace(" ", "")
        parts = _DURATION_PART_RE.findall(text)
        if text and "".join(n + u for n, u in parts) == text and all(u in _DURATION_UNITS for _, u in parts):
            return _bounded(sum(float(n) * _DURATION_UNITS[u] for n, u in parts))
    raise ValueError(f'expected a duration like "30m" or "1h30m", got {_show(value)}')


def longer_than_zero(_inst: object, _attr: object, value: float) -> None:
    """attrs validator of a duration that must be more than nothing (a zero would spin a loop or
    fail every call at once); also finite and bounded, for values not read by parse_duration."""
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        raise ValueError(f"must be a finite number of seconds, got {value!r}")
    if value <= 0:
        raise ValueError(f"must be longer than 0s, got {value:g}")
    if value > MAX_SECONDS:
        raise ValueError(f"must be at most {format_duration(MAX_SECONDS)}, got {value:g} seconds")


def _bounded(seconds: float) -> float:
    if not math.isfinite(seconds):
        raise ValueError(f'expected a finite duration like "30m", got {seconds}')
    if seconds < 0:
        raise ValueError(f"expected a duration of zero or more seconds, got {seconds}")
    if seconds > MAX_SECONDS:
        raise ValueError(f"expected a duration of at most {format_duration(MAX_SECONDS)}, got {seconds:g} seconds")
    return _whole(seconds)


def format_size(num_bytes: int) -> str:
    """The shortest exact binary-unit spelling: 2147483648 -> "2GiB"."""
    for unit in ("TiB", "GiB", "MiB", "KiB"):
        factor = _SIZE_UNITS[unit.lower()]
        if num_bytes and num_bytes % factor == 0:
            return f"{num_bytes // factor}{unit}"
    return f"{num_bytes}B"


def _whole(seconds: float) -> float:
    return int(seconds) if float(seconds).is_integer() else round(seconds, 3)


def format_duration(seconds: float) -> str:
    """The shortest exact spelling: 5400 -> "1h30m", 0.25 -> "250ms"."""
    if seconds == 0:
        return "0s"
    if not float(seconds).is_integer():
        whole = int(seconds)
        rest = f"{round((seconds - whole) * 1000)}ms"
        return (format_duration(whole) if whole else "") + rest
    out = []
    for unit, factor in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, factor)
        if count:
            out.append(f"{count}{unit}")
    return "".join(out)


def _show(value: object) -> str:
    return f'"{value}"' if isinstance(value, str) else repr(value)
