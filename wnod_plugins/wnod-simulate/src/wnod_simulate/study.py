"""A trace as a site would run it: each job typed by the site's own resolver chain, on hosts
sized as the site's ``[host]`` section says. What every policy of a comparison is given."""

from collections.abc import Callable, Mapping

import attrs
from wnod_core.engine.sizing import Oversized, sized
from wnod_core.model import Decision, HostCapacity, JobFacts, Resolved, VmType

from .farm import SimJob
from .swf import Trace


@attrs.frozen
class Study:
    source: str
    vm_types: Mapping[str, VmType]
    """The site's VM types, and each kind of job they make: a sized type's VWNs of one size (see
    ``kind_of``), under that kind's key; the jobs' ``vm_type`` is their kind."""
    capacity: HostCapacity
    """Every simulated host's."""
    jobs: tuple[SimJob, ...]
    """The jobs that can run: typed, and of a type that fits a host."""
    never_ran: int = 0
    """Jobs the trace has no run time for."""
    refused: Mapping[str, int] = attrs.field(factory=dict)
    """Jobs the chain refused, by its reason."""
    too_big: Mapping[str, int] = attrs.field(factory=dict)
    """Jobs of a VM type that needs more than a host gives, by type."""

    @classmethod
    def of(cls, trace: Trace, resolve: Callable[[JobFacts], Decision], vm_types: Mapping[str, VmType],
           capacity: HostCapacity) -> "Study":
        decided: dict[tuple[str, str, str, int], Decision] = {}
        jobs: list[SimJob] = []
        refused: dict[str, int] = {}
        too_big: dict[str, int] = {}
        kinds: dict[str, VmType] = {}
        for job in trace.jobs:
            key = (job.user, job.group, job.queue, job.cpus)
            decision = decided.get(key)
            if decision is None:
                # Once per owner, group, queue and size: resolvers decide on those facts alone.
                facts = JobFacts(batch_system="simulate", job_id=str(job.number), user=job.user, groups=(job.group,),
                                 queue=job.queue, cpus=job.cpus)
                decision = decided[key] = resolve(facts)
            if not isinstance(decision, Resolved):
                refused[decision.reason] = refused.get(decision.reason, 0) + 1
                continue
            # Sized as the engine sizes it (a trace gives CPUs, not memory): each size is a kind of
            # its own, since an idle VWN is reused only for a job of its very size.
            vm_type = sized(vm_types[decision.vm_type], job.cpus, 0)
            if isinstance(vm_type, Oversized):
                refused[vm_type.reason] = refused.get(vm_type.reason, 0) + 1
                continue
            kind = kind_of(vm_type, vm_types)
            kinds[kind] = vm_type
            if vm_type.vcpus > capacity.vcpus or vm_type.memory > capacity.memory:
                too_big[kind] = too_big.get(kind, 0) + 1
                continue
            jobs.append(SimJob(len(jobs), job.submit, job.run, kind, job.user, job.group))
        return cls(trace.source, {**vm_types, **kinds}, capacity, tuple(jobs), trace.never_ran, refused, too_big)


def kind_of(vm_type: VmType, configured: Mapping[str, VmType]) -> str:
    """The kind of job a VM type sized for it makes: the type's name at its least size, else the
    name and its vCPUs (``el9:4c``), a key no VM type's name can be."""
    if vm_type is configured.get(vm_type.name) or (vm_type.vcpus, vm_type.memory) == (
            configured[vm_type.name].vcpus, configured[vm_type.name].memory):
        return vm_type.name
    return f"{vm_type.name}:{vm_type.vcpus}c"
