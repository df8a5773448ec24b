"""How big a job's VWN is: its type's least size, or what the job asked for, within its type's most.

A VM type with `max_vcpus` or `max_memory` makes VWNs of many sizes from one image, so that a
4-core job and a 1-core job of the same environment need no type each. The size is decided
here, once, from what the batch system says the job asked for (never from the job's own
environment); placement then treats the sized type as the job's type: an idle VWN is reused
only for a job of its very size (a bigger VWN would hold cores the job never uses for its whole
run, which costs more than the boot it saves), and host capacity counts each VWN at its size.

Pure functions, shared by the engine and its simulation (wnod-simulate), so both size alike.
"""

import attrs

from ..model import VmType

_MiB = 1024**2


@attrs.frozen
class Oversized:
    """The job asks for more than any VWN of its type is made with: it can never run in one."""

    reason: str


def size_for(vm_type: VmType, cpus: int, memory: int) -> tuple[int, int] | Oversized:
    """The (vCPUs, memory in bytes) of the VWN for a job of `vm_type` that asked for `cpus` CPUs
    and `memory` bytes (0: it asked for none); or why no VWN of the type can hold it."""
    most_vcpus = vm_type.max_vcpus or vm_type.vcpus
    most_memory = vm_type.max_memory or vm_type.memory
    if cpus > most_vcpus:
        return Oversized(
            f'the job asks for {cpus} CPUs; a VWN of type "{vm_type.name}" has at most {most_vcpus}'
            + ("" if vm_type.max_vcpus else " (its max_vcpus is unset)"))
    if memory > most_memory:
        return Oversized(
            f'the job asks for {_mib(memory)} of memory; a VWN of type "{vm_type.name}" has at most'
            f" {_mib(most_memory)}" + ("" if vm_type.max_memory else " (its max_memory is unset)"))
    vcpus = max(vm_type.vcpus, cpus)
    if memory <= vm_type.memory:
        return vcpus, vm_type.memory
    step = vm_type.memory_step
    return vcpus, min(most_memory, -(-memory // step) * step)


def sized(vm_type: VmType, cpus: int, memory: int) -> VmType | Oversized:
    """`vm_type` as the job's VWN is made: its `vcpus` and `memory` those of `size_for()`."""
    size = size_for(vm_type, cpus, memory)
    if isinstance(size, Oversized):
        return size
    if size == (vm_type.vcpus, vm_type.memory):
        return vm_type
    # The bounds go with the least size: the sized type's own size is both (a VWN's spec).
    return attrs.evolve(vm_type, vcpus=size[0], memory=size[1], max_vcpus=None, max_memory=None)


def made_now(vcpus: int, memory: int, vm_type: VmType) -> bool:
    """Whether `vm_type` makes VWNs of this size now: one of another size (its type was resized
    by a reload) would never be reused, since reuse takes a VWN of the job's very size."""
    return size_for(vm_type, vcpus, memory) == (vcpus, memory)


def _mib(size: int) -> str:
    return f"{size / 1024**3:g} GiB" if size >= 1024**3 else f"{size / _MiB:g} MiB"
