"""The accounting ledger: one JSON line per job wnod has finished with.

A plugin of the ``wnod_job_step`` hook like any other. The daemon registers it with its
state dir (``Plugins.load(extra=[("accounting", AccountingLedger(state / "accounting.jsonl"))])``).
The record format and how to rotate the file are in docs/accounting.md.
"""

import json
import logging
import os
from pathlib import Path
from typing import Any

from . import hookimpl
from .model.events import JobStep, JobStepped
from .model.flight import FINAL_STEPS

LOG = logging.getLogger("wnod.accounting")

SCHEMA = 1
"""The record format's version; raised whenever a field changes meaning or goes away."""

TIMED_STEPS = (
    JobStep.BAIT_ENTERED,
    JobStep.RESOLVED,
    JobStep.VWN_ASSIGNED,
    JobStep.VWN_READY,
    JobStep.MIGRATED,
    JobStep.STARTED,
    JobStep.ENDED,
)
"""The steps whose times a record carries, under ``times``."""

_FIRST_TIME = frozenset({JobStep.BAIT_ENTERED.value})
"""Steps timed at their first occurrence: the wait starts when the job first entered its bait,
even if it was sent back to be resolved again. Every other step is timed at its last
occurrence, the one that led to the outcome (the VWN the job finally got, not one that failed to boot)."""

_FILE_MODE = 0o640  # user names and job ids: readable by the admins' group, not by everyone


def record_of(event: JobStepped) -> dict[str, Any]:
    """The ledger's record of a job whose final step is `event`."""
    times: dict[str, float] = {}
    for name, at in event.times:
        if name not in times or name not in _FIRST_TIME:
            times[name] = at
    # A producer that does not pass the trail still gets its outcome's time recorded.
    times.setdefault(event.step.value, event.at)
    return {
        "schema": SCHEMA,
        "job_id": event.job_id,
        "user": event.user or None,
        "vm_type": event.vm_type or None,
        "host": event.host,
        "vwn_id": event.vwn_id or None,
        "reused": event.reused,
        "image_version": event.image_version or None,
        "outcome": event.step.value,
        "detail": event.detail,
        "at": event.at,
        "times": {step.value: times.get(step.value) for step in TIMED_STEPS},
    }


class AccountingLedger:
    """Appends a job's record to `path` when wnod is done with the job (see ``FINAL_STEPS``).

    The file is opened for each record, never kept open: once an admin has moved it aside,
    the next record starts a new file at `path`. Each record is one ``write`` of a whole line
    to a file opened with ``O_APPEND``, so records from concurrent writers (threads, or two
    processes sharing the file) never interleave on a local filesystem.

    `fsync` is off by default: a record is in the kernel once ``write`` returns, so it survives
    the daemon being killed or crashing; only a crash of the whole host can lose the last
    seconds of records, and an ``fsync`` per job would stall the daemon's event loop (the hook
    runs on it) for as long as the disk takes. Sites that bill from the ledger can turn it on.
    """

    def __init__(self, path: str | os.PathLike[str], *, fsync: bool = False):
        self.path = Path(path)
        self.fsync = fsync

    @hookimpl
    def wnod_job_step(self, event: JobStepped) -> None:
        if event.step not in FINAL_STEPS:
            return
        self.write(record_of(event))

    def write(self, record: dict[str, Any]) -> bool:
        """Append `record` as one line; False, with the record logged, if it could not be written.

        Never raises: a broadcast hook must not break the job's flow.
        """
        line = (json.dumps(record, separators=(",", ":")) + "\n").encode()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, _FILE_MODE)
            try:
                written = os.write(fd, line)
                if written != len(line):
                    # Writing the rest in a second call could land after another writer's line.
                    raise OSError(f"only {written} of {len(line)} bytes written (disk full?)")
                if self.fsync:
                    os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            # The record itself goes to the log, so it is not lost altogether.
            LOG.error(
                "accounting: job %s not recorded in %s: %s; record: %s",
                record.get("job_id"),
                self.path,
                exc,
                line.decode().rstrip(),
            )
            return False
        return True


READ_LIMIT = 100_000
"""Records one read of the ledger returns at most; the next read starts after the last of them."""


def read_ledger(path: Path, since: float = 0.0, limit: int = READ_LIMIT) -> dict[str, Any]:
    """The ledger's records of outcomes reached at `since` or later, oldest first, at most
    `limit`: ``{"records": [...], "skipped": N, "more": bool}``. A line that is not a record (cut
    short by a full disk, written by hand) is skipped and counted, never a failure of the read;
    ``more`` says records were left for a read from the last one's ``at`` on."""
    records: list[dict[str, Any]] = []
    skipped = 0
    more = False
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed below; absent is an empty ledger
    except FileNotFoundError:
        return {"records": [], "skipped": 0, "more": False}
    with fh:
        for line in fh:
            try:
                record = json.loads(line)
                at = float(record["at"])
            except (ValueError, TypeError, KeyError):
                skipped += 1
                continue
            if at < since:
                continue
            if len(records) >= limit:
                more = True
                break
            records.append(record)
    return {"records": records, "skipped": skipped, "more": more}
