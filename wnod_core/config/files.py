"""Reading config files and layering them, remembering which file set each value."""

import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import ConfigError, Problem


def read_layers(files: Sequence[Path]) -> tuple[dict[str, Any], dict[str, str]]:
    """Merge the files in order (later wins) and note the file behind every value.

    Tables merge key by key; any other value, arrays included, is replaced whole by
    a later file. Returns the merged tables and ``{dotted.path: file}``.
    """
    merged: dict[str, Any] = {}
    sources: dict[str, str] = {}
    problems = []
    for path in files:
        try:
            with open(path, "rb") as fh:
                layer = tomllib.load(fh)
        except OSError as exc:
            problems.append(Problem("", f"cannot read config file: {exc.strerror or exc}", str(path)))
            continue
        except tomllib.TOMLDecodeError as exc:
            problems.append(Problem("", f"not valid TOML: {exc}", str(path)))
            continue
        except UnicodeDecodeError as exc:
            problems.append(Problem("", f"not UTF-8 text (byte {exc.start}): TOML files are UTF-8", str(path)))
            continue
        _merge(merged, layer, str(path), sources, "")
    if problems:
        raise ConfigError(problems)
    return merged, sources


def _merge(into: dict[str, Any], layer: dict[str, Any], source: str, sources: dict[str, str], prefix: str) -> None:
    for key, value in layer.items():
        path = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value, source, sources, path)
            continue
        # A replaced subtree must not keep the sources of what it replaced.
        for stale in [p for p in sources if p == path or p.startswith(path + ".") or p.startswith(path + "[")]:
            del sources[stale]
        into[key] = value
        _note(value, source, sources, path)


def _note(value: Any, source: str, sources: dict[str, str], path: str) -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            _note(inner, source, sources, f"{path}.{key}")
        if not value:
            sources[path] = source
    elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        for index, inner in enumerate(value):
            _note(inner, source, sources, f"{path}[{index}]")
    else:
        sources[path] = source


def source_of(path: str, sources: dict[str, str]) -> str:
    """The file behind `path` or behind the nearest enclosing table that has one."""
    probe = path
    while probe:
        if probe in sources:
            return sources[probe]
        hits = [s for p, s in sources.items() if p.startswith(probe + ".") or p.startswith(probe + "[")]
        if hits and len(set(hits)) == 1:
            return hits[0]
        cut = max(probe.rfind("."), probe.rfind("["))
        probe = probe[:cut] if cut > 0 else ""
    return ""
