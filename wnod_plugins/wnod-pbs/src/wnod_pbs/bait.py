"""PBS's bait side: ``wnod bait`` run by the bait's prologue (contrib/pbs/prologue), which the MOM
runs as root with the job id, user and group as arguments; the prologue passes wnod bait's exit
code on as its own (``PROLOGUE_EXIT``).
"""

from collections.abc import Mapping

from wnod_core.errors import BatchSystemError
from wnod_core.interfaces import BaitOutcome, BaitRequest, BaitSide, HookInput

from .formats import is_job_id

BAIT_HOST_VARS = ("PBS_MSHOST", "WNOD_PBS_BAIT_HOST")
"""Where the bait side finds the bait's name: Torque's prologue gets ``PBS_MSHOST`` (the
job's mother superior, the host the prologue runs on); OpenPBS's gets no host name, so
contrib/pbs/prologue sets ``WNOD_PBS_BAIT_HOST``."""

EXIT_CODES: Mapping[BaitOutcome, int] = {
    BaitOutcome.RELEASED: 0,
    BaitOutcome.MIGRATED: 10,
    BaitOutcome.RETRY: 11,
    BaitOutcome.REFUSED: 12,
}
"""``wnod bait``'s exit status per outcome, away from 1 and 2: wnod exits 1 for its own failures
(a wrong config, a crash), and to the MOM a prologue's 1 aborts the job. contrib/pbs/prologue
turns these into the prologue's exit status (PROLOGUE_EXIT), and any other into a requeue."""

PROLOGUE_EXIT: Mapping[int, int] = {0: 0, 12: 1, 11: 2, 10: 3}
"""contrib/pbs/prologue's exit status for each of ``wnod bait``'s: 0 runs the job on the bait,
1 aborts it (refused: wnod has qdel'd it with its reason), more than 1 requeues it (retry; and
migrated, which the MOM ignores: the job already runs on its VWN). Any other: 2, requeued."""

PROLOGUE_WNOD_FAILED = 2
"""The prologue's exit status when ``wnod bait`` itself failed: requeue, never abort."""


def read_hook(hook: HookInput) -> BaitRequest:
    environ, argv = hook.environ, hook.argv
    if not argv or not is_job_id(argv[0]):
        got = f"first argument {argv[0][:100]!r}" if argv else "no arguments"
        raise BatchSystemError(
            f"the PBS prologue passes the job id as its first argument (then user, group); got {got}"
        )
    host = next((environ[v].strip() for v in BAIT_HOST_VARS if environ.get(v, "").strip()), "")
    if not host:
        raise BatchSystemError(
            f"no bait host name: neither {' nor '.join(BAIT_HOST_VARS)} is set"
            " (Torque sets PBS_MSHOST; for OpenPBS, contrib/pbs/prologue sets WNOD_PBS_BAIT_HOST)"
        )
    return BaitRequest(job_id=argv[0], bait_host=host)


BAIT_SIDE = BaitSide.by_exit_code(read_hook, EXIT_CODES)
