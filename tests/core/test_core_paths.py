"""Where wnod finds its config and keeps its files: flag, then WNOD_*, then systemd, then XDG."""

import os
from pathlib import Path

import pytest

from wnod_core.paths import config_files, config_search_path, resolve_dirs

KINDS = [
    # (resolve_dirs argument, WNOD_* variable, systemd variable, XDG variable)
    ("state_dir", "WNOD_STATE_DIR", "STATE_DIRECTORY", "XDG_STATE_HOME"),
    ("cache_dir", "WNOD_CACHE_DIR", "CACHE_DIRECTORY", "XDG_CACHE_HOME"),
    ("runtime_dir", "WNOD_RUNTIME_DIR", "RUNTIME_DIRECTORY", "XDG_RUNTIME_DIR"),
]
FIELD = {"state_dir": "state", "cache_dir": "cache", "runtime_dir": "runtime"}


@pytest.mark.parametrize(("arg", "env", "systemd", "xdg"), KINDS)
def test_each_directory_follows_flag_env_systemd_xdg(
    wnod_home: Path, monkeypatch: pytest.MonkeyPatch, arg: str, env: str, systemd: str, xdg: str
) -> None:
    def current(**kwargs: object) -> Path:
        return getattr(resolve_dirs(**kwargs), FIELD[arg])

    assert current() == Path(os.environ[xdg]) / "wnod"
    monkeypatch.setenv(systemd, "/var/lib/wnod:/var/lib/other")
    assert current() == Path("/var/lib/wnod"), "systemd's first directory"
    monkeypatch.setenv(env, str(wnod_home / "from-env"))
    assert current() == wnod_home / "from-env"
    assert current(**{arg: wnod_home / "from-flag"}) == wnod_home / "from-flag"
    # An empty variable is as good as unset.
    monkeypatch.setenv(env, "")
    assert current() == Path("/var/lib/wnod")


def test_directories_are_not_created(wnod_home: Path) -> None:
    dirs = resolve_dirs()
    assert not dirs.state.exists() and not dirs.cache.exists() and not dirs.runtime.exists()


def test_runtime_dir_without_xdg_runtime_dir_is_still_private(
    wnod_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    runtime = resolve_dirs().runtime
    expected = Path("/run/wnod") if os.geteuid() == 0 else None
    if expected is not None:
        assert runtime == expected
    else:
        assert runtime.name == f"wnod-{os.geteuid()}"


def test_config_files_are_least_important_first(
    wnod_home: Path, monkeypatch: pytest.MonkeyPatch, write_config
) -> None:
    monkeypatch.setenv(
        "XDG_CONFIG_DIRS", f"{wnod_home / 'first'}:{wnod_home / 'second'}:{wnod_home / 'absent'}"
    )
    home = write_config("config/wnod/wnod.toml", "")
    first = write_config("first/wnod/wnod.toml", "")
    second = write_config("second/wnod/wnod.toml", "")
    write_config("second/wnod/other.toml", "")
    assert config_files() == [second, first, home]
    assert config_search_path() == [home, first, second, wnod_home / "absent" / "wnod" / "wnod.toml"]


def test_only_files_that_exist_are_config_files(wnod_home: Path, write_config) -> None:
    assert config_files() == []
    (wnod_home / "config" / "wnod" / "wnod.toml").mkdir(parents=True)  # a directory is not a config file
    assert config_files() == []
    etc = write_config("etc-xdg/wnod/wnod.toml", "")
    assert config_files() == [etc]
