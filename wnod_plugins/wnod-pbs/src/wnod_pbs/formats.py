"""What both flavours of PBS write the same way: job ids, sizes, durations, exec_host
strings, job and node states. Every reader raises ``wnod_core.errors.Garbled`` on what it
cannot read; the adapter turns that into a ``BatchSystemError`` naming the command and quoting it."""

import re

from wnod_core.errors import Garbled
from wnod_core.model import JobState

JOB_ID = re.compile(r"^\d+(\[\d*(-\d+(:\d+)?)?\])?(\.[A-Za-z0-9][A-Za-z0-9_.-]*)?(@[A-Za-z0-9][A-Za-z0-9_.-]*)?\Z")
"""``<sequence number>[<index>][.<server name>][@<server>]`` (qstat(1B) operands): ``123``,
``123.srv``, ``123[].srv`` (an array), ``123[4].srv`` (one of its subjobs)."""


def is_job_id(text: str) -> bool:
    return bool(JOB_ID.match(text))


def sequence_number(job_id: str) -> str:
    """``123[4].srv`` -> ``123[4]``: the id without its server, as PBS accepts it too."""
    return job_id.split("@", 1)[0].split(".", 1)[0]


def same_job(a: str, b: str) -> bool:
    """Whether two spellings name one job: ``123`` and ``123.srv.example`` do."""
    if sequence_number(a) != sequence_number(b):
        return False
    sa, sb = (x.split("@", 1)[0].partition(".")[2] for x in (a, b))
    return not sa or not sb or sa == sb or sa.startswith(sb + ".") or sb.startswith(sa + ".")


_SIZE = re.compile(r"^(\d+)([kmgtp]?)([bw]?)\Z", re.IGNORECASE)
_SCALE = {"": 0, "k": 1, "m": 2, "g": 3, "t": 4, "p": 5}
WORD_BYTES = 8
"""A PBS "word" (size suffix w) on the 64-bit hosts wnod runs on."""


def size_bytes(text: object) -> int:
    """A PBS size (``4gb``, ``512mb``, ``1024kb``, ``100``, ``2gw``) in bytes; 1kb is 1024 bytes."""
    if isinstance(text, bool):
        raise Garbled(f"not a size: {text!r}")
    if isinstance(text, int):
        return text
    m = _SIZE.match(str(text).strip())
    if not m:
        raise Garbled(f"not a size: {text!r}")
    unit = WORD_BYTES if m.group(3).lower() == "w" else 1
    return int(m.group(1)) * unit * 1024 ** _SCALE[m.group(2).lower()]


def duration_seconds(text: object) -> int:
    """A PBS duration (``01:30:00``, ``90:00``, ``5400``, ``5400.5``) in whole seconds."""
    if isinstance(text, bool):
        raise Garbled(f"not a duration: {text!r}")
    if isinstance(text, int | float):
        if text < 0:
            raise Garbled(f"not a duration: {text!r}")
        return int(text)
    parts = str(text).strip().split(":")
    if not 1 <= len(parts) <= 3 or not all(re.fullmatch(r"\d+(\.\d+)?", p) for p in parts):
        raise Garbled(f"not a duration: {text!r}")
    seconds = 0.0
    for part in parts:
        seconds = seconds * 60 + float(part)
    return int(seconds)


def exec_hosts(text: str) -> tuple[str, ...]:
    """The hosts of an exec_host string, first (the job's primary host) first, each once.

    OpenPBS: ``node1/0*2+node2/1`` (host/index, ``*ncpus``); Torque: ``node1/0-1,3+node2/0``.
    """
    hosts: list[str] = []
    text = text.strip()
    if not text:
        return ()
    for chunk in text.split("+"):
        host, slash, index = chunk.strip().partition("/")
        if not host or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", host):
            raise Garbled(f"not an exec_host list: {text!r}")
        if slash and not re.fullmatch(r"[0-9][0-9,\-]*(\*\d+)?", index):
            raise Garbled(f"not an exec_host list: {text!r}")
        if host not in hosts:
            hosts.append(host)
    return tuple(hosts)


JOB_STATES: dict[str, JobState] = {
    "Q": JobState.PENDING,  # queued
    "W": JobState.PENDING,  # waiting for its execution time
    "T": JobState.PENDING,  # being moved (transit)
    "H": JobState.HELD,
    "R": JobState.RUNNING,
    "E": JobState.RUNNING,  # exiting: still on its hosts until it is F (or C)
    "B": JobState.RUNNING,  # an array with subjobs started
    "S": JobState.SUSPENDED,
    "U": JobState.SUSPENDED,  # suspended while its workstation is busy
    "F": JobState.FINISHED,  # OpenPBS history
    "X": JobState.FINISHED,  # an OpenPBS subjob that finished
    "C": JobState.FINISHED,  # Torque: completed
    "M": JobState.UNKNOWN,  # moved to another server: this one no longer runs it
}
"""job_state letters (OpenPBS pbs_job_attributes(7B), Torque qstat(1)) in wnod's words."""

DELETED_SUBSTATE = 91
"""OpenPBS job substate of a finished job that was deleted (92 finished, 93 failed)."""
FAILED_SUBSTATE = 93


def job_state(letter: object, substate: object = None) -> JobState:
    if not isinstance(letter, str) or letter not in JOB_STATES:
        raise Garbled(f"unknown job_state {letter!r}")
    state = JOB_STATES[letter]
    if state is JobState.FINISHED and str(substate) == str(DELETED_SUBSTATE):
        return JobState.CANCELLED
    if state is JobState.FINISHED and str(substate) == str(FAILED_SUBSTATE):
        return JobState.FAILED
    return state


NOT_JOINED = frozenset({"down", "state-unknown", "stale", "unresolvable", "provisioning", "wait-provisioning",
                        "sleep", "initializing", "unknown", "UNKNOWN"})
"""Node states saying the host's MOM is not (or not yet) serving: it has not joined."""

NOT_ACCEPTING = NOT_JOINED | frozenset({"offline", "offline_by_mom", "maintenance", "job-busy", "job-exclusive",
                                        "resv-exclusive", "busy", "reserve"})
"""Node states in which no new job may be dispatched to the host."""


def node_state_words(text: object) -> tuple[str, ...]:
    """``"down,offline"`` -> ``("down", "offline")``."""
    if not isinstance(text, str) or not text.strip():
        raise Garbled(f"not a node state: {text!r}")
    words = tuple(w.strip() for w in text.split(","))
    if not all(re.fullmatch(r"[A-Za-z][A-Za-z_-]*", w) for w in words):
        raise Garbled(f"not a node state: {text!r}")
    return words


def owner_user(job_owner: str) -> str:
    """``alice@submit.example`` -> ``alice``."""
    user = job_owner.partition("@")[0].strip()
    if not user or any(c.isspace() for c in user):
        raise Garbled(f"not a Job_Owner: {job_owner!r}")
    return user
