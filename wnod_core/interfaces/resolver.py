"""The interface of a VM-type resolver."""

import abc

from ..model import Decision, JobFacts


class Resolver(abc.ABC):
    """Decides which VM type a job runs in, or refuses it, or passes.

    Resolvers form a chain configured by the site; the first that answers wins.
    """

    @abc.abstractmethod
    def resolve(self, job: JobFacts) -> Decision | None:
        """Decide for `job`.

        Args:
            job: facts read from the batch system. Decide on these only — never on
                the job's environment, the caller's environment, or files the job's
                owner can write.

        Returns:
            ``Resolved(vm_type, reason)`` to choose a type (it must be one of the
            VM types the resolver was set up with), ``Refused(reason)`` to stop the
            chain and refuse the job (the reason reaches the job's owner), or None
            when this resolver has no opinion and the next one should decide.

        Raises:
            Nothing for an ordinary job. A resolver backed by an outside source
            (a file, a directory service) raises ``WnodError`` with a clear message
            when that source cannot be read; the chain then refuses the job with it.

        Must be deterministic and side-effect free: same facts, same answer. It is
        called from worker threads and by ``wnod resolve`` dry runs.
        """
