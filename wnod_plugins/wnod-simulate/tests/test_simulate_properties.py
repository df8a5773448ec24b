"""What must hold on any trace: no host ever over its capacity, every job ending exactly once,
and nothing beating the ideal pool's utilisation."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from wnod_core.model import HostCapacity, ReusePolicy, VmType

from wnod_simulate.boot import BootModel, Fixed, Uniform
from wnod_simulate.farm import SimJob, simulate
from wnod_simulate.ideal import simulate_ideal
from wnod_simulate.policies import POLICIES, plan
from wnod_simulate.run import Settings, run_policy
from wnod_simulate.study import Study

GIB = 1024**3

reuse = st.builds(ReusePolicy, max_reuses=st.integers(0, 3), idle_ttl=st.sampled_from([0, 30, 600]))
vm_types = st.lists(
    st.tuples(st.integers(1, 2), st.integers(1, 3), reuse), min_size=1, max_size=3
).map(lambda specs: {f"t{i}": VmType(name=f"t{i}", image="i.img", vcpus=c, memory=m * GIB, reuse=r)
                     for i, (c, m, r) in enumerate(specs)})


@st.composite
def studies(draw: st.DrawFn) -> Study:
    types = draw(vm_types)
    capacity = HostCapacity(vcpus=draw(st.integers(2, 4)), memory=draw(st.integers(3, 6)) * GIB,
                            max_vwns=draw(st.integers(1, 3)))
    rows = draw(st.lists(st.tuples(st.integers(0, 2000), st.integers(0, 900), st.sampled_from(sorted(types)),
                                   st.sampled_from(["ann", "bob"])), min_size=1, max_size=40))
    rows.sort()
    jobs = tuple(SimJob(i, float(s), float(r), t, u, "g") for i, (s, r, t, u) in enumerate(rows))
    return Study("hypothesis", types, capacity, jobs)


boots = st.sampled_from([Fixed(0), Fixed(45), Uniform(10, 120)]).map(lambda b: Settings(boot=BootModel(b), seed=3))


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
        # check=True: the VWNs of each host are summed after every placement (its peaks), and a
        # job left waiting must be one that every host's place() refuses.
        outcome = simulate(chosen.setup, chosen.jobs, check=True)
        assert outcome.ends == [1] * len(study.jobs), policy
        capacities = [pool.capacity for pool in chosen.setup.pools for _ in range(pool.hosts)]
        for (vcpus, memory, vwns), capacity in zip(outcome.peaks, capacities, strict=True):
            assert vcpus <= capacity.vcpus and memory <= capacity.memory and vwns <= capacity.max_vwns, policy
        assert all(outcome.starts[j.index] >= j.submit for j in study.jobs)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(study=studies(), hosts=st.integers(1, 4), settings_=boots)
def test_nothing_beats_the_ideal_pool(study: Study, hosts: int, settings_: Settings) -> None:
    ideal = run_policy(study, "ideal", hosts, settings_)
    for policy in ("wnod", "no-reuse", "static"):
        other = run_policy(study, policy, hosts, settings_)
        if other.ran:
            assert ideal.utilisation >= other.utilisation - 1e-12, policy
