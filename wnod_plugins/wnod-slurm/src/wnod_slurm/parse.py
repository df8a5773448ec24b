"""Reading what Slurm's commands print: JSON where Slurm has it, `scontrol -o` text where not.

Every reader takes the command's text and returns small records, or raises
``wnod_core.errors.Garbled`` saying what was wrong; the adapter turns that into a
``BatchSystemError`` naming the command and quoting its output. Nothing here runs
a command.

JSON comes in two shapes: Slurm 22.05's openapi v0.0.38 (plain numbers, one state
word) and 23.02+ (numbers as ``{"set", "infinite", "number"}``, states as lists).
Both are read by the same code.
"""

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

import attrs
from wnod_core.errors import Garbled
from wnod_core.model import JobState

# -- host lists ----------------------------------------------------------------------------------

_RANGE = re.compile(r"^(\d+)(?:-(\d+))?\Z")
MAX_HOSTS = 100_000
"""A host list expanding to more is garbage, not a cluster."""


def expand_hostlist(text: str) -> tuple[str, ...]:
    """``"vwn[001-003,7],bait1"`` → ``("vwn001", "vwn002", "vwn003", "vwn7", "bait1")``."""
    text = text.strip()
    if text in ("", "(null)", "None"):
        return ()
    names: list[str] = []
    for item in _split_top(text):
        names.extend(_expand_one(item))
        if len(names) > MAX_HOSTS:
            raise Garbled(f"host list {text[:80]!r} names more than {MAX_HOSTS} hosts")
    return tuple(names)


def _split_top(text: str) -> Iterator[str]:
    depth, start = 0, 0
    for i, c in enumerate(text):
        if c == "[":
            depth += 1
            if depth > 1:
                raise Garbled(f"nested brackets in host list {text!r}")
        elif c == "]":
            depth -= 1
            if depth < 0:
                raise Garbled(f"unbalanced ']' in host list {text!r}")
        elif c == "," and depth == 0:
            yield _checked_item(text[start:i], text)
            start = i + 1
    if depth:
        raise Garbled(f"unclosed '[' in host list {text!r}")
    yield _checked_item(text[start:], text)


def _checked_item(item: str, text: str) -> str:
    if not item or any(c.isspace() for c in item):
        raise Garbled(f"empty or blank host name in host list {text!r}")
    return item


def _expand_one(item: str) -> list[str]:
    open_at = item.find("[")
    if open_at < 0:
        return [item]
    close_at = item.index("]", open_at)
    prefix, body, rest = item[:open_at], item[open_at + 1 : close_at], item[close_at + 1 :]
    tails = _expand_one(rest) if rest else [""]
    heads: list[str] = []
    for part in body.split(","):
        m = _RANGE.match(part)
        if not m:
            raise Garbled(f"bad range {part!r} in host list item {item!r}")
        lo, hi = m.group(1), m.group(2) or m.group(1)
        if int(hi) < int(lo) or int(hi) - int(lo) > MAX_HOSTS:
            raise Garbled(f"bad range {part!r} in host list item {item!r}")
        width = len(lo)
        heads.extend(f"{prefix}{n:0{width}d}" for n in range(int(lo), int(hi) + 1))
    return [h + t for h in heads for t in tails]


# -- jobs ----------------------------------------------------------------------------------------

REQUEUE_HELD = "job requeued in held state"
"""The reason of a job `scontrol requeuehold` took off its node, in both forms: Slurm shows it
as `Reason=job_requeued_in_held_state` in text, and as `state_reason: JobHeldUser` with this
`state_description` in JSON (where a user's own hold has no description)."""

_HELD_REASONS = frozenset({"JobHeldUser", "JobHeldAdmin", REQUEUE_HELD, "launch failed requeued held"})


def _json_reason(job: Mapping[str, Any], where: str) -> str:
    reason = _text(job, "state_reason", where)
    if reason == "JobHeldUser" and _text(job, "state_description", where) == REQUEUE_HELD:
        return REQUEUE_HELD
    return reason


def _text_reason(value: str) -> str:
    return REQUEUE_HELD if value == "job_requeued_in_held_state" else value

_STATES: Mapping[str, JobState] = {
    "PENDING": JobState.PENDING,
    "REQUEUED": JobState.PENDING,
    "REQUEUE_FED": JobState.PENDING,
    "REQUEUE_HOLD": JobState.HELD,
    "SPECIAL_EXIT": JobState.HELD,
    "RUNNING": JobState.RUNNING,
    "CONFIGURING": JobState.RUNNING,
    # Still on its nodes; a job requeued from its bait is COMPLETING there until the bait's Prolog ends.
    "COMPLETING": JobState.RUNNING,
    "SIGNALING": JobState.RUNNING,
    "STAGE_OUT": JobState.RUNNING,
    "RESIZING": JobState.RUNNING,
    "SUSPENDED": JobState.SUSPENDED,
    "STOPPED": JobState.SUSPENDED,
    "COMPLETED": JobState.FINISHED,
    "FAILED": JobState.FAILED,
    "TIMEOUT": JobState.FAILED,
    "NODE_FAIL": JobState.FAILED,
    "PREEMPTED": JobState.FAILED,
    "BOOT_FAIL": JobState.FAILED,
    "DEADLINE": JobState.FAILED,
    "OUT_OF_MEMORY": JobState.FAILED,
    "CANCELLED": JobState.CANCELLED,
    "REVOKED": JobState.CANCELLED,
}
_BASE_STATES = frozenset({"PENDING", "RUNNING", "SUSPENDED", "COMPLETED", "CANCELLED", "FAILED", "TIMEOUT",
                          "NODE_FAIL", "PREEMPTED", "BOOT_FAIL", "DEADLINE", "OUT_OF_MEMORY"})


@attrs.frozen
class SlurmJob:
    """One job as Slurm reports it, in Slurm's own terms."""

    job_id: str
    user: str
    uid: int | None
    group: str
    gid: int | None
    partition: str
    states: tuple[str, ...]
    """Slurm's state words, the base state first (e.g. ("RUNNING", "COMPLETING"))."""
    reason: str = ""
    comment: str = ""
    admin_comment: str = ""
    cpus: int = 1
    memory: int | None = None
    walltime: int | None = None
    nodes: tuple[str, ...] = ()
    required_nodes: tuple[str, ...] = ()
    reservation: str = ""
    priority: int | None = None
    requeue: bool | None = None
    """False for a job submitted with ``--no-requeue`` (``Requeue=0``): Slurm refuses to requeue it,
    so it cannot be taken off its bait ("Requested operation is presently disabled"); None: not shown."""

    @property
    def state(self) -> JobState:
        flags = set(self.states[1:])
        word = self.states[0]
        if word not in _STATES:
            raise Garbled(f"unknown Slurm job state {word!r}")
        state = _STATES[word]
        # PENDING+REQUEUE_HOLD is held; RUNNING+COMPLETING still runs. CANCELLED+COMPLETING
        # (23.02+) has ended: only its processes are still being cleaned up.
        for flag in ("REQUEUE_HOLD", "SPECIAL_EXIT", "COMPLETING", "CONFIGURING", "STAGE_OUT"):
            if flag in flags and not state.is_over:
                return _STATES[flag]
        if state is JobState.PENDING and (self.reason in _HELD_REASONS or self.priority == 0):
            return JobState.HELD
        return state


def _loads(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise Garbled(f"{what} is not JSON ({exc})") from None


def _errors(doc: Mapping[str, Any]) -> str:
    errors = doc.get("errors") or []
    if not isinstance(errors, list):
        return ""
    words = []
    for err in errors:
        if isinstance(err, Mapping):
            words.append(str(err.get("error") or err.get("description") or err))
        else:
            words.append(str(err))
    return "; ".join(w for w in words if w)


def jobs_from_json(text: str) -> list[SlurmJob]:
    """The jobs of ``squeue --json`` or ``scontrol show job --json``."""
    doc = _loads(text, "job listing")
    if not isinstance(doc, Mapping):
        raise Garbled("job listing is not a JSON object")
    jobs = doc.get("jobs")
    if jobs is None:
        errors = _errors(doc)
        raise Garbled(f"job listing has no 'jobs'{': ' + errors if errors else ''}")
    if not isinstance(jobs, list):
        raise Garbled("'jobs' is not a list")
    return [_job_from_json(job, i) for i, job in enumerate(jobs)]


def _job_from_json(job: object, index: int) -> SlurmJob:
    if not isinstance(job, Mapping):
        raise Garbled(f"jobs[{index}] is not an object")
    where = f"jobs[{index}]"
    try:
        job_id = _number(job.get("job_id"), f"{where}.job_id")
        if job_id is None or job_id <= 0:
            raise Garbled(f"{where}.job_id is missing")
        array_job = _number(job.get("array_job_id"), f"{where}.array_job_id")
        array_task = _number(job.get("array_task_id"), f"{where}.array_task_id")
        shown_id = str(job_id)
        if array_job and array_task is not None and array_job != job_id:
            shown_id = str(job_id)  # squeue --jobs accepts the plain id of an array task too
        minutes = _number(job.get("time_limit"), f"{where}.time_limit")
        return SlurmJob(
            job_id=shown_id,
            user=_text(job, "user_name", where, required=True),
            uid=_number(job.get("user_id"), f"{where}.user_id"),
            group=_text(job, "group_name", where),
            gid=_number(job.get("group_id"), f"{where}.group_id"),
            partition=_text(job, "partition", where),
            states=_states(job.get("job_state"), f"{where}.job_state"),
            reason=_json_reason(job, where),
            comment=_text(job, "comment", where),
            admin_comment=_text(job, "admin_comment", where),
            cpus=(cpus := _cpus(job, where)),
            memory=_memory(job, where, cpus),
            walltime=None if minutes is None else minutes * 60,
            nodes=expand_hostlist(_text(job, "nodes", where)),
            required_nodes=expand_hostlist(_text(job, "required_nodes", where)),
            reservation=_text(job, "resv_name", where),
            priority=_number(job.get("priority"), f"{where}.priority"),
            requeue=_requeue(job.get("requeue"), f"{where}.requeue"),
        )
    except Garbled as exc:
        if str(exc).startswith(where):
            raise
        raise exc.at(where) from None


def _text(job: Mapping[str, Any], key: str, where: str, required: bool = False) -> str:
    value = job.get(key)
    if value is None:
        if required:
            raise Garbled(f"{where}.{key} is missing")
        return ""
    if not isinstance(value, str):
        raise Garbled(f"{where}.{key} is {type(value).__name__}, not text")
    if required and not value:
        raise Garbled(f"{where}.{key} is empty")
    return value


def _number(value: object, where: str) -> int | None:
    """An integer of either JSON shape; None for unset or infinite."""
    if isinstance(value, Mapping):  # 23.02+: {"set": true, "infinite": false, "number": 5}
        if not value.get("set", True) or value.get("infinite"):
            return None
        value = value.get("number")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Garbled(f"{where} is {value!r}, not a number")
    if isinstance(value, float) and not value.is_integer():
        raise Garbled(f"{where} is {value!r}, not a whole number")
    return int(value)


def _states(value: object, where: str) -> tuple[str, ...]:
    words = [value] if isinstance(value, str) else value
    if not isinstance(words, list) or not words or not all(isinstance(w, str) and w for w in words):
        raise Garbled(f"{where} is {value!r}, not a state")
    # 23.02+ lists flags with the base state anywhere: put the base first.
    base = [w for w in words if w in _BASE_STATES]
    first = base[0] if base else words[0]
    return (first, *[w for w in words if w != first])


_UNIT = {"": 2**20, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40, "P": 2**50}


_CPU = re.compile(r"(?:^|,)cpu=(\d+)(?:,|$)")


def _cpus(job: Mapping[str, Any], where: str) -> int:
    """The CPUs the job asked for: its requested TRES's cpu=, not ``cpus``, which once it runs is
    what it was given (all of a node for an exclusive job, two for one of a core's two threads)."""
    m = _CPU.search(_text(job, "tres_req_str", where))
    return max(1, int(m.group(1)) if m else _number(job.get("cpus"), f"{where}.cpus") or 1)


def _memory(job: Mapping[str, Any], where: str, cpus: int) -> int | None:
    """The memory the job asked for, in bytes (None: none): per node, or per CPU times its CPUs.

    Not its requested TRES: for a job that asked for none Slurm puts there the whole memory of a
    node (no request means all of a node's), which no VWN size should be taken from."""
    per_node = _number(job.get("memory_per_node"), f"{where}.memory_per_node")
    if per_node:
        return per_node * 2**20
    per_cpu = _number(job.get("memory_per_cpu"), f"{where}.memory_per_cpu")
    return per_cpu * 2**20 * cpus if per_cpu else None


def _cpus_text(f: Mapping[str, str]) -> int:
    """As ``_cpus``, from scontrol's text: its tasks times CPUs per task (at least MinCPUsNode), not
    NumCPUs, what a running job was given. A field Slurm shows as N/A (a job cancelled before it
    ran has NumTasks=N/A) counts one."""

    def count(key: str) -> int:
        value = f.get(key, "N/A")
        if value == "N/A":
            return 1
        if not value.isdigit():
            raise Garbled(f"{key}={value!r} is not a number")
        return int(value)

    return max(1, count("NumTasks") * count("CPUs/Task"), count("MinCPUsNode"))


_SIZE = re.compile(r"(\d+(?:\.\d+)?)([KMGTP]?)\Z")


def _memory_text(f: Mapping[str, str], cpus: int) -> int | None:
    """As ``_memory``, from scontrol's MinMemoryNode or MinMemoryCPU (0: none asked)."""
    for key, times in (("MinMemoryNode", 1), ("MinMemoryCPU", cpus)):
        value = f.get(key)
        if value is None or value == "N/A":
            continue
        m = _SIZE.match(value)
        if not m:
            raise Garbled(f"{key}={value!r} is not a size")
        size = int(float(m.group(1)) * _UNIT[m.group(2)])
        if size:
            return size * times
    return None


# -- scontrol -o text ----------------------------------------------------------------------------

_KEY = re.compile(r"(?:^|(?<=\s))([A-Z][A-Za-z0-9_/:]*)=")
_IDNAME = re.compile(r"^(.*)\((\d+)\)\Z")
_DURATION = re.compile(r"^(?:(\d+)-)?(?:(\d+):)?(\d+):(\d+)\Z")


def fields_from_text(line: str) -> dict[str, str]:
    """``Key=value`` pairs of one ``scontrol show ... -o`` line; values may hold spaces."""
    marks = list(_KEY.finditer(line))
    if not marks:
        raise Garbled("no Key=value fields")
    fields: dict[str, str] = {}
    for i, m in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(line)
        fields.setdefault(m.group(1), line[m.end() : end].strip())
    return fields


def jobs_from_text(text: str) -> list[SlurmJob]:
    """The jobs of ``scontrol show job -o [ID]`` (one line each)."""
    jobs = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            jobs.append(_job_from_fields(fields_from_text(line)))
        except Garbled as exc:
            raise exc.at(f"line {n}") from None
    return jobs


def _idname(value: str, key: str) -> tuple[str, int | None]:
    m = _IDNAME.match(value)
    if not m:
        raise Garbled(f"{key}={value!r} is not NAME(ID)")
    return m.group(1), int(m.group(2))


def _null(value: str) -> str:
    return "" if value in ("(null)", "None", "N/A") else value


def _job_from_fields(f: Mapping[str, str]) -> SlurmJob:
    for key in ("JobId", "UserId", "JobState"):
        if key not in f:
            raise Garbled(f"no {key}=")
    if not f["JobId"].isdigit():
        raise Garbled(f"JobId={f['JobId']!r} is not a number")
    user, uid = _idname(f["UserId"], "UserId")
    group, gid = _idname(f["GroupId"], "GroupId") if "GroupId" in f else ("", None)
    states = tuple(w for w in re.split(r"[+,]", f["JobState"]) if w)
    if not states or not all(re.fullmatch(r"[A-Z_]+", w) for w in states):
        raise Garbled(f"JobState={f['JobState']!r} is not a state")
    ncpus = _cpus_text(f)
    priority = f.get("Priority", "")
    return SlurmJob(
        job_id=f["JobId"],
        user=user,
        uid=uid,
        group=group,
        gid=gid,
        partition=_null(f.get("Partition", "")),
        states=states,
        reason=_text_reason(_null(f.get("Reason", ""))),
        comment=_null(f.get("Comment", "")),
        admin_comment=_null(f.get("AdminComment", "")),
        cpus=ncpus,
        memory=_memory_text(f, ncpus),
        walltime=_duration(f.get("TimeLimit", "")),
        nodes=expand_hostlist(_null(f.get("NodeList", ""))),
        required_nodes=expand_hostlist(_null(f.get("ReqNodeList", ""))),
        reservation=_null(f.get("Reservation", "")),
        priority=int(priority) if priority.isdigit() else None,
        requeue=_requeue(f.get("Requeue"), "Requeue"),
    )


def _requeue(value: object, where: str) -> bool | None:
    """Slurm's requeue flag: a JSON boolean, or Requeue=0/1 in text; absent, None."""
    if value is None or isinstance(value, bool):
        return value
    if value in ("0", "1"):
        return value == "1"
    raise Garbled(f"{where}={value!r} is not a requeue flag (0 or 1)")


def _duration(value: str) -> int | None:
    m = _DURATION.match(value)
    if not m:
        return None  # UNLIMITED, Partition_Limit, N/A
    days, hours, minutes, seconds = (int(g) if g else 0 for g in m.groups())
    if m.group(2) is None:  # MM:SS
        hours, minutes, seconds = 0, int(m.group(3)), int(m.group(4))
    return ((days * 24 + hours) * 60 + minutes) * 60 + seconds


# -- nodes ---------------------------------------------------------------------------------------


@attrs.frozen
class SlurmNode:
    name: str
    state: str
    """Slurm's base state word, lowercase ("idle", "down", "unknown", ...)."""
    flags: tuple[str, ...] = ()
    """Slurm's state flags ("DRAIN", "NOT_RESPONDING", ...)."""
    reason: str = ""
    registered: bool = False
    """Its slurmd has registered since slurmctld started."""
    partitions: tuple[str, ...] = ()
    slurmd_started: int | None = None
    """When its slurmd started (unix seconds), as slurmctld last heard: which incarnation registered."""

    @property
    def responding(self) -> bool:
        down = {"NOT_RESPONDING", "POWERED_DOWN", "POWER_DOWN", "POWERING_UP", "POWERING_DOWN", "CLOUD",
                "FUTURE", "REBOOT_REQUESTED", "REBOOT_ISSUED"}
        return self.registered and self.state not in ("down", "unknown", "future") and not down & set(self.flags)

    @property
    def closed(self) -> bool:
        return bool({"DRAIN", "DRAINED", "DRAINING", "FAIL", "MAINT"} & set(self.flags)) or self.state in (
            "drained", "draining", "drain")

    @property
    def accepting(self) -> bool:
        return self.responding and not self.closed

    @property
    def shown_state(self) -> str:
        return "+".join((self.state, *(f.lower() for f in self.flags)))


def nodes_from_json(text: str) -> list[SlurmNode]:
    """The nodes of ``sinfo --json`` (or ``scontrol show nodes --json``)."""
    doc = _loads(text, "node listing")
    if not isinstance(doc, Mapping) or not isinstance(doc.get("nodes"), list):
        errors = _errors(doc) if isinstance(doc, Mapping) else ""
        raise Garbled(f"node listing has no 'nodes' list{': ' + errors if errors else ''}")
    return [_node_from_json(node, i) for i, node in enumerate(doc["nodes"])]


def _node_from_json(node: object, index: int) -> SlurmNode:
    where = f"nodes[{index}]"
    if not isinstance(node, Mapping):
        raise Garbled(f"{where} is not an object")
    name = _text(node, "name", where, required=True)
    raw = node.get("state")
    words = [raw] if isinstance(raw, str) else raw
    if not isinstance(words, list) or not words or not all(isinstance(w, str) and w for w in words):
        raise Garbled(f"{where}.state is {raw!r}, not a state")
    flags = node.get("state_flags", [])
    if not isinstance(flags, list) or not all(isinstance(f, str) for f in flags):
        raise Garbled(f"{where}.state_flags is {flags!r}, not a list of words")
    # 23.02+ puts base state and flags in one list of upper-case words.
    state, *more = words
    partitions = node.get("partitions") or []
    if not isinstance(partitions, list):
        raise Garbled(f"{where}.partitions is {partitions!r}, not a list")
    started = _number(node.get("slurmd_start_time"), f"{where}.slurmd_start_time")
    return SlurmNode(
        name=name,
        state=state.lower(),
        flags=tuple(f.upper() for f in (*more, *flags)),
        reason=_text(node, "reason", where),
        registered=bool(started) if "slurmd_start_time" in node else True,
        partitions=tuple(str(p) for p in partitions),
        slurmd_started=started or None,
    )
