"""What the adapter must remember that LSF does not show it.

- For a job: the VWN it bound the job to (``bjobs -o`` has no documented field for a
  job's ``-m`` host list, and ``release`` must know whether the host a job runs on is
  wnod's doing), and the last reason wnod gave for holding, failing or releasing it
  (LSF records the ``-C`` reason of ``bstop``/``bkill`` for ``bhist -l``, but no ``-o``
  field shows it).
- For a host: that wnod closed it before LSF knew it (a dynamic host that has not joined
  yet cannot be closed with ``badmin hclose``); the close is done when it joins. And when
  the adapter last saw it gone (unknown to LSF, or its daemons down): LSF shows no time a
  host's batch daemons registered, so a registration counts for a VWN made at `since` only
  if the name was seen gone after `since` (an earlier VWN of the name may still show ``ok``).

One small file each under the state directory, written whole and renamed into place, so
another process (``wnod`` commands beside the daemon) and a restarted daemon read them.
"""

import json
import os
import re
import tempfile
import threading
import time
from pathlib import Path

import attrs

KEEP_FOR = 14 * 86400
"""Seconds a job's note is kept after it was last written: long after LSF forgot the job."""
PRUNE_EVERY = 3600
"""Seconds between two prunings by one process, done when a note is written."""

_SAFE = re.compile(r"^[A-Za-z0-9._@\[\]-]{1,255}\Z")


@attrs.frozen
class JobNote:
    bound_to: str = ""
    """The VWN host wnod bound the job to with ``bmod -m``; "" when unbound."""
    reason: str = ""
    """The last reason wnod gave for the job (hold, fail, release)."""
    held: bool = False
    """wnod left the job held (PSUSP): by ``hold``, or by a ``migrate`` cut short."""


class Notes:
    def __init__(self, directory: Path):
        self._jobs = directory / "jobs"
        self._closing = directory / "closing"
        self._gone = directory / "gone"
        self._lock = threading.Lock()
        self._pruned_at = 0.0

    # -- jobs ----------------------------------------------------------------------------------------

    def job(self, job_id: str) -> JobNote:
        try:
            data = json.loads((self._jobs / _name(job_id)).read_text())
            return JobNote(
                bound_to=str(data.get("bound_to", "")),
                reason=str(data.get("reason", "")),
                held=data.get("held") is True,
            )
        except (OSError, ValueError, AttributeError):
            return JobNote()

    def update_job(self, job_id: str, **changes: object) -> None:
        with self._lock:
            note = attrs.evolve(self.job(job_id), **changes)
            path = self._jobs / _name(job_id)
            if note == JobNote():
                path.unlink(missing_ok=True)
            else:
                _write(path, json.dumps(attrs.asdict(note)))
            if time.time() - self._pruned_at > PRUNE_EVERY:
                self._pruned_at = time.time()
                self.prune()

    def forget_job(self, job_id: str) -> None:
        try:
            (self._jobs / _name(job_id)).unlink(missing_ok=True)
        except ValueError:
            pass  # not a job id: it never had a note

    def prune(self, now: float | None = None) -> None:
        """Drop job notes nobody wrote for ``KEEP_FOR`` seconds."""
        cutoff = (time.time() if now is None else now) - KEEP_FOR
        try:
            entries = list(os.scandir(self._jobs))
        except OSError:
            return
        for entry in entries:
            try:
                if entry.stat().st_mtime < cutoff:
                    os.unlink(entry.path)
            except OSError:
                pass

    # -- hosts ---------------------------------------------------------------------------------------

    def closing(self, hostname: str) -> bool:
        return (self._closing / _name(hostname)).exists()

    def set_closing(self, hostname: str, closing: bool) -> None:
        path = self._closing / _name(hostname)
        if closing:
            _write(path, "")
        else:
            path.unlink(missing_ok=True)


    def seen_gone(self, hostname: str) -> None:
        """Note that `hostname` is gone now (unknown to LSF, or not joined)."""
        _write(self._gone / _name(hostname), repr(time.time()))

    def gone_at(self, hostname: str) -> float | None:
        """When `hostname` was last seen gone, if ever."""
        try:
            return float((self._gone / _name(hostname)).read_text())
        except (OSError, ValueError):
            return None


def _name(key: str) -> str:
    if not _SAFE.match(key) or key in (".", ".."):
        raise ValueError(f"not a job id or host name: {key!r}")
    return key


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
