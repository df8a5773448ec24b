"""``default``: one VM type for every job that reaches it; the last link of a chain."""

import attrs
from wnod_core.interfaces import Resolver
from wnod_core.model import JobFacts, Resolved
from wnod_core.model.fields import documented
from wnod_core.records import Setup

from .known_types import check_types


@attrs.frozen
class DefaultOptions:
    """`[[resolvers]] use = "default"`."""

    vm_type: str = documented(
        "The VM type of every job that reaches this resolver. It answers every job, so put it last:"
        " resolvers after it are never asked."
    )


@attrs.frozen
class Default(Resolver):
    vm_type: str

    def resolve(self, job: JobFacts) -> Resolved:
        return Resolved(self.vm_type, f'user {job.user} gets this site\'s default VM type "{self.vm_type}"')


def build(setup: Setup[DefaultOptions]) -> Default:
    check_types([(f"{setup.path}.vm_type", setup.options.vm_type)], setup.vm_types)
    return Default(setup.options.vm_type)
