"""The interface of a batch-system adapter (Slurm, LSF, PBS, HTCondor, ...)."""

import abc
from collections.abc import Sequence

import attrs

from ..model import JobFacts


@attrs.frozen
class BatchHost:
    """A host as the batch system sees it (``wnod batch hosts``)."""

    name: str
    state: str
    """The batch system's own word for the host's state ("idle", "closed_Adm", "free", ...)."""
    accepting: bool
    """Whether new jobs may be dispatched to it now."""
    jobs: tuple[str, ...] = ()


class BatchSystem(abc.ABC):
    """One batch system, as the engine drives it.

    Every method may block (commands run with timeouts); the engine calls them from
    worker threads. Every method raises ``BatchSystemError`` (naming the command and
    quoting its output) when the batch system refuses or answers garbage; never
    anything else for a failure of the batch system.
    """

    @abc.abstractmethod
    def job_facts(self, job_id: str) -> JobFacts:
        """The batch system's authoritative facts about a job.

        Raises ``JobNotFound`` when the system does not know it.
        """

    @abc.abstractmethod
    def host_ready(self, hostname: str, since: float) -> bool:
        """Whether the VWN `hostname` made at `since` (unix time) has joined the batch system and
        can take its job.

        False (not an error) while it has not registered yet. Host names come from slots and are
        reused: a registration from before `since` is an earlier VWN's under the same name (the
        batch system may show a gone host registered for minutes), and must not count. Each
        adapter tells incarnations apart with what its system shows (Slurm: slurmd's start time;
        PBS: the node's last state change; HTCondor: the startd's DaemonStartTime); one whose
        system shows no such time counts only a registration it saw begin after `since`.
        """

    @abc.abstractmethod
    def migrate(self, job_id: str, hostname: str) -> None:
        """Bind the job to the VWN `hostname` only and have it dispatched there.

        Afterwards the job can start on that host and on no other. Idempotent: a
        second call with the same arguments changes nothing.
        Raises ``JobNotFound`` if the job is gone (cancelled meanwhile).

        The engine calls it while the job's bait hook still runs: ``wnod bait`` is waiting for
        the answer. So it must not wait for that hook to end, nor kill it; it takes the job off
        its bait as the system allows (a requeue that lands once the hook returns, a forced rerun
        that leaves the hook be) and returns, and the hook's answer (``MIGRATED``) tells the
        batch system not to run this dispatch. It acts on the job wherever it runs: the engine
        calls it only for a job it saw on this host's bait.
        """

    @abc.abstractmethod
    def close_host(self, hostname: str) -> None:
        """Stop new jobs from being dispatched to `hostname`. Idempotent."""

    @abc.abstractmethod
    def open_host(self, hostname: str) -> None:
        """Let jobs be dispatched to `hostname` again. Idempotent."""

    def steer(self, hostname: str, weight: int) -> bool:
        """Have the batch system send jobs to bait `hostname` before baits of a greater `weight`
        (1 to ``engine.steering.FULL``; set again whenever the host's VWNs change it). Idempotent.

        False when this batch system has no such order (this default): the engine stops asking.
        An adapter that can (Slurm: the node's Weight) returns True once the system took it.
        """
        return False

    def reserve_cpus(self, node: str, name: str, cpus: int) -> bool:
        """Keep `cpus` CPUs of `node` (the host's node for bare-metal jobs: mixed mode) from its
        batch jobs under reservation `name` (a VWN's id), until ``end_reservation``. Idempotent: a
        reservation of that name already there is kept as it is.

        Raises ``BatchSystemError``, reserving nothing, when the node's jobs leave fewer than
        `cpus` free: the VWN is not started, its job goes elsewhere. False when this batch system
        cannot reserve (this default). Slurm: a reservation of the node's CPUs (TRES=cpu=N).
        """
        return False

    def end_reservation(self, node: str, name: str) -> None:  # noqa: B027 - optional, as reserve_cpus
        """End reservation `name` on `node`, if it is there: its CPUs go back to the node's jobs."""

    def reservations(self, node: str) -> Sequence[str]:
        """The names of the reservations ``reserve_cpus`` made on `node` that are there now: what a
        round checks against the VWNs that need one (a crash may leave one, or lose one)."""
        return ()

    @abc.abstractmethod
    def release(self, job_id: str, reason: str) -> None:
        """Give the job back to normal scheduling: drop any binding wnod made. Idempotent.

        A job already running on the host ``migrate`` bound it to (a VWN wnod gave up on, or
        lost) is taken off it, back to pending: it must not go on running where wnod no longer
        keeps a VWN for it. A job running on its bait is left there (the hook's answer says
        what becomes of it). Raises ``JobNotFound`` when the system does not know the job.

        One call for a job put back to pending and for one let run outside a VWN: they differ
        only on the bait, while its hook still runs, and there the hook's answer (``RETRY``,
        ``RELEASED``) tells the batch system which; off the bait both come to the same (unbound,
        off any VWN, scheduled as usual). A separate ``requeue`` would be this method twice.
        """

    @abc.abstractmethod
    def hold(self, job_id: str, reason: str) -> None:
        """Hold the job with `reason` visible to its owner. Idempotent.

        The engine holds a job whose bait hook still runs (``engine.on_boot_failure = "hold"``):
        it leaves the bait, held, and this dispatch does not run it. Released by the admin, it
        is an ordinary pending job again. Raises ``JobNotFound`` when the system does not know the job.
        """

    @abc.abstractmethod
    def fail(self, job_id: str, reason: str) -> None:
        """End the job without running it, with `reason` visible to its owner. Idempotent for a
        job the system still shows ended; raises ``JobNotFound`` for one it does not know (never
        submitted, or forgotten once it ended): the engine takes that as gone, never as failed here."""

    @abc.abstractmethod
    def hosts(self) -> Sequence[BatchHost]:
        """Every execution host the batch system knows, for the admin."""
