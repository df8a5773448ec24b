"""The core loads the plugin, structures its options and builds the adapter from them."""

from pathlib import Path

import pytest
from wnod_core.errors import ConfigError
from wnod_core.plugins import Plugins
from wnod_core.plugins.report import Status
from wnod_core.testing import build_plugin

from wnod_htcondor import plugin
from wnod_htcondor.adapter import HTCondorBatchSystem


@pytest.fixture
def record():  # type: ignore[no-untyped-def]
    loaded = Plugins.load(installed=False, extra=[("wnod-htcondor", plugin)])
    failed = [f"{r.name}: {r.error}" for r in loaded.reports() if r.status is not Status.LOADED or r.problems]
    assert not failed, failed
    return loaded.lookup("batch_systems", "htcondor")


def test_the_plugin_builds_the_adapter_from_its_options(record, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    adapter = build_plugin(record, {"bin_dir": "/usr/bin", "pool": "cm:9618", "timeout": 5}, {}, tmp_path,
                           path="batch.htcondor")
    assert isinstance(adapter, HTCondorBatchSystem)
    assert adapter.runner.path("condor_q") == "/usr/bin/condor_q" and adapter.runner.timeout == 5.0


@pytest.mark.parametrize("table", [{"bin_dir": "usr/bin"}, {"timeout": 0}, {"vm_type_attribute": "Wnod-Type"}])
def test_bad_options_are_configuration_errors(record, tmp_path: Path, table: dict) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises((ConfigError, ValueError)):
        build_plugin(record, table, {}, tmp_path, path="batch.htcondor")


def test_every_option_is_documented(record) -> None:  # type: ignore[no-untyped-def]
    import attrs

    for field in attrs.fields(record.options):
        assert field.metadata.get("doc"), field.name
