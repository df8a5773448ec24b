"""The PBS adapter: wnod's ``BatchSystem`` over OpenPBS / PBS Professional or Torque commands.

How it keeps the interface's promises with PBS's own means:

- a VWN is closed with ``pbsnodes -o`` (offline), its comment (Torque: note) starting
  with ``wnod:``; PBS keeps an offline node's running jobs and sends it no new one;
- ``migrate`` takes the job off its bait (``qrerun``: the bait's prologue is still running
  it) and runs it at once on the VWN alone (``qrun -H``), bypassing the scheduler. OpenPBS
  runs a job on an offline vnode named with ``-H`` (qrun(8B)); Torque does not, so there
  the VWN is opened for the ``qrun`` and closed again right after;
- a job that is not rerunnable (``qsub -r n``, ``Rerunable = False``) is never taken off its
  host, though OpenPBS's ``qrerun -W force`` would (src/server/req_rerun.c): a rerun loses
  what it has done. ``migrate`` refuses it, ``hold`` and ``release`` leave it running and say so;
- the reason of ``hold`` and ``fail`` is the job's ``comment`` (``qalter -W comment=``),
  which its owner reads with ``qstat -f`` (after the end, OpenPBS ``qstat -fx``); PBS writes
  its own comments there too (see ``comments``);
- ``wnod bait`` runs from the MOM's prologue on the bait: its first argument is the job id,
  and a prologue exit status of 1 aborts the job, any other non-zero one requeues it
  (OpenPBS src/resmom/start_exec.c, Torque src/resmom/start_exec.c).
"""

import logging
import time
from collections.abc import Sequence

import attrs
from wnod_core.commands import Result, Tools
from wnod_core.errors import BatchSystemError, Garbled, JobNotFound
from wnod_core.interfaces import BatchHost, BatchSystem
from wnod_core.kits.accounts import account
from wnod_core.model import JobFacts, JobState

from . import comments, openpbs, torque
from .formats import NOT_ACCEPTING, NOT_JOINED, is_job_id, node_state_words, same_job
from .options import Flavour, PbsOptions, TorqueFormat
from .records import JobRecord, NodeRecord

NAME = "pbs"
"""The plugin's name, and the ``batch_system`` of the facts it reads."""

LOG = logging.getLogger("wnod.pbs")

CLOSED_MARK = "wnod:"
"""How a node comment (Torque: note) set by ``close_host`` begins."""
CLOSED_COMMENT = "wnod: reserved for the job wnod migrates to this VWN"

UNKNOWN_JOB = "Unknown Job Id"
"""PBSE_UNKJOBID's message, in OpenPBS ("Unknown Job Id") and Torque ("Unknown Job Id Error")."""
FINISHED_JOB = "Job has finished"
"""OpenPBS PBSE_HISTJOBID: the job is history, ``qstat -x`` shows it."""
UNKNOWN_NODE = "Unknown node"
NO_MOM = "could not connect to MOM"
"""PBSE_NORELYMOM's message ("Server could not connect to MOM"): the job's host does not answer."""


class JobFinished(BatchSystemError):
    """OpenPBS answered that the job has finished (it ended since wnod last looked)."""


class PbsBatchSystem(BatchSystem):
    """PBS as wnod drives it. Holds no state of its own: every answer comes from PBS."""

    name = NAME

    def __init__(self, options: PbsOptions, *, sleep=time.sleep, clock=time.monotonic) -> None:  # type: ignore[no-untyped-def]
        self.options = options
        self.runner = Tools(bin_dir=options.bin_dir, timeout=options.timeout, paths=options.commands)
        self._sleep = sleep
        self._clock = clock

    @property
    def torque(self) -> bool:
        return self.options.flavour is Flavour.TORQUE

    # -- running commands --------------------------------------------------------------------------

    def _run(self, command: str, *args: str) -> Result:
        return self.runner.run(command, *args)

    def _must(self, command: str, *args: str, job_id: str | None = None) -> Result:
        """Run a command that must succeed; a job PBS does not know is ``JobNotFound``."""
        return self._checked(self._run(command, *args), job_id)

    def _checked(self, result: Result, job_id: str | None) -> Result:
        if result.returncode != 0:
            if job_id is not None and UNKNOWN_JOB in result.stderr:
                raise JobNotFound(f"{result.command}: PBS does not know job {job_id} ({result.stderr.strip()})")
            if job_id is not None and FINISHED_JOB in result.stderr:
                raise JobFinished(result.message(f"job {job_id} finished meanwhile"))
            raise result.error("failed")
        return result

    # -- jobs --------------------------------------------------------------------------------------

    def _check_job_id(self, job_id: str) -> None:
        if not is_job_id(job_id):
            raise JobNotFound(f"{job_id!r} is not a PBS job id (sequence[.server], 123[4].server for a subjob)")

    def _qstat(self, job_id: str, history: bool = False) -> Result:
        if self.torque:
            args = ["-f", "-x"] if self.options.torque_format is TorqueFormat.XML else ["-f"]
        else:
            args = ["-f", "-F", "json"] + (["-x"] if history else [])
        return self._run("qstat", *args, job_id)

    def _parse_jobs(self, result: Result) -> dict[str, JobRecord]:
        try:
            if not self.torque:
                return openpbs.jobs(result.stdout)
            if self.options.torque_format is TorqueFormat.XML:
                return torque.jobs_xml(result.stdout)
            return torque.jobs_text(result.stdout)
        except Garbled as exc:
            raise result.error(f"unreadable output: {exc}") from None

    def _job(self, job_id: str) -> JobRecord | None:
        """The job as qstat shows it now; None when PBS does not know it."""
        self._check_job_id(job_id)
        result = self._qstat(job_id)
        if result.returncode != 0 and FINISHED_JOB in result.stderr and not self.torque:
            result = self._qstat(job_id, history=True)
        if result.returncode != 0:
            if UNKNOWN_JOB in result.stderr:
                return None
            raise result.error("failed")
        parsed = self._parse_jobs(result)
        found = [record for jid, record in parsed.items() if same_job(jid, job_id)]
        if len(found) > 1:
            raise result.error(f"several jobs answer to {job_id}")
        if not found:
            if not parsed:
                return None  # an empty answer: no such job
            raise result.error(f"job {job_id} is not in the output")
        return found[0]

    def _known_job(self, job_id: str) -> JobRecord:
        record = self._job(job_id)
        if record is None:
            raise JobNotFound(f"PBS does not know job {job_id}")
        return record

    def job_facts(self, job_id: str) -> JobFacts:
        record = self._known_job(job_id)
        try:
            facts = record.facts(self.name, self.options.vm_type_resource)
        except Garbled as exc:
            raise BatchSystemError(f"qstat -f {job_id}: unreadable job: {exc}") from None
        # Spelled as asked ("123" for "123.server"): the engine keys its records by it.
        return attrs.evolve(facts, job_id=job_id, uid=account(facts.user).uid)

    # -- hosts -------------------------------------------------------------------------------------

    def _check_host(self, hostname: str) -> None:
        if not hostname or not all(c.isalnum() or c in "-_." for c in hostname) or hostname[0] in "-.":
            raise BatchSystemError(f"{hostname!r} is not a host name PBS could know")

    def _nodes(self, *names: str) -> tuple[list[NodeRecord], set[str]]:
        """The named nodes (every node without names) and the names PBS does not know."""
        if self.torque:
            result = self._run("pbsnodes", "-x", *names)
        else:
            result = self._run("pbsnodes", *(["-v", *names] if names else ["-av"]), "-F", "json")
        if result.returncode != 0 or not result.stdout.strip():
            if "No nodes found" in result.stderr:
                return [], set(names)
            if names and UNKNOWN_NODE in result.stderr:
                return [], set(names)
            if result.returncode != 0:
                raise result.error("failed")
        try:
            if self.torque:
                return torque.nodes_xml(result.stdout), set()
            return openpbs.nodes(result.stdout)
        except Garbled as exc:
            raise result.error(f"unreadable output: {exc}") from None

    def _node(self, hostname: str) -> NodeRecord | None:
        self._check_host(hostname)
        records, _unknown = self._nodes(hostname)
        matches = [r for r in records if r.name == hostname]
        return matches[0] if matches else None

    def host_ready(self, hostname: str, since: float) -> bool:
        node = self._node(hostname)
        if node is None or set(node_state_words(node.state)) & NOT_JOINED:
            return False
        # A state held since before `since` is an earlier VWN's registration under the same name.
        return node.since is not None and node.since >= int(since)

    def hosts(self) -> Sequence[BatchHost]:
        records, _ = self._nodes()
        return [
            BatchHost(
                name=r.name,
                state=r.state,
                accepting=not set(node_state_words(r.state)) & NOT_ACCEPTING,
                jobs=r.jobs,
            )
            for r in records
        ]

    def _mark(self, hostname: str, *args: str) -> None:
        result = self._run("pbsnodes", *args, hostname)
        if result.returncode != 0:
            if UNKNOWN_NODE in result.stderr:
                raise result.error(
                    f"PBS does not know node {hostname}: declare every VWN host name beforehand"
                    f" (qmgr -c 'create node {hostname}')"
                )
            raise result.error("failed")

    def close_host(self, hostname: str) -> None:
        self._check_host(hostname)
        if self.torque:
            self._mark(hostname, "-o")
            self._mark(hostname, "-N", CLOSED_COMMENT)
        else:
            self._mark(hostname, "-o", "-C", CLOSED_COMMENT)

    def open_host(self, hostname: str) -> None:
        self._check_host(hostname)
        if self.torque:
            self._mark(hostname, "-c")
            self._mark(hostname, "-N", "")
        else:
            self._mark(hostname, "-r", "-C", "")

    # -- moving jobs -------------------------------------------------------------------------------

    def _rerun(self, job_id: str, record: JobRecord) -> None:
        """Take a running job off its host, back to the queue (held, if it has a hold). Callers
        never ask it of a job shown not rerunnable: see ``_left_running``."""
        if self.torque:
            # Torque's -f requeues a job whose MOM is gone, and never one that is not rerunnable.
            self._must("qrerun", "-f", job_id, job_id=job_id)
            return
        # Plain first: the server refuses a job that is not rerunnable, and -W force would not (it
        # requeues anything); force only for a job shown rerunnable whose host no longer answers.
        result = self._run("qrerun", job_id)
        if result.returncode != 0 and NO_MOM in result.stderr and record.rerunable:
            result = self._run("qrerun", "-W", "force", job_id)
        self._checked(result, job_id)

    def _left_running(self, job_id: str, record: JobRecord, reason: str, then: str) -> str:
        """What ``hold`` and ``release`` say of a job they leave running, not rerunnable."""
        where = ", ".join(record.hosts) or "its host"
        LOG.warning("job %s is not rerunnable (qsub -r n): left running on %s, not requeued (%s)", job_id, where,
                    reason)
        return f"not rerunnable: left running on {where}{then}"

    def _requeued(self, job_id: str) -> JobRecord:
        """After qrerun: wait for the job to be queued (or held) again."""
        deadline = self._clock() + self.options.requeue_timeout
        while True:
            record = self._known_job(job_id)
            if record.state.is_over:
                raise JobNotFound(f"job {job_id} ended while it was taken off its host ({record.state})")
            if record.state in (JobState.PENDING, JobState.HELD):
                return record
            if self._clock() >= deadline:
                raise BatchSystemError(
                    f"qrerun {job_id}: the job is still {record.job_state} on {record.exec_host or '?'}"
                    f" after {self.options.requeue_timeout:g}s"
                )
            self._sleep(0.2)

    def migrate(self, job_id: str, hostname: str) -> None:
        self._check_host(hostname)
        record = self._known_job(job_id)
        if record.state.is_over:
            raise JobNotFound(f"job {job_id} is over ({record.state}): nothing to migrate")
        if record.state in (JobState.RUNNING, JobState.SUSPENDED):
            if record.hosts == (hostname,):
                return
            if record.rerunable is False:
                raise BatchSystemError(
                    f"job {job_id} is not rerunnable (qsub -r n): PBS cannot take it off"
                    f" {', '.join(record.hosts) or 'its host'} without losing what it has done there, so it is not"
                    " moved to a VWN; submitted rerunnable (the default) it would be"
                )
            # Dispatched to its bait, whose prologue is running `wnod bait`: take it off.
            self._rerun(job_id, record)
            record = self._requeued(job_id)
        if record.state is JobState.HELD:
            raise BatchSystemError(
                f"job {job_id} is held (Hold_Types {record.hold_types}): release it before it can be migrated"
            )
        if self.torque:
            self._torque_run_on(job_id, hostname)
        else:
            self._must("qrun", "-H", f"({hostname})", job_id, job_id=job_id)

    def _torque_run_on(self, job_id: str, hostname: str) -> None:
        # Torque's qrun -H refuses an offline node (src/server/node_manager.c): open it for
        # the qrun alone. Its scheduler could dispatch another job there only in that moment.
        node = self._node(hostname)
        closed = node is not None and "offline" in node_state_words(node.state)
        if closed:
            self._mark(hostname, "-c")
        try:
            self._must("qrun", "-H", hostname, job_id, job_id=job_id)
        finally:
            if closed:
                self._mark(hostname, "-o")

    def release(self, job_id: str, reason: str) -> None:
        record = self._known_job(job_id)
        if record.state.is_over or record.state not in (JobState.RUNNING, JobState.SUSPENDED):
            return
        # Running on a VWN wnod gives up (it is going away): back to the queue, to run anywhere.
        # Its node is known by the comment close_host set: PBS's server writes its own ("node
        # down: ...") only over a comment it wrote itself, never over a manager's.
        for host in record.hosts:
            node = self._node(host)
            if node is not None and node.comment.startswith(CLOSED_MARK):
                if record.rerunable is False:
                    note = self._left_running(job_id, record, reason, "")
                    try:
                        self._must("qalter", "-W", comments.written(reason, note), job_id, job_id=job_id)
                    except JobFinished:
                        pass  # it ended meanwhile: nothing left running
                    return
                self._rerun(job_id, record)
                return

    def hold(self, job_id: str, reason: str) -> None:
        record = self._known_job(job_id)
        if record.state.is_over:
            raise BatchSystemError(f"job {job_id} is over ({record.state}): it cannot be held")
        # The comment last: OpenPBS's qhold writes its own ("Job held by root on ...") over it.
        if "o" not in record.hold_types:
            self._must("qhold", "-h", "o", job_id, job_id=job_id)
        note = ""
        if record.state in (JobState.RUNNING, JobState.SUSPENDED):
            # qhold(1B): a hold on a running job that cannot be checkpointed waits for a rerun.
            if record.rerunable is False:
                note = self._left_running(job_id, record, reason, ", held once PBS requeues it")
            else:
                self._rerun(job_id, record)
        self._must("qalter", "-W", comments.written(reason, note), job_id, job_id=job_id)

    def fail(self, job_id: str, reason: str) -> None:
        record = self._job(job_id)
        if record is None:
            raise JobNotFound(f"PBS does not know job {job_id}")
        if record.state.is_over:
            return  # ended already: fail is idempotent
        try:
            # The reason first: qdel ends a queued job at once, and appends to the comment what
            # PBS says of the end, which the facts' reason reads past.
            self._must("qalter", "-W", comments.written(reason), job_id, job_id=job_id)
            self._must("qdel", job_id, job_id=job_id)
        except JobFinished:
            return  # it ended between the two commands: over, as asked

