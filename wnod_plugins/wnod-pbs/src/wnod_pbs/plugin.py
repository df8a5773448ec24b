"""The entry point the core loads: declares the ``pbs`` batch-system adapter."""

from collections.abc import Iterator

# Imported by name: the core takes every module attribute starting with "wnod_" for a hook.
from wnod_core import hookimpl
from wnod_core.records import BatchSystemPlugin, Setup

from .adapter import PbsBatchSystem
from .bait import BAIT_SIDE
from .options import PbsOptions


def build(setup: Setup[PbsOptions]) -> PbsBatchSystem:
    return PbsBatchSystem(setup.options)


@hookimpl
def wnod_batch_systems() -> Iterator[BatchSystemPlugin]:
    yield BatchSystemPlugin(
        name="pbs",
        factory=build,
        options=PbsOptions,
        bait=BAIT_SIDE,
        summary="OpenPBS / PBS Professional (JSON) or Torque (XML): pbsnodes -o, qrerun and qrun -H.",
    )
