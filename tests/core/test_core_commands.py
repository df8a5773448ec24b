"""Running a plugin's outside command: argument lists, a timeout that stops the whole process
group, and errors that name the command and quote what it said."""

import os
import sys
import time
from pathlib import Path

import pytest

from wnod_core.commands import QUOTE_LIMIT, Result, Tools, quote, run
from wnod_core.errors import BatchSystemError, HypervisorError


def script(tmp_path: Path, name: str, body: str) -> str:
    path = tmp_path / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return str(path)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead too: only its parent (init, here) has yet to reap it.
    stat = Path(f"/proc/{pid}/stat")
    return not stat.exists() or stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"


def test_a_command_that_succeeds_gives_its_output_decoded() -> None:
    result = run(["printf", "caf\\303\\251 \\377"], timeout=5)
    assert result == Result(("printf", "caf\\303\\251 \\377"), 0, "café \ufffd", "")
    assert result.check() is result


def test_an_argument_is_never_read_by_a_shell(tmp_path: Path) -> None:
    mark = tmp_path / "mark"
    result = run(["echo", f"x; touch {mark}", "$HOME"], timeout=5)
    assert result.stdout == f"x; touch {mark} $HOME\n" and not mark.exists()
    assert result.command == f"echo 'x; touch {mark}' '$HOME'"


def test_a_non_zero_exit_is_returned_and_check_raises_it_naming_the_command() -> None:
    result = run(["sh", "-c", "echo out; echo 'no such job' >&2; exit 153", "my job"], timeout=5)
    assert (result.returncode, result.stdout, result.stderr) == (153, "out\n", "no such job\n")
    assert result.output == "no such job\nout"
    with pytest.raises(BatchSystemError) as err:
        result.check("reading job 7")
    assert str(err.value) == (
        "sh -c 'echo out; echo '\"'\"'no such job'\"'\"' >&2; exit 153' 'my job': reading job 7 (exit 153):"
        " no such job\nout"
    )


def test_the_error_class_is_the_callers() -> None:
    result = run(["false"], timeout=5, error=HypervisorError)
    error = result.error("failed")
    assert type(error) is HypervisorError and str(error) == "false: failed (exit 1): (nothing)"
    with pytest.raises(HypervisorError, match="false: cannot run"):
        run(["/nonexistent/false"], timeout=5, error=HypervisorError)


def test_a_timeout_kills_the_whole_group_and_says_what_it_had_printed(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    command = script(tmp_path, "hang", f"sleep 300 & echo $! > {pids}; echo started; exec sleep 300")
    started = time.monotonic()
    with pytest.raises(BatchSystemError) as err:
        run([command, "now"], timeout=0.5)
    assert time.monotonic() - started < 5
    assert str(err.value) == f"{command} now: did not finish within 0.5s; stopped it; it had printed: started"
    child = int(pids.read_text())
    deadline = time.monotonic() + 5
    while alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(child), "the child it started outlived the timeout"


def test_a_timeout_with_nothing_printed_says_only_that(tmp_path: Path) -> None:
    with pytest.raises(HypervisorError) as err:
        run(["sleep", "30"], timeout=0.2, error=HypervisorError)
    assert str(err.value) == "sleep 30: did not finish within 0.2s; stopped it"


def test_a_missing_command_is_an_error_naming_it(tmp_path: Path) -> None:
    missing = str(tmp_path / "bin" / "qstat")
    with pytest.raises(BatchSystemError) as err:
        run([missing, "-f"], timeout=5)
    assert str(err.value) == f"{missing} -f: cannot run it: no command {missing!r}"
    with pytest.raises(BatchSystemError, match="cannot run it: no command 'no-such-wnod-tool'"):
        run(["no-such-wnod-tool"], timeout=5)


def test_a_command_that_is_not_executable_is_an_error_saying_why(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.write_text("echo hi\n")
    with pytest.raises(BatchSystemError, match=f"{plain}: cannot run it: Permission denied"):
        run([str(plain)], timeout=5)
    broken = script(tmp_path, "broken", "")
    Path(broken).write_text("#!/nonexistent/interpreter\n")
    with pytest.raises(BatchSystemError, match=f"{broken}: cannot run it: No such file or directory"):
        run([broken], timeout=5)


def test_huge_output_is_quoted_truncated_keeping_its_start_and_end() -> None:
    program = "import sys; sys.stderr.write('start ' + 'x' * 100000 + ' the real error'); sys.exit(2)"
    result = run([sys.executable, "-c", program], timeout=10)
    assert len(result.stderr) > 100000
    message = str(result.error("failed"))
    assert len(message) < len(result.command) + QUOTE_LIMIT + 100
    assert "(exit 2): start xxx" in message and message.endswith("xxx the real error")
    assert f"[... {len(result.stderr) - QUOTE_LIMIT} characters ...]" in message


def test_quote_strips_keeps_short_text_verbatim_and_never_is_empty() -> None:
    assert quote("  line one\nline 'two'\n") == "line one\nline 'two'"
    assert quote(" \n") == "(nothing)"
    assert quote("abcdefghij", limit=4) == "ab [... 6 characters ...] ij"


def test_input_goes_to_stdin_and_without_it_stdin_is_empty() -> None:
    assert run(["cat"], timeout=5, input="qsub script\nline 2\n").stdout == "qsub script\nline 2\n"
    assert run(["cat"], timeout=5).stdout == ""


def test_env_replaces_the_environment_and_its_path_finds_the_command(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script(bin_dir, "wnod-test-tool", 'echo "$LSF_ENVDIR ${HOME:-no home}"')
    result = run(["wnod-test-tool"], timeout=5, env={"PATH": f"{bin_dir}:/usr/bin:/bin", "LSF_ENVDIR": "/etc/lsf"})
    assert result.stdout == "/etc/lsf no home\n"
    with pytest.raises(BatchSystemError, match="no command 'wnod-test-tool'"):
        run(["wnod-test-tool"], timeout=5, env={"PATH": "/nonexistent"})


def test_tools_come_from_their_own_path_or_bin_dir_or_path() -> None:
    tools = Tools(bin_dir="/opt/pbs/bin/", paths={"qrun": "/usr/local/sbin/qrun"})
    assert (tools.path("qstat"), tools.path("qrun")) == ("/opt/pbs/bin/qstat", "/usr/local/sbin/qrun")
    assert Tools().path("qstat") == "qstat"


def test_tools_see_the_daemons_environment_less_what_is_dropped_and_with_what_is_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SQUEUE_FORMAT", "%i")
    monkeypatch.setenv("SLURM_TIME_FORMAT", "relative")
    tool = script(tmp_path, "show-env", 'echo "${SQUEUE_FORMAT:-none} $SLURM_TIME_FORMAT $LC_ALL"')
    assert Tools().environment() is None  # the daemon's own, untouched
    tools = Tools(env={"LC_ALL": "C"}, drop_env_prefixes=("SQUEUE_",))
    assert tools.run(tool).stdout == "none relative C\n"
    only = Tools(env={"LC_ALL": "C"}, environ={"PATH": "/usr/bin:/bin"})
    assert only.environment() == {"PATH": "/usr/bin:/bin", "LC_ALL": "C"}


def test_tools_check_says_what_failed_and_times_out_as_its_error(tmp_path: Path) -> None:
    tools = Tools(bin_dir=str(tmp_path), timeout=0.3, error=HypervisorError)
    script(tmp_path, "sinfo", "echo 'slurm_load_partitions: Unable to contact slurm controller' >&2; exit 1")
    script(tmp_path, "hang", "exec sleep 5")
    with pytest.raises(HypervisorError, match=r"sinfo --all: failed listing nodes \(exit 1\): slurm_load_partitions"):
        tools.check("sinfo", "--all", what="listing nodes")
    with pytest.raises(HypervisorError, match=r"sinfo: failed \(exit 1\)"):
        tools.check("sinfo")
    assert tools.run("sinfo").returncode == 1
    with pytest.raises(HypervisorError, match="did not finish within 0.3s"):
        tools.run("hang")
