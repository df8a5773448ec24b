"""The four ways of running the same farm that a study compares, each as a farm setup.

- ``wnod``: one pool of hosts; a VWN of the job's type made on demand, reused as the site's
  VM types say (max reuses, idle TTL, reuse scope), idle ones of other types evicted for room.
- ``no-reuse``: the same, but every VWN is destroyed at its job's end (``max_reuses = 0``).
- ``static``: hosts dedicated to one VM type each, in proportion to each type's demand
  (core-seconds in the trace), always up: no boot, no reuse limit; a job waits for its type's hosts.
- ``ideal``: the whole farm as one pool, no boot, no type constraint: a job only needs room of
  its size (ideal.py). In one first-come-first-served queue nothing can start a job sooner, so its
  utilisation bounds wnod's and no-reuse's; static's queues, one per type, may start a job that one
  queue would hold behind another type's, and beat it.
"""

from collections.abc import Mapping, Sequence

import attrs
from wnod_core.model import HostCapacity, ReusePolicy, ReuseScope, VmType
from wnod_core.model.units import MAX_SECONDS

from .boot import BootModel, BootTime
from .farm import FarmSetup, Pool, SimJob

POLICIES = ("wnod", "no-reuse", "static", "ideal")

_FOREVER = ReusePolicy(max_reuses=2**62, idle_ttl=MAX_SECONDS, scratch_reset=True, reuse_scope=ReuseScope.TYPE)
"""A node that is always there for any job of its environment: the static farm's."""


@attrs.frozen
class Plan:
    """One policy's farm, its jobs as that farm types them, and what to say about it."""

    setup: FarmSetup | None
    """None: this policy cannot run the trace on so few hosts (`note` says why), or it is pooled."""
    jobs: Sequence[SimJob]
    note: str = ""
    models_vwns: bool = True
    """False for the farms without VWNs to boot, reuse or evict (static, ideal)."""
    pooled: bool = False
    """The ideal pool: no hosts, no placement (ideal.py)."""


def plan(policy: str, vm_types: Mapping[str, VmType], capacity: HostCapacity, hosts: int,
         jobs: Sequence[SimJob], boot: BootModel, reset: BootTime, seed: int = 0, dispatch: str = "informed") -> Plan:
    """`dispatch`: how the batch system picks a host for the wnod and no-reuse farms (farm.DISPATCH)."""
    if policy == "wnod":
        return Plan(FarmSetup(vm_types, (Pool(hosts, capacity),), boot, reset, seed, dispatch), jobs)
    if policy == "no-reuse":
        once = {n: attrs.evolve(t, reuse=attrs.evolve(t.reuse, max_reuses=0)) for n, t in vm_types.items()}
        return Plan(FarmSetup(once, (Pool(hosts, capacity),), boot, reset, seed, dispatch), jobs)
    if policy == "static":
        return _static(vm_types, capacity, hosts, jobs)
    if policy == "ideal":
        return _ideal(vm_types, capacity, hosts, jobs)
    raise ValueError(f"unknown policy {policy!r}; expected one of {', '.join(POLICIES)}")


def demand(jobs: Sequence[SimJob], vm_types: Mapping[str, VmType]) -> dict[str, float]:
    """Core-seconds each kind of job (a VM type, or one size of a sized one) ran, in the order the
    kinds first appear."""
    out: dict[str, float] = {}
    for job in jobs:
        out[job.vm_type] = out.get(job.vm_type, 0.0) + job.run * vm_types[job.vm_type].vcpus
    return out


def share_hosts(hosts: int, demands: Mapping[str, float]) -> dict[str, int] | None:
    """Hosts per type in proportion to demand (largest remainder), at least one each; None if
    there are fewer hosts than types."""
    if hosts < len(demands):
        return None
    total = sum(demands.values()) or 1.0
    spare = hosts - len(demands)  # one each first: a type with jobs and no host would never run them
    exact = {name: spare * d / total for name, d in demands.items()}
    shares = {name: 1 + int(x) for name, x in exact.items()}
    left = hosts - sum(shares.values())
    for name in sorted(exact, key=lambda n: (-(exact[n] - int(exact[n])), n))[:left]:
        shares[name] += 1
    return shares


def _static(vm_types: Mapping[str, VmType], capacity: HostCapacity, hosts: int, jobs: Sequence[SimJob]) -> Plan:
    # Hosts dedicated to an environment: per VM type, whatever sizes its jobs come in.
    by_type: dict[str, float] = {}
    for kind, d in demand(jobs, vm_types).items():
        by_type[vm_types[kind].name] = by_type.get(vm_types[kind].name, 0.0) + d
    shares = share_hosts(hosts, by_type)
    if shares is None:
        return Plan(None, jobs, f"needs at least one host per VM type with jobs ({len(by_type)})")
    always_up = {n: attrs.evolve(t, reuse=_FOREVER) for n, t in vm_types.items()}
    pools = tuple(Pool(count, capacity, frozenset(k for k, t in vm_types.items() if t.name == name))
                  for name, count in shares.items())
    note = "hosts: " + ", ".join(f"{name} {count}" for name, count in shares.items())
    return Plan(FarmSetup(always_up, pools), jobs, note, models_vwns=False)


def _ideal(vm_types: Mapping[str, VmType], capacity: HostCapacity, hosts: int, jobs: Sequence[SimJob]) -> Plan:
    return Plan(None, jobs, models_vwns=False, pooled=True)
