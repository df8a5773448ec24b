"""The toyq adapter: the engine's batch system, one toyq command a method (README.md).

toyq's exit code says what happened, whatever the command: 0 done, 1 refused (why, on stderr),
2 no such job, 3 the job has ended. The kit's ``Tools`` runs each command with the timeout and
never through a shell; ``Result.error`` names the command and quotes what toyq said.
"""

from collections.abc import Callable, Sequence
from typing import TypeVar

import attrs
from wnod_core.commands import Result, Tools
from wnod_core.errors import BatchSystemError, Garbled, JobNotFound
from wnod_core.interfaces import BatchHost, BatchSystem
from wnod_core.kits.accounts import Account, account
from wnod_core.model import JobFacts
from wnod_core.text import on_one_line

from . import NAME, parse
from .options import ToyqOptions

NO_SUCH_JOB = 2
JOB_ENDED = 3
COMMENT_MAX = 200
"""toyq keeps a job's comment on one line of at most 200 characters."""

T = TypeVar("T")


class ToyqBatchSystem(BatchSystem):
    """toyq, through its commands. Keeps nothing in memory: toyq's word is the only record, so
    it is safe from the engine's threads and across restarts."""

    name = NAME

    def __init__(self, options: ToyqOptions, *, accounts: Callable[[str], Account] = account) -> None:
        self.options = options
        # A user's TOYQ_FORMAT would change what --json prints: the adapter reads toyq's own.
        self.tools = Tools(bin_dir=options.bin_dir, timeout=options.timeout, drop_env_prefixes=("TOYQ_FORMAT",))
        self._accounts = accounts
        """toyq names a job's owner but not their groups: NSS gives them, as on the worker nodes."""

    # -- jobs --------------------------------------------------------------------------------------

    def job_facts(self, job_id: str) -> JobFacts:
        result = self._on_job("show", job_id, "--json").check()
        facts = _read(result, parse.job)
        if facts.job_id != job_id:
            raise result.error(f"answered for job {facts.job_id}, not {job_id}")
        owner = self._accounts(facts.user)
        return attrs.evolve(facts, uid=owner.uid, groups=owner.groups)

    def migrate(self, job_id: str, hostname: str) -> None:
        # toyq's bind is migrate: the job may start on that host only; a running one (on its
        # bait) is requeued to get there, its hook left to end; binding it again changes nothing.
        result = self._on_job("bind", job_id, _host(hostname))
        if result.returncode == JOB_ENDED:
            raise JobNotFound(result.message("the job has ended: it cannot move"))
        result.check()

    def release(self, job_id: str, reason: str) -> None:
        # unbind drops the binding, lets a held job go and takes a job off the host it was bound
        # to; a job running on its bait stays there (the hook's answer says what becomes of it).
        result = self._on_job("unbind", job_id, _comment(reason))
        if result.returncode != JOB_ENDED:  # an ended job has nothing left to give back
            result.check()

    def hold(self, job_id: str, reason: str) -> None:
        # Holding a held job again only sets its comment: idempotent as toyq stands.
        self._on_job("hold", job_id, _comment(reason)).check()

    def fail(self, job_id: str, reason: str) -> None:
        result = self._on_job("cancel", job_id, _comment(reason))
        if result.returncode != JOB_ENDED:  # ended already, by an earlier fail or otherwise
            result.check()

    # -- hosts -------------------------------------------------------------------------------------

    def host_ready(self, hostname: str, since: float) -> bool:
        name = _host(hostname)
        joined = next((joined for host, joined in self._hosts() if host.name == name), None)
        # A join from before `since` is an earlier VWN's under the same name. toyq stamps joins
        # to the second, so `since` is too: a join in the same second counts.
        return joined is not None and joined >= int(since)

    def close_host(self, hostname: str) -> None:
        # toyq remembers a close of a host that has not joined yet: wnod may close a VWN early.
        self.tools.check("toyq", "host", "close", _host(hostname))

    def open_host(self, hostname: str) -> None:
        self.tools.check("toyq", "host", "open", _host(hostname))

    def hosts(self) -> Sequence[BatchHost]:
        return [host for host, _joined in self._hosts()]

    def _hosts(self) -> list[tuple[BatchHost, int | None]]:
        return _read(self.tools.check("toyq", "hosts", "--json"), parse.hosts)

    # -- inside ------------------------------------------------------------------------------------

    def _on_job(self, verb: str, job_id: str, *args: str) -> Result:
        """``toyq VERB JOB ARGS``, however it exited, but for "no such job" (exit 2): JobNotFound."""
        try:
            parse.job_id(job_id)
        except Garbled:
            raise JobNotFound(f"toyq: no job {job_id!r}: toyq's job ids are numbers") from None
        result = self.tools.run("toyq", verb, job_id, *args)
        if result.returncode == NO_SUCH_JOB:
            raise JobNotFound(result.message("no such job"))
        return result


def _read(result: Result, reader: Callable[[str], T]) -> T:
    try:
        return reader(result.stdout)
    except Garbled as exc:
        raise BatchSystemError(f"toyq: `{result.command}` printed what wnod cannot read: {exc}") from None


def _host(hostname: str) -> str:
    try:
        return parse.host_name(hostname)
    except Garbled as exc:
        raise BatchSystemError(f"toyq: not a host toyq could know: {exc}") from None


def _comment(reason: str) -> str:
    # toyq refuses an empty comment; a job's comment is one line.
    return on_one_line(reason, COMMENT_MAX) or "wnod"
