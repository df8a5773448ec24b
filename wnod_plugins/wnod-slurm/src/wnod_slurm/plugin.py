"""The entry point the core loads: declares the Slurm adapter."""

from collections.abc import Iterator

# Imported by name: the core takes every module attribute starting with "wnod_" for a hook.
from wnod_core import hookimpl
from wnod_core.records import BatchSystemPlugin, Setup

from .adapter import SlurmBatchSystem
from .bait import BAIT_SIDE
from .options import SlurmOptions


def build(setup: Setup[SlurmOptions]) -> SlurmBatchSystem:
    return SlurmBatchSystem(setup.options, path=setup.path)


@hookimpl
def wnod_batch_systems() -> Iterator[BatchSystemPlugin]:
    yield BatchSystemPlugin(
        name="slurm",
        factory=build,
        options=SlurmOptions,
        bait=BAIT_SIDE,
        summary="Slurm: jobs migrated to VWN nodes through a per-node reservation; bait glue is the slurmd Prolog.",
    )
