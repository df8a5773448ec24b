"""The Slurm adapter: wnod's batch-system interface over squeue, sinfo, scontrol and scancel.

How a VWN is kept for its job (tried on Slurm 22.05, see docs/slurm.md):

- VWN nodes are declared in slurm.conf in a partition of their own (``vwn_partition``,
  ``Hidden=YES``) and in no partition users submit to.
- ``close_host`` drains the node (``State=DRAIN``, reason ``wnod: closed``): nothing starts
  there, before its slurmd has even registered.
- ``migrate`` makes a reservation ``wnod-<node>`` on the node for the job's owner, then
  moves the job into the VWN partition with ``ReqNodeList=<node>`` and
  ``Reservation=wnod-<node>``, then resumes the node (a job that ended meanwhile leaves it
  closed). A job that does not name the reservation cannot start
  on a reserved node, and only the owner may name it; the bound job can start nowhere else.
  A RootOnly or AllowGroups partition does NOT do: Slurm then refuses to schedule the
  user's job there at all (reason PartitionConfig), even when root moved it in.
- A job migrated while its bait's Prolog runs is requeued held, bound, and released; Slurm
  completes the requeue when the Prolog ends, then holds the job for its credential
  lifetime (120 s) before it may start again. ``hasten_for`` seconds long a thread watches
  for that and starts it at once (``StartTime=now``): the requeue delay guards the bait's
  revoked credential, which the VWN never sees.
- What wnod did is written in the job's ``AdminComment`` (only admins can set it, its owner
  can read it in ``scontrol show job``): ``wnod: <why> [from=<partition>]``. The partition it
  came from is how ``release`` gives it back.
"""

import logging
import re
import threading
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

from wnod_core.commands import Result, Tools, quote
from wnod_core.errors import BatchSystemError, Garbled, JobNotFound
from wnod_core.interfaces import BatchHost, BatchSystem
from wnod_core.kits.accounts import account
from wnod_core.model import JobFacts, JobState
from wnod_core.text import on_one_line

from .commands import tools
from .options import SlurmOptions
from .parse import (
    REQUEUE_HELD,
    SlurmJob,
    SlurmNode,
    expand_hostlist,
    jobs_from_json,
    jobs_from_text,
    nodes_from_json,
)

LOG = logging.getLogger("wnod.slurm")

NAME = "slurm"

_NOT_FOUND = re.compile(r"invalid job id|job id .* not found|unknown job", re.IGNORECASE)
_FINISHED = re.compile(r"already finished|already completed", re.IGNORECASE)
_FROM = re.compile(r"\s*\[from=([A-Za-z0-9_.-]+)\]\s*\Z")
_VERSION = re.compile(r"(\d+)\.(\d+)")
_WNOD_HOLDS = frozenset({"JobHeldAdmin", REQUEUE_HELD})
_ON_NODES = (JobState.RUNNING, JobState.SUSPENDED)
COMMENT_MAX = 400

T = TypeVar("T")


def _read(result: Result, reader: Callable[[str], T]) -> T:
    """What `reader` makes of the command's output; garbled, a BatchSystemError quoting it."""
    try:
        return reader(result.stdout)
    except Garbled as exc:
        raise BatchSystemError(
            f"{result.command}: printed what wnod cannot read ({exc}): {quote(result.stdout)}"
        ) from None


class SlurmBatchSystem(BatchSystem):
    name = NAME

    def __init__(self, options: SlurmOptions, path: str = "batch.slurm", runner: Tools | None = None):
        self.options = options
        self.path = path
        self.runner = runner or tools(options.command_timeout, options.slurm_conf)
        self._source = "" if options.facts_source == "auto" else options.facts_source
        self._lock = threading.Lock()
        self._hastening: set[str] = set()

    # -- reading ---------------------------------------------------------------------------------

    def facts_source(self) -> str:
        """Which command reads job facts; ``auto`` asks ``scontrol --version`` once."""
        with self._lock:
            if not self._source:
                result = self.runner.check(self.options.scontrol, "--version", what="asking which Slurm this is")
                m = _VERSION.search(result.stdout)
                if not m:
                    raise BatchSystemError(
                        f"{result.command}: printed no version: {quote(result.output)}")
                version = (int(m.group(1)), int(m.group(2)))
                self._source = (
                    "scontrol-json" if version >= (23, 2) else "squeue-json" if version >= (21, 8) else "scontrol-text"
                )
            return self._source

    def _job_command(self, job_id: str) -> list[str]:
        o = self.options
        source = self.facts_source()
        if source == "scontrol-json":
            return [o.scontrol, "--all", "show", "job", job_id, "--json"]
        if source == "squeue-json":
            return [o.squeue, "--all", "--json", "--jobs", job_id]
        return [o.scontrol, "--all", "--oneliner", "show", "job", job_id]

    def _read_jobs(self, result: Result) -> list[SlurmJob]:
        return _read(result, jobs_from_json if "--json" in result.argv else jobs_from_text)

    def _job(self, job_id: str) -> SlurmJob:
        if not re.fullmatch(r"\d+(_\d+)?", job_id or ""):
            raise JobNotFound(f"{job_id!r} is not a Slurm job id")
        result = self.runner.run(*self._job_command(job_id))
        if result.returncode:
            if _NOT_FOUND.search(result.output):
                raise JobNotFound(f"Slurm does not know job {job_id} (`{result.command}`)")
            raise result.error(f"failed reading job {job_id}")
        jobs = [j for j in self._read_jobs(result) if j.job_id == job_id]
        if not jobs:
            raise JobNotFound(f"Slurm does not know job {job_id} (`{result.command}` lists no such job)")
        return jobs[0]

    def _live_job(self, job_id: str) -> SlurmJob:
        job = self._job(job_id)
        if job.state.is_over:
            raise JobNotFound(f"job {job_id} is already {job.state} ({'+'.join(job.states)})")
        return job

    def _from_partition(self, job: SlurmJob) -> str:
        """The partition the job was submitted to, before wnod moved it."""
        m = _FROM.search(job.admin_comment)
        if m and job.admin_comment.startswith("wnod"):
            return m.group(1)
        return job.partition

    def _wnod_note(self, job: SlurmJob) -> str:
        if not job.admin_comment.startswith("wnod"):
            return ""
        return _FROM.sub("", job.admin_comment)

    def job_facts(self, job_id: str) -> JobFacts:
        job = self._job(job_id)
        note = self._wnod_note(job)
        reason = "; ".join(r for r in (job.reason if job.reason != "None" else "", note) if r)
        return JobFacts(
            batch_system=NAME,
            job_id=job.job_id,
            user=job.user,
            uid=job.uid,
            groups=account(job.user, job.group, job.gid).groups,
            queue=self._from_partition(job),
            cpus=job.cpus,
            memory=job.memory,
            walltime=job.walltime,
            requested_vm_type=self._requested(job.comment),
            state=job.state,
            exec_hosts=job.nodes if job.state in (*_ON_NODES, *(s for s in JobState if s.is_over)) else (),
            reason=reason,
            movable=job.requeue is not False,
        )

    def _requested(self, comment: str) -> str | None:
        prefix = self.options.vm_type_prefix
        if not prefix:
            return None
        for word in re.split(r"[\s,;]+", comment):
            if word.startswith(prefix) and len(word) > len(prefix):
                return word[len(prefix) :]
        return None

    def _nodes(self) -> list[SlurmNode]:
        return _read(self.runner.check(self.options.sinfo, "--all", "--json", what="listing nodes"), nodes_from_json)

    def _node(self, hostname: str) -> SlurmNode:
        for node in self._nodes():
            if node.name == hostname:
                return node
        raise BatchSystemError(
            f"Slurm has no node {hostname!r}: declare every VWN host name in slurm.conf"
            f" (NodeName=... in partition {self.options.vwn_partition or 'of its jobs'})"
        )

    def host_ready(self, hostname: str, since: float) -> bool:
        # Drained is fine: wnod closed it itself, and migrate opens it to its job only. A slurmd
        # started before `since` is an earlier VWN's: slurmctld shows a gone node as up until
        # SlurmdTimeout. Slurm stamps it in whole seconds.
        node = self._node(hostname)
        return node.responding and node.slurmd_started is not None and node.slurmd_started >= int(since)

    def hosts(self) -> Sequence[BatchHost]:
        nodes = self._nodes()
        argv = (
            [self.options.squeue, "--all", "--json"]
            if self.facts_source() != "scontrol-text"
            else [self.options.scontrol, "--all", "--oneliner", "show", "job"]
        )
        result = self.runner.run(*argv)
        empty = "No jobs in the system" in result.output
        if result.returncode and not empty:
            raise result.error("failed listing jobs")
        jobs = [] if empty else self._read_jobs(result)
        on: dict[str, list[str]] = {}
        for job in jobs:
            if job.state in _ON_NODES:
                for name in job.nodes:
                    on.setdefault(name, []).append(job.job_id)
        return [
            BatchHost(name=n.name, state=n.shown_state, accepting=n.accepting, jobs=tuple(on.get(n.name, ())))
            for n in nodes
        ]

    # -- hosts -----------------------------------------------------------------------------------

    def _scontrol(self, *args: str, what: str) -> Result:
        return self.runner.check(self.options.scontrol, *args, what=what)

    def _reservation_name(self, hostname: str) -> str:
        return f"{self.options.reservation_prefix}{hostname}"

    def _reservation_users(self, name: str) -> str | None:
        """The users of reservation `name`, or None when it does not exist."""
        result = self.runner.run(self.options.scontrol, "--oneliner", "show", "reservation", name)
        if result.returncode:
            if "not found" in result.output:
                return None
            raise result.error(f"failed reading reservation {name}")
        m = re.search(r"(?:^|\s)Users=(\S*)", result.stdout)
        if not m or f"ReservationName={name} " not in result.stdout:
            raise BatchSystemError(
                f"`scontrol show reservation {name}` printed no reservation: {quote(result.stdout)}")
        return m.group(1)

    def _drop_reservation(self, hostname: str) -> None:
        name = self._reservation_name(hostname)
        if self._reservation_users(name) is not None:
            result = self.runner.run(self.options.scontrol, "delete", f"ReservationName={name}")
            if result.returncode and self._reservation_users(name) is not None:
                raise result.error(f"failed deleting reservation {name}")

    def close_host(self, hostname: str) -> None:
        node = self._node(hostname)
        if not node.closed:
            self._scontrol("update", f"NodeName={hostname}", "State=DRAIN", "Reason=wnod: closed",
                           what=f"closing {hostname}")
        # Drained first, then unreserved: at no moment is it open to every job.
        self._drop_reservation(hostname)

    def open_host(self, hostname: str) -> None:
        node = self._node(hostname)
        self._drop_reservation(hostname)
        if node.closed:
            self._scontrol("update", f"NodeName={hostname}", "State=RESUME", what=f"opening {hostname}")

    def steer(self, hostname: str, weight: int) -> bool:
        # Slurm allocates the lowest-Weight nodes that can run a job first. slurmctld keeps a Weight
        # set here until it restarts or reconfigures (then slurm.conf's again): the engine sets it
        # again now and then (engine.steering.REFRESH).
        self._scontrol("update", f"NodeName={hostname}", f"Weight={weight}", what=f"weighting {hostname}")
        return True

    # -- mixed mode: the host's CPUs shared with its bare-metal jobs ------------------------------

    def _cpus_reservation(self, name: str) -> str:
        return f"{self.options.reservation_prefix}cpus-{name}"

    def reserve_cpus(self, node: str, name: str, cpus: int) -> bool:
        # A reservation of the node's CPUs (TRES=cpu=N, not CoreCnt: with two threads a core, a
        # VWN's N vCPUs would hold 2N of the node's CPUs): Slurm starts none of its jobs on them,
        # and refuses to make one of CPUs its jobs hold. 22.05 cannot resize such a reservation:
        # one per VWN. Users=root: only a job of root's that names it could use it.
        reservation = self._cpus_reservation(name)
        if self._reservation_users(reservation) is not None:
            return True
        result = self.runner.run(
            self.options.scontrol, "create", "reservation", f"ReservationName={reservation}", f"Nodes={node}",
            f"TRES=cpu={cpus}", "StartTime=now", "Duration=infinite", "Users=root")
        if result.returncode:
            if "Requested nodes are busy" in result.output:
                raise BatchSystemError(f"{node} has fewer than {cpus} CPUs that its jobs leave free"
                                       " (scontrol: Requested nodes are busy)")
            if self._reservation_users(reservation) is None:  # not one that landed meanwhile
                raise result.error(f"failed reserving {cpus} CPUs of {node} for VWN {name}")
        return True

    def end_reservation(self, node: str, name: str) -> None:
        reservation = self._cpus_reservation(name)
        result = self.runner.run(self.options.scontrol, "delete", f"ReservationName={reservation}")
        if result.returncode and self._reservation_users(reservation) is not None:
            raise result.error(f"failed deleting reservation {reservation}")

    def reservations(self, node: str) -> Sequence[str]:
        result = self._scontrol("--oneliner", "show", "reservation", what="listing reservations")
        prefix = self._cpus_reservation("")
        names = []
        for line in result.stdout.splitlines():
            m = re.match(r"ReservationName=(\S+) .*?(?:^|\s)Nodes=(\S+)", line)
            if m and m.group(1).startswith(prefix) and node in expand_hostlist(m.group(2)):
                names.append(m.group(1)[len(prefix):])
        return names

    # -- jobs ------------------------------------------------------------------------------------

    def _bound_to(self, job: SlurmJob, hostname: str) -> bool:
        o = self.options
        return (
            job.required_nodes == (hostname,)
            and job.reservation == self._reservation_name(hostname)
            and (not o.vwn_partition or job.partition == o.vwn_partition)
        )

    def _comment(self, job: SlurmJob, text: str) -> str:
        text = on_one_line(text if text.startswith("wnod") else f"wnod: {text}", COMMENT_MAX)
        origin = self._from_partition(job)
        return f"{text} [from={origin}]" if origin else text

    def migrate(self, job_id: str, hostname: str) -> None:
        job = self._live_job(job_id)
        if self._bound_to(job, hostname) and job.state in _ON_NODES and job.nodes == (hostname,):
            return  # running there already
        # Reserved, then bound, then opened: the node is never open to a job outside the
        # reservation, and a job that ended meanwhile leaves it closed.
        self._reserve(hostname, job.user)
        requeued = False
        if job.state in _ON_NODES and "COMPLETING" not in job.states:
            # On its bait (its Prolog is waiting for this answer): off it, held so no scheduler
            # pass can start it anywhere before it is bound.
            self._scontrol("requeuehold", job_id, what=f"taking job {job_id} off {','.join(job.nodes)}")
            requeued = True
        if not self._bound_to(job, hostname):
            args = [f"JobId={job_id}", f"ReqNodeList={hostname}", f"Reservation={self._reservation_name(hostname)}",
                    f"AdminComment={self._comment(job, f'wnod: migrated to VWN {hostname}')}"]
            if self.options.vwn_partition:
                args.append(f"Partition={self.options.vwn_partition}")
            result = self.runner.run(self.options.scontrol, "update", *args)
            if result.returncode:
                if _FINISHED.search(result.output):  # cancelled while its VWN booted
                    raise JobNotFound(f"job {job_id} ended before it could move: {quote(result.output)}")
                # Slurm may apply the update yet complain that the partition cannot run it "now"
                # (its node is still drained): what counts is whether the job is bound.
                after = self._job(job_id)
                if not self._bound_to(after, hostname):
                    raise result.error(f"failed binding job {job_id} to {hostname}")
        if self._node(hostname).closed:
            self._scontrol("update", f"NodeName={hostname}", "State=RESUME", what=f"opening {hostname} to job {job_id}")
        if requeued or job.reason == REQUEUE_HELD:
            self._release_hold(job_id)
        if requeued:
            self._hasten(job_id, hostname)

    def _reserve(self, hostname: str, user: str) -> None:
        name = self._reservation_name(hostname)
        users = self._reservation_users(name)
        if users == user:
            return
        if users is None:
            self._scontrol(
                "create", "reservation", f"ReservationName={name}", f"Nodes={hostname}", f"Users={user}",
                "StartTime=now", "Duration=infinite", "Flags=IGNORE_JOBS",
                what=f"reserving {hostname} for {user}",
            )
        else:
            self._scontrol("update", f"ReservationName={name}", f"Users={user}", what=f"reserving {hostname} for {user}")

    def _release_hold(self, job_id: str) -> None:
        result = self.runner.run(self.options.scontrol, "release", job_id)
        if result.returncode:
            after = self._job(job_id)
            if after.state is JobState.HELD:
                raise result.error(f"failed releasing job {job_id}")

    def _hasten(self, job_id: str, hostname: str) -> None:
        if self.options.hasten_for <= 0:
            return
        with self._lock:
            if job_id in self._hastening:
                return
            self._hastening.add(job_id)
        threading.Thread(
            target=self._hasten_loop, args=(job_id, hostname), name=f"wnod-slurm-hasten-{job_id}", daemon=True
        ).start()

    def _hasten_loop(self, job_id: str, hostname: str) -> None:
        deadline = time.monotonic() + self.options.hasten_for
        try:
            while time.monotonic() < deadline:
                time.sleep(0.5)
                try:
                    job = self._job(job_id)
                except BatchSystemError as exc:
                    if isinstance(exc, JobNotFound):
                        return
                    continue
                if job.state is not JobState.PENDING or not self._bound_to(job, hostname):
                    if job.state is JobState.HELD or (job.state is JobState.RUNNING and "COMPLETING" in job.states):
                        continue  # the requeue is not through yet
                    return
                if job.reason == "BeginTime":
                    result = self.runner.run(self.options.scontrol, "update", f"JobId={job_id}", "StartTime=now")
                    if result.returncode == 0 or self._job(job_id).reason != "BeginTime":
                        LOG.info("job %s: may start on %s now", job_id, hostname)
                        return
        except Exception:  # a thread of its own: log, never raise into nowhere
            LOG.exception("job %s: could not let it start on %s at once", job_id, hostname)
        finally:
            with self._lock:
                self._hastening.discard(job_id)

    def release(self, job_id: str, reason: str) -> None:
        job = self._live_job(job_id)
        o = self.options
        bound = job.reservation.startswith(o.reservation_prefix) or (
            bool(o.vwn_partition) and job.partition == o.vwn_partition)
        comment = self._comment(job, f"wnod: released: {reason}")
        requeued = False
        if bound:
            if job.state in _ON_NODES and "COMPLETING" not in job.states:
                # Running on a VWN wnod gave up: back to pending, or it could not be unbound.
                self._scontrol("requeuehold", job_id, what=f"taking job {job_id} off {','.join(job.nodes)}")
                requeued = True
            args = [f"JobId={job_id}", "ReqNodeList=", "Reservation=", f"AdminComment={comment}"]
            origin = self._from_partition(job)
            if o.vwn_partition and origin and origin != o.vwn_partition:
                args.append(f"Partition={origin}")
            self._scontrol("update", *args, what=f"unbinding job {job_id}")
        elif job.admin_comment != comment:
            self._scontrol("update", f"JobId={job_id}", f"AdminComment={comment}", what=f"noting job {job_id}")
        after = self._job(job_id)
        # A requeuehold of an earlier migrate may not be through yet (the job still completing
        # on its bait, its Prolog waiting): released now, it goes to pending when it is, not held.
        # Never hastened, unlike a migrated job: back on the same bait within its credential
        # lifetime, it would start there without its Prolog, outside any VWN.
        if requeued or after.reason == REQUEUE_HELD or (after.state is JobState.HELD and after.reason in _WNOD_HOLDS):
            self._release_hold(job_id)

    def hold(self, job_id: str, reason: str) -> None:
        job = self._live_job(job_id)
        comment = self._comment(job, reason)
        if job.admin_comment != comment:
            self._scontrol("update", f"JobId={job_id}", f"AdminComment={comment}", what=f"noting job {job_id}")
        if job.state is JobState.HELD:
            return
        if job.state in _ON_NODES and "COMPLETING" in job.states:
            # Off its node soon (a requeue not through yet, or its end): Slurm holds no job while
            # it completes, and one let through now would go to pending unheld. Not done yet: the
            # engine asks again, and then it is pending (held here), held already, or gone.
            raise BatchSystemError(f"job {job_id} is still completing on {','.join(job.nodes) or 'its node'}:"
                                   " it can be held once Slurm has it pending")
        if job.state in _ON_NODES:
            self._scontrol("requeuehold", job_id, what=f"holding job {job_id}")
            return
        self._scontrol("hold", job_id, what=f"holding job {job_id}")

    def fail(self, job_id: str, reason: str) -> None:
        job = self._job(job_id)
        if job.state.is_over:
            return
        comment = self._comment(job, reason)
        if job.admin_comment != comment:
            self._scontrol("update", f"JobId={job_id}", f"AdminComment={comment}", what=f"noting job {job_id}")
        result = self.runner.run(self.options.scancel, job_id)
        if result.returncode and not self._job(job_id).state.is_over:
            raise result.error(f"failed cancelling job {job_id}")
