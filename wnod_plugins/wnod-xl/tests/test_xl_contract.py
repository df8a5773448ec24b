"""The xl backend keeps the core's hypervisor contract, driving the scripted stand-in xl."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from wnod_core.interfaces import Hypervisor, VwnSpec
from wnod_core.model import VmType
from wnod_core.testing.contracts.hypervisor import ForeignDomain, HypervisorContract


class TestXlContract(HypervisorContract):
    @pytest.fixture
    def hypervisor(self, backend: Any) -> Hypervisor:
        return backend

    @pytest.fixture
    def foreign_domain(self, fake_xl: Any, backend: Any) -> ForeignDomain:
        """A domain someone else made under the very name wnod would give VWN "not-wnods"."""
        name = backend.domain_name("not-wnods")
        fake_xl.add_foreign(name)
        return ForeignDomain(vwn_id="not-wnods", present=lambda: name in fake_xl.domains())

    @pytest.fixture
    def failing_spec(self, vm_type: VmType) -> VwnSpec:
        """A VM type whose image is not in the image store."""
        missing = VmType(name="gone", image="no-such.img", memory="256MiB", scratch_size="64MiB")
        return VwnSpec(vwn_id="wnod-contract-fail", vm_type=missing, host="hv-test", hostname="vwn-fail")


class TestXlContractWhenXlFails(TestXlContract):
    """The same promises when it is xl itself that refuses the domain (after wnod wrote its files)."""

    @pytest.fixture
    def failing_spec(self, fake_xl: Any, image_store: Path, make_spec: Callable[..., VwnSpec]) -> VwnSpec:
        fake_xl.fail("create", "libxl: error: libxl_create.c:1234: cannot make domain: out of memory\n", 3)
        return make_spec("wnod-contract-xl-fails")

    # Every other create must work here; only the failure test belongs to this class.
    @pytest.fixture(autouse=True)
    def _only_failure(self, request: pytest.FixtureRequest) -> None:
        if request.node.originalname != "test_a_failed_create_raises_and_leaves_nothing_behind":
            pytest.skip("covered by TestXlContract")
