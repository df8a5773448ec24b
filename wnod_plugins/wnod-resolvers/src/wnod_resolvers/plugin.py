"""The entry point the core loads: declares the standard resolvers; the site's chain decides their use."""

from collections.abc import Iterator

# Imported by name, not as `import wnod_core`: the core takes every module attribute
# starting with "wnod_" for a hook implementation and refuses a plugin with unknown ones.
from wnod_core import hookimpl
from wnod_core.records import ResolverPlugin

from . import by_group, by_queue, by_user, default, requested


@hookimpl
def wnod_resolvers() -> Iterator[ResolverPlugin]:
    yield ResolverPlugin(
        name="by-user",
        factory=by_user.build,
        options=by_user.ByUserOptions,
        summary="Maps the job owner's unix user name to a VM type.",
    )
    yield ResolverPlugin(
        name="by-group",
        factory=by_group.build,
        options=by_group.ByGroupOptions,
        summary="Maps the job owner's unix groups to a VM type; the first listed group the user is in wins.",
    )
    yield ResolverPlugin(
        name="by-queue",
        factory=by_queue.build,
        options=by_queue.ByQueueOptions,
        summary="Maps the job's queue (partition, pool) to a VM type.",
    )
    yield ResolverPlugin(
        name="requested",
        factory=requested.build,
        options=requested.RequestedOptions,
        summary="Honours the VM type a job asks for if site policy lets its owner ask; refuses it otherwise.",
    )
    yield ResolverPlugin(
        name="default",
        factory=default.build,
        options=default.DefaultOptions,
        summary="Gives every job that reaches it one VM type; put it last in the chain.",
    )
