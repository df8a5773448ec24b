"""Fixtures of the wnod-simulate tests: small farms and traces made here, never a shared trace.

Test modules use these as fixtures only: with ``--import-mode=importlib`` nothing here can be imported.
"""

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pytest
from wnod_core.model import HostCapacity, Refused, Resolved, ReusePolicy, VmType

from wnod_simulate.study import Study
from wnod_simulate.swf import Trace, TraceJob

DATA = Path(__file__).parent / "data"
GIB = 1024**3


@pytest.fixture
def small_trace() -> Path:
    """40 jobs of 3 groups over an hour and a half, made for these tests."""
    return DATA / "small.swf"


def vm_type(name: str, vcpus: int = 1, **reuse: object) -> VmType:
    return VmType(name=name, image=f"{name}.img", vcpus=vcpus, memory=GIB, reuse=ReusePolicy(**reuse))


@pytest.fixture
def types() -> Callable[..., dict[str, VmType]]:
    """``types("a", "b", max_reuses=1)``: VM types of 1 vCPU and 1 GiB with that reuse policy."""
    return lambda *names, **reuse: {n: vm_type(n, **reuse) for n in names}


@pytest.fixture
def study() -> Callable[..., Study]:
    """``study([(submit, run, group[, user[, cpus]]), ...], types, vwns=1)``: a trace whose group
    names its job's VM type (a group named "refused" is refused), on hosts of `vcpus` and `vwns` VWNs."""

    def make(rows: Sequence[tuple], vm_types: Mapping[str, VmType], vwns: int = 1, vcpus: int | None = None,
             user: str = "user1") -> Study:
        jobs = tuple(
            TraceJob(number=i + 1, submit=row[0], run=row[1], cpus=row[4] if len(row) > 4 else 1, group=row[2],
                     user=row[3] if len(row) > 3 else user, queue="")
            for i, row in enumerate(rows)
        )
        capacity = HostCapacity(vcpus=vcpus or vwns * max(t.vcpus for t in vm_types.values()),
                                memory=64 * GIB, max_vwns=vwns)
        return Study.of(Trace("test", jobs, 0), chain, vm_types, capacity)

    def chain(facts):  # the site's chain, for these tests: the group is the type
        group = facts.groups[0]
        return Refused("not here") if group == "refused" else Resolved(group, "group is type")

    return make
