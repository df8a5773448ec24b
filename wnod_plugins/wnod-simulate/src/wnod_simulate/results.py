"""What a policy's run comes to: utilisation, waits per VM type, and what its VWNs cost."""

import math
from collections.abc import Mapping, Sequence

import attrs

from .farm import Outcome, SimJob


@attrs.frozen
class Waits:
    """Seconds jobs waited from submission to start (nearest-rank percentiles)."""

    jobs: int
    p50: float
    p95: float
    p99: float

    @classmethod
    def of(cls, waits: Sequence[float]) -> "Waits":
        ordered = sorted(waits)
        return cls(len(ordered), *(percentile(ordered, q) for q in (0.50, 0.95, 0.99)))


def percentile(ordered: Sequence[float], q: float) -> float:
    if not ordered:
        return 0.0
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


@attrs.frozen
class Timeline:
    """Step functions of the run: at each time, busy vCPUs and jobs waiting in the queues."""

    times: tuple[float, ...]
    busy_vcpus: tuple[int, ...]
    queued: tuple[int, ...]

    @classmethod
    def of(cls, changes: Sequence[tuple[float, int, int]]) -> "Timeline":
        times, busy, queued = [], [], []
        level = waiting = 0
        for time, d_busy, d_queued in sorted(changes):
            level += d_busy
            waiting += d_queued
            if times and times[-1] == time:
                busy[-1], queued[-1] = level, waiting
            else:
                times.append(time)
                busy.append(level)
                queued.append(waiting)
        return cls(tuple(times), tuple(busy), tuple(queued))


@attrs.frozen
class PolicyResult:
    policy: str
    hosts: int
    ran: bool
    """False: the policy cannot run the trace on so few hosts (`note` says why); nothing else is set."""
    note: str = ""
    jobs: int = 0
    utilisation: float = 0.0
    """Busy core-seconds ÷ the farm's core-seconds from the first submission to the last job's end."""
    makespan: float = 0.0
    wait: Waits = Waits(0, 0.0, 0.0, 0.0)
    wait_by_type: Mapping[str, Waits] = attrs.field(factory=dict)
    boots: int | None = None
    """None for the farms without VWNs (static, ideal): nothing to boot, reuse or evict."""
    reuses: int | None = None
    evictions: int | None = None
    boot_core_seconds: float | None = None
    """vCPUs held by VWNs booting, times how long they booted: room no job used."""
    reset_core_seconds: float | None = None
    """The same for kept VWNs restarting on a fresh scratch disk."""
    timeline: Timeline | None = None
    checked: int | None = None
    """With ``check``: the decisions asked of wnod's own ``place()`` beside the simulation's, every
    one agreeing (None: not checked, or a farm that places nothing, as ideal)."""

    def as_json(self) -> dict[str, object]:
        out = attrs.asdict(self, recurse=True, filter=lambda a, _v: a.name != "timeline")
        return out


def summarise(policy: str, hosts: int, total_vcpus: int, jobs: Sequence[SimJob], types_of: Sequence[str],
              outcome: Outcome, note: str, models_vwns: bool) -> PolicyResult:
    """`types_of[i]`: the site's VM type of job i (a policy may run it as another, e.g. ideal)."""
    starts = outcome.starts
    every = [starts[job.index] - job.submit for job in jobs]
    names = [types_of[job.index] for job in jobs]
    waits: dict[str, list[float]] = {name: [] for name in set(names)}
    for name, wait in zip(names, every, strict=True):
        waits[name].append(wait)
    first = jobs[0].submit if jobs else 0.0  # they come in order of submission
    span = outcome.last_end - first
    vwns = models_vwns or None
    return PolicyResult(
        policy=policy,
        hosts=hosts,
        ran=True,
        note=note,
        jobs=len(jobs),
        utilisation=outcome.busy_core_seconds / (total_vcpus * span) if span > 0 else 0.0,
        makespan=span,
        wait=Waits.of(every),
        wait_by_type={name: Waits.of(w) for name, w in sorted(waits.items())},
        boots=vwns and outcome.boots,
        reuses=vwns and outcome.reuses,
        evictions=vwns and outcome.evictions,
        boot_core_seconds=vwns and outcome.boot_core_seconds,
        reset_core_seconds=vwns and outcome.reset_core_seconds,
        timeline=Timeline.of(outcome.changes) if outcome.changes is not None else None,
    )
