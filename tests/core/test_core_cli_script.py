"""The installed ``wnod`` console script, run as an admin runs it: a separate process, real exit codes."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import wnod_core

WNOD = Path(sys.executable).parent / "wnod"


@pytest.fixture
def wnod(wnod_home: Path):
    """``wnod(*args, **env)`` -> CompletedProcess, on the isolated home with no installed plugins."""
    if not WNOD.exists():
        pytest.fail(f"the console script is not installed at {WNOD}")

    def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(WNOD), *args],
            env={**os.environ, "WNOD_LOAD_PLUGINS": "", **env},
            cwd=wnod_home,
            capture_output=True,
            text=True,
            timeout=60,
        )

    return run


def test_version(wnod) -> None:
    done = wnod("--version")
    assert done.returncode == 0
    assert done.stdout == f"wnod {wnod_core.__version__}\n"


def test_plugins_json_shape(wnod) -> None:
    done = wnod("--no-plugins", "plugins", "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert list(data) == ["wnod_core", "plugins"]
    core = [p for p in data["plugins"] if p["builtin"]]
    assert [p["name"] for p in core] == ["wnod_core.cli.builtin"]
    for plugin in data["plugins"]:
        assert set(plugin) == {
            "name",
            "distribution",
            "version",
            "status",
            "builtin",
            "provides",
            "error",
            "problems",
        }
        assert plugin["status"] == ("loaded" if plugin["builtin"] else "disabled")


def test_config_check_passes_a_good_config(wnod, site_config) -> None:
    path = site_config('[vm_types.atlas]\nimage = "atlas.img"\nmemory = "4GiB"\n')
    done = wnod("config", "check")
    assert done.returncode == 0, done.stderr
    assert f"configuration OK — files: {path}" in done.stdout
    assert done.stderr == ""


def test_config_typo_is_path_qualified_and_exits_nonzero(wnod, site_config) -> None:
    """Done-when: a config with a typo or a wrong type gives the path-qualified error and a non-zero exit."""
    path = site_config('[vm_types.atlas]\nimage = "atlas.img"\nmemroy = "4GiB"\nmemory = "lots"\n')
    done = wnod("config", "check")
    assert done.returncode == 1
    assert done.stdout == ""
    assert "wnod: 2 configuration error(s):" in done.stderr
    assert f'vm_types.atlas.memroy: unknown key (did you mean "memory"?) (in {path})' in done.stderr
    assert f'vm_types.atlas.memory: expected a size like "2GiB", got "lots" (in {path})' in done.stderr
    assert "Traceback" not in done.stderr


def test_a_toml_syntax_error_names_the_file_and_line(wnod, wnod_home: Path) -> None:
    broken = wnod_home / "broken.toml"
    broken.write_text('[host]\nname = "hv01"\n[vm_types.atlas\n')
    done = wnod("config", "check", WNOD_CONFIG=str(broken))
    assert done.returncode == 1
    assert "not valid TOML" in done.stderr and "line 3" in done.stderr and str(broken) in done.stderr


def test_config_show_json_sources(wnod, site_config) -> None:
    path = site_config('[host]\nname = "hv01"\n[vm_types.atlas]\nimage = "atlas.img"\n')
    done = wnod("config", "show", "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["files"] == [str(path)]
    assert data["sources"]["host.name"] == str(path)
    assert data["sources"]["vm_types.atlas.image"] == str(path)
    assert data["sources"]["resolvers"] == "default"


def test_vm_types_json(wnod, site_config) -> None:
    site_config('[vm_types.atlas]\nimage = "atlas.img"\nvcpus = 4\n')
    done = wnod("--no-plugins", "vm-types", "--json")
    assert done.returncode == 0, done.stderr
    (atlas,) = json.loads(done.stdout)["vm_types"]
    assert (atlas["name"], atlas["image"], atlas["vcpus"], atlas["memory"]) == (
        "atlas",
        "atlas.img",
        4,
        "2GiB",
    )


def test_resolve_refusal_exits_3(wnod) -> None:
    done = wnod("--no-plugins", "resolve", "--user", "alice", "--json")
    assert done.returncode == 3
    assert json.loads(done.stdout)["outcome"] == "refused"
    assert "no resolvers configured" in json.loads(done.stdout)["reason"]


def test_a_usage_error_exits_2(wnod) -> None:
    done = wnod("--no-plugins", "resolve")
    assert done.returncode == 2
    assert "--user" in done.stderr
