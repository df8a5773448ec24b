"""The farm at one moment, as the dashboard draws it: every host's state, its VWNs, each with
the job in it, and the jobs that have no VWN yet.

Each host is asked its status, VWNs and jobs in one go (three requests, one after another, on a
thread of its own): a host that fails one of them is shown unreachable, saying why, and never
holds up the others.
"""

import time
from collections.abc import Callable
from typing import Any

from ..daemon.client import DaemonClient
from .config import FarmFile
from .view import HostAnswer, ask_each

Notes = Callable[[dict[str, Any]], list[str]]
"""A host's ``/v1/status`` -> what its admin should look at (quarantined VWNs, stuck jobs...)."""


def farm_snapshot(farm: FarmFile, notes: Notes) -> dict[str, Any]:
    """``{"at": unix time, "hosts": [...]}``: one entry per host of the farm file, in its order."""
    at = time.time()
    answers = ask_each(farm, _ask, requests=3)
    return {"at": at, "hosts": [host_entry(a, notes) for a in answers]}


def _ask(client: DaemonClient) -> dict[str, Any]:
    return {"status": client.get("/v1/status"), "vwns": client.get("/v1/vwns")["vwns"],
            "jobs": client.get("/v1/jobs")["jobs"]}


def host_entry(answer: HostAnswer, notes: Notes) -> dict[str, Any]:
    """One host: ``state`` up, DRAINED or UNREACHABLE (``error`` says why), its ``vwns`` each with
    its ``job`` (or null), and ``waiting``: its jobs in flight on no VWN of its list."""
    entry: dict[str, Any] = {"name": answer.host.name, "address": answer.host.address}
    if not answer.reachable:
        return {**entry, "state": "UNREACHABLE", "error": answer.error, "notes": [], "capacity": None,
                "vwns": [], "waiting": []}
    status, vwns, jobs = answer.data["status"], answer.data["vwns"], answer.data["jobs"]
    by_vwn = {j["vwn_id"]: j for j in jobs if j.get("vwn_id")}
    by_id = {j["job_id"]: j for j in jobs}
    placed = []
    for vwn in vwns:
        # A VWN booting for a job is named by the job (vwn_id) before the VWN names the job.
        job = by_vwn.get(vwn["id"]) or by_id.get(vwn.get("job_id") or "")
        placed.append({**vwn, "job": job})
    shown = {id(v["job"]) for v in placed if v["job"]}
    return {**entry, "state": "DRAINED" if status["drained"] else "up", "error": None, "notes": notes(status),
            "capacity": status["capacity"], "vwns": placed, "waiting": [j for j in jobs if id(j) not in shown]}
