"""Slurm's bait side: ``wnod bait`` as the slurmd Prolog of a bait node (contrib/slurm/wnod-prolog).

slurmd gives the Prolog the job and the node in its environment. The Prolog glue reads
``wnod bait``'s exit code, and itself always exits 0: a failing Prolog drains the bait.
"""

import re

from wnod_core.errors import BatchSystemError
from wnod_core.interfaces import BaitOutcome, BaitRequest, BaitSide, HookInput

EXIT_CODES = {
    BaitOutcome.RELEASED: 0,
    BaitOutcome.MIGRATED: 10,
    BaitOutcome.REFUSED: 11,
    BaitOutcome.RETRY: 12,
}
"""Exit codes of ``wnod bait`` under Slurm. The Prolog glue (contrib/slurm/wnod-prolog) reads
them: 0 runs the job on the bait; 10: migrate already requeued it (nothing to do); 11: the job
was failed (scancel again, in case the daemon could not); 12 or anything else: ``scontrol requeue``."""


def read_hook(hook: HookInput) -> BaitRequest:
    environ = hook.environ
    job_id = environ.get("SLURM_JOB_ID") or environ.get("SLURM_JOBID") or ""
    node = environ.get("SLURMD_NODENAME") or ""
    missing = [n for n, v in (("SLURM_JOB_ID", job_id), ("SLURMD_NODENAME", node)) if not v]
    if missing:
        raise BatchSystemError(
            f"{' and '.join(missing)} not set: `wnod bait` must run as the slurmd Prolog of a bait"
            " node (see contrib/slurm/wnod-prolog)"
        )
    if not re.fullmatch(r"\d+", job_id) or not re.fullmatch(r"[A-Za-z0-9_.-]+", node):
        raise BatchSystemError(f"SLURM_JOB_ID={job_id!r} SLURMD_NODENAME={node!r}: not a Slurm job id and node")
    return BaitRequest(job_id=job_id, bait_host=node)


BAIT_SIDE = BaitSide.by_exit_code(read_hook, EXIT_CODES)
