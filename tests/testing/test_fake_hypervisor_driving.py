"""The fake hypervisor behaves as its docstring says when a test drives it."""

from collections.abc import Callable

import attrs
import pytest

from wnod_core.errors import HypervisorError, VwnNotFound
from wnod_core.interfaces import DomainEvent, DomainState, VwnSpec
from wnod_core.model import VmType
from wnod_core.testing.fakes import FakeBatchSystem, FakeHypervisor


@pytest.fixture
def spec() -> VwnSpec:
    vm_type = VmType(name="atlas", image="atlas-el9.img", vcpus=2, image_version="2024.1")
    return VwnSpec(vwn_id="vwn-1", vm_type=vm_type, host="hv-1", hostname="vwn-1.farm")


@pytest.fixture
def events(fake_hypervisor: FakeHypervisor) -> list[DomainEvent]:
    seen: list[DomainEvent] = []
    assert fake_hypervisor.watch(seen.append) is True
    return seen


def test_the_life_of_a_vwn_is_reported(
    fake_hypervisor: FakeHypervisor, spec: VwnSpec, events: list[DomainEvent]
) -> None:
    fake_hypervisor.create(spec)
    fake_hypervisor.reset_scratch(spec.vwn_id)
    fake_hypervisor.destroy(spec.vwn_id)
    assert [(e.state, e.detail) for e in events] == [
        (DomainState.RUNNING, "started"),
        (DomainState.SHUTOFF, "scratch reset"),
        (DomainState.RUNNING, "scratch reset"),
        (DomainState.MISSING, "destroyed"),
    ]


@pytest.mark.parametrize(
    ("act", "state"),
    [(FakeHypervisor.crash, DomainState.CRASHED), (FakeHypervisor.power_off, DomainState.SHUTOFF)],
)
def test_a_dying_vwn_stays_listed_in_its_new_state(
    fake_hypervisor: FakeHypervisor,
    spec: VwnSpec,
    events: list[DomainEvent],
    act: Callable[[FakeHypervisor, str], None],
    state: DomainState,
) -> None:
    fake_hypervisor.create(spec)
    act(fake_hypervisor, spec.vwn_id)
    assert events[-1] == DomainEvent(spec.vwn_id, state, events[-1].detail)
    assert fake_hypervisor.state(spec.vwn_id) is state
    assert [d.state for d in fake_hypervisor.domains()] == [state]


def test_a_dead_vwn_is_not_made_again_over_itself(fake_hypervisor: FakeHypervisor, spec: VwnSpec) -> None:
    fake_hypervisor.create(spec)
    fake_hypervisor.crash(spec.vwn_id)
    with pytest.raises(HypervisorError, match="crashed; destroy it first"):
        fake_hypervisor.create(spec)


def test_one_vwn_id_cannot_mean_two_vwns(fake_hypervisor: FakeHypervisor, spec: VwnSpec) -> None:
    fake_hypervisor.create(spec)
    with pytest.raises(HypervisorError, match="another definition"):
        fake_hypervisor.create(attrs.evolve(spec, hostname="elsewhere"))


def test_reset_scratch_brings_a_crashed_vwn_back_with_a_fresh_disk(
    fake_hypervisor: FakeHypervisor, spec: VwnSpec
) -> None:
    fake_hypervisor.create(spec)
    fake_hypervisor.crash(spec.vwn_id)
    fake_hypervisor.reset_scratch(spec.vwn_id)
    domain = fake_hypervisor.domain(spec.vwn_id)
    assert domain is not None
    assert (domain.state, domain.scratch_resets) == (DomainState.RUNNING, 1)


def test_crashing_what_is_not_there_is_a_test_mistake(fake_hypervisor: FakeHypervisor) -> None:
    with pytest.raises(VwnNotFound):
        fake_hypervisor.crash("vwn-9")


def test_a_foreign_domain_is_never_wnods(fake_hypervisor: FakeHypervisor, spec: VwnSpec) -> None:
    fake_hypervisor.add_foreign(spec.vwn_id, DomainState.PAUSED)
    assert fake_hypervisor.state(spec.vwn_id) is DomainState.MISSING
    with pytest.raises(HypervisorError, match="not wnod's"):
        fake_hypervisor.create(spec)
    with pytest.raises(VwnNotFound):
        fake_hypervisor.reset_scratch(spec.vwn_id)
    fake_hypervisor.destroy(spec.vwn_id)
    assert fake_hypervisor.foreign_domains() == {spec.vwn_id: DomainState.PAUSED}
    assert fake_hypervisor.domains() == []


def test_a_failed_create_leaves_nothing_and_tells_no_one(spec: VwnSpec) -> None:
    made: list[VwnSpec] = []
    hypervisor = FakeHypervisor(on_create=made.append)
    hypervisor.fail_next("create", HypervisorError("qemu: could not open disk"))
    with pytest.raises(HypervisorError):
        hypervisor.create(spec)
    assert (hypervisor.domain(spec.vwn_id), made) == (None, [])


def test_vwns_can_join_and_leave_a_fake_batch_system(fake_batch: FakeBatchSystem, spec: VwnSpec) -> None:
    # As a real guest's batch daemon would: the engine then sees the VWN become ready.
    hypervisor = FakeHypervisor(
        on_create=lambda s: fake_batch.register_host(s.hostname),
        on_destroy=lambda s: fake_batch.unregister_host(s.hostname),
    )
    hypervisor.create(spec)
    assert fake_batch.host_ready(spec.hostname, 0.0)
    hypervisor.destroy(spec.vwn_id)
    assert [h.state for h in fake_batch.hosts()] == ["idle (not responding)"], "remembered for a while"


def test_a_repeated_create_tells_no_one_again(spec: VwnSpec) -> None:
    made: list[VwnSpec] = []
    hypervisor = FakeHypervisor(on_create=made.append)
    hypervisor.create(spec)
    hypervisor.create(spec)
    assert made == [spec]


def test_close_stops_the_events(
    fake_hypervisor: FakeHypervisor, spec: VwnSpec, events: list[DomainEvent]
) -> None:
    fake_hypervisor.close()
    fake_hypervisor.create(spec)
    assert events == []
    assert fake_hypervisor.running() == [spec.vwn_id]


def test_without_events_watch_says_so(spec: VwnSpec) -> None:
    seen: list[DomainEvent] = []
    hypervisor = FakeHypervisor(reports_events=False)
    assert hypervisor.watch(seen.append) is False
    hypervisor.create(spec)
    assert seen == []


def test_render_shows_what_was_asked(fake_hypervisor: FakeHypervisor, spec: VwnSpec) -> None:
    text = fake_hypervisor.render(spec)
    wanted = {"name = vwn-1", "wnod.vm_type = atlas", "wnod.host = hv-1", "image = atlas-el9.img"}
    assert wanted <= set(text.splitlines())
