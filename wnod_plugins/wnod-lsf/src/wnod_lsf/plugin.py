"""The entry point the core loads: declares the LSF adapter; ``[batch] system = "lsf"`` selects it."""

from collections.abc import Iterator

# Imported by name, not as `import wnod_core`: the core takes every module attribute
# starting with "wnod_" for a hook implementation.
from wnod_core import hookimpl
from wnod_core.records import BatchSystemPlugin

from .adapter import NAME, LsfBatchSystem
from .bait import BAIT_SIDE
from .options import LsfOptions


@hookimpl
def wnod_batch_systems() -> Iterator[BatchSystemPlugin]:
    yield BatchSystemPlugin(
        name=NAME,
        factory=LsfBatchSystem.from_setup,
        options=LsfOptions,
        bait=BAIT_SIDE,
        summary="IBM Spectrum LSF: bjobs/bhosts -json, bmod -m + brun to move a job, badmin hclose/hopen.",
    )
