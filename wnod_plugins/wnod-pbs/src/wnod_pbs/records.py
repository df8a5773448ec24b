"""A job and a node as qstat and pbsnodes describe them, whatever the format they came in."""

from collections.abc import Mapping

import attrs
from wnod_core.errors import Garbled
from wnod_core.model import JobFacts, JobState

from .comments import read_back
from .formats import duration_seconds, exec_hosts, job_state, owner_user, size_bytes


def _text(attrs_: Mapping[str, object], name: str, default: str = "") -> str:
    value = attrs_.get(name, default)
    if isinstance(value, dict | list):
        raise Garbled(f"{name} should be a plain value, got {value!r}")
    return str(value)


_TRUTH = {"true": True, "y": True, "false": False, "n": False}


def _flag(attrs_: Mapping[str, object], name: str) -> bool | None:
    """A boolean attribute (``True``/``False``; ``y``/``n`` as qsub takes it); None when not shown."""
    if name not in attrs_:
        return None
    value = _text(attrs_, name).strip().lower()
    if value not in _TRUTH:
        raise Garbled(f"{name} should be True or False, got {attrs_[name]!r}")
    return _TRUTH[value]


@attrs.frozen
class JobRecord:
    """One job of ``qstat -f``: the attributes wnod reads, as PBS wrote them."""

    job_id: str
    job_state: str
    user: str
    group: str
    queue: str
    resources: Mapping[str, str]
    exec_host: str = ""
    comment: str = ""
    hold_types: str = "n"
    substate: str = ""
    rerunable: bool | None = None
    """``Rerunable``: False for ``qsub -r n``, a job a rerun would lose the work of; None when not shown."""

    @classmethod
    def from_attributes(cls, job_id: str, attributes: Mapping[str, object]) -> "JobRecord":
        """From one job's attributes; ``Resource_List`` a mapping of resource name to value."""
        if not isinstance(attributes, Mapping):
            raise Garbled(f"job {job_id}: attributes should be a mapping, got {attributes!r}")
        for required in ("job_state", "queue", "Job_Owner"):
            if required not in attributes:
                raise Garbled(f"job {job_id} has no {required}")
        resources = attributes.get("Resource_List", {})
        if not isinstance(resources, Mapping):
            raise Garbled(f"job {job_id}: Resource_List should be a mapping, got {resources!r}")
        user = _text(attributes, "euser") or owner_user(_text(attributes, "Job_Owner"))
        record = cls(
            job_id=job_id,
            job_state=_text(attributes, "job_state"),
            user=user,
            group=_text(attributes, "egroup"),
            queue=_text(attributes, "queue"),
            resources={str(k): str(v) for k, v in resources.items()},
            exec_host=_text(attributes, "exec_host"),
            comment=_text(attributes, "comment"),
            hold_types=_text(attributes, "Hold_Types", "n"),
            substate=_text(attributes, "substate"),
            rerunable=_flag(attributes, "Rerunable"),
        )
        record.state  # noqa: B018  (an unknown state letter is garbage now, not later)
        record.hosts  # noqa: B018
        return record

    @property
    def state(self) -> JobState:
        return job_state(self.job_state, self.substate)

    @property
    def hosts(self) -> tuple[str, ...]:
        return exec_hosts(self.exec_host)

    def cpus(self) -> int:
        r = self.resources
        if "ncpus" in r:
            return _count(r["ncpus"], "ncpus")
        if "procs" in r:  # Torque
            return _count(r["procs"], "procs")
        if "nodes" in r:  # Torque: nodes=2:ppn=4+1:ppn=2, or a host name
            return _torque_nodes_cpus(r["nodes"])
        return 1

    def facts(self, batch_system: str, vm_type_resource: str) -> JobFacts:
        r = self.resources
        requested = r.get(vm_type_resource, "").strip() or None
        try:
            return JobFacts(
                batch_system=batch_system,
                job_id=self.job_id,
                user=self.user,
                groups=(self.group,) if self.group else (),
                queue=self.queue,
                cpus=self.cpus(),
                memory=size_bytes(r["mem"]) if "mem" in r else None,
                walltime=duration_seconds(r["walltime"]) if "walltime" in r else None,
                requested_vm_type=requested,
                state=self.state,
                exec_hosts=self.hosts,
                reason=read_back(self.comment),
                movable=self.rerunable is not False,
            )
        except ValueError as exc:
            raise Garbled(f"job {self.job_id}: {exc}") from None


def _count(value: str, name: str) -> int:
    if not value.strip().isdigit():
        raise Garbled(f"{name} is not a count: {value!r}")
    return int(value)


def _torque_nodes_cpus(spec: str) -> int:
    total = 0
    for part in spec.split("+"):
        fields = part.split(":")
        count = int(fields[0]) if fields[0].isdigit() else 1  # a host name or property stands for one node
        ppn = 1
        for f in fields[1:]:
            if f.startswith("ppn="):
                ppn = _count(f[4:], "ppn")
        total += count * ppn
    if total < 1:
        raise Garbled(f"nodes asks for no processor: {spec!r}")
    return total


@attrs.frozen
class NodeRecord:
    """One host of ``pbsnodes``."""

    name: str
    state: str
    comment: str = ""
    jobs: tuple[str, ...] = ()
    since: float | None = None
    """From when its state holds, as far as PBS shows (OpenPBS: ``last_state_change_time``; Torque:
    the MOM's ``rectime`` less its ``uptime``, when it booted): tells an earlier VWN's
    registration under the same name from the new VWN's."""
