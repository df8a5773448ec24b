"""What one hypervisor host can hold."""

import attrs

from .fields import documented
from .units import Bytes, parse_size


@attrs.frozen
class HostCapacity:
    """The share of a hypervisor host that wnod may give to VWNs."""

    vcpus: int = documented("Virtual CPUs wnod may hand out to VWNs on this host.", default=1)
    memory: Bytes = documented(
        "Memory wnod may hand out to VWNs on this host.", default=Bytes(2 * 1024**3), converter=parse_size
    )
    max_vwns: int = documented("Most VWNs alive on this host at once.", default=1)

    def fits(self, used_vcpus: int, used_memory: int, used_vwns: int, vcpus: int, memory: int) -> bool:
        """Whether one more VWN of that size fits beside what is already used."""
        return (
            used_vwns + 1 <= self.max_vwns
            and used_vcpus + vcpus <= self.vcpus
            and used_memory + memory <= self.memory
        )
