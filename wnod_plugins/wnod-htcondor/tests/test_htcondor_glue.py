"""contrib/htcondor/wnod-prepare-job passes the job ClassAd to wnod bait and its answer to the
starter; wnod_htcondor.bait reads the ad and makes that answer."""

import os
import subprocess
from pathlib import Path

import pytest
from wnod_core.errors import BatchSystemError
from wnod_core.interfaces import BaitOutcome, BaitRequest, HookInput

from wnod_htcondor.bait import BAIT_SIDE, EXIT_CODES, HOOK_STATUS, HOOK_STATUS_WNOD_FAILED, answer

GLUE = Path(__file__).resolve().parents[3] / "contrib" / "htcondor" / "wnod-prepare-job"
needs_glue = pytest.mark.skipif(not GLUE.exists(), reason="run from the wnod repository (contrib/ is not shipped)")

JOB_AD = """\
MyType = "Job"
ClusterId = 1234
ProcId = 7
Owner = "alice"
Requirements = (TARGET.Arch == "X86_64")
"""


@pytest.fixture
def fake_wnod(tmp_path: Path) -> Path:
    """A stand-in for wnod: records its arguments and stdin, prints $FAKE_OUT, exits $FAKE_CODE."""
    script = tmp_path / "wnod"
    script.write_text(
        "#!/bin/sh\n"
        f'printf "%s\\n" "$@" > {tmp_path}/args\n'
        f"cat > {tmp_path}/stdin\n"
        'echo "wnod bait: something: said why" >&2\n'
        'printf "%s" "$FAKE_OUT"\n'
        "exit $FAKE_CODE\n"
    )
    script.chmod(0o755)
    return script


def run_hook(wnod: Path, code: int, out: str = "", stdin: str = JOB_AD) -> subprocess.CompletedProcess[str]:
    # The starter gives its hooks no PATH: the glue must not need one.
    return subprocess.run(
        ["/bin/sh", str(GLUE), str(wnod), "bait-1.example.org"], input=stdin, capture_output=True, text=True,
        env={"FAKE_CODE": str(code), "FAKE_OUT": out, "BATCH_SYSTEM": "HTCondor"}, timeout=30, check=False,
    )


def hook_status(output: str) -> int:
    for line in output.splitlines():
        if line.startswith("HookStatusCode = "):
            return int(line.split("=")[1])
    raise AssertionError(f"no HookStatusCode in {output!r}")


# -- the glue ----------------------------------------------------------------------------------------


@needs_glue
def test_the_glue_hands_wnod_bait_the_job_ad_and_the_bait(fake_wnod: Path) -> None:
    done = run_hook(fake_wnod, 0, answer(BaitOutcome.RELEASED, "site policy").stdout)
    assert done.returncode == 0, done.stderr
    assert (fake_wnod.parent / "args").read_text().split() == ["bait", "bait-1.example.org"]
    assert (fake_wnod.parent / "stdin").read_text() == JOB_AD


@needs_glue
@pytest.mark.parametrize("outcome", list(BaitOutcome))
def test_the_glue_gives_the_starter_wnod_baits_answer_as_it_is(fake_wnod: Path, outcome: BaitOutcome) -> None:
    said = answer(outcome, "why")
    done = run_hook(fake_wnod, said.exit_code, said.stdout)
    assert done.returncode == 0, done.stderr
    assert done.stdout == said.stdout


@needs_glue
@pytest.mark.parametrize("code", [0, 1, 2, 127])
def test_wnod_failing_or_saying_nothing_puts_the_job_back_to_idle(fake_wnod: Path, code: int) -> None:
    done = run_hook(fake_wnod, code, out="Traceback (most recent call last):\n")
    assert hook_status(done.stdout) == HOOK_STATUS_WNOD_FAILED >= 300  # 300 and more: back to Idle
    assert f"exit {code}" in done.stdout


@needs_glue
@pytest.mark.parametrize(("starts", "held"), [("19", False), ("20", True), ("300", True), ("x", False), (None, False)])
def test_a_job_wnod_failed_on_many_dispatches_is_held_not_bounced_for_ever(fake_wnod: Path, starts: str | None,
                                                                           held: bool) -> None:
    # A wnod broken on a bait (an older wnod under this glue, a bad config) fails every time:
    # without a bound, each job went back to Idle, matched a bait again, and so on for ever.
    ad = JOB_AD + (f"NumShadowStarts = {starts}\n" if starts is not None else "")
    done = run_hook(fake_wnod, 2, stdin=ad)
    assert (fake_wnod.parent / "stdin").read_text() == ad, "the ad goes to wnod bait whole"
    if held:
        assert 1 <= hook_status(done.stdout) < 300, done.stdout  # 1-299: held, with the message as reason
        assert f"on {starts} dispatches of this job" in done.stdout and "condor_release" in done.stdout
    else:
        assert hook_status(done.stdout) == HOOK_STATUS_WNOD_FAILED


@needs_glue
def test_the_bound_is_the_glues_third_argument(fake_wnod: Path) -> None:
    done = subprocess.run(
        ["/bin/sh", str(GLUE), str(fake_wnod), "bait-1.example.org", "3"], input=JOB_AD + "NumShadowStarts = 3\n",
        capture_output=True, text=True, env={"FAKE_CODE": "1", "FAKE_OUT": ""}, timeout=30, check=False,
    )
    assert 1 <= hook_status(done.stdout) < 300, done.stdout


@needs_glue
def test_an_ad_without_a_final_newline_is_handed_on_whole(fake_wnod: Path) -> None:
    run_hook(fake_wnod, 0, answer(BaitOutcome.RELEASED, "x").stdout, stdin=JOB_AD.rstrip("\n"))
    assert (fake_wnod.parent / "stdin").read_text() == JOB_AD


@needs_glue
def test_a_missing_wnod_puts_the_job_back(tmp_path: Path) -> None:
    done = run_hook(tmp_path / "no-such-wnod", 0)
    assert hook_status(done.stdout) == HOOK_STATUS_WNOD_FAILED


@needs_glue
def test_the_glue_is_executable() -> None:
    assert os.access(GLUE, os.X_OK)


# -- the bait side -----------------------------------------------------------------------------------


def test_the_bait_side_reads_the_job_from_the_ad_on_stdin() -> None:
    hook = HookInput(environ={"BATCH_SYSTEM": "HTCondor"}, argv=("bait-1.example.org",), stdin=JOB_AD)
    assert BAIT_SIDE.reads_stdin
    assert BAIT_SIDE.read(hook) == BaitRequest(job_id="1234.7", bait_host="bait-1.example.org")


def test_an_older_glues_call_naming_the_job_still_reads() -> None:
    hook = HookInput(environ={}, argv=("1234.7", "bait-1.example.org"))
    assert BAIT_SIDE.read(hook) == BaitRequest(job_id="1234.7", bait_host="bait-1.example.org")


@pytest.mark.parametrize("ad", ["", "garbage\n", "ClusterId = x\nProcId = 0\n", 'ClusterId = "1"\nProcId = 0\n',
                                "ClusterId = 1\n", "ClusterId = 1\nProcId = 0\nClusterId = 2\n"])
def test_an_ad_without_its_ids_is_refused_saying_so(ad: str) -> None:
    with pytest.raises(BatchSystemError, match="ClusterId"):
        BAIT_SIDE.read(HookInput(environ={}, argv=("bait-1.example.org",), stdin=ad))


@pytest.mark.parametrize("outcome", list(BaitOutcome))
def test_each_outcome_answers_the_starter_and_exits_with_its_code(outcome: BaitOutcome) -> None:
    said = answer(outcome, "why")
    assert hook_status(said.stdout) == HOOK_STATUS[outcome]
    assert said.exit_code == EXIT_CODES[outcome]


def test_released_runs_the_job_and_the_others_do_not() -> None:
    assert HOOK_STATUS[BaitOutcome.RELEASED] == 0
    assert HOOK_STATUS[BaitOutcome.MIGRATED] >= 300 and HOOK_STATUS[BaitOutcome.RETRY] >= 300, "back to Idle"
    assert 1 <= HOOK_STATUS[BaitOutcome.REFUSED] <= 299, "held, its reason shown"


def test_the_message_is_a_valid_one_line_classad_string() -> None:
    said = answer(BaitOutcome.REFUSED, 'user "alice" may not \\ run\natlas\x1b[2J')
    [message] = [line for line in said.stdout.splitlines() if line.startswith("HookStatusMessage")]
    value = message.split(" = ", 1)[1]
    assert value.startswith('"') and value.endswith('"') and '"' not in value[1:-1] and "\\" not in value
    assert "may not" in value and "atlas" in value and "\x1b" not in value
