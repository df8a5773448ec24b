"""What the distribution registers, and the options a site writes in `[hypervisor.libvirt]`."""

from collections.abc import Callable
from typing import Any

import attrs
import pytest
from wnod_core.errors import ConfigError
from wnod_core.model.fields import doc_of
from wnod_core.records import HypervisorPlugin

from wnod_libvirt.backend import LibvirtHypervisor
from wnod_libvirt.options import Flavour


def test_registers_the_libvirt_backend_with_documented_options(record: HypervisorPlugin) -> None:
    assert record.name == "libvirt"
    assert record.summary and "\n" not in record.summary
    assert record.options is not None
    for field in attrs.fields(record.options):
        assert doc_of(field), f"option {field.name} is undocumented"


def test_the_factory_opens_nothing(backend: LibvirtHypervisor) -> None:
    assert backend.host._conn is None


def test_options_of_a_site(options: Callable[..., Any], options_table: dict[str, Any]) -> None:
    got = options({**options_table, "flavour": "qemu", "qemu_img_timeout": "2m", "closed_network": "batch",
                   "closed_filter": "batch-only"})
    assert got.flavour is Flavour.QEMU
    assert got.qemu_img_timeout == 120
    assert (got.closed_network, got.closed_filter) == ("batch", "batch-only")


@pytest.mark.parametrize(
    ("change", "where", "message"),
    [
        ({"image_store": "images"}, "hypervisor.libvirt.image_store", "must be an absolute path"),
        ({"flavour": "kvmm"}, "hypervisor.libvirt.flavour", 'did you mean "kvm"'),
        ({"closed_network": "batch"}, "hypervisor.libvirt", "closed_network and closed_filter go together"),
        ({"closed_filter": "batch-only"}, "hypervisor.libvirt", "closed_network and closed_filter go together"),
        ({"open_network": "../x"}, "hypervisor.libvirt.open_network", "libvirt object name"),
        (
            {"flavour": "xen-pv", "closed_network": "batch", "closed_filter": "batch-only"},
            "hypervisor.libvirt",
            "libvirt's Xen driver does not apply nwfilters",
        ),
        ({"urii": "x"}, "hypervisor.libvirt.urii", "unknown key"),
    ],
)
def test_mistakes_are_reported_at_their_key(
    options: Callable[..., Any], options_table: dict[str, Any], change: dict[str, str], where: str, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        options({**options_table, **change})
    problems = [(p.path, p.message) for p in caught.value.problems]
    assert any(path == where and message in text for path, text in problems), problems


def test_image_store_and_scratch_dir_are_required(options: Callable[..., Any]) -> None:
    with pytest.raises(ConfigError) as caught:
        options({"uri": "test:///default"})
    assert {p.path for p in caught.value.problems} == {"hypervisor.libvirt.image_store", "hypervisor.libvirt.scratch_dir"}
