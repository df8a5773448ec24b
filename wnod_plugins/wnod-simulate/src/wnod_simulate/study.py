"""A trace as a site would run it: each job typed by the site's own resolver chain, on hosts
sized as the site's ``[host]`` section says. What every policy of a comparison is given."""

from collections.abc import Callable, Mapping

import attrs
from wnod_core.model import Decision, HostCapacity, JobFacts, Resolved, VmType

from .farm import SimJob
from .swf import Trace


@attrs.frozen
class Study:
    source: str
    vm_types: Mapping[str, VmType]
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
            vm_type = vm_types[decision.vm_type]
            if vm_type.vcpus > capacity.vcpus or vm_type.memory > capacity.memory:
                too_big[vm_type.name] = too_big.get(vm_type.name, 0) + 1
                continue
            jobs.append(SimJob(len(jobs), job.submit, job.run, vm_type.name, job.user, job.group))
        return cls(trace.source, vm_types, capacity, tuple(jobs), trace.never_ran, refused, too_big)
