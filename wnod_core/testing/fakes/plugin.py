"""The fakes as a wnod plugin, for tests that go through plugin loading and the site config.

Never an installed entry point: a test registers it in-process, so no real host can
select a fake by mistake::

    fakes = FakePlugin()
    plugins = Plugins.load(installed=False, extra=[("wnod-fakes", fakes)])
    # [batch] system = "fake" and [hypervisor] backend = "fake" now build
    # fakes.batch and fakes.hypervisor, which the test drives.
"""

from collections.abc import Iterator
from typing import Any

import attrs

from ... import hookimpl
from ...interfaces import BaitSide
from ...records import BatchSystemPlugin, HypervisorPlugin, Setup
from .batch import BAIT_SIDE, NAME, FakeBatchSystem
from .hypervisor import FakeHypervisor

_WHAT = "test tool (wnod_core.testing), never for production: an in-memory"


@attrs.define
class FakePlugin:
    """Registers the batch system and the hypervisor named "fake" (test tools, not products).

    Their factories return `batch` and `hypervisor` themselves rather than new objects,
    so the test holds the very instances the code under test uses; and, like a real
    batch system or hypervisor, their state outlives the adapter being built again.
    """

    batch: FakeBatchSystem = attrs.Factory(FakeBatchSystem)
    hypervisor: FakeHypervisor = attrs.Factory(FakeHypervisor)
    bait: BaitSide = BAIT_SIDE
    """The bait side ``wnod bait`` uses: the fake's own hook variables and exit codes, or a test's."""

    @hookimpl
    def wnod_batch_systems(self) -> Iterator[BatchSystemPlugin]:
        yield BatchSystemPlugin(name=NAME, factory=self._build_batch, bait=self.bait, summary=f"{_WHAT} batch system")

    @hookimpl
    def wnod_hypervisors(self) -> Iterator[HypervisorPlugin]:
        yield HypervisorPlugin(name=NAME, factory=self._build_hypervisor, summary=f"{_WHAT} hypervisor")

    def _build_batch(self, _setup: Setup[Any]) -> FakeBatchSystem:
        return self.batch

    def _build_hypervisor(self, _setup: Setup[Any]) -> FakeHypervisor:
        return self.hypervisor
