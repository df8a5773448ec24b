"""The fakes load as an in-process plugin, and a site configured for them builds them."""

from collections.abc import Callable
from importlib.metadata import entry_points
from pathlib import Path

from wnod_core import PROJECT
from wnod_core.plugins import Plugins, Status
from wnod_core.records import Dirs
from wnod_core.site import Site
from wnod_core.testing.fakes import FakeBatchSystem, FakeHypervisor, FakePlugin


def test_the_fakes_register_as_fake(fake_plugins: Plugins) -> None:
    assert "fake" in fake_plugins.batch_systems()
    assert "fake" in fake_plugins.hypervisors()
    report = next(r for r in fake_plugins.reports() if r.name == "wnod-fakes")
    assert report.status is Status.LOADED
    assert report.provides == {"batch_systems": ("fake",), "hypervisors": ("fake",)}
    assert "test tool" in fake_plugins.lookup("hypervisors", "fake").summary


def test_the_fakes_are_never_installed_plugins() -> None:
    # Only an in-process registration can bring them in: no real host selects them by accident.
    assert not [ep for ep in entry_points(group=PROJECT) if "testing" in ep.value]
    assert "fake" not in Plugins.load(installed=True).batch_systems()


def test_a_site_configured_for_the_fakes_uses_the_tests_instances(
    fake_plugins: Plugins,
    fake_batch: FakeBatchSystem,
    fake_hypervisor: FakeHypervisor,
    site_config: Callable[[str], Path],
    tmp_path: Path,
) -> None:
    path = site_config('[batch]\nsystem = "fake"\n\n[hypervisor]\nbackend = "fake"\n')
    dirs = Dirs(state=tmp_path / "state", cache=tmp_path / "cache", runtime=tmp_path / "run")
    site = Site.open(path, fake_plugins, dirs)
    assert site.batch_system is fake_batch
    assert site.hypervisor is fake_hypervisor


def test_each_plugin_object_brings_its_own_fakes() -> None:
    first, second = FakePlugin(), FakePlugin()
    assert first.batch is not second.batch and first.hypervisor is not second.hypervisor
