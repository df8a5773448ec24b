"""A sized VM type in the simulation, as in the engine: each job's VWN sized from the CPUs the trace
says it asked for, a kind per size (an idle VWN is reused only for a job of its very size), a job
asking more than its type makes refused; and wnod's own place() agreeing at every decision."""

from wnod_core.model import VmType

from wnod_simulate.run import run_policy

EL9 = VmType(name="el9", image="el9.img", vcpus=1, memory="1GiB", max_vcpus=4)


def test_a_sized_type_makes_a_kind_per_size_and_reuses_a_vwn_for_its_very_size(study) -> None:
    rows = [(0, 100, "el9", "u", 1), (0, 100, "el9", "u", 4),       # two VWNs: 1 and 4 vCPUs
            (500, 100, "el9", "u", 4), (500, 100, "el9", "u", 1),   # each reused by a job of its size
            (600, 100, "el9", "u", 2),                             # no VWN of 2: a new one (7 of 8)
            (700, 100, "el9", "u", 8)]                             # more than el9 makes: refused
    trace = study(rows, {"el9": EL9}, vwns=4, vcpus=8)
    assert [job.vm_type for job in trace.jobs] == ["el9", "el9:4c", "el9:4c", "el9", "el9:2c"]
    assert trace.refused == {'the job asks for 8 CPUs; a VWN of type "el9" has at most 4': 1}
    assert (trace.vm_types["el9:4c"].name, trace.vm_types["el9:4c"].vcpus) == ("el9", 4)
    result = run_policy(trace, "wnod", hosts=1, check=True)  # place() asked beside every decision
    assert (result.boots, result.reuses, result.evictions) == (3, 2, 0)


def test_a_vwn_of_another_size_is_evicted_for_room_as_wnod_does(study) -> None:
    # A 4-vCPU host: a 2-vCPU VWN idle, then a job of 4: place() evicts it, and so does the simulation.
    trace = study([(0, 100, "el9", "u", 2), (500, 100, "el9", "u", 4)], {"el9": EL9}, vwns=2, vcpus=4)
    result = run_policy(trace, "wnod", hosts=1, check=True)
    assert (result.boots, result.reuses, result.evictions) == (2, 0, 1)


def test_static_hosts_serve_a_type_in_all_its_sizes(study) -> None:
    trace = study([(0, 100, "el9", "u", 1), (0, 100, "el9", "u", 4), (0, 100, "b", "u")],
                  {"el9": EL9, "b": VmType(name="b", image="b.img", vcpus=1, memory="1GiB")}, vwns=4, vcpus=8)
    result = run_policy(trace, "static", hosts=2)
    assert result.ran and "el9 1" in result.note and "b 1" in result.note, result.note
