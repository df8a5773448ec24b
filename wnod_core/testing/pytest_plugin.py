"""Fixtures for testing wnod and its plugins; pytest loads this through the ``pytest11`` entry point."""

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def wnod_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An isolated host: XDG and WNOD_* directories under a temporary folder, no config file.

    Yields the folder; the site config goes in ``<folder>/config/wnod/wnod.toml``.
    """
    home = tmp_path / "wnod-home"
    for var, sub in (
        ("XDG_CONFIG_HOME", "config"),
        ("XDG_STATE_HOME", "state"),
        ("XDG_CACHE_HOME", "cache"),
        ("XDG_RUNTIME_DIR", "run"),
    ):
        (home / sub).mkdir(parents=True)
        monkeypatch.setenv(var, str(home / sub))
    monkeypatch.setenv("XDG_CONFIG_DIRS", str(home / "etc-xdg"))
    for var in ("WNOD_CONFIG", "WNOD_STATE_DIR", "WNOD_CACHE_DIR", "WNOD_RUNTIME_DIR", "WNOD_LOAD_PLUGINS",
                "STATE_DIRECTORY", "CACHE_DIRECTORY", "RUNTIME_DIRECTORY"):
        monkeypatch.delenv(var, raising=False)
    yield home


@pytest.fixture
def site_config(wnod_home: Path):
    """Write the user-level config file: ``site_config(toml_text) -> path``."""

    def write(text: str) -> Path:
        path = wnod_home / "config" / "wnod" / "wnod.toml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    return write
