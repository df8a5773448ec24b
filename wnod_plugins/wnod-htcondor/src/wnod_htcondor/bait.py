"""The bait: wnod's prepare-job hook on the bait startds, and what its answers make HTCondor do.

HTCondor's starter runs ``<Keyword>_HOOK_PREPARE_JOB`` before it runs a job, as the
job's user, with the job ClassAd on stdin and the words of ``<Keyword>_HOOK_PREPARE_JOB_ARGS``
as arguments; no environment names the job. The hook answers on stdout: a
``HookStatusCode`` of 0 runs the job; 1-299 holds it with ``HookStatusMessage`` as the
hold reason; 300 or more sends it back to Idle (a shadow exception), where the
negotiator matches it again - against its new Requirements once wnod has migrated it.

The glue ``contrib/htcondor/wnod-prepare-job`` runs ``wnod bait BAIT_HOST`` with the job
ClassAd on its stdin, and passes on what it prints: this bait side reads the job's
ClusterId and ProcId from the ad, and answers with the HookStatus ad itself. Its exit code
still says the outcome (``EXIT_CODES``), for the logs and for a glue of an older wnod,
which called ``wnod bait CLUSTER.PROC BAIT_HOST`` and read only that.
"""

import re
from collections.abc import Mapping

from wnod_core.errors import BatchSystemError
from wnod_core.interfaces import BaitOutcome, BaitRequest, BaitSide, HookAnswer, HookInput
from wnod_core.text import on_one_line

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


_AD_INTEGER = re.compile(r"^\s*(ClusterId|ProcId)\s*=\s*([0-9]+)\s*$", re.IGNORECASE | re.MULTILINE)
MESSAGE_MAX = 400
USAGE = ("wnod's HTCondor prepare-job hook (contrib/htcondor/wnod-prepare-job) runs `wnod bait BAIT_HOST`"
         " with the job ClassAd on stdin")


def read_hook(hook: HookInput) -> BaitRequest:
    """The job from the ClassAd on stdin, the bait from the one argument: ``wnod bait BAIT_HOST``.
    (``wnod bait CLUSTER.PROC BAIT_HOST``, an older glue's call, names the job itself.)"""
    args = list(hook.argv)
    if len(args) == 1:
        job_id, bait_host = _job_of_ad(hook.stdin), args[0]
    elif len(args) == 2:
        job_id, bait_host = args
    else:
        found = " ".join(args) if args else "no arguments"
        where = " (and the environment is not a starter's)" if hook.environ.get("BATCH_SYSTEM") != "HTCondor" else ""
        raise BatchSystemError(f"{USAGE}; got {found[:200]}{where}: the bait host is missing")
    parse_job_id(job_id)
    try:
        check_hostname(bait_host)
    except BatchSystemError:
        raise BatchSystemError(f"{USAGE}; {bait_host[:200]!r} is not a bait host name") from None
    return BaitRequest(job_id=job_id, bait_host=bait_host)


def _job_of_ad(ad: str) -> str:
    found: dict[str, str] = {}
    for match in _AD_INTEGER.finditer(ad):
        name = match.group(1).lower()
        if found.setdefault(name, match.group(2)) != match.group(2):
            raise BatchSystemError(f"{USAGE}; the ClassAd on stdin gives {match.group(1)} twice")
    if set(found) != {"clusterid", "procid"}:
        raise BatchSystemError(f"{USAGE}; the ClassAd on stdin has no integer ClusterId and ProcId")
    return f"{int(found['clusterid'])}.{int(found['procid'])}"


def answer(outcome: BaitOutcome, reason: str) -> HookAnswer:
    """The HookStatus ad for the starter, on stdout; the exit code says the outcome too."""
    # A ClassAd string literal of one line: no quote or backslash to end or escape it.
    printable = "".join(c if c.isprintable() else " " for c in str(reason))
    message = on_one_line(printable.replace('"', "'").replace("\\", "'"), MESSAGE_MAX) or "wnod"
    stdout = f'HookStatusCode = {HOOK_STATUS[outcome]}\nHookStatusMessage = "{message}"\n'
    return HookAnswer(exit_code=EXIT_CODES[outcome], stdout=stdout)


BAIT_SIDE = BaitSide(read=read_hook, answer=answer, reads_stdin=True)
"""HTCondor's bait side: the job ClassAd in on stdin, the HookStatus ad out on stdout."""
