"""A small LSF cluster held in one JSON file, for the emulated commands and the tests that drive them.

It is not LSF: it keeps the job and host states, and the rules of IBM Spectrum LSF 10.1 that
wnod relies on, as IBM documents them:

- a pending job with a host list (``bmod -m``) is dispatched to those hosts only, and
  ``bmod -m`` is refused once a job is dispatched (lsf.conf LSB_MOD_ALL_JOBS lists what may
  change on a dispatched job; ``-m`` is not among it);
- a host closed by the administrator (``badmin hclose``, status ``closed_Adm``) takes no new
  job from the scheduler, but ``brun -m`` forces a pending job onto it (brun(8); bsub -x
  says so of a host locked by an exclusive job);
- ``brequeue -r`` kills a running job and puts it back to PEND, ``-H`` to PSUSP (brequeue(1));
- ``bstop`` takes PEND to PSUSP, ``bresume`` PSUSP back to PEND (bstop(1), bresume(1));
- ``bkill`` ends an unfinished job as EXIT (bkill(1));
- a queue PRE_EXEC that exits 0 lets the job run, 99 makes it exit, anything else puts it
  back to PEND (lsb.queues PRE_EXEC; "Pre-execution command behavior").

The state is shared by every process through the file (``LSFEMU_STATE``), under a lock.
"""

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

STATE_VAR = "LSFEMU_STATE"

UNFINISHED = ("PEND", "PSUSP", "RUN", "USUSP", "SSUSP")
DISPATCHED = ("RUN", "USUSP", "SSUSP")


class LsfError(Exception):
    """A refusal, printed by the command that hit it on stderr, exit 255 (as LSF's commands do)."""


def job_key(base: str, index: int) -> str:
    return f"{base}[{index}]" if index else base


class Cluster:
    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)

    @classmethod
    def from_environ(cls) -> "Cluster":
        return cls(os.environ[STATE_VAR])

    @contextlib.contextmanager
    def state(self) -> Iterator[dict[str, Any]]:
        """The state, locked for the block, written back after it (also when it raises LsfError)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_suffix(".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                data = json.loads(self.path.read_text()) if self.path.exists() else _empty()
                try:
                    yield data
                finally:
                    self.path.write_text(json.dumps(data))
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def read(self) -> dict[str, Any]:
        with self.state() as data:
            return json.loads(json.dumps(data))

    # -- driving it as users, admins and daemons would ----------------------------------------------

    def submit(self, user: str, queue: str = "normal", *, app: str = "", slots: int = 1, memlimit: str = "",
               runlimit: str = "", array: int = 0, asked: tuple[str, ...] = ()) -> list[str]:
        """``bsub``: a pending job (or a job array of `array` elements); the ids, elements as "123[4]"."""
        with self.state() as data:
            data["next_id"] += 1
            base = str(data["next_id"])
            keys = []
            for index in range(1, array + 1) if array else [0]:
                key = job_key(base, index)
                data["jobs"][key] = {
                    "base": base, "index": index, "user": user, "queue": queue, "app": app,
                    "slots": slots, "memlimit": memlimit, "runlimit": runlimit, "stat": "PEND",
                    "exec": [], "asked": list(asked), "pend_reason": "New job is waiting for scheduling;",
                    "lag": 0, "after_lag": "", "kill_reason": "", "preexec": "",
                }
                keys.append(key)
            return keys

    def add_host(self, name: str, status: str = "ok") -> None:
        """A host joins (its sbatchd reports), or is declared in lsf.cluster (`status` "unavail")."""
        with self.state() as data:
            host = data["hosts"].setdefault(name, {"status": status, "comment": ""})
            if status == "ok":
                host["status"] = "closed_Adm" if host.get("closed") else "ok"
            else:  # down shows as down, whether an admin closed the host or not (bhosts(1) STATUS)
                host["status"] = status

    def dispatch(self, key: str, host: str | None = None) -> str:
        """The scheduler dispatches a pending job: to its asked hosts only, to open hosts only."""
        with self.state() as data:
            job = _job(data, key)
            if job["stat"] != "PEND":
                raise LsfError(f"Job <{key}>: cannot be dispatched: it is {job['stat']}")
            candidates = job["asked"] or sorted(data["hosts"])
            if host is not None:
                candidates = [h for h in candidates if h == host]
            for name in candidates:
                if data["hosts"].get(name, {}).get("status") == "ok":
                    _start(job, [name] * job["slots"])
                    return name
            raise LsfError(f"Job <{key}>: no open host among {', '.join(candidates) or 'none'}")

    def pre_exec_exited(self, key: str, code: int, host: str) -> None:
        """The queue PRE_EXEC of the job's dispatch to `host` exited with `code`."""
        with self.state() as data:
            job = _job(data, key)
            if job["stat"] != "RUN" or job["preexec"] != host:
                return  # that dispatch was requeued or killed meanwhile: nothing of it is left
            job["preexec"] = ""
            if code == 99:
                job["stat"], job["pend_reason"] = "EXIT", ""
            elif code != 0:
                job.update(stat="PEND", exec=[], pend_reason="Job's pre-exec command exited with non-zero status;")

    def finish(self, key: str) -> None:
        with self.state() as data:
            _job(data, key)["stat"] = "DONE"

    def set(self, **settings: Any) -> None:
        """Test knobs: ``requeue_lag`` (bjobs reads a requeued job still shows RUN), ``garble``
        (command name -> text it prints instead of its output)."""
        with self.state() as data:
            data["settings"].update(settings)


def _empty() -> dict[str, Any]:
    return {"next_id": 1000, "jobs": {}, "hosts": {}, "calls": [], "settings": {"requeue_lag": 0, "garble": {}}}


def _job(data: dict[str, Any], key: str) -> dict[str, Any]:
    try:
        return data["jobs"][key]
    except KeyError:
        raise LsfError(f"Job <{key}>: No matching job found") from None


def _start(job: dict[str, Any], hosts: list[str]) -> None:
    """Dispatched: the queue PRE_EXEC runs on the first host until ``pre_exec_exited``."""
    job.update(stat="RUN", exec=hosts, pend_reason="", preexec=hosts[0])
