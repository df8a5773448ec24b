"""``[batch.htcondor]``: where HTCondor's tools are, which pool and schedd, which job attributes mean what."""

import re

import attrs
from wnod_core.config.checks import absolute_path_or_empty, longer_than_zero
from wnod_core.model.fields import documented

ATTRIBUTE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
"""A ClassAd attribute name, as ``condor_qedit`` accepts one."""


def _attribute(_inst: object, attr: attrs.Attribute, value: str) -> None:
    if value and not ATTRIBUTE_NAME.match(value):
        raise ValueError(f"{attr.name}: {value!r} is not a ClassAd attribute name (letters, digits, _)")


@attrs.frozen
class HTCondorOptions:
    """`[batch.htcondor]`."""

    bin_dir: str = documented(
        "Directory of HTCondor's tools (condor_q, condor_status, condor_qedit, condor_hold, condor_release,"
        " condor_rm, condor_vacate_job, condor_config_val, condor_reconfig), e.g. /usr/bin. Empty: found on"
        " the daemon's PATH.",
        default="",
        validator=absolute_path_or_empty,
    )
    pool: str = documented(
        "Central manager, host[:port], passed to every tool as -pool. Empty: the local pool of the"
        " host's HTCondor configuration.",
        default="",
    )
    schedd: str = documented(
        "Name of the schedd holding the jobs (-name for condor_q, condor_qedit, condor_hold,"
        " condor_release, condor_rm, condor_vacate_job). Empty: the local schedd.",
        default="",
    )
    timeout: float = documented(
        "Seconds each HTCondor command may take before it is killed and the call fails.",
        default=30.0,
        converter=float,
        validator=longer_than_zero,
    )
    vm_type_attribute: str = documented(
        "Job attribute through which a user asks for a VM type, set in the submit file as"
        ' `+WnodVmType = "atlas"` (or `My.WnodVmType = "atlas"`).',
        default="WnodVmType",
        validator=_attribute,
    )
    queue_attribute: str = documented(
        "Job attribute reported as the job's queue (what by-queue maps), e.g. JobFlavour or AcctGroup."
        " Empty, or a job without it: the pool's name (pool_name).",
        default="",
        validator=_attribute,
    )
    pool_name: str = documented(
        "Queue reported for jobs when queue_attribute gives none. Empty: the pool option, or \"local\".",
        default="",
    )
    walltime_attribute: str = documented(
        "Job attribute holding the job's wall-clock limit in seconds (submit command"
        " allowed_execute_duration sets AllowedExecuteDuration). Empty: no walltime is reported.",
        default="AllowedExecuteDuration",
        validator=_attribute,
    )

    @property
    def queue_name(self) -> str:
        return self.pool_name or self.pool or "local"
