"""Where wnod finds its configuration and keeps its files, per XDG and systemd conventions.

Precedence for each directory: the command-line flag, then the WNOD_* variable,
then the directory systemd made for the unit (StateDirectory= and friends), then
the XDG base directory.
"""

import os
import tempfile
from pathlib import Path

from xdg_base_dirs import xdg_cache_home, xdg_config_dirs, xdg_config_home, xdg_runtime_dir, xdg_state_home

from .records import Dirs

CONFIG_NAME = "wnod.toml"
CONFIG_ENV = "WNOD_CONFIG"


def config_files() -> list[Path]:
    """The config files that exist, least important first.

    ``$XDG_CONFIG_DIRS`` lists the most important directory first, so it is read in
    reverse; ``$XDG_CONFIG_HOME`` comes last and overrides them all.
    """
    candidates = [d / "wnod" / CONFIG_NAME for d in reversed(xdg_config_dirs())]
    candidates.append(xdg_config_home() / "wnod" / CONFIG_NAME)
    return [p for p in candidates if p.is_file()]


def config_search_path() -> list[Path]:
    """Every place a config file is looked for, most important first (for messages and docs)."""
    return [xdg_config_home() / "wnod" / CONFIG_NAME] + [d / "wnod" / CONFIG_NAME for d in xdg_config_dirs()]


FARM_NAME = "farm.toml"


def farm_file_candidates() -> list[Path]:
    """Where the farm file is looked for when none is named, most important first."""
    return [xdg_config_home() / "wnod" / FARM_NAME] + [d / "wnod" / FARM_NAME for d in xdg_config_dirs()]


def _first_systemd_dir(variable: str) -> Path | None:
    # systemd passes a colon-separated list when a unit names several directories.
    value = os.environ.get(variable, "")
    first = value.split(":")[0]
    return Path(first) if first else None


def _pick(flag: str | os.PathLike[str] | None, env: str, systemd: str, fallback: Path) -> Path:
    if flag:
        return Path(flag)
    if os.environ.get(env):
        return Path(os.environ[env])
    return _first_systemd_dir(systemd) or fallback


def _runtime_fallback() -> Path:
    runtime = xdg_runtime_dir()
    if runtime is not None:
        return runtime / "wnod"
    if os.geteuid() == 0:
        return Path("/run/wnod")
    return Path(tempfile.gettempdir()) / f"wnod-{os.geteuid()}"


def resolve_dirs(
    state_dir: str | os.PathLike[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    runtime_dir: str | os.PathLike[str] | None = None,
) -> Dirs:
    """The directories wnod uses on this host; nothing is created here."""
    return Dirs(
        state=_pick(state_dir, "WNOD_STATE_DIR", "STATE_DIRECTORY", xdg_state_home() / "wnod"),
        cache=_pick(cache_dir, "WNOD_CACHE_DIR", "CACHE_DIRECTORY", xdg_cache_home() / "wnod"),
        runtime=_pick(runtime_dir, "WNOD_RUNTIME_DIR", "RUNTIME_DIRECTORY", _runtime_fallback()),
    )
