"""What this distribution registers with wnod, through its ``wnod`` entry point."""

from collections.abc import Iterator

from wnod_core import hookimpl
from wnod_core.records import ResolverPlugin

from .options import GroupFileOptions
from .resolver import GroupFileResolver


@hookimpl
def wnod_resolvers() -> Iterator[ResolverPlugin]:
    yield ResolverPlugin(
        name="groupfile",
        factory=GroupFileResolver.from_setup,
        options=GroupFileOptions,
        summary="VM type by the owner's unix groups, from a CSV file the site maintains.",
    )
