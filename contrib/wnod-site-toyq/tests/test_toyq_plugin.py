"""The core loads the plugin from its entry point, structures its options and builds the adapter."""

from importlib.metadata import entry_points
from pathlib import Path

import attrs
import pytest
from wnod_core.errors import ConfigError
from wnod_core.plugins import Plugins
from wnod_core.plugins.report import Status
from wnod_core.records import BatchSystemPlugin
from wnod_core.testing import build_plugin

from wnod_site_toyq import plugin
from wnod_site_toyq.adapter import ToyqBatchSystem
from wnod_site_toyq.bait import BAIT_SIDE


@pytest.fixture
def record() -> BatchSystemPlugin:
    loaded = Plugins.load(installed=False, extra=[("wnod-site-toyq", plugin)])
    failed = [f"{r.name}: {r.error}" for r in loaded.reports() if r.status is not Status.LOADED or r.problems]
    assert not failed, failed
    return loaded.lookup(BatchSystemPlugin, "toyq")


def test_the_distribution_declares_its_entry_point() -> None:
    (entry,) = [e for e in entry_points(group="wnod") if e.name == "site-toyq"]
    assert entry.value == "wnod_site_toyq.plugin"


def test_the_plugin_builds_the_adapter_from_its_options(record: BatchSystemPlugin, tmp_path: Path) -> None:
    adapter = build_plugin(record, {"bin_dir": "/opt/toyq/bin", "timeout": "5s"}, {}, tmp_path, path="batch.toyq")
    assert isinstance(adapter, ToyqBatchSystem) and record.bait is BAIT_SIDE
    assert adapter.tools.path("toyq") == "/opt/toyq/bin/toyq" and adapter.tools.timeout == 5.0


@pytest.mark.parametrize(
    ("table", "complaint"),
    [
        ({"bin_dir": "opt/toyq/bin"}, "absolute path"),
        ({"timeout": 0}, "longer than 0"),
        ({"bindir": "/opt/toyq/bin"}, 'did you mean "bin_dir"'),
    ],
)
def test_bad_options_are_configuration_errors(record: BatchSystemPlugin, tmp_path: Path, table: dict,
                                              complaint: str) -> None:
    with pytest.raises(ConfigError, match=complaint):
        build_plugin(record, table, {}, tmp_path, path="batch.toyq")


def test_every_option_is_documented(record: BatchSystemPlugin) -> None:
    for field in attrs.fields(record.options):
        assert field.metadata.get("doc"), field.name
