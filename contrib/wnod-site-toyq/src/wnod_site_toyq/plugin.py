"""The entry point the core loads: declares the ``toyq`` batch system."""

from collections.abc import Iterator

# Imported by name, not as `import wnod_core`: the core takes every module attribute
# starting with "wnod_" for a hook implementation and refuses a plugin with unknown ones.
from wnod_core import hookimpl
from wnod_core.records import BatchSystemPlugin, Setup

from . import NAME
from .adapter import ToyqBatchSystem
from .bait import BAIT_SIDE
from .options import ToyqOptions


def build(setup: Setup[ToyqOptions]) -> ToyqBatchSystem:
    # Checks nothing beyond the options, connects to nothing: `wnod config check` calls it too.
    return ToyqBatchSystem(setup.options)


@hookimpl
def wnod_batch_systems() -> Iterator[BatchSystemPlugin]:
    yield BatchSystemPlugin(
        name=NAME,
        factory=build,
        options=ToyqOptions,
        bait=BAIT_SIDE,
        summary="toyq through toyq show/bind/unbind/hold/cancel, toyq host and toyq hosts; the bait is its start hook.",
    )
