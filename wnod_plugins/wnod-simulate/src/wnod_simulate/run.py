"""The programmatic API of ``wnod simulate``: one policy at a host count, policies side by side,
and the sweep for the fewest hosts that keep the p95 wait under a bound."""

from collections.abc import Sequence

import attrs

from .boot import NO_TIME, BootModel, BootTime
from .farm import simulate
from .ideal import simulate_ideal
from .policies import plan
from .results import PolicyResult, summarise
from .study import Study


@attrs.frozen
class Settings:
    boot: BootModel = BootModel()
    reset: BootTime = NO_TIME
    seed: int = 0
    dispatch: str = "informed"
    """How the batch system picks a host for a job (farm.DISPATCH)."""


def run_policy(study: Study, policy: str, hosts: int, settings: Settings = Settings(),
               timeline: bool = False, check: bool = False) -> PolicyResult:
    chosen = plan(policy, study.vm_types, study.capacity, hosts, study.jobs, settings.boot, settings.reset,
                  settings.seed, settings.dispatch)
    if chosen.pooled:
        outcome = simulate_ideal(study.vm_types, study.capacity, hosts, chosen.jobs, timeline)
    elif chosen.setup is None:
        return PolicyResult(policy=policy, hosts=hosts, ran=False, note=chosen.note)
    else:
        outcome = simulate(chosen.setup, chosen.jobs, timeline=timeline, check=check)
    types_of = [job.vm_type for job in study.jobs]
    result = summarise(policy, hosts, study.capacity.vcpus * hosts, chosen.jobs, types_of, outcome, chosen.note,
                       chosen.models_vwns)
    if check and not chosen.pooled:
        result = attrs.evolve(result, checked=outcome.checked)
    return result


def compare(study: Study, hosts: int, policies: Sequence[str], settings: Settings = Settings(),
            timeline: bool = False, check: bool = False) -> list[PolicyResult]:
    """Every policy on the same trace and the same number of hosts."""
    return [run_policy(study, policy, hosts, settings, timeline, check) for policy in policies]


@attrs.frozen
class SweepPoint:
    policy: str
    hosts: int | None
    """The fewest hosts that keep the p95 wait at or under the bound; None: not within `max_hosts`."""
    result: PolicyResult | None
    """Its run at that many hosts."""
    runs: int
    """Simulations it took to find."""


def sweep(study: Study, policy: str, max_p95: float, settings: Settings = Settings(),
          max_hosts: int = 100_000, check: bool = False) -> SweepPoint:
    """Doubling, then bisecting: this takes the p95 wait never to grow with more hosts (true of
    every run seen, not proven: a bigger farm may evict and boot differently)."""
    tried: dict[int, PolicyResult] = {}

    def good(hosts: int) -> bool:
        if hosts not in tried:
            tried[hosts] = run_policy(study, policy, hosts, settings, check=check)
        result = tried[hosts]
        return result.ran and result.wait.p95 <= max_p95

    low, high = 0, 1  # `low` fails (or is nothing), `high` is being tried
    while not good(high):
        if high >= max_hosts:
            return SweepPoint(policy, None, None, len(tried))
        low, high = high, min(high * 2, max_hosts)
    while high - low > 1:
        middle = (low + high) // 2
        if good(middle):
            high = middle
        else:
            low = middle
    return SweepPoint(policy, high, tried[high], len(tried))
