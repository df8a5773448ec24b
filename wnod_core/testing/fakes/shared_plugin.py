"""The shared fakes as a wnod plugin module, for tests that run ``wnod`` as its own process.

A test tool, never for production, and never an installed entry point of wnod-core: a
test makes it loadable for the ``wnod`` processes it starts, and for those only, with
``wnod_core.testing.pytest_plugin.shared_fakes_env`` (a throw-away ``*.dist-info`` on
their PYTHONPATH naming this module under the ``wnod`` entry-point group). The site
config then selects them::

    [batch]
    system = "shared-fake"

    [batch.shared-fake]
    dir = "/tmp/.../fakes"

    [hypervisor]
    backend = "shared-fake"

    [hypervisor.shared-fake]
    dir = "/tmp/.../fakes"
    auto_join = true
    join_delay = "2s"

and the test drives and inspects the same state with ``SharedFakeBatchSystem(dir)`` and
``SharedFakeHypervisor(dir)``.
"""

import os
from collections.abc import Iterator

import attrs

from ... import hookimpl
from ...model.fields import documented
from ...model.units import Seconds, parse_duration
from ...records import BatchSystemPlugin, HypervisorPlugin, Setup
from .batch import BAIT_SIDE
from .shared import NAME, SharedFakeBatchSystem, SharedFakeHypervisor

DISTRIBUTION = "wnod-shared-fakes"
"""The name of the throw-away distribution that makes this module a plugin for a test's processes."""

_WHAT = "test tool (wnod_core.testing), never for production: a file-backed"


def _absolute(_inst: object, _attr: attrs.Attribute, value: str) -> None:
    if not os.path.isabs(value):
        raise ValueError(f"must be an absolute path, got {value!r}")


def _not_negative(_inst: object, _attr: attrs.Attribute, value: float) -> None:
    if value < 0:
        raise ValueError(f"must not be negative, got {value}")


_DIR_DOC = (
    "Directory of the shared fakes' state (one SQLite file, made if missing); every process"
    " whose fakes name the same directory sees one batch system and one hypervisor. Must be absolute."
)


@attrs.frozen
class SharedBatchOptions:
    """The keys of ``[batch.shared-fake]`` (a test tool)."""

    dir: str = documented(_DIR_DOC, validator=_absolute)


@attrs.frozen
class SharedHypervisorOptions:
    """The keys of ``[hypervisor.shared-fake]`` (a test tool)."""

    dir: str = documented(_DIR_DOC, validator=_absolute)
    auto_join: bool = documented(
        "When a VWN's domain starts, its batch daemon joins the shared batch system of the same"
        " directory under the VWN's hostname (and leaves it when the domain stops or is destroyed),"
        " as a real VWN's would.",
        default=False,
    )
    join_delay: Seconds = documented(
        "With auto_join, how long after its domain starts a VWN joins, like a boot taking that long.",
        default=Seconds(0),
        converter=parse_duration,
        validator=_not_negative,
    )


def shared_fakes_config(directory: "os.PathLike[str] | str", *, auto_join: bool = False, join_delay: str = "0s") -> str:
    """The ``[batch]`` and ``[hypervisor]`` sections of a site config that selects the shared fakes
    over `directory` (see the module's doc), for a test's ``wnod`` processes."""
    return (f'[batch]\nsystem = "{NAME}"\n\n[batch.{NAME}]\ndir = "{directory}"\n\n'
            f'[hypervisor]\nbackend = "{NAME}"\n\n[hypervisor.{NAME}]\ndir = "{directory}"\n'
            f'auto_join = {"true" if auto_join else "false"}\njoin_delay = "{join_delay}"\n')


def build_batch(setup: Setup[SharedBatchOptions]) -> SharedFakeBatchSystem:
    return SharedFakeBatchSystem(setup.options.dir)


def build_hypervisor(setup: Setup[SharedHypervisorOptions]) -> SharedFakeHypervisor:
    options = setup.options
    return SharedFakeHypervisor(
        options.dir, auto_join=options.auto_join, join_delay=float(options.join_delay)
    )


@hookimpl
def wnod_batch_systems() -> Iterator[BatchSystemPlugin]:
    yield BatchSystemPlugin(
        name=NAME, factory=build_batch, options=SharedBatchOptions, bait=BAIT_SIDE, summary=f"{_WHAT} batch system"
    )


@hookimpl
def wnod_hypervisors() -> Iterator[HypervisorPlugin]:
    yield HypervisorPlugin(
        name=NAME, factory=build_hypervisor, options=SharedHypervisorOptions, summary=f"{_WHAT} hypervisor"
    )
