"""Reading what LSF prints: ``bjobs``/``bhosts -o ... -json``, job ids, host lists and limits.

Every parser takes text and returns plain values, or raises ``wnod_core.errors.Garbled``
saying what it expected; the adapter turns that into a ``BatchSystemError`` naming the command. Nothing
here runs a command.
"""

import json
import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

from wnod_core.commands import quote
from wnod_core.errors import Garbled
from wnod_core.model import JobState

Record = Mapping[str, str]
"""One record of ``-json`` output: upper-case field name -> the value LSF printed ("" for none)."""


# -- -json output ------------------------------------------------------------------------------------

def json_records(text: str, command: str) -> list[dict[str, str]]:
    """The RECORDS of ``bjobs``/``bhosts -o ... -json`` output.

    LSF wraps them as ``{"COMMAND": "bjobs", "JOBS": 1, "RECORDS": [{...}]}`` (``"HOSTS"`` for
    bhosts). A client may print a line before the JSON ("Cannot connect to LSF. Please
    wait ..."), so the object is taken from the first ``{`` to the last ``}``. Values are kept
    as the strings LSF prints; a record of an unknown job or host carries ``ERROR`` instead
    of the fields asked for.
    """
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end < start:
        raise Garbled(f"expected {command} -json output (a JSON object), got {quote(text)}")
    try:
        document = json.loads(text[start : end + 1])
    except (json.JSONDecodeError, RecursionError) as exc:
        raise Garbled(f"{command} printed invalid JSON ({exc}): {quote(text)}") from None
    if not isinstance(document, dict) or not isinstance(document.get("RECORDS"), list):
        raise Garbled(f"{command} -json output has no RECORDS list: {quote(text)}")
    records = []
    for record in document["RECORDS"]:
        if not isinstance(record, dict):
            raise Garbled(f"{command} -json output has a record that is not an object: {quote(text)}")
        records.append({str(k).upper(): _text(v) for k, v in record.items()})
    return records


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise Garbled(f"expected a string value, got {value!r}")


# -- job ids -----------------------------------------------------------------------------------------

_DIGITS = re.compile(r"^[0-9]{1,18}\Z")
_JOB_SPEC = re.compile(r"^([0-9]{1,18})(?:\[([0-9]{1,9})\])?\Z")


def job_spec(job_id: str) -> tuple[str, int]:
    """``"123"`` -> ("123", 0); an element of a job array ``"123[4]"`` -> ("123", 4)."""
    match = _JOB_SPEC.match(job_id.strip())
    if not match:
        raise Garbled(f'expected an LSF job id like "123" or "123[4]", got {job_id!r}')
    index = int(match.group(2) or 0)
    return match.group(1), index


def job_id_of(base: str, index: str | int) -> str:
    """The id wnod uses: the job's number, with ``[index]`` for an element of a job array."""
    number = int(index) if str(index).strip() else 0
    return f"{base}[{number}]" if number else base


def record_job_id(record: Record) -> str:
    """The id of the job a bjobs record describes (``JOBID`` plus ``JOBINDEX`` for an array element)."""
    raw = record.get("JOBID", "")
    if "[" in raw:  # some versions print the element as "123[4]" in JOBID itself
        base, index = job_spec(raw)
        return job_id_of(base, index)
    base, _ = job_spec(raw)
    index = record.get("JOBINDEX", "")
    if index and not _DIGITS.match(index):
        raise Garbled(f"expected a job array index, got {index!r}")
    return job_id_of(base, index or 0)


# -- states ------------------------------------------------------------------------------------------

STATES: Mapping[str, JobState] = {
    "PEND": JobState.PENDING,
    "WAIT": JobState.PENDING,  # a member of a chunk job waiting for its turn
    "PSUSP": JobState.HELD,
    "RUN": JobState.RUNNING,
    "PROV": JobState.RUNNING,  # dispatched to a host that is being provisioned
    "UNKWN": JobState.RUNNING,  # mbatchd lost touch with its host; LSF still counts it as running
    "USUSP": JobState.SUSPENDED,
    "SSUSP": JobState.SUSPENDED,
    "DONE": JobState.FINISHED,
    "EXIT": JobState.FAILED,  # a non-zero exit, or killed: bjobs -l says which
    "ZOMBI": JobState.CANCELLED,  # killed while its host was unreachable
}
"""LSF's job states (bjobs STAT), in wnod's words."""


def job_state(stat: str) -> JobState:
    try:
        return STATES[stat.strip().upper()]
    except KeyError:
        raise Garbled(f"expected a job state ({', '.join(STATES)}), got {stat!r}") from None


# -- hosts -------------------------------------------------------------------------------------------

_HOST = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]*\Z")
_COUNTED_HOST = re.compile(r"^(?:([0-9]+)\*)?([A-Za-z0-9][A-Za-z0-9._@-]*)\Z")


def host_name(text: str) -> str:
    name = text.strip()
    if not _HOST.match(name):
        raise Garbled(f"expected a host name, got {text!r}")
    return name


def exec_hosts(text: str) -> tuple[str, ...]:
    """The hosts of a bjobs EXEC_HOST value, each once, in order.

    LSF writes one name per slot separated by ``:`` (``"hostA:hostA:hostB"``), or a count
    and a star (``"4*hostA:2*hostB"``); a pending job has ``""`` (or ``"-"``).
    """
    text = text.strip()
    if text in ("", "-"):
        return ()
    hosts: list[str] = []
    for part in re.split(r"[:\s]+", text):
        if not part:
            continue
        match = _COUNTED_HOST.match(part)
        if not match:
            raise Garbled(f'expected EXEC_HOST like "hostA:hostA" or "4*hostA:2*hostB", got {text!r}')
        if match.group(2) not in hosts:
            hosts.append(match.group(2))
    return tuple(hosts)


def mcpu_hosts(text: str) -> tuple[tuple[str, int], ...]:
    """``LSB_MCPU_HOSTS``: ``"hostA 4 hostB 2"`` -> (("hostA", 4), ("hostB", 2))."""
    words = text.split()
    if not words or len(words) % 2:
        raise Garbled(f'expected LSB_MCPU_HOSTS like "hostA 4 hostB 2", got {text!r}')
    pairs = []
    for name, count in zip(words[::2], words[1::2], strict=True):
        if not _DIGITS.match(count) or int(count) < 1:
            raise Garbled(f"expected a slot count after {name!r} in LSB_MCPU_HOSTS, got {count!r}")
        pairs.append((host_name(name), int(count)))
    return tuple(pairs)


def lsb_hosts(text: str) -> tuple[str, ...]:
    """``LSB_HOSTS``: one name per slot, ``"hostA hostA hostB"``."""
    names = tuple(host_name(w) for w in text.split())
    if not names:
        raise Garbled("expected LSB_HOSTS to name at least one host, got nothing")
    return names


# -- limits ------------------------------------------------------------------------------------------

_UNIT_BYTES = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4, "P": 1024**5, "E": 1024**6}
_SIZE = re.compile(r"^([0-9]+(?:\.[0-9]+)?)\s*([KMGTPE]?)(?:B|BYTES)?\Z", re.IGNORECASE)


def size(text: str, default_unit: str) -> int | None:
    """Bytes of a memory value as bjobs prints it (``"5.2 Gbytes"``, ``"522 MBytes"``, ``"2 G"``).

    A bare number is in `default_unit`, the cluster's LSF_UNIT_FOR_LIMITS (KB unless set).
    ``""`` and ``"-"`` (no limit) give None.
    """
    text = text.strip()
    if text in ("", "-"):
        return None
    match = _SIZE.match(text)
    if not match:
        raise Garbled(f'expected a memory size like "2 Gbytes", got {text!r}')
    unit = (match.group(2) or default_unit[:1]).upper()
    return int(Decimal(match.group(1)) * _UNIT_BYTES[unit])


_CLOCK = re.compile(r"^(?:([0-9]+):)?([0-9]+):([0-9]{1,2})\Z")
_MINUTES = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(?:\s*min)?\Z")


def duration(text: str) -> int | None:
    """Seconds of a run limit as bjobs prints it: ``"00:10:00"`` or ``"10:00"`` (a clock), or
    ``"60.0"``/``"60.0 min"`` (minutes, the unit LSF takes limits in). Anything after a ``/``
    (the host the limit is normalised to) and a trailing flag letter are ignored."""
    text = text.split("/")[0].strip()
    text = re.sub(r"\s+[A-Z]$", "", text)
    if text in ("", "-"):
        return None
    clock = _CLOCK.match(text)
    if clock:
        hours, minutes, seconds = (int(x or 0) for x in clock.groups())
        return hours * 3600 + minutes * 60 + seconds
    minutes_only = _MINUTES.match(text)
    if minutes_only:
        try:
            return int(Decimal(minutes_only.group(1)) * 60)
        except InvalidOperation:  # pragma: no cover - the pattern admits only decimals
            pass
    raise Garbled(f'expected a run limit like "01:30:00" or "90.0 min", got {text!r}')


def count(text: str, default: int = 1) -> int:
    """A slot count; ``""``/``"-"`` give `default`."""
    text = text.strip()
    if text in ("", "-"):
        return default
    if not _DIGITS.match(text) or int(text) < 1:
        raise Garbled(f"expected a positive number of slots, got {text!r}")
    return int(text)
