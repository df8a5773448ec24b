"""Mixed mode on a real Slurm: a host's node of bare-metal jobs shares its CPUs with the host's
VWNs through reservations of its CPUs, one per busy VWN. Slurm starts no job on reserved CPUs, and
refuses to reserve CPUs its jobs hold: neither side overbooks the other."""

import time

import pytest
from wnod_core.errors import BatchSystemError

from wnod_slurm.testing import BAIT, LocalSlurm, eventually

from .conftest import USER, build_adapter, started

pytestmark = pytest.mark.slow

NODE = BAIT
"""The node of bare-metal jobs here: the cluster's one bait, declared with 4 CPUs."""


def _state(slurm: LocalSlurm, job_id: str) -> str:
    return slurm.run(["squeue", "-a", "-h", "-o", "%T", "-j", job_id]).stdout.strip()


def test_vwns_and_bare_metal_jobs_share_a_nodes_cpus_without_overbooking(tmp_path) -> None:
    with started(pool=1, bait_cpus=4, parameters=["SlurmdParameters=config_overrides"]) as slurm:
        adapter = build_adapter(slurm, tmp_path)
        jobs: list[str] = []
        try:
            assert adapter.reserve_cpus(NODE, "hv01-s1-aaaaaa", 2) is True
            assert adapter.reserve_cpus(NODE, "hv01-s1-aaaaaa", 2) is True, "a second ask changes nothing"
            assert adapter.reservations(NODE) == ["hv01-s1-aaaaaa"]
            # 2 of 4 CPUs reserved: a bare-metal job of 3 waits, one of 2 runs.
            jobs.append(small := slurm.submit(USER, "-p", "short", "--cpus-per-task=2", held=False))
            eventually(lambda: _state(slurm, small) == "RUNNING", f"job {small} never ran")
            jobs.append(big := slurm.submit(USER, "-p", "short", "--cpus-per-task=3", held=False))
            time.sleep(3)  # scheduler passes
            assert _state(slurm, big) == "PENDING"
            with pytest.raises(BatchSystemError, match=f"{NODE} has fewer than 1 CPUs that its jobs leave free"):
                adapter.reserve_cpus(NODE, "hv01-s2-bbbbbb", 1)  # 2 reserved, 2 in use: none left
            assert adapter.reservations(NODE) == ["hv01-s1-aaaaaa"], "a refused reservation leaves nothing"
            slurm.run(["scancel", small])
            adapter.end_reservation(NODE, "hv01-s1-aaaaaa")
            adapter.end_reservation(NODE, "hv01-s1-aaaaaa")  # gone already: no error
            eventually(lambda: _state(slurm, big) == "RUNNING", f"job {big} never ran once the cores were free")
            assert adapter.reservations(NODE) == []
        finally:
            slurm.run(["scancel", *jobs], check=False)
            for name in adapter.reservations(NODE):
                adapter.end_reservation(NODE, name)
