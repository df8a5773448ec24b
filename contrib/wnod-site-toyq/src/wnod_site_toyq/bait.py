"""The bait: toyq's start hook is ``wnod bait`` itself, and its exit code is the answer.

toyq runs a queue's ``start_hook`` on the host a job was dispatched to, before the job, with
``TOYQ_JOB_ID`` and ``TOYQ_HOST`` in its environment, and reads its exit code alone (README.md):
0 runs the job there; 75 puts it back in the queue; 76 leaves it as the hook left it (bound to
another host, or held); 77 cancels it, the last line the hook wrote on stderr as its comment.
"""

from collections.abc import Callable, Mapping

from wnod_core.errors import BatchSystemError, Garbled
from wnod_core.interfaces import BaitOutcome, BaitRequest, BaitSide, HookInput

from . import parse

JOB_VAR = "TOYQ_JOB_ID"
HOST_VAR = "TOYQ_HOST"

EXIT_CODES: Mapping[BaitOutcome, int] = {
    BaitOutcome.RELEASED: 0,
    BaitOutcome.RETRY: 75,
    BaitOutcome.MIGRATED: 76,
    BaitOutcome.REFUSED: 77,
}
"""Away from 1 and 2, which mean wnod bait itself failed: toyq requeues the job on any other code,
as a failure of wnod is never the job's."""

USAGE = "wnod bait is toyq's start_hook (start_hook = /usr/bin/wnod bait in toyq.conf)"


def read_hook(hook: HookInput) -> BaitRequest:
    """The job and the bait from the hook's environment; arguments and stdin are not toyq's."""
    missing = [var for var in (JOB_VAR, HOST_VAR) if not hook.environ.get(var)]
    if missing:
        raise BatchSystemError(f"toyq: {USAGE}; the environment lacks {' and '.join(missing)}")
    return BaitRequest(job_id=_read(hook, JOB_VAR, parse.job_id), bait_host=_read(hook, HOST_VAR, parse.host_name))


def _read(hook: HookInput, var: str, reader: Callable[[str], str]) -> str:
    try:
        return reader(hook.environ[var])
    except Garbled as exc:
        raise BatchSystemError(f"toyq: {USAGE}; {exc.at(var)}") from None


BAIT_SIDE = BaitSide.by_exit_code(read_hook, EXIT_CODES)
"""toyq's bait side: the job in the environment, the answer in the exit code."""
