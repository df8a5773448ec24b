"""A batch job as wnod sees it: the facts its batch system vouches for."""

import enum

import attrs


class JobState(enum.StrEnum):
    """Where a job stands in its batch system, in words common to every system."""

    PENDING = "pending"
    HELD = "held"
    RUNNING = "running"
    SUSPENDED = "suspended"
    FINISHED = "finished"
    FAILED = "failed"
    """It ended with an error of its own or of its node: a non-zero exit, out of time or memory,
    its node failed. Over, like FINISHED: the batch system says how, wnod does not judge it."""
    CANCELLED = "cancelled"
    UNKNOWN = "unknown"
    """The batch system no longer knows the job (purged from its records)."""

    @property
    def is_over(self) -> bool:
        return self in (JobState.FINISHED, JobState.FAILED, JobState.CANCELLED, JobState.UNKNOWN)


def _groups(value: object) -> tuple[str, ...]:
    # A lone string is one name: tuple("atlas") would make it five one-letter groups.
    if isinstance(value, str):
        return (value,)
    return tuple(value)  # type: ignore[call-overload]


@attrs.frozen
class JobFacts:
    """What the batch system says about one job.

    Always read from the batch system by job id (never from the job's own
    environment, which its owner controls): resolvers decide on these facts.
    """

    batch_system: str
    """Name of the batch-system plugin that read these facts."""
    job_id: str = attrs.field()
    user: str
    groups: tuple[str, ...] = attrs.field(converter=_groups, default=())
    """The owner's groups, primary group first."""
    queue: str = ""
    """Queue (LSF, PBS), partition (Slurm) or pool (HTCondor)."""
    uid: int | None = None
    cpus: int = 1
    memory: int | None = None
    """Requested memory in bytes, if the job asked for any."""
    walltime: int | None = None
    """Requested wall-clock limit in seconds, if any."""
    requested_vm_type: str | None = None
    """The VM type the job asked for through its batch system's normal means."""
    state: JobState = JobState.PENDING
    exec_hosts: tuple[str, ...] = attrs.field(converter=_groups, default=())
    """Hosts the job runs on (or ran on), when the batch system says."""
    reason: str = ""
    """The batch system's pending/hold reason, as it reports it."""
    movable: bool = True
    """Whether the batch system can take the job off its bait to start it again on a VWN: not a
    job its owner submitted not to be rerun (PBS ``qsub -r n``, Slurm ``sbatch --no-requeue``),
    which wnod could only ever boot a VWN for and then fail to move."""

    @job_id.validator
    def _check_job_id(self, _attr: attrs.Attribute, value: str) -> None:
        if not value or any(c.isspace() for c in value):
            raise ValueError(f"job id must be a non-empty word, got {value!r}")

    @property
    def primary_group(self) -> str | None:
        return self.groups[0] if self.groups else None
