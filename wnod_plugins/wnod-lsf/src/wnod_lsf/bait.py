"""LSF's bait side: ``wnod bait`` run by the bait queue's PRE_EXEC (contrib/lsf/wnod-lsf-pre-exec).

LSF gives the pre-exec the job and its hosts in the LSB_* variables, and reads its exit code as
IBM documents for PRE_EXEC.
"""

from collections.abc import Mapping

from wnod_core.errors import BatchSystemError, Garbled
from wnod_core.interfaces import BaitOutcome, BaitRequest, BaitSide, HookInput

from . import parse

EXIT_CODES: Mapping[BaitOutcome, int] = {
    BaitOutcome.RELEASED: 0,  # PRE_EXEC exit 0: LSF runs the job on the bait
    BaitOutcome.RETRY: 1,  # any other non-zero exit: LSF puts the job back to PEND
    BaitOutcome.MIGRATED: 2,  # the same for LSF; told apart in LSF's and wnod's logs
    BaitOutcome.REFUSED: 99,  # PRE_EXEC exit 99: the job exits without pending again
}
"""``wnod bait``'s exit code for each outcome, as LSF reads a queue PRE_EXEC's exit code."""


def read_hook(hook: HookInput) -> BaitRequest:
    environ = hook.environ
    job = environ.get("LSB_JOBID", "").strip()
    mcpu = environ.get("LSB_MCPU_HOSTS", "").strip()
    slots = environ.get("LSB_HOSTS", "").strip()
    missing = [] if job else ["LSB_JOBID"]
    if not (mcpu or slots):
        missing.append("LSB_MCPU_HOSTS (or LSB_HOSTS)")
    if missing:
        raise BatchSystemError(
            f"lsf: the environment lacks {' and '.join(missing)}; wnod bait must run as the"
            " PRE_EXEC of an LSF queue (see contrib/lsf)"
        )
    try:
        base, index = parse.job_spec(job)
        raw_index = environ.get("LSB_JOBINDEX", "").strip() or "0"
        if not raw_index.isascii() or not raw_index.isdigit():
            raise Garbled(f"expected LSB_JOBINDEX to be a number, got {raw_index!r}")
        index = index or int(raw_index)
        bait = parse.mcpu_hosts(mcpu)[0][0] if mcpu else parse.lsb_hosts(slots)[0]
    except (Garbled, ValueError) as exc:
        raise BatchSystemError(f"lsf: the PRE_EXEC environment is not LSF's: {exc}") from None
    return BaitRequest(job_id=parse.job_id_of(base, index), bait_host=bait)


BAIT_SIDE = BaitSide.by_exit_code(read_hook, EXIT_CODES)
