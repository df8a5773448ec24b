"""What a simulated host does with each job is what the daemon's engine would do: the tests
follow a few jobs through reuse, boots, evictions, the idle TTL and the queue."""

import attrs

from wnod_simulate.boot import BootModel, Fixed
from wnod_simulate.run import Settings, run_policy

BOOT = Settings(boot=BootModel(Fixed(60)))


def test_an_idle_vwn_of_the_type_takes_the_next_job_without_a_boot(study, types) -> None:
    trace = study([(0, 100, "a"), (500, 100, "a")], types("a"))
    result = run_policy(trace, "wnod", hosts=1, settings=BOOT, check=True)
    assert (result.boots, result.reuses, result.evictions) == (1, 1, 0)
    assert result.wait_by_type["a"].p99 == 60  # the first job waited for its boot, the second for nothing
    assert result.wait_by_type["a"].p50 == 0


def test_without_reuse_every_job_boots_its_own_vwn(study, types) -> None:
    trace = study([(0, 100, "a"), (500, 100, "a")], types("a"))
    result = run_policy(trace, "no-reuse", hosts=1, settings=BOOT, check=True)
    assert (result.boots, result.reuses) == (2, 0)
    assert result.wait.p50 == 60
    assert result.boot_core_seconds == 120


def test_a_full_host_evicts_an_idle_vwn_of_another_type(study, types) -> None:
    trace = study([(0, 100, "a"), (500, 100, "b")], types("a", "b"))
    result = run_policy(trace, "wnod", hosts=1, settings=BOOT, check=True)
    assert (result.boots, result.reuses, result.evictions) == (2, 0, 1)


def test_an_idle_vwn_is_gone_once_its_idle_ttl_runs_out(study, types) -> None:
    trace = study([(0, 100, "a"), (160 + 300, 100, "a"), (460 + 160 + 299, 100, "a")], types("a", idle_ttl=300))
    result = run_policy(trace, "wnod", hosts=1, settings=BOOT, check=True)
    # The first VWN idles from 160 s: gone at 460 s, when the second job comes. The second's idles
    # from 620 s, and the third job comes 299 s later: just in time.
    assert (result.boots, result.reuses) == (2, 1)


def test_a_vwn_takes_at_most_max_reuses_more_jobs(study, types) -> None:
    trace = study([(i * 1000, 100, "a") for i in range(5)], types("a", max_reuses=1))
    result = run_policy(trace, "wnod", hosts=1, settings=BOOT, check=True)
    assert (result.boots, result.reuses) == (3, 2)


def test_another_users_job_does_not_get_her_idle_vwn(study, types) -> None:
    trace = study([(0, 100, "a", "alice"), (500, 100, "a", "bob")], types("a"))
    result = run_policy(trace, "wnod", hosts=1, settings=BOOT, check=True)
    assert (result.boots, result.reuses, result.evictions) == (2, 0, 1)


def test_with_reuse_scope_type_any_job_of_the_type_does(study, types) -> None:
    trace = study([(0, 100, "a", "alice"), (500, 100, "a", "bob")], types("a", reuse_scope="type"))
    result = run_policy(trace, "wnod", hosts=1, settings=BOOT, check=True)
    assert (result.boots, result.reuses) == (1, 1)


def test_a_job_waits_in_the_queue_until_a_host_has_room(study, types) -> None:
    trace = study([(0, 100, "a"), (0, 100, "a")], types("a"))
    result = run_policy(trace, "wnod", hosts=1, settings=BOOT, check=True)
    # The second job takes the first one's VWN at its end: 60 s of boot and 100 s of run later.
    assert result.wait_by_type["a"].p99 == 160
    assert (result.boots, result.reuses) == (1, 1)


def test_first_come_first_served_the_first_in_the_queue_holds_back_the_rest(study, types) -> None:
    vm_types = types("a", "big")
    vm_types["big"] = vm_types["big"].__class__(name="big", image="big.img", vcpus=2, memory=2**30)
    trace = study([(0, 1000, "a"), (1, 100, "big"), (2, 100, "a")], vm_types, vwns=2, vcpus=2)
    result = run_policy(trace, "wnod", hosts=1, settings=BOOT, check=True)
    # The big job waits for the whole host (the first job's end at 1060 s), evicts the idle VWN,
    # boots and runs till 1220 s; the small one behind it, which would fit beside the first, waits
    # all that time too (no backfilling), then evicts the big VWN and boots its own.
    assert result.wait_by_type["big"].p99 == 1060 + 60 - 1
    assert result.wait_by_type["a"].p99 == 1220 + 60 - 2
    assert result.evictions == 2


def test_a_busy_farm_is_as_utilised_as_its_jobs_keep_it(study, types) -> None:
    trace = study([(0, 100, "a"), (0, 100, "a")], types("a"))
    result = run_policy(trace, "ideal", hosts=2, settings=BOOT, check=True)
    assert result.utilisation == 1.0
    assert result.wait.p99 == 0
    assert result.boots is None  # nothing boots in the ideal farm


def test_static_hosts_run_only_their_types_jobs(study, types) -> None:
    trace = study([(0, 100, "a"), (0, 100, "a"), (0, 100, "b")], types("a", "b"))
    result = run_policy(trace, "static", hosts=2, settings=BOOT, check=True)
    # One host each (a has more demand, but each type needs one): the second a waits for the first.
    assert result.note == "hosts: a 1, b 1"
    assert result.wait_by_type["a"].p99 == 100
    assert result.wait_by_type["b"].p99 == 0


def test_static_cannot_run_fewer_hosts_than_types(study, types) -> None:
    trace = study([(0, 100, "a"), (0, 100, "b")], types("a", "b"))
    result = run_policy(trace, "static", hosts=1)
    assert not result.ran
    assert "one host per VM type" in result.note


def test_refused_and_oversized_jobs_are_counted_and_left_out(study, types) -> None:
    vm_types = types("a", "big")
    vm_types["big"] = vm_types["big"].__class__(name="big", image="big.img", vcpus=4)
    trace = study([(0, 100, "a"), (0, 100, "refused"), (0, 100, "big")], vm_types, vcpus=2)
    assert len(trace.jobs) == 1
    assert trace.refused == {"not here": 1}
    assert trace.too_big == {"big": 1}


def test_the_batch_systems_choice_of_host_decides_what_is_reused(study, types) -> None:
    """Two hosts of one VWN: alice's VWN idles on the first when bob's job comes. Blind (host order,
    Slurm at equal weights) sends it there, to evict alice's; by the daemons' bait weights it goes to
    the host with room, and alice's next job finds her VWN."""
    trace = study([(0, 100, "a", "alice"), (500, 100, "a", "bob"), (1000, 100, "a", "alice")], types("a"))
    got = {d: run_policy(trace, "wnod", hosts=2, settings=attrs.evolve(BOOT, dispatch=d), check=True)
           for d in ("blind", "weights", "informed")}
    assert {d: (r.boots, r.reuses, r.evictions) for d, r in got.items()} == {
        "blind": (3, 0, 2), "weights": (2, 1, 0), "informed": (2, 1, 0)}
