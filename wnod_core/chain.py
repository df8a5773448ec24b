"""The site's chain of VM-type resolvers: the first that answers decides."""

from collections.abc import Mapping, Sequence

import attrs

from .errors import PluginError, WnodError
from .interfaces import Resolver
from .model import Decision, JobFacts, Refused, Resolved, VmType


@attrs.frozen
class Link:
    label: str
    """How the link is named in decisions, e.g. ``by-group (resolvers[1])``."""
    resolver: Resolver


class ResolverChain:
    def __init__(self, links: Sequence[Link], vm_types: Mapping[str, VmType]):
        self.links = tuple(links)
        self._vm_types = vm_types

    def resolve(self, job: JobFacts) -> Decision:
        """Always a decision: a type, or a refusal whose reason the job's owner can act on.

        A resolver whose outside source fails (a ``WnodError``) refuses the job with that
        error; a resolver that answers garbage is a plugin bug and raises ``PluginError``.
        """
        for link in self.links:
            try:
                decision = link.resolver.resolve(job)
            except WnodError as exc:
                return Refused(f"resolver {link.label} could not decide: {exc}", resolver=link.label)
            if decision is None:
                continue
            if isinstance(decision, Resolved):
                if decision.vm_type not in self._vm_types:
                    raise PluginError(
                        f'resolver {link.label} chose VM type "{decision.vm_type}", which is not configured'
                    )
                return attrs.evolve(decision, resolver=link.label)
            if isinstance(decision, Refused):
                return attrs.evolve(decision, resolver=link.label)
            raise PluginError(f"resolver {link.label} answered {decision!r}, expected Resolved, Refused or None")
        return Refused(_nobody_answered(job, bool(self.links)))


def _nobody_answered(job: JobFacts, any_links: bool) -> str:
    who = f"user {job.user}"
    if job.groups:
        who += f" (groups {', '.join(job.groups)})"
    if job.queue:
        who += f" in queue {job.queue}"
    if job.requested_vm_type:
        who += f' asking for VM type "{job.requested_vm_type}"'
    if not any_links:
        return f"no VM type for {who}: this host has no resolvers configured"
    return f"no VM type for {who}: no resolver of this site maps such jobs to a VM type"
