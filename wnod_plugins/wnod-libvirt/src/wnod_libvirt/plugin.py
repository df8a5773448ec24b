"""The entry point the core loads: declares the libvirt hypervisor backend."""

from collections.abc import Iterator

# Imported by name, not as `import wnod_core`: the core takes every module attribute
# starting with "wnod_" for a hook implementation and refuses a plugin with unknown ones.
from wnod_core import hookimpl
from wnod_core.records import HypervisorPlugin

from . import backend, options


@hookimpl
def wnod_hypervisors() -> Iterator[HypervisorPlugin]:
    yield HypervisorPlugin(
        name="libvirt",
        factory=backend.build,
        options=options.LibvirtOptions,
        summary="VWNs as libvirt domains (Xen PV, KVM or QEMU) with a read-only OS disk and a read-write scratch disk.",
    )
