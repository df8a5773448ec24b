"""Fixtures for testing wnod and its plugins; pytest loads this through the ``pytest11`` entry point."""

import os
import pwd
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..plugins import Plugins
from .distributions import shared_fakes_environ
from .fakes import FakeBatchSystem, FakeHypervisor, FakePlugin
from .glue import leftover as _leftover


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


@pytest.fixture
def fake_batch() -> FakeBatchSystem:
    """A fresh in-memory batch system (``wnod_core.testing.fakes.FakeBatchSystem``), a test tool."""
    return FakeBatchSystem()


@pytest.fixture
def fake_hypervisor() -> FakeHypervisor:
    """A fresh in-memory hypervisor (``wnod_core.testing.fakes.FakeHypervisor``), a test tool."""
    return FakeHypervisor()


@pytest.fixture
def fake_plugin(fake_batch: FakeBatchSystem, fake_hypervisor: FakeHypervisor) -> FakePlugin:
    """The fakes as a plugin whose "fake" batch system and hypervisor are the two fixtures above."""
    return FakePlugin(batch=fake_batch, hypervisor=fake_hypervisor)


@pytest.fixture
def fake_plugins(fake_plugin: FakePlugin) -> Plugins:
    """``Plugins`` with the built-ins and ``fake_plugin``, and no installed plugin.

    A site config with ``[batch] system = "fake"`` and ``[hypervisor] backend = "fake"``
    then builds ``fake_batch`` and ``fake_hypervisor``.
    """
    return Plugins.load(installed=False, extra=[("wnod-fakes", fake_plugin)])


@pytest.fixture
def shared_fakes_dir(tmp_path: Path) -> Path:
    """A fresh directory for the shared fakes' state: name it as ``dir`` of ``[batch.shared-fake]``
    and ``[hypervisor.shared-fake]``, and give it to ``SharedFakeBatchSystem`` and
    ``SharedFakeHypervisor`` to drive and inspect what a ``wnod`` process does (test tools)."""
    path = tmp_path / "shared-fakes"
    path.mkdir()
    return path


@pytest.fixture
def shared_fakes_env(tmp_path: Path, wnod_home: Path) -> dict[str, str]:
    """An environment for ``wnod`` subprocesses in which they load the "shared-fake" plugins.

    A copy of ``os.environ`` on the isolated host of ``wnod_home`` (its XDG variables set,
    WNOD_* cleared) with a throw-away ``wnod-shared-fakes`` distribution first on
    PYTHONPATH; see ``wnod_core.testing.distributions.shared_fakes_environ``. Pass it as
    ``env=`` to ``subprocess``; the site config then selects ``"shared-fake"`` (with
    ``dir`` = ``shared_fakes_dir``). Test tools only: wnod-core never installs them.
    """
    return shared_fakes_environ(tmp_path / "shared-fakes-site")


@pytest.fixture
def leftover() -> Iterator[tuple[int, object]]:
    """A process of ``nobody`` in a session of its own, as a job's daemonized leftover in a VWN:
    ``(uid, subprocess.Popen)``, killed at the end. Skips the test unless it runs as root."""
    if os.geteuid() != 0:
        pytest.skip("a process of another user needs root")
    try:
        pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no user nobody on this machine")
    with _leftover("nobody") as found:
        yield found
