"""Reading a trace in the Standard Workload Format (SWF) of the Parallel Workloads Archive.

One job a line, 18 whitespace-separated fields, -1 where a value is unknown; lines starting
with ``;`` are the log's header. Only what a capacity study needs is kept: when the job came,
how long it ran, how many processors it asked for, and its owner, group and queue, which
become the facts the site's resolver chain decides on.
"""

import gzip
import os
from collections.abc import Iterable
from pathlib import Path

import attrs
from wnod_core.errors import WnodError

FIELDS = 18
# 0-based positions of the fields used (the format numbers them from 1).
_NUMBER, _SUBMIT, _RUN, _ALLOCATED, _REQUESTED, _USER, _GROUP, _QUEUE, _PARTITION = 0, 1, 3, 4, 7, 11, 12, 14, 15


class TraceError(WnodError):
    """A trace that cannot be read: the message names the file and line."""


@attrs.frozen
class TraceJob:
    """One job of the trace, with its batch facts named as a site's wnod.toml would name them."""

    number: int
    submit: float
    """Seconds from the start of the log."""
    run: float
    """Seconds it ran (in its VWN, under wnod)."""
    cpus: int
    user: str
    """``user<N>`` from field 12."""
    group: str
    """``group<N>`` from field 13 (in the LCG log: the virtual organisation)."""
    queue: str
    """``queue<N>`` from field 15; where the log has none, ``partition<N>`` from field 16."""


@attrs.frozen
class Trace:
    source: str
    jobs: tuple[TraceJob, ...]
    """In order of submission."""
    never_ran: int
    """Jobs the log records without a run time (cancelled before they started): not replayed."""


def read_trace(path: str | os.PathLike[str]) -> Trace:
    """The trace at `path`, gzip-compressed or plain; TraceError, naming the line, if malformed."""
    path = Path(path)
    try:
        with path.open("rb") as raw:
            compressed = raw.read(2) == b"\x1f\x8b"
        opened = gzip.open(path, "rt", encoding="ascii", errors="replace") if compressed else path.open(
            encoding="ascii", errors="replace")
        with opened as lines:
            return parse_lines(lines, str(path))
    except OSError as exc:  # a missing file, or a gzip that is not one
        raise TraceError(f"{path}: cannot read the trace: {exc.strerror or exc}") from None


def parse_lines(lines: Iterable[str], source: str = "<trace>") -> Trace:
    jobs: list[TraceJob] = []
    never_ran = 0
    for number, line in enumerate(lines, 1):
        fields = line.split()
        if not fields or fields[0].startswith(";"):
            continue
        if len(fields) != FIELDS:
            raise TraceError(f"{source}:{number}: expected {FIELDS} fields (SWF), got {len(fields)}: {line.strip()[:80]!r}")
        try:
            values = [float(f) for f in fields]
        except ValueError:
            raise TraceError(f"{source}:{number}: every SWF field is a number, got {line.strip()[:80]!r}") from None
        submit, run = values[_SUBMIT], values[_RUN]
        if submit < 0:
            raise TraceError(f"{source}:{number}: field 2 (submit time) must be 0 or more, got {fields[_SUBMIT]}")
        if run < 0:
            never_ran += 1
            continue
        requested, allocated = int(values[_REQUESTED]), int(values[_ALLOCATED])
        queue, partition = int(values[_QUEUE]), int(values[_PARTITION])
        jobs.append(TraceJob(
            number=int(values[_NUMBER]),
            submit=submit,
            run=run,
            cpus=requested if requested > 0 else allocated if allocated > 0 else 1,
            user=f"user{int(values[_USER])}",
            group=f"group{int(values[_GROUP])}",
            queue=f"queue{queue}" if queue >= 0 else f"partition{partition}" if partition >= 0 else "",
        ))
    jobs.sort(key=lambda j: j.submit)  # stable: the log's order among jobs submitted at once
    return Trace(source=source, jobs=tuple(jobs), never_ran=never_ran)
