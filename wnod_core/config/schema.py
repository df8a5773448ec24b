"""The core's own config sections. Plugins describe theirs with their own options classes."""

import os
import socket

import attrs

from ..model.fields import documented
from ..model.units import Bytes, parse_size
from ..model.vmtype import Name


def _this_host() -> str:
    return socket.gethostname()


def _this_hosts_cpus() -> int:
    return os.cpu_count() or 1


def _this_hosts_memory() -> Bytes:
    return Bytes(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))


@attrs.frozen
class HostSection:
    """`[host]`: this hypervisor host and the share of it wnod may give to VWNs."""

    name: str = documented(
        "This hypervisor host's name, recorded on every VWN it runs.",
        factory=_this_host,
        metadata={"default": "this machine's host name"},
    )
    vcpus: int = documented(
        "Virtual CPUs wnod may hand out to VWNs on this host.",
        factory=_this_hosts_cpus,
        validator=attrs.validators.ge(1),
        metadata={"default": "this machine's CPU count"},
    )
    memory: Bytes = documented(
        "Memory wnod may hand out to VWNs on this host.",
        factory=_this_hosts_memory,
        converter=parse_size,
        metadata={"default": "this machine's physical memory"},
    )
    max_vwns: int = documented(
        "Most VWNs alive on this host at once.", default=8, validator=attrs.validators.ge(1)
    )


@attrs.frozen
class BatchSection:
    """`[batch]`: which batch-system plugin this host works with.

    Its options go in `[batch.<system>]`, described by the plugin."""

    system: Name | None = documented(
        'Name of the batch-system plugin, e.g. "slurm" (see `wnod plugins`). Required by the daemon.',
        default=None,
    )


@attrs.frozen
class HypervisorSection:
    """`[hypervisor]`: which hypervisor backend creates this host's VWNs.

    Its options go in `[hypervisor.<backend>]`, described by the plugin."""

    backend: Name | None = documented(
        'Name of the hypervisor plugin, e.g. "libvirt" (see `wnod plugins`). Required by the daemon.',
        default=None,
    )


@attrs.frozen
class ResolverEntry:
    """`[[resolvers]]`: one link of the VM-type resolver chain; the first that answers wins.

    The table's other keys are the options of the resolver plugin it uses."""

    use: Name = documented('Name of the resolver plugin, e.g. "by-user" (see `wnod plugins`).')
