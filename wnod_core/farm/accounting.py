"""The farm's accounting: every host's ledger read over its API and summed up per host and VM
type — jobs and how they ended, VWNs made and reused, boot and wait times."""

import statistics
from collections.abc import Iterable, Sequence
from typing import Any

import attrs

from ..daemon.client import DaemonClient
from .config import FarmFile
from .view import HostAnswer, ask_each

MAX_PAGES = 50
"""Reads of one host's ledger at most (each of up to 100 000 records): five million records."""

OUTCOMES = ("ended", "requeued", "refused", "released", "failed", "held")


def read_ledgers(farm: FarmFile, since: float, hosts: Sequence[str] = ()) -> list[HostAnswer]:
    """Every host's ledger records from `since` (unix time) on; each answer's data is
    ``{"records": [...], "skipped": N, "more": bool}`` (``more``: left unread past MAX_PAGES)."""
    return ask_each(farm, lambda client: _read(client, since), hosts, requests=MAX_PAGES)


def _read(client: DaemonClient, since: float) -> dict[str, Any]:
    records: list[dict[str, Any]] = []
    seen: set[tuple[Any, ...]] = set()
    skipped = 0
    for _ in range(MAX_PAGES):
        page = client.get(f"/v1/accounting?since={since!r}")
        skipped += page["skipped"]  # a page re-reads the lines it starts at: counted again, bounded
        for record in page["records"]:
            key = (record.get("job_id"), record.get("outcome"), record.get("at"))
            if key not in seen:
                seen.add(key)
                records.append(record)
        if not page["more"] or not page["records"]:
            return {"records": records, "skipped": skipped, "more": False}
        since = float(page["records"][-1]["at"])
    return {"records": records, "skipped": skipped, "more": True}


@attrs.frozen
class Row:
    """One host's (or the farm's, host "*") figures for one VM type ("*": every type)."""

    host: str
    vm_type: str
    jobs: int
    outcomes: dict[str, int]
    new_vwns: int
    reuses: int
    boot_mean: float | None
    boot_p95: float | None
    wait_mean: float | None
    wait_p95: float | None

    @property
    def reuse_ratio(self) -> float | None:
        given = self.new_vwns + self.reuses
        return self.reuses / given if given else None

    def as_dict(self) -> dict[str, Any]:
        return {**attrs.asdict(self), "reuse_ratio": self.reuse_ratio}


def summarize(records_by_host: dict[str, Iterable[dict[str, Any]]]) -> list[Row]:
    """Rows per host and type, then per type for the farm (host "*"), then the farm's total."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for host, records in records_by_host.items():
        for record in records:
            vm_type = record.get("vm_type") or "-"
            for key in ((host, vm_type), ("*", vm_type), ("*", "*")):
                groups.setdefault(key, []).append(record)
    order = sorted(groups, key=lambda k: (k[0] == "*", k[0], k[1] == "*", k[1]))
    return [_row(host, vm_type, groups[(host, vm_type)]) for host, vm_type in order]


def _row(host: str, vm_type: str, records: list[dict[str, Any]]) -> Row:
    outcomes = {o: 0 for o in OUTCOMES}
    boots, waits = [], []
    new = reused = 0
    for r in records:
        outcome = r.get("outcome", "")
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        times = r.get("times") or {}
        if r.get("vwn_id") and r.get("reused") is True:
            reused += 1
        elif r.get("vwn_id") and r.get("reused") is False:
            new += 1
            boot = _between(times, "vwn_assigned", "vwn_ready")
            if boot is not None:
                boots.append(boot)
        wait = _between(times, "bait_entered", "started")
        if wait is not None:
            waits.append(wait)
    return Row(host=host, vm_type=vm_type, jobs=len(records), outcomes=outcomes, new_vwns=new, reuses=reused,
               boot_mean=_mean(boots), boot_p95=_p95(boots), wait_mean=_mean(waits), wait_p95=_p95(waits))


def _between(times: dict[str, Any], start: str, end: str) -> float | None:
    a, b = times.get(start), times.get(end)
    if not isinstance(a, int | float) or not isinstance(b, int | float) or b < a:
        return None
    return float(b - a)


def _mean(values: list[float]) -> float | None:
    return statistics.fmean(values) if values else None


def _p95(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
