"""The core's hypervisor contract, kept by the libvirt backend on libvirt's test driver."""

from collections.abc import Callable, Iterator

import attrs
import libvirt
import pytest
from wnod_core.interfaces import VwnSpec
from wnod_core.testing.contracts.hypervisor import ForeignDomain, HypervisorContract

from wnod_libvirt.backend import LibvirtHypervisor


class TestLibvirtContract(HypervisorContract):
    @pytest.fixture(params=["xen-pv", "kvm", "qemu"])
    def hypervisor(
        self, request: pytest.FixtureRequest, make_backend: Callable[..., LibvirtHypervisor]
    ) -> LibvirtHypervisor:
        return make_backend(flavour=request.param)

    @pytest.fixture
    def foreign_domain(self, test_conn: libvirt.virConnect) -> Iterator[ForeignDomain]:
        name = "wnod-contract-foreign"
        dom = test_conn.defineXML(
            f"<domain type='kvm'><name>{name}</name><memory>65536</memory><os><type>hvm</type></os></domain>"
        )
        dom.create()

        def present() -> bool:
            try:
                return bool(test_conn.lookupByName(name).isActive())
            except libvirt.libvirtError:
                return False

        yield ForeignDomain(vwn_id=name, present=present)
        if present():
            dom.destroy()
        dom.undefine()

    @pytest.fixture
    def failing_spec(self, spec: VwnSpec) -> VwnSpec:
        # libvirt refuses a domain without memory when it is defined: after the scratch disk was
        # made, so the test also proves that disk is removed again.
        return attrs.evolve(spec, vm_type=attrs.evolve(spec.vm_type, memory=0))
