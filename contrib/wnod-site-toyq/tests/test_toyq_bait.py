"""The bait side: what wnod bait reads from toyq's start hook, and the exit code it answers."""

import pytest
from wnod_core.errors import BatchSystemError
from wnod_core.interfaces import BaitOutcome, BaitRequest, HookAnswer, HookInput

from wnod_site_toyq.bait import BAIT_SIDE

HOOK = {"TOYQ_JOB_ID": "42", "TOYQ_HOST": "bait-1", "TOYQ_QUEUE": "short"}


def test_the_job_and_the_bait_come_from_the_environment() -> None:
    assert BAIT_SIDE.read(HookInput(environ=HOOK)) == BaitRequest(job_id="42", bait_host="bait-1")
    assert not BAIT_SIDE.reads_stdin, "toyq writes nothing on the hook's stdin"


@pytest.mark.parametrize(
    ("environ", "complaint"),
    [
        ({}, "lacks TOYQ_JOB_ID and TOYQ_HOST"),
        ({"TOYQ_JOB_ID": "42"}, "lacks TOYQ_HOST"),
        ({**HOOK, "TOYQ_JOB_ID": "42[1]"}, "TOYQ_JOB_ID: expected a toyq job id"),
        ({**HOOK, "TOYQ_HOST": "-bait"}, "TOYQ_HOST: expected a host name"),
    ],
)
def test_a_hook_that_is_not_toyqs_is_told_what_is_missing(environ: dict, complaint: str) -> None:
    with pytest.raises(BatchSystemError, match=complaint) as err:
        BAIT_SIDE.read(HookInput(environ=environ))
    assert "start_hook = /usr/bin/wnod bait" in str(err.value), "it says how toyq should run wnod bait"


@pytest.mark.parametrize(
    ("outcome", "code"),
    [(BaitOutcome.RELEASED, 0), (BaitOutcome.RETRY, 75), (BaitOutcome.MIGRATED, 76), (BaitOutcome.REFUSED, 77)],
)
def test_each_outcome_is_the_exit_code_toyq_documents(outcome: BaitOutcome, code: int) -> None:
    # Refused: wnod bait writes the reason on stderr, whose last line toyq makes the job's comment.
    assert BAIT_SIDE.answer(outcome, "wnod: a reason") == HookAnswer(exit_code=code)
