"""The contract every hypervisor backend keeps."""

import queue
from collections.abc import Callable, Iterator

import attrs
import pytest

from ...errors import HypervisorError, VwnNotFound
from ...interfaces import DomainEvent, DomainInfo, DomainState, Hypervisor, VwnSpec
from ...model import VmType

EVENT_TIMEOUT = 10.0
"""Seconds the suite waits for an event a backend said it would deliver."""


@attrs.frozen
class ForeignDomain:
    """A domain on the hypervisor that wnod did not make, for the suite to check wnod leaves it be."""

    vwn_id: str
    """The VWN id whose domain name it occupies, so a careless backend would mistake it for wnod's."""
    present: Callable[[], bool]
    """Whether it still exists, untouched."""


class HypervisorContract:
    """Subclass as ``class TestMyBackend(HypervisorContract)`` and provide these fixtures:

    - ``hypervisor``: the backend under test, on a hypervisor with none of the suite's
      VWNs (libvirt's ``test:///default`` will do); the suite closes it;
    - ``foreign_domain`` (optional): make a domain wnod did not make and return its
      ``ForeignDomain``; without it, those tests skip;
    - ``failing_spec`` (optional): a ``VwnSpec`` whose ``create`` must fail (an image
      that is not there, say, or an injected failure); without it, that test skips.

    ``vm_type`` and ``spec``/``other_spec`` are small defaults; override them if your
    backend needs an image or kernel that exists.

    Each test checks one promise of the ``Hypervisor`` interface's docstrings.
    """

    @pytest.fixture
    def vm_type(self) -> VmType:
        return VmType(
            name="alpha", image="alpha.img", memory="256MiB", scratch_size="64MiB", image_version="v1"
        )

    @pytest.fixture
    def spec(self, vm_type: VmType) -> VwnSpec:
        return VwnSpec(vwn_id="wnod-contract-1", vm_type=vm_type, host="hv-test", hostname="vwn-contract-1")

    @pytest.fixture
    def other_spec(self, vm_type: VmType) -> VwnSpec:
        return VwnSpec(vwn_id="wnod-contract-2", vm_type=vm_type, host="hv-test", hostname="vwn-contract-2")

    @pytest.fixture
    def foreign_domain(self) -> ForeignDomain:
        pytest.skip("this suite's subclass makes no foreign domain")

    @pytest.fixture
    def failing_spec(self) -> VwnSpec:
        pytest.skip("this suite's subclass provokes no create failure")

    @pytest.fixture
    def backend(self, hypervisor: Hypervisor) -> Iterator[Hypervisor]:
        """The hypervisor, closed after the test as the engine closes it at shutdown."""
        yield hypervisor
        hypervisor.close()

    # -- render ------------------------------------------------------------------------------------

    def test_is_a_hypervisor(self, backend: Hypervisor) -> None:
        assert isinstance(backend, Hypervisor)

    def test_render_creates_nothing(self, backend: Hypervisor, spec: VwnSpec) -> None:
        backend.render(spec)
        assert backend.state(spec.vwn_id) is DomainState.MISSING
        assert spec.vwn_id not in _ids(backend)

    def test_render_is_deterministic_text_naming_the_vwn(self, backend: Hypervisor, spec: VwnSpec) -> None:
        text = backend.render(spec)
        assert isinstance(text, str) and text
        assert backend.render(spec) == text
        assert spec.vwn_id in text

    def test_render_tells_two_vwns_apart(
        self, backend: Hypervisor, spec: VwnSpec, other_spec: VwnSpec
    ) -> None:
        assert backend.render(spec) != backend.render(other_spec)

    # -- create and read back ----------------------------------------------------------------------

    def test_a_created_vwn_runs(self, backend: Hypervisor, spec: VwnSpec) -> None:
        backend.create(spec)
        assert backend.state(spec.vwn_id) is DomainState.RUNNING

    def test_domains_lists_a_created_vwn_with_its_identity(self, backend: Hypervisor, spec: VwnSpec) -> None:
        backend.create(spec)
        info = _one(backend, spec.vwn_id)
        # A backend may not say the size it made the domain (0); one that says, says it right.
        assert (info.vcpus, info.memory) in ((0, 0), (spec.vm_type.vcpus, spec.vm_type.memory))
        assert attrs.evolve(info, vcpus=0, memory=0) == DomainInfo(
            vwn_id=spec.vwn_id,
            vm_type=spec.vm_type.name,
            host=spec.host,
            state=DomainState.RUNNING,
            image_version=spec.vm_type.image_version,
            hostname=spec.hostname,
        )

    def test_create_is_idempotent(self, backend: Hypervisor, spec: VwnSpec) -> None:
        backend.create(spec)
        backend.create(spec)
        assert backend.state(spec.vwn_id) is DomainState.RUNNING
        assert _ids(backend).count(spec.vwn_id) == 1

    def test_vwns_are_separate(self, backend: Hypervisor, spec: VwnSpec, other_spec: VwnSpec) -> None:
        backend.create(spec)
        backend.create(other_spec)
        backend.destroy(spec.vwn_id)
        assert backend.state(other_spec.vwn_id) is DomainState.RUNNING
        assert _ids(backend).count(other_spec.vwn_id) == 1

    def test_state_of_an_unknown_vwn_is_missing(self, backend: Hypervisor) -> None:
        assert backend.state("wnod-contract-never-made") is DomainState.MISSING

    # -- reset and destroy -------------------------------------------------------------------------

    def test_reset_scratch_leaves_the_vwn_running(self, backend: Hypervisor, spec: VwnSpec) -> None:
        backend.create(spec)
        backend.reset_scratch(spec.vwn_id)
        assert backend.state(spec.vwn_id) is DomainState.RUNNING
        assert _one(backend, spec.vwn_id).state is DomainState.RUNNING

    def test_reset_scratch_of_a_missing_vwn_raises_vwn_not_found(self, backend: Hypervisor) -> None:
        with pytest.raises(VwnNotFound):
            backend.reset_scratch("wnod-contract-never-made")

    def test_destroy_removes_the_vwn(self, backend: Hypervisor, spec: VwnSpec) -> None:
        backend.create(spec)
        backend.destroy(spec.vwn_id)
        assert backend.state(spec.vwn_id) is DomainState.MISSING
        assert spec.vwn_id not in _ids(backend)

    def test_destroy_is_idempotent(self, backend: Hypervisor, spec: VwnSpec) -> None:
        backend.create(spec)
        backend.destroy(spec.vwn_id)
        backend.destroy(spec.vwn_id)
        assert backend.state(spec.vwn_id) is DomainState.MISSING

    def test_destroy_of_a_vwn_never_made_is_fine(self, backend: Hypervisor) -> None:
        backend.destroy("wnod-contract-never-made")

    def test_a_destroyed_vwn_can_be_made_again(self, backend: Hypervisor, spec: VwnSpec) -> None:
        backend.create(spec)
        backend.destroy(spec.vwn_id)
        backend.create(spec)
        assert backend.state(spec.vwn_id) is DomainState.RUNNING

    # -- domains wnod did not make -----------------------------------------------------------------

    def test_domains_never_lists_a_foreign_domain(
        self, backend: Hypervisor, foreign_domain: ForeignDomain
    ) -> None:
        assert foreign_domain.vwn_id not in _ids(backend)

    def test_destroy_never_touches_a_foreign_domain(
        self, backend: Hypervisor, foreign_domain: ForeignDomain
    ) -> None:
        try:
            backend.destroy(foreign_domain.vwn_id)
        except HypervisorError:
            pass  # refusing is as good as leaving it be
        assert foreign_domain.present()

    # -- events ------------------------------------------------------------------------------------

    def test_watch_answers_whether_it_reports_events(self, backend: Hypervisor) -> None:
        assert backend.watch(lambda event: None) in (True, False)

    def test_a_watched_destroy_is_reported(self, backend: Hypervisor, spec: VwnSpec) -> None:
        events: queue.Queue[DomainEvent] = queue.Queue()
        backend.create(spec)
        if not backend.watch(events.put):
            pytest.skip("this backend reports no events; the engine polls it")
        backend.destroy(spec.vwn_id)
        while True:
            try:
                event = events.get(timeout=EVENT_TIMEOUT)
            except queue.Empty:
                pytest.fail(f"no event reported for destroying {spec.vwn_id} within {EVENT_TIMEOUT:g}s")
            assert isinstance(event, DomainEvent)
            if event.vwn_id == spec.vwn_id and event.state is not DomainState.RUNNING:
                return

    # -- failures ----------------------------------------------------------------------------------

    def test_a_failed_create_raises_and_leaves_nothing_behind(
        self, backend: Hypervisor, failing_spec: VwnSpec
    ) -> None:
        with pytest.raises(HypervisorError):
            backend.create(failing_spec)
        assert backend.state(failing_spec.vwn_id) is DomainState.MISSING
        assert failing_spec.vwn_id not in _ids(backend)


def _ids(backend: Hypervisor) -> list[str]:
    infos = backend.domains()
    assert all(isinstance(i, DomainInfo) for i in infos)
    return [i.vwn_id for i in infos]


def _one(backend: Hypervisor, vwn_id: str) -> DomainInfo:
    matches = [i for i in backend.domains() if i.vwn_id == vwn_id]
    assert len(matches) == 1, f"domains() lists {vwn_id} {len(matches)} times"
    return matches[0]
