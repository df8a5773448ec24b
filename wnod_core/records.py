"""The records plugins register: small frozen values the core validates and indexes.

A plugin declares what it provides by yielding these from its registration hooks;
the core decides which to use from the site's configuration.
"""

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Generic, TypeVar

import attrs

from .interfaces import BaitSide, BatchSystem, Hypervisor, Resolver
from .model import VmType
from .model.vmtype import check_name

Options = TypeVar("Options")


def normalise_name(value: object) -> str:
    """Plugin names are compared in one spelling: lowercase, '-' for '_', no spaces."""
    if not isinstance(value, str):
        raise TypeError(f"plugin name must be a string, got {value!r}")
    return check_name(value.strip().lower().replace("_", "-"), "plugin name")


def _options_class(_inst: object, _attr: attrs.Attribute, value: object) -> None:
    if value is not None and not attrs.has(value):  # type: ignore[arg-type]
        raise TypeError(f"options must be an attrs class describing the plugin's config section, got {value!r}")


@attrs.frozen
class Dirs:
    """Where wnod keeps its files on this host."""

    state: Path
    """Records that must survive restarts (the VWN and job database, accounting)."""
    cache: Path
    """What can be rebuilt (downloaded kernels, built images)."""
    runtime: Path
    """The daemon's socket and what else lives only while it runs; gone at reboot."""


@attrs.frozen
class Setup(Generic[Options]):
    """What a plugin's factory receives to build its object."""

    options: Options
    """The plugin's config section, structured into its options class (None without one)."""
    path: str
    """Where that section is in the config, e.g. ``batch.slurm`` or ``resolvers[2]``: put it in errors."""
    vm_types: Mapping[str, VmType]
    host: str
    """This hypervisor host's name."""
    dirs: Dirs


@attrs.frozen(kw_only=True)
class _Registration:
    name: str = attrs.field(converter=normalise_name)
    factory: Callable[[Setup[Any]], Any]
    options: type | None = attrs.field(default=None, validator=_options_class)
    """An attrs class for the plugin's config section; fields documented with
    ``wnod_core.model.fields.documented`` appear in the configuration reference."""
    summary: str = ""
    """One line for ``wnod config reference`` and the docs."""


@attrs.frozen(kw_only=True)
class BatchSystemPlugin(_Registration):
    """A batch-system adapter: ``factory(setup)`` returns a ``BatchSystem``; ``bait`` is its bait
    side, what ``wnod bait`` reads from the job-start hook and answers it.

    Selected by ``[batch] system = "<name>"``; options come from ``[batch.<name>]``.
    """

    factory: Callable[[Setup[Any]], BatchSystem]
    bait: BaitSide = attrs.field(validator=attrs.validators.instance_of(BaitSide))
    """What ``wnod bait`` uses on the bait, where it builds no adapter and reads no batch configuration."""


@attrs.frozen(kw_only=True)
class HypervisorPlugin(_Registration):
    """A hypervisor backend: ``factory(setup)`` returns a ``Hypervisor``.

    Selected by ``[hypervisor] backend = "<name>"``; options come from ``[hypervisor.<name>]``.
    """

    factory: Callable[[Setup[Any]], Hypervisor]


@attrs.frozen(kw_only=True)
class ResolverPlugin(_Registration):
    """A VM-type resolver: ``factory(setup)`` returns a ``Resolver``.

    Used by ``[[resolvers]] use = "<name>"``; its options are the other keys of that table.
    """

    factory: Callable[[Setup[Any]], Resolver]


KINDS: dict[str, type[_Registration]] = {
    "batch_systems": BatchSystemPlugin,
    "hypervisors": HypervisorPlugin,
    "resolvers": ResolverPlugin,
}
"""Each kind of plugin, by the word used in config, docs and ``wnod plugins --json``."""
