"""The LSF adapter: the engine's ``BatchSystem`` over LSF's own commands.

How wnod moves a job in LSF (docs/lsf.md tells it for the admin):

- The job is dispatched to a bait, whose queue PRE_EXEC runs ``wnod bait``. While it
  runs, LSF shows the job RUN on the bait, and ``bmod -m`` is refused for a dispatched job.
- ``migrate`` therefore first takes the job off its bait with ``brequeue -r -H``: LSF
  kills the pre-exec and puts the job back, held (PSUSP), so nothing dispatches it
  meanwhile. Then ``bmod -m VWN`` binds it to its VWN, ``bresume`` lets it pend again,
  and ``brun -m VWN`` dispatches it there at once, although wnod closed the VWN
  (``badmin hclose``) to every other job.
- On the VWN the same PRE_EXEC finds no bait there and lets the job run.
"""

import re
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from wnod_core.commands import Result, Tools
from wnod_core.errors import BatchSystemError, Garbled, JobNotFound
from wnod_core.interfaces import BatchHost, BatchSystem
from wnod_core.kits.accounts import Account, account
from wnod_core.model import JobFacts
from wnod_core.records import Setup

from . import parse
from .notes import Notes
from .options import LsfOptions

NAME = "lsf"

JOB_FIELDS = (
    "jobid", "jobindex", "stat", "user", "queue", "application", "exec_host",
    "nreq_slot", "memlimit", "runtimelimit", "pend_reason",
)
"""The ``bjobs -o`` fields wnod reads (IBM Spectrum LSF 10.1 field names)."""
HOST_FIELDS = ("host_name", "status")
"""The ``bhosts -o`` fields wnod reads."""
JOBS_ON_HOSTS_FIELDS = ("jobid", "jobindex", "exec_host")

CLOSE_COMMENT = "wnod: a VWN, open only to the job wnod moves to it"

_RUNNING = frozenset({"RUN", "USUSP", "SSUSP", "PROV", "UNKWN"})
"""States of a job dispatched to a host (on its bait, while the pre-exec runs, it is RUN)."""
_PENDING = frozenset({"PEND", "PSUSP", "WAIT"})
_OVER = frozenset({"DONE", "EXIT", "ZOMBI"})
_NOT_JOINED = frozenset({"unavail", "unreach", "unlicensed", "closed_lim"})
"""bhosts states of a host whose batch daemons are not (or not yet) at work."""

_JOB_UNKNOWN = re.compile(r"is not found|no matching job|no (?:unfinished |pending |running )?job found", re.IGNORECASE)
_HOST_UNKNOWN = re.compile(
    r"bad host name|host name, host group name or cluster name|unknown host|is not a host|not (?:a )?known host",
    re.IGNORECASE,
)
_NO_JOBS = re.compile(r"no (?:unfinished |pending |running |suspended )?job found", re.IGNORECASE)
_REASON_MAX = 4000
"""LSF takes a -C reason of at most 4095 characters."""
_POLL = 0.5


def tools(options: LsfOptions) -> Tools:
    """LSF's commands, from ``bin_dir``, with LSF_ENVDIR set when ``envdir`` is."""
    env = {"LSF_ENVDIR": options.envdir} if options.envdir else {}
    return Tools(bin_dir=options.bin_dir, timeout=options.timeout, env=env)


class LsfBatchSystem(BatchSystem):
    """IBM Spectrum LSF, driven through its commands. Thread-safe: it keeps no state in memory."""

    name = NAME

    def __init__(
        self,
        options: LsfOptions,
        notes: Notes,
        *,
        runner: Tools | None = None,
        accounts: Callable[[str], Account] = account,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.options = options
        self.notes = notes
        self.runner = runner or tools(options)
        self._accounts = accounts
        self._clock = clock
        self._sleep = sleep

    @classmethod
    def from_setup(cls, setup: Setup[LsfOptions]) -> "LsfBatchSystem":
        return cls(setup.options, Notes(Path(setup.dirs.state) / "lsf"))

    # -- facts ---------------------------------------------------------------------------------------

    def job_facts(self, job_id: str) -> JobFacts:
        record = self._record(job_id)
        if record is None:
            self.notes.forget_job(job_id)
            raise JobNotFound(f"lsf: LSF does not know job {job_id}")
        return self._facts(job_id, record)

    def _facts(self, job_id: str, record: Mapping[str, str]) -> JobFacts:
        try:
            user = record.get("USER", "")
            if not user:
                raise Garbled("the record names no USER")
            owner = self._accounts(user)
            app = record.get("APPLICATION", "")
            prefix = self.options.app_prefix
            requested = app[len(prefix):] if app.startswith(prefix) and len(app) > len(prefix) else None
            reasons = [record.get("PEND_REASON", ""), self.notes.job(job_id).reason]
            return JobFacts(
                batch_system=NAME,
                job_id=job_id,
                user=user,
                groups=owner.groups,
                uid=owner.uid,
                queue=record.get("QUEUE", ""),
                cpus=parse.count(record.get("NREQ_SLOT", "")),
                memory=parse.size(record.get("MEMLIMIT", ""), self.options.unit_for_limits.value),
                walltime=parse.duration(record.get("RUNTIMELIMIT", "")),
                requested_vm_type=requested,
                state=parse.job_state(record.get("STAT", "")),
                exec_hosts=parse.exec_hosts(record.get("EXEC_HOST", "")),
                reason="; ".join(r.strip().rstrip(";") for r in reasons if r.strip()),
            )
        except (Garbled, ValueError) as exc:
            raise BatchSystemError(f"lsf: bjobs describes job {job_id} in a way wnod cannot read: {exc}") from None

    def _record(self, job_id: str) -> dict[str, str] | None:
        """The job's bjobs record, or None when LSF does not know it."""
        try:
            parse.job_spec(job_id)
        except Garbled:
            return None  # no LSF job has such an id
        out = self.runner.run("bjobs", "-a", "-o", " ".join(JOB_FIELDS), "-json", job_id)
        if "{" not in out.stdout:
            if _JOB_UNKNOWN.search(out.output):
                return None
            raise out.error("printed no JSON")
        records = self._records(out, "bjobs")
        errors = [r["ERROR"] for r in records if r.get("ERROR")]
        try:
            matching = [r for r in records if not r.get("ERROR") and parse.record_job_id(r) == job_id]
        except Garbled as exc:
            raise BatchSystemError(f"lsf: `{out.command}` printed a record wnod cannot read: {exc}") from None
        if matching:
            return matching[0]
        if errors and all(_JOB_UNKNOWN.search(e) for e in errors):
            return None
        if errors or out.returncode != 0:
            raise out.error()
        if not records:
            return None
        raise BatchSystemError(
            f"lsf: `{out.command}` answered for other jobs than {job_id}"
            " (a whole job array? wnod handles its elements, like 123[4])"
        )

    @staticmethod
    def _records(out: Result, command: str) -> list[dict[str, str]]:
        try:
            return parse.json_records(out.stdout, command)
        except Garbled as exc:
            raise BatchSystemError(f"lsf: `{out.command}`: {exc}") from None

    def _alive(self, job_id: str) -> dict[str, str]:
        record = self._record(job_id)
        if record is None:
            raise JobNotFound(f"lsf: LSF does not know job {job_id}")
        if record.get("STAT") in _OVER:
            raise JobNotFound(f"lsf: job {job_id} has ended ({record.get('STAT')})")
        return record

    # -- hosts ---------------------------------------------------------------------------------------

    def host_ready(self, hostname: str, since: float) -> bool:
        record = self._host_record(hostname)
        if record is None or record.get("STATUS", "").lower() in _NOT_JOINED:
            self.notes.seen_gone(hostname)
            return False
        if self.notes.closing(hostname):
            # Closed by wnod before LSF knew it: closed now, before anyone is told it is ready.
            self.runner.check("badmin", "hclose", "-C", CLOSE_COMMENT, hostname)
            self.notes.set_closing(hostname, False)
        # LSF shows no registration time: the host is the VWN made at `since` only if its name
        # was seen gone after that (else the "ok" may be an earlier VWN's, not yet noticed gone).
        gone = self.notes.gone_at(hostname)
        return gone is not None and gone >= since

    def close_host(self, hostname: str) -> None:
        name = self._hostname(hostname)
        out = self.runner.run("badmin", "hclose", "-C", CLOSE_COMMENT, name)
        if out.returncode == 0 and not _HOST_UNKNOWN.search(out.output):
            self.notes.set_closing(name, False)
        elif _HOST_UNKNOWN.search(out.output):
            # A dynamic host that has not joined yet: closed as soon as it does (host_ready).
            self.notes.set_closing(name, True)
            self.notes.seen_gone(name)
        else:
            raise out.error()

    def open_host(self, hostname: str) -> None:
        name = self._hostname(hostname)
        self.notes.set_closing(name, False)
        out = self.runner.run("badmin", "hopen", name)
        if out.returncode != 0 and not _HOST_UNKNOWN.search(out.output):
            raise out.error()

    def hosts(self) -> Sequence[BatchHost]:
        out = self.runner.run("bhosts", "-o", " ".join(HOST_FIELDS), "-json")
        if out.returncode != 0 and "{" not in out.stdout:
            raise out.error()
        running = self._jobs_on_hosts()
        hosts = []
        for record in self._records(out, "bhosts"):
            if record.get("ERROR"):
                raise out.error(f"said {record['ERROR']!r}")
            name = self._parsed(out, parse.host_name, record.get("HOST_NAME", ""))
            state = record.get("STATUS", "")
            jobs = tuple(sorted(running.get(name, ())))
            hosts.append(BatchHost(name=name, state=state, accepting=state.lower() == "ok", jobs=jobs))
        return hosts

    def _jobs_on_hosts(self) -> dict[str, list[str]]:
        out = self.runner.run("bjobs", "-u", "all", "-o", " ".join(JOBS_ON_HOSTS_FIELDS), "-json")
        if "{" not in out.stdout:
            if _NO_JOBS.search(out.output):
                return {}
            raise out.error("printed no JSON")
        on: dict[str, list[str]] = {}
        for record in self._records(out, "bjobs"):
            if record.get("ERROR"):
                continue
            job_id = self._parsed(out, parse.record_job_id, record)
            for host in self._parsed(out, parse.exec_hosts, record.get("EXEC_HOST", "")):
                on.setdefault(host, []).append(job_id)
        return on

    def _host_record(self, hostname: str) -> dict[str, str] | None:
        name = self._hostname(hostname)
        out = self.runner.run("bhosts", "-o", " ".join(HOST_FIELDS), "-json", name)
        if "{" not in out.stdout:
            if _HOST_UNKNOWN.search(out.output):
                return None
            raise out.error("printed no JSON")
        for record in self._records(out, "bhosts"):
            if record.get("ERROR"):
                if _HOST_UNKNOWN.search(record["ERROR"]):
                    return None
                raise out.error(f"said {record['ERROR']!r}")
            if record.get("HOST_NAME", "").lower() == name.lower():
                return record
        if out.returncode != 0:
            raise out.error()
        return None

    @staticmethod
    def _hostname(hostname: str) -> str:
        try:
            return parse.host_name(hostname)
        except Garbled as exc:
            raise BatchSystemError(f"lsf: {exc}") from None

    @staticmethod
    def _parsed(out: Result, parser: Callable[..., object], value: object) -> object:
        try:
            return parser(value)
        except Garbled as exc:
            raise BatchSystemError(f"lsf: `{out.command}`: {exc}") from None

    # -- moving jobs ---------------------------------------------------------------------------------

    def migrate(self, job_id: str, hostname: str) -> None:
        host = self._hostname(hostname)
        record = self._alive(job_id)
        if record.get("STAT") in _RUNNING:
            if parse.exec_hosts(record.get("EXEC_HOST", "")) == (host,):
                self.notes.update_job(job_id, bound_to=host)
                return  # there already: a repeated migrate changes nothing
            # Dispatched to its bait, whose pre-exec is waiting for wnod: off it, held, so that
            # nothing dispatches it before it is bound. Noted first: a release after a crash
            # here knows to let it go.
            self.notes.update_job(job_id, bound_to=host, held=True)
            record = self._requeue(job_id, hold=True)
        else:
            self.notes.update_job(job_id, bound_to=host)
        self._act(job_id, "bmod", "-m", host, job_id)
        if record.get("STAT") == "PSUSP":
            self._act(job_id, "bresume", job_id)
            self.notes.update_job(job_id, held=False)
        self._act(job_id, "brun", "-m", host, job_id)

    def release(self, job_id: str, reason: str) -> None:
        record = self._record(job_id)
        if record is None:
            raise JobNotFound(f"lsf: LSF does not know job {job_id}")
        note = self.notes.job(job_id)
        self.notes.update_job(job_id, reason=reason)
        if record.get("STAT") in _OVER:
            self.notes.update_job(job_id, bound_to="", held=False)
            return
        if (
            record.get("STAT") in _RUNNING
            and note.bound_to
            and parse.exec_hosts(record.get("EXEC_HOST", "")) == (note.bound_to,)
        ):
            # Running where wnod bound it (a VWN now lost): back to pending, still bound meanwhile.
            record = self._requeue(job_id, hold=False)
        if record.get("STAT") in _PENDING:
            if note.bound_to:
                self._act(job_id, "bmod", "-mn", job_id)
            if record.get("STAT") == "PSUSP" and note.held:
                self._act(job_id, "bresume", job_id)
        # A job still on its bait is left there: the bait's exit code tells LSF what to do.
        self.notes.update_job(job_id, bound_to="", held=False)

    def hold(self, job_id: str, reason: str) -> None:
        record = self._record(job_id)
        if record is None:
            raise JobNotFound(f"lsf: LSF does not know job {job_id}")
        stat = record.get("STAT", "")
        if stat in _OVER:
            raise BatchSystemError(f"lsf: cannot hold job {job_id}: it has ended ({stat})")
        self.notes.update_job(job_id, reason=reason, held=True)
        if stat in ("PEND", "WAIT"):
            self._act(job_id, "bstop", "-C", reason[:_REASON_MAX], job_id)
        elif stat in _RUNNING:
            self._requeue(job_id, hold=True)  # off its bait, held there and then
        # PSUSP: held already

    def fail(self, job_id: str, reason: str) -> None:
        record = self._record(job_id)
        if record is None:
            raise JobNotFound(f"lsf: LSF does not know job {job_id}")
        if record.get("STAT") in _OVER:
            return
        self.notes.update_job(job_id, reason=reason, bound_to="", held=False)
        self._act(job_id, "bkill", "-C", reason[:_REASON_MAX], job_id, ended_is_done=True)

    def _act(self, job_id: str, *argv: str, ended_is_done: bool = False) -> None:
        """Run an LSF command on the job; a refusal because the job is gone is ``JobNotFound``."""
        out = self.runner.run(*argv)
        if out.returncode == 0:
            return
        record = self._record(job_id)
        if record is None or record.get("STAT") in _OVER:
            if ended_is_done:
                return
            raise JobNotFound(f"lsf: job {job_id} is gone: `{out.command}` said {out.output!r}")
        raise out.error()

    def _requeue(self, job_id: str, *, hold: bool) -> dict[str, str]:
        """Kill the job where it is dispatched and put it back (held, with `hold`); its record once
        LSF shows it pending."""
        self._act(job_id, "brequeue", "-r", *(["-H"] if hold else []), job_id)
        deadline = self._clock() + self.options.settle_timeout
        while True:
            record = self._alive(job_id)
            if record.get("STAT") in _PENDING:
                return record
            if self._clock() >= deadline:
                raise BatchSystemError(
                    f"lsf: job {job_id} is still {record.get('STAT')} on {record.get('EXEC_HOST') or '?'}"
                    f" {self.options.settle_timeout:g}s after brequeue"
                )
            self._sleep(_POLL)
