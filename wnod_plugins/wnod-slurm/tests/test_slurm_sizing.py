"""VWNs sized from their job's request, on a real Slurm. Each VWN name is declared once, at the
most a VWN of its host can be, so a VWN made smaller for a smaller job joins under a declaration
bigger than itself: Slurm marks such a node invalid unless ``SlurmdParameters=config_overrides``
(docs/farm.md and docs/slurm.md say to set it). With it, a 4-CPU job caught on its bait is read
as asking 4 CPUs and runs on its VWN.

This machine's slurmds stand for the guests: declared with more CPUs than the machine has, each
node is smaller than declared, as a VWN sized below its host's most is."""

import os
import time

import pytest
from wnod_core.model import JobState

from wnod_slurm.testing import LocalSlurm, caught_on_bait, end_prolog, eventually

from .conftest import build_adapter, started

pytestmark = pytest.mark.slow

DECLARED = (os.cpu_count() or 1) * 2
"""More CPUs than this machine has: every VWN slurmd here is smaller than its declaration."""


def _state(slurm: LocalSlurm, name: str) -> tuple[str, str]:
    """The node's state and Slurm's reason for it."""
    state, _, reason = slurm.run(["sinfo", "-h", "-N", "-n", name, "-o", "%T|%E"]).stdout.strip().partition("|")
    return state, reason


def test_without_config_overrides_a_vwn_smaller_than_its_declaration_never_joins(tmp_path) -> None:
    with started(pool=1, vwn_cpus=DECLARED) as slurm:
        adapter = build_adapter(slurm, tmp_path)
        name = slurm.take_vwn()
        made = time.time()
        slurm.start_node(name)
        state, reason = eventually(lambda: "Low" in (r := _state(slurm, name))[1] and r,
                                   f"{name} was not refused for its size")
        assert "Low CPUs" in reason and state.startswith(("inval", "drain")), (state, reason)
        assert adapter.host_ready(name, made) is False, "a VWN Slurm refused is not ready for its job"
        slurm.stop_node(name)


def test_with_config_overrides_a_multi_core_job_runs_on_a_vwn_smaller_than_its_declaration(tmp_path) -> None:
    with started(pool=1, bait_cpus=DECLARED, vwn_cpus=DECLARED,
                 parameters=["SlurmdParameters=config_overrides"]) as slurm:
        adapter = build_adapter(slurm, tmp_path)
        jobs: list[str] = []
        name = slurm.take_vwn()
        made = time.time()
        adapter.close_host(name)
        slurm.start_node(name)
        eventually(lambda: adapter.host_ready(name, made), f"{name} never joined")
        try:
            job = caught_on_bait(slurm, jobs, f"--cpus-per-task={DECLARED}")
            facts = adapter.job_facts(job)
            assert (facts.state, facts.cpus) == (JobState.RUNNING, DECLARED), "the job's request, as wnod sizes by"
            assert facts.memory is None, "it asked for no memory (Slurm's TRES shows the node's whole memory)"
            adapter.migrate(job, name)
            end_prolog(slurm, job)
            eventually(lambda: (f := adapter.job_facts(job)).state is JobState.RUNNING and f.exec_hosts == (name,),
                       f"job {job} never ran on {name}")
            eventually(lambda: slurm.ran_on(job), f"job {job} wrote nothing")
            assert slurm.ran_on(job) == name
            asked = slurm.submit("daemon", "--mem=20M", "--cpus-per-task=2")
            jobs.append(asked)
            assert adapter.job_facts(asked).memory == 20 * 2**20
            per_cpu = slurm.submit("daemon", "--mem-per-cpu=10M", "--cpus-per-task=2")
            jobs.append(per_cpu)
            assert adapter.job_facts(per_cpu).memory == 2 * 10 * 2**20
        finally:
            slurm.run(["scancel", *jobs], check=False)
            slurm.stop_node(name)
