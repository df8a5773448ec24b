"""A VWN's life: every legal move is allowed, every other one raises IllegalTransition."""

import itertools

import attrs
import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from wnod_core.errors import IllegalTransition, WnodError
from wnod_core.model import Vwn, VwnState, legal_moves

S = VwnState

# The life of a VWN as the design states it, written out independently of the code's table.
LEGAL = {
    (S.CREATING, S.BOOTING), (S.CREATING, S.DESTROYING),
    (S.BOOTING, S.READY), (S.BOOTING, S.DESTROYING),
    (S.READY, S.RUNNING), (S.READY, S.CLEANING), (S.READY, S.DESTROYING),
    (S.RUNNING, S.CLEANING), (S.RUNNING, S.DESTROYING),
    (S.CLEANING, S.IDLE), (S.CLEANING, S.DESTROYING),
    (S.IDLE, S.READY), (S.IDLE, S.DESTROYING),
    (S.DESTROYING, S.DESTROYED),
}  # fmt: skip
ALL_MOVES = list(itertools.product(VwnState, VwnState))


def vwn_in(state: VwnState) -> Vwn:
    return Vwn(id="vwn-1", host="hv01", vm_type="atlas", state=state, created_at=100.0, updated_at=100.0)


def test_the_table_is_exactly_the_designed_life() -> None:
    assert {(a, b) for a in VwnState for b in legal_moves(a)} == LEGAL


@pytest.mark.parametrize(("before", "after"), sorted(LEGAL), ids=lambda s: str(s))
def test_legal_move_is_allowed(before: VwnState, after: VwnState) -> None:
    moved = vwn_in(before).moved_to(after, now=200.0)
    assert moved.state is after
    assert moved.updated_at == 200.0
    assert moved.created_at == 100.0


@pytest.mark.parametrize(("before", "after"), [m for m in ALL_MOVES if m not in LEGAL], ids=lambda s: str(s))
def test_any_other_move_raises_illegal_transition(before: VwnState, after: VwnState) -> None:
    vwn = vwn_in(before)
    with pytest.raises(IllegalTransition) as err:
        vwn.moved_to(after, now=200.0)
    assert isinstance(err.value, WnodError)
    assert str(err.value) == f"VWN vwn-1: cannot go from {before} to {after}"
    assert vwn.state is before  # frozen: the refused move changed nothing


def test_a_move_carries_the_changes_it_is_given() -> None:
    ready = vwn_in(S.READY).moved_to(S.RUNNING, now=5.0, job_id="4242", hostname="vwn-1.farm")
    assert (ready.job_id, ready.hostname) == ("4242", "vwn-1.farm")


def test_every_state_is_reachable_and_every_vwn_can_be_destroyed() -> None:
    def reachable(start: VwnState) -> set[VwnState]:
        seen, todo = {start}, [start]
        while todo:
            for nxt in legal_moves(todo.pop()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    assert reachable(S.CREATING) == set(VwnState)
    for state in VwnState:
        assert S.DESTROYED in reachable(state), f"a VWN in {state} could never be destroyed"
    assert legal_moves(S.DESTROYED) == frozenset()


def test_alive_until_destruction_begins() -> None:
    assert {s for s in VwnState if not vwn_in(s).is_alive} == {S.DESTROYING, S.DESTROYED}


class VwnLife(RuleBasedStateMachine):
    """Random walks through a VWN's life, with illegal moves thrown in."""

    def __init__(self) -> None:
        super().__init__()
        self.vwn = vwn_in(S.CREATING)
        self.clock = 100.0
        self.jobs = 0

    @rule(to=st.sampled_from(list(VwnState)), job=st.text("0123456789", min_size=1, max_size=6))
    def move(self, to: VwnState, job: str) -> None:
        target = to
        self.clock += 1
        before = self.vwn
        if (before.state, target) in LEGAL:
            changes = {"job_id": job} if target is S.RUNNING else {}
            if target is S.READY and before.state is S.IDLE:
                changes["reuse_count"] = before.reuse_count + 1
            self.vwn = before.moved_to(target, now=self.clock, **changes)
            assert self.vwn.state is target
            assert self.vwn.updated_at == self.clock
            assert self.vwn.version == before.version + 1  # the records take a move from its version only
            # Nothing but the state, the clock, the version and the given changes moved.
            restored = {k: getattr(before, k) for k in changes}
            assert (
                attrs.evolve(
                    self.vwn, state=before.state, updated_at=before.updated_at, version=before.version, **restored
                )
                == before
            )
        else:
            with pytest.raises(IllegalTransition):
                before.moved_to(target, now=self.clock)
            assert self.vwn is before

    @invariant()
    def identity_never_changes(self) -> None:
        assert (self.vwn.id, self.vwn.host, self.vwn.vm_type, self.vwn.created_at) == (
            "vwn-1",
            "hv01",
            "atlas",
            100.0,
        )

    @invariant()
    def destroyed_is_final(self) -> None:
        if self.vwn.state is S.DESTROYED:
            for target in VwnState:
                with pytest.raises(IllegalTransition):
                    self.vwn.moved_to(target, now=self.clock)


TestVwnLife = VwnLife.TestCase
