"""``requested``: the VM type a job asks for, when site policy lets its owner ask for it.

The job's owner asked explicitly, so a request the policy forbids is refused with
the reason rather than quietly passed on: running the job elsewhere than asked would
surprise its owner more than a clear refusal.
"""

from collections.abc import Mapping
from types import MappingProxyType

import attrs
from wnod_core.errors import ConfigError, Problem
from wnod_core.interfaces import Resolver
from wnod_core.model import Decision, JobFacts, Refused, Resolved
from wnod_core.model.fields import documented
from wnod_core.records import Setup
from wnod_core.text import did_you_mean

from .known_types import type_problems

EVERYONE = "*"
"""In ``users``: every user may ask. No unix user can be named so."""


@attrs.frozen
class Permit:
    """Who may ask for one VM type."""

    users: tuple[str, ...] = documented(
        f'User names that may ask for it; "{EVERYONE}" lets every user ask.', default=()
    )
    groups: tuple[str, ...] = documented("Unix groups whose members may ask for it.", default=())

    def admits(self, job: JobFacts) -> str | None:
        """Who lets the job's owner ask, in words for the reason; None when nobody does."""
        if job.user in self.users:
            return f"user {job.user}"
        if EVERYONE in self.users:
            return "every user"
        for group in job.groups:
            if group in self.groups:
                return f"group {group}"
        return None


@attrs.frozen
class RequestedOptions:
    """`[[resolvers]] use = "requested"`."""

    allow: dict[str, Permit] = documented(
        'For each VM type that jobs may ask for, who may: `users` (user names; `"*"` for every user)'
        " and `groups` (unix groups whose members may), e.g."
        ' `allow.atlas = { users = ["alice"], groups = ["atlas"] }`, `allow.el9 = { users = ["*"] }`.'
        " A job asking for a type not listed here, or listed for others only, is refused with the"
        " reason; a job asking for nothing is left to the next resolver. Names are matched exactly."
    )


@attrs.frozen
class Requested(Resolver):
    permits: Mapping[str, Permit]
    vm_types: frozenset[str]
    """Every configured type, to tell a request for a type that does not exist from a forbidden one."""

    def resolve(self, job: JobFacts) -> Decision | None:
        wanted = job.requested_vm_type
        if not wanted:
            return None
        mine = self.may_ask_for(job)
        if wanted not in self.vm_types:
            return Refused(
                f'user {job.user} asked for VM type "{wanted}", which this site does not have'
                f"{did_you_mean(wanted, mine)}; {_choices(job, mine)}"
            )
        permit = self.permits.get(wanted)
        who = permit.admits(job) if permit is not None else None
        if who is None:
            return Refused(f'user {job.user} may not ask for VM type "{wanted}"; {_choices(job, mine)}')
        return Resolved(wanted, f'user {job.user} asked for VM type "{wanted}", which {who} may ask for')

    def may_ask_for(self, job: JobFacts) -> list[str]:
        return sorted(name for name, permit in self.permits.items() if permit.admits(job) is not None)


def _choices(job: JobFacts, mine: list[str]) -> str:
    if not mine:
        return f"{job.user} may not ask for any VM type here"
    return f"{job.user} may ask for: {', '.join(mine)}"


def build(setup: Setup[RequestedOptions]) -> Requested:
    allow = setup.options.allow
    problems = type_problems(((f"{setup.path}.allow.{name}", name) for name in allow), setup.vm_types)
    for name, permit in allow.items():
        problems.extend(_permit_problems(permit, f"{setup.path}.allow.{name}"))
    if problems:
        raise ConfigError(problems)
    return Requested(MappingProxyType(dict(allow)), frozenset(setup.vm_types))


def _permit_problems(permit: Permit, path: str) -> list[Problem]:
    # Both are silent mistakes at run time (nobody can ever ask), so they are caught here.
    if not permit.users and not permit.groups:
        return [
            Problem(
                path,
                "names no users and no groups, so nobody could ask for this type; list some or remove it",
            )
        ]
    return [
        Problem(
            f"{path}.groups[{index}]",
            f'no group is named "{EVERYONE}": to let every user ask, write users = ["{EVERYONE}"]',
        )
        for index, group in enumerate(permit.groups)
        if group == EVERYONE
    ]
