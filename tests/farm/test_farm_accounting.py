"""`wnod farm accounting`: every host's ledger read over its API (GET /v1/accounting) and summed
up per host and VM type, and for the farm."""

import json
import time
from pathlib import Path

import pytest

from wnod_core.accounting import read_ledger
from wnod_core.farm.accounting import summarize

from .hosts import Farm


def record(job: str, outcome: str = "ended", vm_type: str = "el9", reused: bool | None = False,
           at: float = 1000.0, assigned: float = 10.0, ready: float = 30.0, entered: float = 0.0,
           started: float | None = 40.0) -> dict:
    return {"schema": 1, "job_id": job, "vm_type": vm_type, "vwn_id": "v" if reused is not None else None,
            "reused": reused, "outcome": outcome, "at": at,
            "times": {"bait_entered": entered, "vwn_assigned": assigned, "vwn_ready": ready, "started": started}}


def test_rows_per_host_and_type_then_per_type_and_the_farm() -> None:
    rows = summarize({
        "hv01": [record("1"), record("2", reused=True, assigned=5, ready=5, started=6)],
        "hv02": [record("3", vm_type="cms", ready=50, started=60), record("4", outcome="refused", vm_type="",
                                                                         reused=None, started=None)],
    })
    by = {(r.host, r.vm_type): r for r in rows}
    assert [(r.host, r.vm_type) for r in rows] == [("hv01", "el9"), ("hv02", "-"), ("hv02", "cms"),
                                                   ("*", "-"), ("*", "cms"), ("*", "el9"), ("*", "*")]
    el9 = by[("hv01", "el9")]
    assert (el9.jobs, el9.new_vwns, el9.reuses, el9.reuse_ratio) == (2, 1, 1, 0.5)
    assert (el9.boot_mean, el9.wait_mean, el9.wait_p95) == (20.0, 23.0, 40.0)
    farm = by[("*", "*")]
    assert (farm.jobs, farm.outcomes["ended"], farm.outcomes["refused"], farm.new_vwns) == (4, 3, 1, 2)
    assert by[("*", "-")].boot_mean is None and by[("*", "-")].reuse_ratio is None


def test_the_ledger_is_read_from_since_skipping_what_is_not_a_record(tmp_path: Path) -> None:
    ledger = tmp_path / "accounting.jsonl"
    lines = [json.dumps(record(str(i), at=float(i))) for i in range(10)]
    lines.insert(3, '{"job_id": "cut short')  # a full disk's last line
    lines.insert(5, "[1, 2]")
    ledger.write_text("\n".join(lines) + "\n")
    read = read_ledger(ledger, since=4.0)
    assert [r["job_id"] for r in read["records"]] == ["4", "5", "6", "7", "8", "9"]
    assert (read["skipped"], read["more"]) == (2, False)
    page = read_ledger(ledger, since=0.0, limit=3)
    assert [r["job_id"] for r in page["records"]] == ["0", "1", "2"] and page["more"] is True
    assert read_ledger(tmp_path / "none.jsonl") == {"records": [], "skipped": 0, "more": False}


@pytest.mark.slow
def test_the_farm_sums_up_every_hosts_ledger(farm: Farm) -> None:
    jobs = {}
    for name in ("hv01", "hv02", "hv02"):
        job = farm.batch.submit("alice", queue="batch").job_id
        assert "migrated" in farm.bait(name, job).stderr
        farm.batch.start(job)
        farm.batch.finish(job)
        jobs[job] = name
        deadline = time.monotonic() + 30
        ledger = farm.home(name) / "state" / "accounting.jsonl"
        while job not in (ledger.read_text() if ledger.exists() else ""):
            assert time.monotonic() < deadline, f"job {job} never reached {name}'s ledger"
            time.sleep(0.1)
        # Its VWN idle again before the next job (its end is in the ledger before its scratch disk
        # is reset): a job that finds it still cleaning, and room beside it, gets a new one.
        while any(v["state"] != "idle" for v in farm.daemons[name].client().get("/v1/vwns")["vwns"]):
            assert time.monotonic() < deadline, f"the VWN of job {job} on {name} never went idle"
            time.sleep(0.1)
    done = farm.wnod_farm(farm.farm_file(), "accounting", "--json")
    assert done.returncode == 0, done.stderr
    rows = {(r["host"], r["vm_type"]): r for r in json.loads(done.stdout)["rows"]}
    assert rows[("hv01", "el9")]["jobs"] == 1 and rows[("hv02", "el9")]["jobs"] == 2
    assert rows[("hv02", "el9")]["reuses"] == 1, "the second job of hv02 reused the first one's VWN"
    assert rows[("*", "*")]["outcomes"]["ended"] == 3
    assert rows[("*", "el9")]["boot_mean"] is not None
    csv = farm.wnod_farm(farm.farm_file(), "accounting", "--csv", "--since", "1h")
    assert csv.stdout.splitlines()[0].startswith("HOST,TYPE,JOBS,ENDED,")
    assert any(line.startswith("*,*,3,3,") for line in csv.stdout.splitlines()), csv.stdout
