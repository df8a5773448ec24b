"""What must hold on any farm and trace: the simulation decides every job as wnod's own
``place()`` and ``worth_keeping()`` do, no host is ever over its capacity, every job ends exactly
once, and no policy of one queue beats the ideal pool's utilisation."""

import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from wnod_core.engine.placement import may_serve, owner_key, serves
from wnod_core.model import HostCapacity, ReusePolicy, ReuseScope, VmType, Vwn, VwnState
from wnod_core.model.units import MAX_SECONDS

from wnod_simulate.boot import BootModel, Fixed, Uniform
from wnod_simulate.farm import FarmSetup, Pool, SimJob, simulate
from wnod_simulate.ideal import simulate_ideal
from wnod_simulate.policies import POLICIES, plan
from wnod_simulate.run import Settings, run_policy
from wnod_simulate.study import Study

GIB = 1024**3
USERS = ["ann", "bob", "cy", ""]  # "": a job whose owner the trace does not name, whose VWN is anyone's
GROUPS = ["g1", "g2"]


@st.composite
def reuse_policies(draw: st.DrawFn) -> ReusePolicy:
    scope = draw(st.sampled_from(ReuseScope))
    return ReusePolicy(max_reuses=draw(st.integers(0, 3)), idle_ttl=draw(st.sampled_from([0, 30, 600, MAX_SECONDS])),
                       reuse_scope=scope, scratch_reset=scope is not ReuseScope.USER or draw(st.booleans()))


vm_types = st.lists(
    st.tuples(st.integers(1, 3), st.integers(1, 3), reuse_policies()), min_size=1, max_size=4
).map(lambda specs: {f"t{i}": VmType(name=f"t{i}", image="i.img", vcpus=c, memory=m * GIB, reuse=r)
                     for i, (c, m, r) in enumerate(specs)})

capacities = st.builds(HostCapacity, vcpus=st.integers(2, 6), memory=st.integers(3, 8).map(lambda g: g * GIB),
                       max_vwns=st.integers(1, 4))


@st.composite
def traces(draw: st.DrawFn, types: dict[str, VmType]) -> tuple[SimJob, ...]:
    """Jobs in order of submission, on few distinct seconds: many come, end and idle at once."""
    rows = draw(st.lists(st.tuples(st.integers(0, 400), st.sampled_from([0, 30, 60, 300, 900]),
                                   st.sampled_from(sorted(types)), st.sampled_from(USERS), st.sampled_from(GROUPS)),
                         min_size=1, max_size=60))
    rows.sort(key=lambda row: row[0])
    return tuple(SimJob(i, float(s), float(r), t, u, g) for i, (s, r, t, u, g) in enumerate(rows))


@st.composite
def studies(draw: st.DrawFn) -> Study:
    """As Study.of makes them: every job of a type that fits a host."""
    types = draw(vm_types)
    capacity = HostCapacity(vcpus=draw(st.integers(max(t.vcpus for t in types.values()), 6)),
                            memory=draw(st.integers(max(t.memory for t in types.values()) // GIB, 8)) * GIB,
                            max_vwns=draw(st.integers(1, 4)))
    return Study("hypothesis", types, capacity, draw(traces(types)))


@st.composite
def farms(draw: st.DrawFn) -> tuple[FarmSetup, tuple[SimJob, ...]]:
    """One pool of hosts, or two that split the VM types between them (as static does); a type may
    be bigger than its hosts (its jobs, and every one behind them, wait for ever)."""
    types = draw(vm_types)
    hosts = draw(st.integers(1, 4))
    names = sorted(types)
    if len(names) > 1 and draw(st.booleans()):
        pools = (Pool(hosts, draw(capacities), frozenset(names[:1])), Pool(hosts, draw(capacities), frozenset(names[1:])))
    else:
        pools = (Pool(hosts, draw(capacities)),)
    times = st.sampled_from([Fixed(0), Fixed(45), Uniform(10, 120)])
    return FarmSetup(types, pools, BootModel(draw(times)), draw(times), draw(st.integers(0, 9))), draw(traces(types))


boots = st.sampled_from([Fixed(0), Fixed(45), Uniform(10, 120)]).map(lambda b: Settings(boot=BootModel(b), seed=3))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(farm=farms())
def test_every_decision_is_the_one_place_makes(farm: tuple[FarmSetup, tuple[SimJob, ...]]) -> None:
    setup, jobs = farm
    # check=True asks place() on every host beside the indexes at each decision, worth_keeping() at each
    # job's end, and the table of legal moves at each move: the first difference raises.
    checked = simulate(setup, jobs, check=True)
    assert checked.checked >= sum(1 for s in checked.starts if not math.isnan(s))
    # And checking changes nothing the run does.
    fast = simulate(setup, jobs)
    assert [s if not math.isnan(s) else None for s in fast.starts] == [
        s if not math.isnan(s) else None for s in checked.starts]
    assert (fast.boots, fast.reuses, fast.evictions, fast.ends) == (
        checked.boots, checked.reuses, checked.evictions, checked.ends)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(study=studies(), hosts=st.integers(1, 4), settings_=boots)
def test_no_host_over_capacity_and_every_job_ends_once(study: Study, hosts: int, settings_: Settings) -> None:
    for policy in POLICIES:
        chosen = plan(policy, study.vm_types, study.capacity, hosts, study.jobs, settings_.boot, settings_.reset)
        if chosen.pooled:  # the ideal pool has no hosts: only its jobs to count
            ideal = simulate_ideal(study.vm_types, study.capacity, hosts, chosen.jobs)
            assert ideal.ends == [1] * len(study.jobs)
            continue
        if chosen.setup is None:
            continue
        # check=True: each host's VWNs are summed after every placement (its peaks).
        outcome = simulate(chosen.setup, chosen.jobs, check=True)
        assert outcome.ends == [1] * len(study.jobs), policy
        capacities = [pool.capacity for pool in chosen.setup.pools for _ in range(pool.hosts)]
        for (vcpus, memory, vwns), capacity in zip(outcome.peaks, capacities, strict=True):
            assert vcpus <= capacity.vcpus and memory <= capacity.memory and vwns <= capacity.max_vwns, policy
        assert all(outcome.starts[j.index] >= j.submit for j in study.jobs), policy


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(study=studies(), hosts=st.integers(1, 4), settings_=boots)
def test_no_policy_of_one_queue_beats_the_ideal_pool(study: Study, hosts: int, settings_: Settings) -> None:
    """In one first-come-first-served queue, no job starts sooner than in the ideal pool. Not so
    static's queues, one per type: a job there waits behind no other type's (see
    test_static_may_beat_the_ideal_pool)."""
    ideal = run_policy(study, "ideal", hosts, settings_)
    for policy in ("wnod", "no-reuse"):
        assert ideal.utilisation >= run_policy(study, policy, hosts, settings_).utilisation - 1e-12, policy


def test_static_may_beat_the_ideal_pool(study, types) -> None:
    """Four slots: the ideal pool fills them with the four short jobs and holds the long one behind
    them; static gives a three hosts by demand and b one, and the long job starts at once."""
    trace = study([(0, 30, "a"), (0, 30, "a"), (0, 30, "b"), (0, 30, "b"), (0, 300, "a")], types("a", "b"))
    ideal, static = (run_policy(trace, policy, hosts=4) for policy in ("ideal", "static"))
    assert static.note == "hosts: a 3, b 1"
    assert (ideal.makespan, static.makespan) == (330, 300)
    assert static.utilisation > ideal.utilisation


@given(scope=st.sampled_from(ReuseScope), last_user=st.sampled_from(USERS), last_group=st.sampled_from(GROUPS),
       user=st.sampled_from(USERS), group=st.sampled_from(GROUPS))
def test_the_buckets_idle_vwns_are_filed_under_are_may_serve(scope: ReuseScope, last_user: str, last_group: str,
                                                            user: str, group: str) -> None:
    """The indexes find the VWNs a job may take by two keys; may_serve() decides VWN by VWN."""
    vm_type = VmType(name="a", image="a.img", reuse=ReusePolicy(reuse_scope=scope, scratch_reset=True))
    vwn = Vwn(id="vwn1", host="h", vm_type="a", state=VwnState.IDLE, created_at=0, updated_at=0,
              last_user=last_user, last_group=last_group)
    assert may_serve(vwn, vm_type, user, group) == (serves(vwn, vm_type) in (None, owner_key(vm_type, user, group)))
