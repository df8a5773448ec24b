"""The ideal pool: the whole farm's vCPUs, memory and VWN slots as one, no boot, no VM type.

No placement to decide: a job starts, first come first served, as soon as the pool has room of
its size. Counted directly rather than through ``place()``, which would weigh every VWN of a
farm-sized host at each job; the property tests hold it to the bound it is for the policies of one
queue (no utilisation of wnod's or no-reuse's above it).
"""

import heapq
import math
from collections import deque
from collections.abc import Mapping, Sequence

from wnod_core.model import HostCapacity, VmType

from .farm import Outcome, SimJob


def simulate_ideal(vm_types: Mapping[str, VmType], capacity: HostCapacity, hosts: int,
                   jobs: Sequence[SimJob], timeline: bool = False) -> Outcome:
    out = Outcome(starts=[math.nan] * len(jobs), ends=[0] * len(jobs), changes=[] if timeline else None)
    free = [capacity.vcpus * hosts, capacity.memory * hosts, capacity.max_vwns * hosts]
    running: list[tuple[float, int]] = []  # (end, job index)
    queue: deque[SimJob] = deque()

    def start_what_fits(now: float) -> None:
        while queue:
            job = queue[0]
            size = vm_types[job.vm_type]
            if size.vcpus > free[0] or size.memory > free[1] or free[2] < 1:
                return
            queue.popleft()
            free[0] -= size.vcpus
            free[1] -= size.memory
            free[2] -= 1
            out.starts[job.index] = now
            out.busy_core_seconds += job.run * size.vcpus
            end = now + job.run
            out.last_end = max(out.last_end, end)
            heapq.heappush(running, (end, job.index))
            if out.changes is not None:
                out.changes += [(now, 0, -1), (now, size.vcpus, 0), (end, -size.vcpus, 0)]

    def finish(end: float, index: int) -> None:
        size = vm_types[jobs[index].vm_type]
        out.ends[index] += 1
        free[0] += size.vcpus
        free[1] += size.memory
        free[2] += 1
        start_what_fits(end)

    for job in jobs:
        while running and running[0][0] <= job.submit:
            finish(*heapq.heappop(running))
        queue.append(job)
        if out.changes is not None:
            out.changes.append((job.submit, 0, 1))
        start_what_fits(job.submit)
    while running:
        finish(*heapq.heappop(running))
    return out
