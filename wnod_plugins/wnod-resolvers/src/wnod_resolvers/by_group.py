"""``by-group``: the job owner's unix groups pick the VM type, in the order the admin listed them."""

from collections.abc import Mapping

import attrs
from wnod_core.interfaces import Resolver
from wnod_core.model import JobFacts, Resolved
from wnod_core.model.fields import documented
from wnod_core.records import Setup

from .known_types import checked_map


@attrs.frozen
class ByGroupOptions:
    """`[[resolvers]] use = "by-group"`."""

    map: dict[str, str] = documented(
        'Unix group to VM type, e.g. `{ atlas = "atlas", cms = "cms" }`. The order of the map is its'
        " priority: a user in several listed groups gets the type of the group listed first, whatever"
        " the order of the user's own groups. Names are matched exactly, case included. Users in none of"
        " the groups are left to the next resolver."
    )


@attrs.frozen
class ByGroup(Resolver):
    types_by_group: Mapping[str, str]
    """In the admin's order, which is the priority: TOML tables keep their order when read."""

    def resolve(self, job: JobFacts) -> Resolved | None:
        groups = set(job.groups)
        for group, vm_type in self.types_by_group.items():
            if group in groups:
                return Resolved(
                    vm_type, f'group {group} (of user {job.user}) is mapped to VM type "{vm_type}"'
                )
        return None


def build(setup: Setup[ByGroupOptions]) -> ByGroup:
    return ByGroup(checked_map(setup, setup.options.map))
