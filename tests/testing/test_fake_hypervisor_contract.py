"""The fake hypervisor keeps the hypervisor contract, like any backend must."""

import pytest

from wnod_core.errors import HypervisorError
from wnod_core.interfaces import VwnSpec
from wnod_core.testing.contracts import ForeignDomain, HypervisorContract
from wnod_core.testing.fakes import FakeHypervisor


class TestFakeHypervisor(HypervisorContract):
    @pytest.fixture
    def hypervisor(self, fake_hypervisor: FakeHypervisor) -> FakeHypervisor:
        return fake_hypervisor

    @pytest.fixture
    def foreign_domain(self, fake_hypervisor: FakeHypervisor) -> ForeignDomain:
        fake_hypervisor.add_foreign("wnod-contract-foreign")
        return ForeignDomain(
            vwn_id="wnod-contract-foreign",
            present=lambda: "wnod-contract-foreign" in fake_hypervisor.foreign_domains(),
        )

    @pytest.fixture
    def failing_spec(self, fake_hypervisor: FakeHypervisor, spec: VwnSpec) -> VwnSpec:
        fake_hypervisor.fail_next("create", HypervisorError("fake: injected failure to start the domain"))
        return spec


class TestFakeHypervisorWithoutEvents(HypervisorContract):
    """The engine's polling path needs a backend that reports nothing; the fake can be one."""

    @pytest.fixture
    def hypervisor(self) -> FakeHypervisor:
        return FakeHypervisor(reports_events=False)
