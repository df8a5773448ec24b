"""``by-queue``: the queue (partition, pool) a job was submitted to picks the VM type."""

from collections.abc import Mapping

import attrs
from wnod_core.interfaces import Resolver
from wnod_core.model import JobFacts, Resolved
from wnod_core.model.fields import documented
from wnod_core.records import Setup

from .known_types import checked_map


@attrs.frozen
class ByQueueOptions:
    """`[[resolvers]] use = "by-queue"`."""

    map: dict[str, str] = documented(
        "Queue (LSF, PBS), partition (Slurm) or pool (HTCondor) to VM type, e.g."
        ' `{ short = "sl6", long = "el9" }`. Matched exactly, case included. Jobs in other'
        " queues, or in none, are left to the next resolver."
    )


@attrs.frozen
class ByQueue(Resolver):
    types_by_queue: Mapping[str, str]

    def resolve(self, job: JobFacts) -> Resolved | None:
        # A batch system that reports no queue gives "", which no admin maps.
        vm_type = self.types_by_queue.get(job.queue) if job.queue else None
        if vm_type is None:
            return None
        return Resolved(vm_type, f'queue {job.queue} is mapped to VM type "{vm_type}"')


def build(setup: Setup[ByQueueOptions]) -> ByQueue:
    return ByQueue(checked_map(setup, setup.options.map))
