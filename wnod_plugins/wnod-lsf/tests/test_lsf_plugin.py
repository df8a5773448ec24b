"""What the distribution registers, how a site configures it, and that the guide tells every option."""

import re
from pathlib import Path

import attrs
import pytest
from wnod_core.config.convert import structure
from wnod_core.errors import ConfigError
from wnod_core.model import VmType
from wnod_core.model.fields import doc_of
from wnod_core.plugins import Plugins
from wnod_core.plugins.report import Status
from wnod_core.testing import build_plugin

from wnod_lsf import plugin
from wnod_lsf.adapter import LsfBatchSystem
from wnod_lsf.options import LimitUnit, LsfOptions

GUIDE = Path(__file__).resolve().parents[3] / "docs" / "lsf.md"


@pytest.fixture
def plugins() -> Plugins:
    loaded = Plugins.load(installed=False, extra=[("wnod-lsf", plugin)])
    failed = [f"{r.name}: {r.error}" for r in loaded.reports() if r.status is not Status.LOADED or r.problems]
    assert not failed, failed
    return loaded


def test_registers_the_lsf_adapter_with_documented_options(plugins: Plugins) -> None:
    record = plugins.lookup("batch_systems", "lsf")
    assert record.summary and "\n" not in record.summary
    for field in attrs.fields(record.options):
        assert doc_of(field), f"option {field.name} is undocumented"


def test_the_core_builds_it_from_a_sites_section(plugins: Plugins, tmp_path: Path) -> None:
    record = plugins.lookup("batch_systems", "lsf")
    table = {"bin_dir": "/opt/lsf/bin", "envdir": "/etc/lsf", "timeout": "1m", "unit_for_limits": "MB"}
    lsf = build_plugin(record, table, {"el9": VmType(name="el9", image="el9.img")}, tmp_path, path="batch.lsf")
    assert isinstance(lsf, LsfBatchSystem)
    assert (lsf.options.timeout, lsf.options.unit_for_limits) == (60, LimitUnit.MB)
    assert lsf.runner.env["LSF_ENVDIR"] == "/etc/lsf"
    assert not (tmp_path / "state").exists(), "building it writes nothing"


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"bin_dir": "opt/lsf/bin"}, "batch.lsf.bin_dir: must be an absolute path"),
        ({"timeout": "0s"}, "batch.lsf.timeout"),
        ({"unit_for_limits": "KiB"}, "batch.lsf.unit_for_limits"),
        ({"app_prefx": "vm-"}, "app_prefix"),
    ],
)
def test_a_wrong_section_is_a_path_qualified_error(table: dict, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        structure(table, LsfOptions, "batch.lsf")
    assert message in str(err.value)


def test_the_guide_tells_every_option() -> None:
    text = GUIDE.read_text()
    for field in attrs.fields(LsfOptions):
        assert re.search(rf"`{field.name}`", text), f"docs/lsf.md does not mention `{field.name}`"
