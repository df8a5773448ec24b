"""The bait: wnod's prepare-job hook on the bait startds, and what its answers make HTCondor do.

HTCondor's starter runs ``<Keyword>_HOOK_PREPARE_JOB`` before it runs a job, as the
job's user, with the job ClassAd on stdin and the words of ``<Keyword>_HOOK_PREPARE_JOB_ARGS``
as arguments; no environment names the job. The hook answers on stdout: a
``HookStatusCode`` of 0 runs the job; 1-299 holds it with ``HookStatusMessage`` as the
hold reason; 300 or more sends it back to Idle (a shadow exception), where the
negotiator matches it again - against its new Requirements once wnod has migrated it.

``wnod bait`` can only exit with a code, so the glue ``contrib/htcondor/wnod-prepare-job``
reads the ClassAd, calls ``wnod bait CLUSTER.PROC BAIT_HOST`` and turns the exit code
into a ``HookStatusCode`` with the table below.
"""

import re
from collections.abc import Mapping, Sequence

from wnod_core.errors import BatchSystemError
from wnod_core.interfaces import BaitOutcome, BaitRequest

from .ads import check_hostname

JOB_ID = re.compile(r"[1-9][0-9]*\.[0-9]+\Z")
"""ClusterId.ProcId, the only job id the adapter takes: a cluster alone may be many jobs."""

EXIT_CODES: Mapping[BaitOutcome, int] = {
    BaitOutcome.RELEASED: 0,
    BaitOutcome.MIGRATED: 10,
    BaitOutcome.RETRY: 11,
    BaitOutcome.REFUSED: 12,
}
"""``wnod bait``'s exit code per outcome; away from 1 and 2, which mean wnod itself failed."""

HOOK_STATUS: Mapping[BaitOutcome, int] = {
    BaitOutcome.RELEASED: 0,
    BaitOutcome.MIGRATED: 310,
    BaitOutcome.RETRY: 311,
    BaitOutcome.REFUSED: 112,
}
"""The ``HookStatusCode`` the glue prints for each outcome: 0 runs, 1-299 holds, 300+ requeues."""

HOOK_STATUS_WNOD_FAILED = 399
"""Any other exit of ``wnod bait`` (not installed, misconfigured, crashed): back to Idle, like a
retry. wnod's own failure is never the job's: holding it would stop it until an admin came."""


def parse_job_id(job_id: str) -> tuple[int, int]:
    if not isinstance(job_id, str) or not JOB_ID.match(job_id):
        raise BatchSystemError(f"htcondor: {job_id!r} is not a job id (ClusterId.ProcId, e.g. 1234.0)")
    cluster, proc = job_id.split(".")
    return int(cluster), int(proc)


def bait_request(environ: Mapping[str, str], argv: Sequence[str]) -> BaitRequest:
    """The job and bait the glue names: ``wnod bait CLUSTER.PROC BAIT_HOST``."""
    usage = (
        "wnod's HTCondor prepare-job hook (contrib/htcondor/wnod-prepare-job) calls"
        " `wnod bait CLUSTER.PROC BAIT_HOST`"
    )
    args = list(argv)
    if len(args) != 2:
        found = " ".join(args) if args else "no arguments"
        where = " (and the environment is not a starter's)" if environ.get("BATCH_SYSTEM") != "HTCondor" else ""
        raise BatchSystemError(f"{usage}; got {found}{where}: the job id and the bait host are missing")
    job_id, bait_host = args
    parse_job_id(job_id)
    try:
        check_hostname(bait_host)
    except BatchSystemError:
        raise BatchSystemError(f"{usage}; {bait_host!r} is not a bait host name") from None
    return BaitRequest(job_id=job_id, bait_host=bait_host)
