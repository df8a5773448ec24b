"""The entry point the core loads: declares the ``xl`` hypervisor backend."""

# Imported by name, not as `import wnod_core`: the core takes every module attribute
# starting with "wnod_" for a hook implementation and refuses a plugin with unknown ones.
from collections.abc import Iterator

from wnod_core import hookimpl
from wnod_core.records import HypervisorPlugin, Setup

from .backend import XlHypervisor
from .options import XlOptions


def build(setup: Setup[XlOptions]) -> XlHypervisor:
    return XlHypervisor(setup.options, host=setup.host, dirs=setup.dirs)


@hookimpl
def wnod_hypervisors() -> Iterator[HypervisorPlugin]:
    yield HypervisorPlugin(
        name="xl",
        factory=build,
        options=XlOptions,
        summary="Xen PV domains driven through the xl command: one config file and scratch disk per VWN.",
    )
