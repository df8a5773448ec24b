"""Steering jobs to a host's bait, on a real Slurm: the node Weight the adapter sets is what
slurmctld allocates by; and why wnod does not steer with a job's ``--prefer`` instead."""

import time

import pytest
from wnod_core.errors import BatchSystemError

from wnod_slurm.adapter import SlurmBatchSystem
from wnod_slurm.testing import VWN_PARTITION, LocalSlurm

from .conftest import USER


def _field(slurm: LocalSlurm, node: str, key: str) -> str:
    text = slurm.run(["scontrol", "-o", "show", "node", node]).stdout
    return dict(w.split("=", 1) for w in text.split() if "=" in w)[key]


def _submit(slurm: LocalSlurm, among: tuple[str, ...], *options: str) -> str:
    """A job of the VWN partition that may run on the nodes `among` only (others of the session's
    Slurm may be up, at the default weight)."""
    others = [n for n in slurm.vwns if n not in among]
    return slurm.submit(USER, "-p", VWN_PARTITION, f"--exclude={','.join(others)}", *options, held=False)


def _placed(slurm: LocalSlurm, job_id: str, timeout: float = 20) -> tuple[str, str]:
    """(RUNNING, its node) once it runs, or (its state, its reason) if it does not within `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        state, node, reason = slurm.run(["squeue", "-a", "-h", "-o", "%T|%N|%r", "-j", job_id]).stdout.strip().split("|")
        if state == "RUNNING":
            return state, node
        if time.monotonic() > deadline:
            return state, reason
        time.sleep(0.3)


def test_the_lighter_bait_takes_the_job(slurm: LocalSlurm, adapter: SlurmBatchSystem, vwns: list[str],
                                        jobs: list[str]) -> None:
    a, b = slurm.take_vwn(), slurm.take_vwn()
    vwns += [a, b]
    for node in (a, b):
        slurm.start_node(node)
        slurm.wait_node_up(node)
    try:
        assert adapter.steer(a, 301) is True
        assert adapter.steer(b, 2) is True
        assert (_field(slurm, a, "Weight"), _field(slurm, b, "Weight")) == ("301", "2")
        jobs.append(_submit(slurm, (a, b)))
        assert _placed(slurm, jobs[-1]) == ("RUNNING", b)
        slurm.run(["scancel", jobs[-1]])
        adapter.steer(a, 2)
        adapter.steer(b, 1000)
        jobs.append(_submit(slurm, (a, b)))
        assert _placed(slurm, jobs[-1]) == ("RUNNING", a)
        # The heavier node still takes a job when the lighter one is busy: a weight never holds one.
        jobs.append(_submit(slurm, (a, b)))
        assert _placed(slurm, jobs[-1]) == ("RUNNING", b)
    finally:
        for node in (a, b):
            slurm.run(["scontrol", "update", f"NodeName={node}", "Weight=1"], check=False)


def test_a_node_slurm_does_not_know_is_an_error(adapter: SlurmBatchSystem) -> None:
    with pytest.raises(BatchSystemError, match="no-such-bait"):
        adapter.steer("no-such-bait", 5)


def test_prefer_holds_a_job_for_busy_nodes_and_forever_once_the_feature_is_gone(
        slurm: LocalSlurm, vwns: list[str], jobs: list[str]) -> None:
    """What Slurm 22.05 does with ``--prefer``, the per-job way to steer a job to a host with an idle
    VWN for it: the job waits for a node with the feature though another is free, and once no node
    has it, pends for good (BadConstraints). A job stuck so is what wnod must never cause: hence a
    host's weight (engine.steering), which never holds a job back."""
    a, b = slurm.take_vwn(), slurm.take_vwn()
    vwns += [a, b]
    for node in (a, b):
        slurm.start_node(node)
        slurm.wait_node_up(node)
    feature = "wnod_idle_test"
    try:
        slurm.run(["scontrol", "update", f"NodeName={b}", f"AvailableFeatures={feature}", f"ActiveFeatures={feature}"])
        jobs.append(_submit(slurm, (a, b), f"--nodelist={b}"))
        assert _placed(slurm, jobs[-1]) == ("RUNNING", b)
        jobs.append(_submit(slurm, (a, b), f"--prefer={feature}"))
        time.sleep(5)
        assert _placed(slurm, jobs[-1], timeout=0) == ("PENDING", "Resources"), f"{a} is free all the while"
        slurm.run(["scontrol", "update", f"NodeName={b}", "AvailableFeatures=", "ActiveFeatures="])
        # Seen at the scheduler's next pass over it (seconds, more on a loaded machine): until then
        # its reason is still Resources, or None.
        deadline = time.monotonic() + 60
        while (placed := _placed(slurm, jobs[-1], timeout=0)) != ("PENDING", "BadConstraints") \
                and placed[0] == "PENDING" and time.monotonic() < deadline:
            time.sleep(0.5)
        assert placed == ("PENDING", "BadConstraints")
        time.sleep(5)  # and it stays so: the feature is gone for good
        assert _placed(slurm, jobs[-1], timeout=0) == ("PENDING", "BadConstraints")
    finally:
        slurm.run(["scontrol", "update", f"NodeName={b}", "AvailableFeatures=", "ActiveFeatures="], check=False)
