"""contrib/htcondor/wnod-prepare-job: the bait hook turns wnod bait's exit codes into HookStatusCode answers."""

import os
import subprocess
from pathlib import Path

import pytest
from wnod_core.interfaces import BaitOutcome

from wnod_htcondor.bait import EXIT_CODES, HOOK_STATUS, HOOK_STATUS_WNOD_FAILED

GLUE = Path(__file__).resolve().parents[3] / "contrib" / "htcondor" / "wnod-prepare-job"
pytestmark = pytest.mark.skipif(not GLUE.exists(), reason="run from the wnod repository (contrib/ is not shipped)")

JOB_AD = """\
MyType = "Job"
ClusterId = 1234
ProcId = 7
Owner = "alice"
Requirements = (TARGET.Arch == "X86_64")
"""


@pytest.fixture
def fake_wnod(tmp_path: Path) -> Path:
    """A stand-in for wnod: records its arguments, says why on stderr, exits with $FAKE_CODE."""
    script = tmp_path / "wnod"
    script.write_text(
        "#!/bin/sh\n"
        f'printf "%s\\n" "$@" > {tmp_path}/args\n'
        'echo "wnod bait: job $2: something: said \\"why\\" \\\\ here" >&2\n'
        "exit $FAKE_CODE\n"
    )
    script.chmod(0o755)
    return script


def run_hook(fake_wnod: Path, code: int, stdin: str = JOB_AD) -> subprocess.CompletedProcess[str]:
    # The starter gives its hooks no PATH: the glue must not need one.
    return subprocess.run(
        ["/bin/sh", str(GLUE), str(fake_wnod), "bait-1.example.org"],
        input=stdin, capture_output=True, text=True, env={"FAKE_CODE": str(code), "BATCH_SYSTEM": "HTCondor"},
        timeout=30, check=False,
    )


def hook_status(output: str) -> int:
    for line in output.splitlines():
        if line.startswith("HookStatusCode = "):
            return int(line.split("=")[1])
    return 0


def test_the_glue_calls_wnod_bait_with_the_job_and_the_bait(fake_wnod: Path) -> None:
    done = run_hook(fake_wnod, 0)
    assert done.returncode == 0, done.stderr
    assert (fake_wnod.parent / "args").read_text().split() == ["bait", "1234.7", "bait-1.example.org"]


@pytest.mark.parametrize("outcome", list(BaitOutcome))
def test_each_outcome_gives_the_starter_its_answer(fake_wnod: Path, outcome: BaitOutcome) -> None:
    done = run_hook(fake_wnod, EXIT_CODES[outcome])
    assert done.returncode == 0, done.stderr
    assert hook_status(done.stdout) == HOOK_STATUS[outcome]


def test_released_runs_the_job_and_the_others_do_not() -> None:
    assert HOOK_STATUS[BaitOutcome.RELEASED] == 0
    assert HOOK_STATUS[BaitOutcome.MIGRATED] >= 300 and HOOK_STATUS[BaitOutcome.RETRY] >= 300, "back to Idle"
    assert 1 <= HOOK_STATUS[BaitOutcome.REFUSED] <= 299, "held, its reason shown"


def test_the_message_is_a_valid_classad_string(fake_wnod: Path) -> None:
    done = run_hook(fake_wnod, EXIT_CODES[BaitOutcome.MIGRATED])
    message = [line for line in done.stdout.splitlines() if line.startswith("HookStatusMessage")][0]
    value = message.split(" = ", 1)[1]
    assert value.startswith('"') and value.endswith('"') and '"' not in value[1:-1] and "\\" not in value
    assert "wnod bait: job 1234.7" in value


@pytest.mark.parametrize("code", [1, 2, 127])
def test_wnod_failing_puts_the_job_back_to_idle_saying_why(fake_wnod: Path, code: int) -> None:
    done = run_hook(fake_wnod, code)
    assert hook_status(done.stdout) == HOOK_STATUS_WNOD_FAILED >= 300  # 300 and more: back to Idle
    assert f"exit {code}" in done.stdout


def test_a_missing_wnod_puts_the_job_back(tmp_path: Path) -> None:
    done = run_hook(tmp_path / "no-such-wnod", 0)
    assert hook_status(done.stdout) == HOOK_STATUS_WNOD_FAILED


@pytest.mark.parametrize("stdin", ["", "garbage\n", "ClusterId = x\nProcId = 0\n", 'ClusterId = "1"\n'])
def test_a_job_ad_without_ids_puts_the_job_back_and_calls_nothing(fake_wnod: Path, stdin: str) -> None:
    done = run_hook(fake_wnod, 0, stdin)
    assert hook_status(done.stdout) == HOOK_STATUS_WNOD_FAILED
    assert not (fake_wnod.parent / "args").exists()


def test_the_glue_is_executable() -> None:
    assert os.access(GLUE, os.X_OK)
