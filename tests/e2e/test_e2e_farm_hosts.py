"""A farm of three hypervisor hosts end to end (issue 13): contrib/e2e/farm --hosts 3, as dev/demo
runs it with --hosts 2.

One Slurm (munged, slurmctld) and, per host, its own address on loopback (127.0.0.N), a bait
slurmd whose Prolog calls that host's `wnod bait`, a private libvirtd running QEMU (TCG) guests
and a `wnod daemon` with its TCP API. Jobs spread over the hosts' baits as each has VWN slots;
a drained host's bait is closed in Slurm and no job lands there; a host drained and stopped
serves nothing while the others do, and finds its VWNs again once restarted; `wnod farm vms`
shows every host's VWNs. The farm's verdict and its JSON summary are checked here, and that
nothing of it is left running.
"""

from pathlib import Path

import pytest

from .farm_run import assert_nothing_left, require_the_farm, run_farm

pytestmark = pytest.mark.slow

require_the_farm()


def test_three_hosts_share_the_jobs_and_serve_on_when_one_is_drained_or_stopped(tmp_path: Path) -> None:
    done, summary = run_farm(tmp_path, "--hosts", "3", "--timeout", "900")
    assert [h["name"] for h in summary["hosts"]] == ["hv1", "hv2", "hv3"]
    assert [h["address"] for h in summary["hosts"]] == ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
    rows = summary["jobs"]

    # Round 1: more jobs than one host has slots, spread over the baits; each in its own VWN.
    first = [r for r in rows if r["label"].endswith("-1")]
    assert len(first) == 4 and len({r["host"] for r in first}) >= 2, first
    for r in rows:
        assert (r["outcome"], r["slurm_state"]) == ("ended", "COMPLETED"), r
        assert r["ran_on"].startswith(f"{r['host']}-vwn") and f"hostname: {r['ran_on']}" in r["output"], r
        assert r["host"] not in r["closed"], r

    # Rounds 2 and 3: a closed host took none; a job reused a VWN somewhere.
    assert {r["host"] for r in rows if r["label"].endswith("-2")} <= {"hv2", "hv3"}
    assert {r["host"] for r in rows if r["label"].endswith("-3")} <= {"hv1", "hv3"}
    assert any(r["reused"] for r in rows), rows

    # The farm view at the end: every host answered, each VWN shown with its host, hv2's found
    # again by its restarted daemon.
    view = summary["farm_views"]["at the end"]["hosts"]
    assert [(h["name"], h["error"]) for h in view] == [("hv1", None), ("hv2", None), ("hv3", None)]
    assert all(v["hostname"].startswith(f"{h['name']}-vwn") for h in view for v in h["vwns"])
    assert view[1]["vwns"], "hv2's VWNs outlived its daemon and were found again"
    assert "wnod farm status (at the end):" in done.stdout and "farm: 3 of 3 hosts answered" in done.stdout

    assert_nothing_left(done)
