"""``by-user``: the job owner's unix user name picks the VM type."""

from collections.abc import Mapping

import attrs
from wnod_core.interfaces import Resolver
from wnod_core.model import JobFacts, Resolved
from wnod_core.model.fields import documented
from wnod_core.records import Setup

from .known_types import checked_map


@attrs.frozen
class ByUserOptions:
    """`[[resolvers]] use = "by-user"`."""

    map: dict[str, str] = documented(
        'Unix user name to VM type, e.g. `{ alice = "atlas", bob = "cms" }`. Names are matched exactly,'
        " case included, as unix does. Users not listed are left to the next resolver."
    )


@attrs.frozen
class ByUser(Resolver):
    types_by_user: Mapping[str, str]

    def resolve(self, job: JobFacts) -> Resolved | None:
        vm_type = self.types_by_user.get(job.user)
        if vm_type is None:
            return None
        return Resolved(vm_type, f'user {job.user} is mapped to VM type "{vm_type}"')


def build(setup: Setup[ByUserOptions]) -> ByUser:
    return ByUser(checked_map(setup, setup.options.map))
