"""The entry point the core loads: declares the ``htcondor`` batch system."""

from collections.abc import Iterator

# Imported by name, not as `import wnod_core`: the core takes every module attribute
# starting with "wnod_" for a hook implementation and refuses a plugin with unknown ones.
from wnod_core import hookimpl
from wnod_core.records import BatchSystemPlugin, Setup

from .adapter import NAME, HTCondorBatchSystem
from .bait import BAIT_SIDE
from .options import HTCondorOptions


def build(setup: Setup[HTCondorOptions]) -> HTCondorBatchSystem:
    return HTCondorBatchSystem(setup.options)


@hookimpl
def wnod_batch_systems() -> Iterator[BatchSystemPlugin]:
    yield BatchSystemPlugin(
        name=NAME,
        factory=build,
        options=HTCondorOptions,
        bait=BAIT_SIDE,
        summary="HTCondor through condor_q/condor_status -json and condor_qedit; the bait is a prepare-job hook.",
    )
