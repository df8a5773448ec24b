"""A comparison or a sweep, as JSON for programs and as tables for people."""

from collections.abc import Sequence

from wnod_core.model.units import format_duration, format_size

from .boot import NO_TIME
from .results import PolicyResult, Waits
from .run import Settings, SweepPoint
from .study import Study


def study_json(study: Study, settings: Settings) -> dict[str, object]:
    cap = study.capacity
    return {
        "trace": study.source,
        "jobs": len(study.jobs),
        "never_ran": study.never_ran,
        "refused": dict(study.refused),
        "too_big": dict(study.too_big),
        "host": {"vcpus": cap.vcpus, "memory": cap.memory, "max_vwns": cap.max_vwns},
        "boot": {"default": str(settings.boot.default), "by_type": {k: str(v) for k, v in settings.boot.by_type.items()}},
        "reset": str(settings.reset),
        "seed": settings.seed,
    }


def comparison_json(study: Study, settings: Settings, results: Sequence[PolicyResult]) -> dict[str, object]:
    return {**study_json(study, settings), "policies": [r.as_json() for r in results]}


def sweep_json(study: Study, settings: Settings, max_p95: float, points: Sequence[SweepPoint]) -> dict[str, object]:
    return {
        **study_json(study, settings),
        "max_p95": max_p95,
        "policies": [
            {"policy": p.policy, "hosts": p.hosts, "runs": p.runs, "result": p.result.as_json() if p.result else None}
            for p in points
        ],
    }


def _duration(seconds: float) -> str:
    return format_duration(round(seconds))


def _count(value: int | None) -> str:
    return "-" if value is None else str(value)


def _core_hours(value: float | None) -> str:
    return "-" if value is None else f"{value / 3600:.1f}"


def study_lines(study: Study, settings: Settings) -> list[str]:
    cap = study.capacity
    lines = [
        f"trace {study.source}: {len(study.jobs)} jobs replayed"
        + (f", {study.never_ran} never ran" if study.never_ran else "")
        + (f", {sum(study.refused.values())} refused by the resolvers" if study.refused else "")
        + (f", {sum(study.too_big.values())} of a VM type too big for a host" if study.too_big else ""),
        f"each host: {cap.vcpus} vCPUs, {format_size(cap.memory)}, {cap.max_vwns} VWNs;"
        f" boot {settings.boot.default}"
        + "".join(f", {name} {boot}" for name, boot in settings.boot.by_type.items())
        + (f"; scratch reset {settings.reset}" if settings.reset != NO_TIME else "")
        + f"; dispatch {settings.dispatch}",
    ]
    return lines


POLICY_HEADERS = ("policy", "hosts", "utilisation", "wait p50", "p95", "p99", "boots", "reuses", "evictions",
                  "boot core-h")


def policy_row(r: PolicyResult) -> list[str]:
    if not r.ran:
        return [r.policy, str(r.hosts), "cannot run", "", "", "", "", "", "", ""]
    return [r.policy, str(r.hosts), f"{r.utilisation:.1%}", _duration(r.wait.p50), _duration(r.wait.p95),
            _duration(r.wait.p99), _count(r.boots), _count(r.reuses), _count(r.evictions),
            _core_hours(r.boot_core_seconds)]


WAIT_HEADERS = ("VM type", "policy", "jobs", "wait p50", "p95", "p99")


def wait_rows(results: Sequence[PolicyResult]) -> list[list[str]]:
    names = sorted({name for r in results for name in r.wait_by_type})
    rows = []
    for name in names:
        for r in results:
            waits: Waits | None = r.wait_by_type.get(name)
            if waits is not None:
                rows.append([name, r.policy, str(waits.jobs), _duration(waits.p50), _duration(waits.p95),
                             _duration(waits.p99)])
    return rows


def checked_lines(results: Sequence[PolicyResult], sweep: bool = False) -> list[str]:
    """What --check asked of wnod's own placement code, and that it agreed every time."""
    checked = [r for r in results if r.checked is not None]
    if not checked:
        return []
    counts = ", ".join(f"{r.policy} {r.checked} at {r.hosts} hosts" for r in checked)
    runs = "every run of the sweep" if sweep else "every decision"
    return [f"checked: {runs} agreed with wnod's own place() and worth_keeping() (decisions asked: {counts})"]
