"""Running the real ``wnod`` console script beside real, hand-made plugin distributions.

A "fake" distribution here is real as far as Python packaging goes: a ``*.dist-info``
folder with METADATA and entry_points.txt next to a module, on PYTHONPATH — exactly what
importlib.metadata finds for a pip-installed plugin. Only its code is made up
(``wnod_core.testing.distributions.write_distribution`` writes it).
"""

import json
import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import attrs
import pytest

from wnod_core.testing.distributions import write_distribution
from wnod_core.testing.requirements import require

WNOD = Path(sys.executable).parent / "wnod"
"""The console script of the environment the tests run in, so the tests see what it installed."""

TIMEOUT = 60
"""Seconds a single `wnod` run may take; a hang is a failure, not a stuck CI."""


@attrs.frozen
class Run:
    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        assert self.returncode == 0, f"wnod {' '.join(self.args)} exited {self.returncode}:\n{self.stderr}"
        return json.loads(self.stdout)

    def plugins(self) -> dict[str, dict[str, Any]]:
        """`wnod plugins --json` entries by distribution name."""
        return {entry["distribution"]: entry for entry in self.json()["plugins"]}


InstallFake = Callable[..., None]
RunWnod = Callable[..., Run]


@pytest.fixture
def plugin_path(tmp_path: Path) -> Path:
    """A folder put on the subprocesses' PYTHONPATH, where fake distributions are installed."""
    path = tmp_path / "site-packages"
    path.mkdir()
    return path


@pytest.fixture
def install_fake(plugin_path: Path) -> InstallFake:
    """``install_fake(module, source, entry=..., version=...)``: a distribution named like
    `module` (``wnod_x`` → ``wnod-x``) whose ``wnod`` entry point loads that module."""

    def install(module: str, source: str, *, entry: str = "example", version: str = "0.1.0") -> None:
        dist = module.replace("_", "-")
        write_distribution(plugin_path, dist, {entry: module}, version=version, modules={module: source})

    return install


@pytest.fixture
def wnod(wnod_home: Path, plugin_path: Path) -> RunWnod:
    """``wnod(*args, env={...})``: the real console script on an isolated host (see ``wnod_home``)."""
    assert WNOD.exists(), f"no wnod console script at {WNOD}; is wnod-core installed in this environment?"

    def run(*args: str, env: Mapping[str, str] | None = None) -> Run:
        environ = {
            **os.environ,
            "PYTHONPATH": str(plugin_path),
            "PYTHONDONTWRITEBYTECODE": "1",
            **(env or {}),
        }
        done = subprocess.run(
            [str(WNOD), *args],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            env=environ,
            cwd=wnod_home,
            stdin=subprocess.DEVNULL,
        )
        return Run(tuple(args), done.returncode, done.stdout, done.stderr)

    return run


def installed_version(name: str) -> str | None:
    """The version of distribution `name` in this environment, None if it is not installed."""
    try:
        return version(name)
    except PackageNotFoundError:
        return None


@pytest.fixture
def groupfile_installed() -> None:
    """Skip unless the contrib example is installed here, as CI installs it."""
    if installed_version("wnod-site-groupfile") is None:
        require(
            "wnod-site-groupfile is not installed in this environment;"
            " run: pip install ./contrib/wnod-site-groupfile (dev/setup does)"
        )


@pytest.fixture
def optional_distributions() -> dict[str, str]:
    """Plugin distributions of this repository that this environment may or may not have, by version."""
    names = ("wnod-site-groupfile", "wnod-resolvers")
    return {name: v for name in names if (v := installed_version(name)) is not None}
