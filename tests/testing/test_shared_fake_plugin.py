"""The shared fakes as plugins of a real ``wnod`` process: loadable by the processes a test
starts with ``shared_fakes_env``, and by no others (they are test tools, never installed)."""

import json
import subprocess
import sys
from collections.abc import Mapping
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from wnod_core import PROJECT
from wnod_core.plugins import Plugins
from wnod_core.records import Dirs
from wnod_core.site import Site
from wnod_core.testing.fakes import SharedFakeBatchSystem, SharedFakeHypervisor, shared_plugin

WNOD = Path(sys.executable).parent / "wnod"
TIMEOUT = 60


def _wnod(env: Mapping[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    assert WNOD.exists(), f"no wnod console script at {WNOD}"
    return subprocess.run(
        [str(WNOD), *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=dict(env),
        stdin=subprocess.DEVNULL,
    )


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "wnod.toml"
    path.write_text(text)
    return path


def _site_toml(directory: Path, hypervisor_extra: str = "") -> str:
    return (
        f'[batch]\nsystem = "shared-fake"\n\n[batch.shared-fake]\ndir = "{directory}"\n\n'
        f'[hypervisor]\nbackend = "shared-fake"\n\n[hypervisor.shared-fake]\ndir = "{directory}"\n'
        f"{hypervisor_extra}"
    )


def test_wnod_lists_the_shared_fakes_with_the_fixtures_environment(shared_fakes_env: dict[str, str]) -> None:
    done = _wnod(shared_fakes_env, "plugins", "--json")
    assert done.returncode == 0, done.stderr
    entries = {e["distribution"]: e for e in json.loads(done.stdout)["plugins"]}
    entry = entries["wnod-shared-fakes"]
    assert entry["status"] == "loaded"
    assert entry["provides"] == {"batch_systems": ["shared-fake"], "hypervisors": ["shared-fake"]}


def test_wnod_knows_no_shared_fake_without_it(shared_fakes_env: dict[str, str]) -> None:
    environ = {k: v for k, v in shared_fakes_env.items() if k != "PYTHONPATH"}
    done = _wnod(environ, "plugins", "--json")
    assert done.returncode == 0, done.stderr
    assert "wnod-shared-fakes" not in {e["distribution"] for e in json.loads(done.stdout)["plugins"]}


def test_the_shared_fakes_are_never_installed_plugins() -> None:
    assert not [ep for ep in entry_points(group=PROJECT) if "testing" in ep.value]
    assert "shared-fake" not in Plugins.load(installed=True).batch_systems()


def test_wnod_config_check_accepts_a_site_on_the_shared_fakes(
    shared_fakes_env: dict[str, str], shared_fakes_dir: Path, tmp_path: Path
) -> None:
    path = _config(tmp_path, _site_toml(shared_fakes_dir, 'auto_join = true\njoin_delay = "2s"\n'))
    done = _wnod(shared_fakes_env, "--config", str(path), "config", "check")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "batch system: shared-fake" in done.stdout and "hypervisor: shared-fake" in done.stdout


@pytest.mark.parametrize(
    ("extra", "complaint"),
    [
        ("auto_join = 1\n", "hypervisor.shared-fake.auto_join"),
        ('join_delay = "-2s"\n', "hypervisor.shared-fake.join_delay"),
        ('joins = "2s"\n', "hypervisor.shared-fake.joins"),
    ],
)
def test_wnod_config_check_refuses_bad_shared_fake_options(
    shared_fakes_env: dict[str, str], shared_fakes_dir: Path, tmp_path: Path, extra: str, complaint: str
) -> None:
    path = _config(tmp_path, _site_toml(shared_fakes_dir, extra))
    done = _wnod(shared_fakes_env, "--config", str(path), "config", "check")
    assert done.returncode != 0
    assert complaint in done.stdout + done.stderr


def test_wnod_config_check_refuses_a_relative_dir(shared_fakes_env: dict[str, str], tmp_path: Path) -> None:
    path = _config(tmp_path, _site_toml(Path("fakes")))
    done = _wnod(shared_fakes_env, "--config", str(path), "config", "check")
    assert done.returncode != 0
    assert "batch.shared-fake.dir" in done.stdout + done.stderr
    assert "absolute" in done.stdout + done.stderr


def test_a_site_on_the_shared_fakes_shares_its_state_with_the_test(
    shared_fakes_dir: Path, tmp_path: Path
) -> None:
    plugins = Plugins.load(installed=False, extra=[("wnod-shared-fakes", shared_plugin)])
    path = _config(tmp_path, _site_toml(shared_fakes_dir, 'auto_join = true\njoin_delay = "0s"\n'))
    dirs = Dirs(state=tmp_path / "state", cache=tmp_path / "cache", runtime=tmp_path / "run")
    site = Site.open(path, plugins, dirs)
    assert isinstance(site.batch_system, SharedFakeBatchSystem)
    assert isinstance(site.hypervisor, SharedFakeHypervisor) and site.hypervisor.auto_join
    job = SharedFakeBatchSystem(shared_fakes_dir).submit("alice")
    assert site.batch_system.job_facts(job.job_id).user == "alice"
