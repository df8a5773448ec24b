"""The HTCondor adapter: the engine's batch system, through HTCondor's command-line tools.

How a job is bound to its VWN, and nothing else lands there:

- the job: one ``condor_qedit`` transaction sets ``WnodVwn = "<vwn>"``, keeps the job's
  own Requirements in ``WnodRequirements`` and makes its Requirements
  ``(TARGET.Machine == "<vwn>") && (<own requirements>)``: it matches that machine only;
- the VWN: its startd's ``START`` admits a job whose ``WnodVwn`` names its ``Machine``,
  and other jobs only while its ``WnodOpen`` is true. VWNs join with ``WnodOpen = False``
  (contrib/htcondor/vwn.conf), so a VWN closed before it exists is closed when it joins;
  ``open_host``/``close_host`` flip ``WnodOpen`` with ``condor_config_val -rset`` and
  ``condor_reconfig``.

``release`` puts the job's own Requirements back and clears ``WnodVwn``.
"""

from collections.abc import Mapping, Sequence

from wnod_core.commands import Result, Tools
from wnod_core.errors import BatchSystemError, JobNotFound
from wnod_core.interfaces import BatchHost, BatchSystem
from wnod_core.model import JobFacts, JobState
from wnod_core.text import on_one_line

from . import bait
from .ads import Ad, check_hostname, classad_string, parse_ads, slot_host, slot_hosts
from .options import HTCondorOptions

NAME = "htcondor"

VWN_ATTR = "WnodVwn"
"""Job attribute: the VWN the job is bound to. Slot attribute (STARTD_ATTRS): true on a VWN."""
SAVED_REQUIREMENTS_ATTR = "WnodRequirements"
"""Job attribute: the job's own Requirements while wnod's binding replaces them."""
OPEN_KNOB = "WnodOpen"
"""VWN startd knob and slot attribute: whether jobs other than its bound one may start there."""

JOB_STATES: Mapping[int, JobState] = {
    1: JobState.PENDING,  # Idle
    2: JobState.RUNNING,  # Running
    3: JobState.CANCELLED,  # Removed
    4: JobState.FINISHED,  # Completed
    5: JobState.HELD,  # Held
    6: JobState.RUNNING,  # Transferring Output
    7: JobState.SUSPENDED,  # Suspended
}
"""HTCondor's JobStatus codes (job ClassAd attribute JobStatus) in wnod's words."""

_ON_A_HOST = (2, 6, 7)
_OVER = (3, 4)

SLOT_ATTRS = ("Name", "Machine", "State", "Activity", "JobId", "DaemonStartTime", VWN_ATTR, OPEN_KNOB)


class HTCondorBatchSystem(BatchSystem):
    """HTCondor, driven through condor_q, condor_status, condor_qedit, condor_hold, condor_release,
    condor_rm, condor_vacate_job, condor_config_val and condor_reconfig."""

    name = NAME

    def __init__(self, options: HTCondorOptions | None = None) -> None:
        self.options = options or HTCondorOptions()
        self.runner = Tools(bin_dir=self.options.bin_dir, timeout=self.options.timeout)

    # -- arguments ---------------------------------------------------------------------------------

    def _pool_args(self) -> list[str]:
        return ["-pool", self.options.pool] if self.options.pool else []

    def _schedd_args(self) -> list[str]:
        return [*self._pool_args(), *(["-name", self.options.schedd] if self.options.schedd else [])]

    def _job_attrs(self) -> list[str]:
        names = [
            "ClusterId", "ProcId", "Owner", "AcctGroup", "JobStatus", "ExitCode", "ExitBySignal", "RequestCpus",
            "RequestMemory",
            "RemoteHost", "RemoteHosts", "LastRemoteHost", "HoldReason", "RemoveReason", "Requirements",
            VWN_ATTR, SAVED_REQUIREMENTS_ATTR, self.options.vm_type_attribute,
        ]
        for optional in (self.options.queue_attribute, self.options.walltime_attribute):
            if optional:
                names.append(optional)
        return sorted(set(names))

    # -- reading -----------------------------------------------------------------------------------

    def _job_ad(self, job_id: str) -> Ad:
        cluster, proc = bait.parse_job_id(job_id)
        args = [*self._schedd_args(), "-allusers", "-json", "-attributes", ",".join(self._job_attrs()), job_id]
        result = self.runner.check("condor_q", *args)
        ads = parse_ads(result.command, result.stdout)
        if not ads:
            raise JobNotFound(f"htcondor: no job {job_id} in the queue (`{result.command}` printed nothing)")
        if len(ads) != 1:
            raise result.error(f"printed {len(ads)} ads for the one job {job_id}")
        ad = ads[0]
        if (ad.integer("ClusterId"), ad.integer("ProcId")) != (cluster, proc):
            raise result.error(f"answered for job {ad.get('ClusterId')}.{ad.get('ProcId')}, not {job_id}")
        return ad

    def _facts(self, job_id: str, ad: Ad) -> JobFacts:
        status = ad.integer("JobStatus")
        state = JOB_STATES.get(status)
        if state is None:
            raise BatchSystemError(f"`{ad.command}` printed JobStatus = {status}, which HTCondor does not define")
        if state is JobState.FINISHED and (ad.optional_bool("ExitBySignal") or (ad.optional_integer("ExitCode") or 0)):
            state = JobState.FAILED  # Completed, but by a signal or with a non-zero exit code
        memory_mib = ad.optional_integer("RequestMemory")
        walltime = ad.optional_integer(self.options.walltime_attribute) if self.options.walltime_attribute else None
        group = ad.optional_string("AcctGroup")
        return JobFacts(
            batch_system=NAME,
            job_id=job_id,
            user=ad.string("Owner"),
            groups=(group,) if group else (),
            queue=self._queue(ad),
            cpus=ad.optional_integer("RequestCpus") or 1,
            memory=memory_mib * 1024 * 1024 if memory_mib is not None else None,
            walltime=walltime if walltime and walltime > 0 else None,
            requested_vm_type=self._requested_type(ad),
            state=state,
            exec_hosts=self._exec_hosts(ad, status),
            reason=self._reason(ad, status),
        )

    def _queue(self, ad: Ad) -> str:
        attr = self.options.queue_attribute
        value = ad.get(attr) if attr else None
        if isinstance(value, str) and value.strip():
            return value.strip()
        return self.options.queue_name

    def _requested_type(self, ad: Ad) -> str | None:
        # The owner's own attribute: whatever it holds is passed on as asked (`+WnodVmType = atlas`,
        # unquoted, reads as "atlas"); a resolver refuses a type that does not exist, with the reason.
        value = ad.get(self.options.vm_type_attribute)
        if isinstance(value, str):
            return value.strip() or None
        return ad.expression(self.options.vm_type_attribute)

    def _exec_hosts(self, ad: Ad, status: int) -> tuple[str, ...]:
        if status in _ON_A_HOST:
            many = ad.optional_string("RemoteHosts")
            if many:
                return tuple(dict.fromkeys(slot_hosts(many, ad.command)))
            one = ad.optional_string("RemoteHost")
            return (slot_host(one, ad.command),) if one else ()
        if status == 4:
            last = ad.optional_string("LastRemoteHost")
            return (slot_host(last, ad.command),) if last else ()
        return ()

    def _reason(self, ad: Ad, status: int) -> str:
        attr = {5: "HoldReason", 3: "RemoveReason"}.get(status)
        value = ad.get(attr) if attr else None
        return value if isinstance(value, str) else ""

    def job_facts(self, job_id: str) -> JobFacts:
        return self._facts(job_id, self._job_ad(job_id))

    def _slots(self, hostname: str | None = None) -> list[Ad]:
        args = [*self._pool_args(), "-json", "-attributes", ",".join(SLOT_ATTRS)]
        if hostname is not None:
            args += ["-constraint", f"Machine == {classad_string(check_hostname(hostname))}"]
        result = self.runner.check("condor_status", *args)
        slots = parse_ads(result.command, result.stdout)
        for slot in slots:
            machine = slot.string("Machine")
            if hostname is not None and machine.lower() != hostname.lower():
                raise result.error(f"answered for machine {machine!r}, not {hostname!r}")
        return slots

    def host_ready(self, hostname: str, since: float) -> bool:
        # A startd started before `since` is an earlier VWN's: the collector keeps a gone
        # machine's ads until they expire (CLASSAD_LIFETIME).
        return any(
            slot.optional_string("State") == "Unclaimed" and (slot.optional_integer("DaemonStartTime") or 0) >= int(since)
            for slot in self._slots(hostname)
        )

    def hosts(self) -> Sequence[BatchHost]:
        by_machine: dict[str, list[Ad]] = {}
        for slot in self._slots():
            by_machine.setdefault(slot.string("Machine"), []).append(slot)
        return [self._host(name, slots) for name, slots in sorted(by_machine.items())]

    def _host(self, name: str, slots: list[Ad]) -> BatchHost:
        states = sorted({f"{s.optional_string('State') or '?'}/{s.optional_string('Activity') or '?'}" for s in slots})
        vwn = any(s.optional_bool(VWN_ATTR) for s in slots)
        is_open = not vwn or any(s.optional_bool(OPEN_KNOB) for s in slots)
        state = ",".join(states) + ("" if is_open else f" ({OPEN_KNOB}=false)")
        jobs = sorted({j for s in slots if (j := s.optional_string("JobId"))})
        unclaimed = any(s.optional_string("State") == "Unclaimed" for s in slots)
        return BatchHost(name=name, state=state, accepting=is_open and unclaimed, jobs=tuple(jobs))

    # -- migrate and release -----------------------------------------------------------------------

    def migrate(self, job_id: str, hostname: str) -> None:
        check_hostname(hostname)
        ad = self._job_ad(job_id)
        status = ad.integer("JobStatus")
        if status in _OVER:
            raise JobNotFound(f"htcondor: job {job_id} has left ({JOB_STATES[status]}); it cannot move")
        bound = ad.get(VWN_ATTR)
        if isinstance(bound, str) and bound.lower() == hostname.lower() and ad.has(SAVED_REQUIREMENTS_ATTR):
            return  # bound already: a repeated migrate changes nothing
        own = ad.expression(SAVED_REQUIREMENTS_ATTR) or ad.expression("Requirements") or "true"
        self._qedit(job_id, {
            VWN_ATTR: classad_string(hostname),
            SAVED_REQUIREMENTS_ATTR: own,
            "Requirements": f"(TARGET.Machine == {classad_string(hostname)}) && ({own})",
        })

    def release(self, job_id: str, reason: str) -> None:
        ad = self._job_ad(job_id)
        status = ad.integer("JobStatus")
        if status in _OVER:
            return
        own = ad.expression(SAVED_REQUIREMENTS_ATTR)
        bound = ad.get(VWN_ATTR)
        if status in _ON_A_HOST and isinstance(bound, str) and bound.lower() in (
                h.lower() for h in self._exec_hosts(ad, status)):
            # Started on the VWN it was bound to, which wnod gave up: off it, back to idle. Before
            # the binding goes: a vacate that fails leaves it, so the retry vacates again.
            self._vacate(job_id)
        if own is not None or ad.has(VWN_ATTR):
            edits = {VWN_ATTR: "undefined", SAVED_REQUIREMENTS_ATTR: "undefined"}
            if own is not None:
                edits["Requirements"] = own
            self._qedit(job_id, edits)
        if status == 5:
            result = self._job_action("condor_release", job_id, reason)
            if result.returncode != 0 and f"Job {job_id} not held to be released" not in result.stderr:
                raise result.error("failed")

    def _qedit(self, job_id: str, edits: Mapping[str, str]) -> None:
        args = [*self._schedd_args(), job_id]
        for attr, value in edits.items():
            args += [attr, value]
        result = self.runner.run("condor_qedit", *args)
        if result.returncode == 0:
            return
        if f"for job {job_id}." in result.stderr and "Failed to set attribute" in result.stderr:
            # The schedd no longer has the job (removed, or gone to history meanwhile).
            raise JobNotFound(f"htcondor: job {job_id} left the queue: {result.error('failed')}")
        raise result.error("failed")

    def _vacate(self, job_id: str) -> None:
        bait.parse_job_id(job_id)
        # -fast: killed now, not after MachineMaxVacateTime, as wnod may give the VWN to another job.
        result = self.runner.run("condor_vacate_job", *self._schedd_args(), "-fast", job_id)
        text = result.stdout + result.stderr
        if result.returncode == 0 and f"Job {job_id} fast-vacated" in text:
            return
        if f"Job {job_id} not running to be fast-vacated" in text:
            return  # off its host already (its shadow exited meanwhile): nothing left to vacate
        if f"Job {job_id} not found" in text:
            raise JobNotFound(f"htcondor: no job {job_id} to vacate: {result.error('failed')}")
        raise result.error("failed")

    # -- hold and fail -----------------------------------------------------------------------------

    def _job_action(self, tool: str, job_id: str, reason: str) -> Result:
        bait.parse_job_id(job_id)
        return self.runner.run(tool, *self._schedd_args(), "-reason", on_one_line(str(reason)) or "wnod", job_id)

    def hold(self, job_id: str, reason: str) -> None:
        result = self._job_action("condor_hold", job_id, reason)
        text = result.stdout + result.stderr
        if result.returncode == 0 and f"Job {job_id} held" in text:
            return
        if f"Job {job_id} already held" in text:
            return
        if f"Job {job_id} not found" in text:
            raise JobNotFound(f"htcondor: no job {job_id} to hold: {result.error('failed')}")
        raise result.error("failed")

    def fail(self, job_id: str, reason: str) -> None:
        result = self._job_action("condor_rm", job_id, reason)
        text = result.stdout + result.stderr
        if result.returncode == 0 and f"Job {job_id} marked for removal" in text:
            return
        if f"Job {job_id} already marked for removal" in text:
            return
        if f"Job {job_id} not found" in text:
            # Removed idle jobs leave the queue at once: to a second fail, as to a job never
            # submitted, the schedd says only that it has none such.
            raise JobNotFound(f"htcondor: no job {job_id} in the queue (`{result.command}`: not found)")
        raise result.error("failed")

    # -- open and close ----------------------------------------------------------------------------

    def close_host(self, hostname: str) -> None:
        slots = self._slots(hostname)
        if not slots:
            return  # not joined yet: a VWN's startd joins closed (WnodOpen = False in its config)
        self._check_vwn(hostname, slots)
        if any(s.optional_bool(OPEN_KNOB) for s in slots):
            self._set_open(hostname, False)

    def open_host(self, hostname: str) -> None:
        slots = self._slots(hostname)
        if not slots:
            raise BatchSystemError(
                f"htcondor: {hostname} is not in the pool (`condor_status` lists no slot of it);"
                " a VWN can be opened once its startd has joined"
            )
        self._check_vwn(hostname, slots)
        if not all(s.optional_bool(OPEN_KNOB) for s in slots):
            self._set_open(hostname, True)

    def _check_vwn(self, hostname: str, slots: list[Ad]) -> None:
        if not any(s.optional_bool(VWN_ATTR) for s in slots):
            raise BatchSystemError(
                f"htcondor: {hostname} does not advertise {VWN_ATTR} = True: it is not configured as a"
                f" wnod VWN (contrib/htcondor/vwn.conf), so {OPEN_KNOB} would not open or close it"
            )

    def _set_open(self, hostname: str, value: bool) -> None:
        setting = f"{OPEN_KNOB} = {'True' if value else 'False'}"
        target = [*self._pool_args(), "-name", hostname]
        self.runner.check("condor_config_val", *target, "-startd", "-rset", setting)
        self.runner.check("condor_reconfig", *target, "-daemon", "startd")
