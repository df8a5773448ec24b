"""What toyq prints, read: ``toyq show JOB --json`` and ``toyq hosts --json`` (README.md).

Each reader returns plain values or raises ``Garbled`` saying what it expected and where; the
adapter names the command. Nothing is guessed: a field of the wrong type is an error, not a default.
"""

import json
import re
from typing import Any

from wnod_core.commands import quote
from wnod_core.errors import Garbled
from wnod_core.interfaces import BatchHost
from wnod_core.model import JobFacts, JobState

from . import NAME

JOB_ID = re.compile(r"[1-9][0-9]{0,17}")
HOST_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]{0,252}")
"""A DNS name; never one starting with "-", which toyq would take for an option."""

STATES = {"queued": JobState.PENDING, "held": JobState.HELD, "running": JobState.RUNNING,
          "suspended": JobState.SUSPENDED, "done": JobState.FINISHED, "cancelled": JobState.CANCELLED}
"""toyq's words for a job's state, in wnod's."""


def job_id(text: object) -> str:
    if not isinstance(text, str) or not JOB_ID.fullmatch(text):
        raise Garbled(f"expected a toyq job id (a number like 42), got {quote(repr(text), 80)}")
    return text


def host_name(text: object) -> str:
    if not isinstance(text, str) or not HOST_NAME.fullmatch(text):
        raise Garbled(f"expected a host name, got {quote(repr(text), 80)}")
    return text


def job(text: str) -> JobFacts:
    """``toyq show JOB --json``: one JSON object. The owner's uid and groups are not in it."""
    record = _json(text, dict)
    user, cpus, state = _field(record, "owner", str), _field(record, "cpus", int), _field(record, "state", str)
    if not user or not cpus:
        raise Garbled(f"expected an owner and at least one CPU, got owner {user!r} and cpus {cpus}")
    if state not in STATES:
        raise Garbled(f"expected state to be one of {', '.join(STATES)}, got {quote(repr(state), 80)}")
    memory = _field(record, "memory_mb", int, optional=True)
    return JobFacts(
        batch_system=NAME,
        job_id=job_id(record.get("id")),
        user=user,
        queue=_field(record, "queue", str),
        cpus=cpus,
        memory=None if memory is None else memory * 1024 * 1024,
        walltime=_field(record, "walltime_s", int, optional=True) or None,
        requested_vm_type=_field(record, "vm_type", str, optional=True) or None,
        state=STATES[state],
        exec_hosts=tuple(host_name(h) for h in _field(record, "hosts", list)),
        reason=_field(record, "comment", str),
    )


def hosts(text: str) -> list[tuple[BatchHost, int | None]]:
    """``toyq hosts --json``: each host, and when its toyq daemon joined (unix seconds; None: not yet)."""
    found = []
    for number, record in enumerate(_json(text, list), 1):
        try:
            if not isinstance(record, dict):
                raise Garbled(f"expected an object, got {quote(repr(record), 80)}")
            host = BatchHost(name=host_name(record.get("name")), state=_field(record, "state", str),
                             accepting=_field(record, "open", bool),
                             jobs=tuple(job_id(j) for j in _field(record, "jobs", list)))
            found.append((host, _field(record, "joined", int, optional=True)))
        except Garbled as exc:
            raise exc.at(f"host {number}") from None
    return found


def _json(text: str, kind: type) -> Any:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise Garbled(f"expected JSON ({exc}), got {quote(text, 200)}") from None
    if not isinstance(value, kind):
        raise Garbled(f"expected a JSON {'object' if kind is dict else 'list'}, got {quote(text, 200)}")
    return value


def _field(record: dict[str, Any], key: str, kind: type, *, optional: bool = False) -> Any:
    value = record.get(key)
    if value is None and optional:
        return None
    # JSON's true is no number of CPUs: bool is an int to Python, not to toyq.
    if not isinstance(value, kind) or (kind is int and (isinstance(value, bool) or value < 0)):
        raise Garbled(f"expected {key} to be {_KINDS[kind]}, got {quote(repr(value), 80)}")
    return value


_KINDS = {str: "a string", int: "a whole number, 0 or more", bool: "true or false", list: "a list"}
