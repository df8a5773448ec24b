"""The one-host farm end to end (issue 6): contrib/e2e/farm, run as a site admin runs it.

Real parts only: Slurm 22.05 (munged, slurmctld, a bait slurmd whose Prolog is
contrib/slurm/wnod-prolog calling `wnod bait`), a private libvirtd running QEMU (TCG) guests
built by contrib/e2e/build-image (cached between runs in $WNOD_E2E_CACHE), and `wnod daemon`
with the Slurm adapter and the libvirt backend. Ordinary `sbatch` jobs of three users mapped to
two VM types and of a fourth user no type is given; a second job of each user reuses her VWN
and finds nothing her first left running there (the VWN Epilog), and another user's job of the
same type gets a VWN of its own; a job is cancelled while its new VWN boots. The farm's own verdict and its JSON summary are
checked here, and that nothing of it is left running.
"""

from pathlib import Path

import pytest

from .farm_run import assert_nothing_left, require_the_farm, run_farm

pytestmark = pytest.mark.slow

require_the_farm()


def test_the_farm_runs_users_jobs_in_their_vwns(tmp_path: Path) -> None:
    done, summary = run_farm(tmp_path, "--timeout", "600")
    jobs = {row["label"]: row for row in summary["jobs"]}

    # Two users, two VM types, each first job in a new VWN that tells its own story.
    for label, vm_type, numpy in (("alice-1", "debian-base", False), ("bob-1", "debian-science", True)):
        row = jobs[label]
        assert (row["vm_type"], row["reused"], row["outcome"], row["slurm_state"]) == (
            vm_type, False, "ended", "COMPLETED"), row
        out = row["output"]
        assert f"hostname: {row['ran_on']}" in out and row["ran_on"].startswith("farm-vwn"), out
        assert f"kernel: {summary['kernel']}" in out, out
        assert f"user: {row['user']}" in out and f"vm type: {vm_type}" in out, out
        assert ("numpy: 1." in out) is numpy, out
        assert "root: /dev/vda ro" in out and "write to /: refused" in out, out
        assert "scratch: /dev/vdb rw" in out and "write to /scratch: ok" in out, out
        assert row["seconds"]["vwn"] > 0, row

    # The second job of a user reuses her first's VWN.
    for first, second in (("alice-1", "alice-2"), ("bob-1", "bob-2")):
        assert jobs[second]["reused"] is True and jobs[second]["vwn"] == jobs[first]["vwn"], jobs[second]
        assert jobs[second]["ran_on"] == jobs[first]["ran_on"]

    # Nothing a job leaves behind outlives it in its VWN. alice's first job left a process out of
    # Slurm's reach (setsid), running when the job ended; her second, in the same VWN, finds
    # nothing (the VWN Epilog killed it). carol's job, of the same VM type, is not given that
    # VWN (reuse_scope = "user") and finds nothing of alice's either.
    assert "left behind: a daemonized process, running" in jobs["alice-1"]["output"], jobs["alice-1"]
    assert "found left behind: nothing" in jobs["alice-2"]["output"], jobs["alice-2"]
    carol = jobs["carol-1"]
    assert (carol["vm_type"], carol["reused"], carol["slurm_state"]) == ("debian-base", False, "COMPLETED"), carol
    assert carol["vwn"] != jobs["alice-1"]["vwn"] and carol["ran_on"] != jobs["alice-1"]["ran_on"], carol
    assert "found left behind: nothing" in carol["output"] and "user: wnod-carol" in carol["output"], carol

    # The user no VM type is given: refused, with the reason where she sees it.
    eve = jobs["eve-1"]
    assert (eve["outcome"], eve["vm_type"], eve["vwn"]) == ("refused", None, None), eve
    assert "no VM type for user wnod-eve" in eve["detail"], eve
    assert "no VM type for user wnod-eve" in eve["slurm_reason"], eve

    # Cancelled while its new VWN booted: never ran; the other job of the pair did.
    pair = [jobs["alice-3"], jobs["alice-4"]]
    cancelled = [r for r in pair if r["cancelled"]]
    assert len(cancelled) == 1, pair
    assert cancelled[0]["reused"] is False and cancelled[0]["seconds"]["run"] is None, cancelled
    assert cancelled[0]["slurm_state"] == "CANCELLED", cancelled
    other = next(r for r in pair if not r["cancelled"])
    assert other["slurm_state"] == "COMPLETED", other

    # Nothing of the farm is left: no daemon, no QEMU, no user it added.
    assert_nothing_left(done)
