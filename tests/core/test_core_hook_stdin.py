"""wnod bait's stdin, as a real hook's pipe: read to its end, but never held by a hook that
does not close it, nor flooded."""

import os
import subprocess
import sys
import textwrap
import time

import pytest

from wnod_core.cli import hook_stdin
from wnod_core.errors import BatchSystemError

READ = textwrap.dedent("""
    import sys
    from wnod_core.cli.hook_stdin import read_hook_stdin
    from wnod_core.errors import BatchSystemError
    try:
        text = read_hook_stdin(float(sys.argv[1]), int(sys.argv[2]))
    except BatchSystemError as exc:
        print("error:", exc)
    else:
        print("read", len(text), repr(text[:20]))
""")


def reader(seconds: float, limit: int) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", READ, str(seconds), str(limit)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)


def test_what_the_hook_wrote_is_read_to_its_end() -> None:
    proc = reader(10, 1 << 20)
    out, _ = proc.communicate('JobId = 4711\nOwner = "alice"\n', timeout=30)
    assert out.strip() == "read 29 'JobId = 4711\\nOwner ='"


def test_a_hook_that_never_closes_stdin_does_not_hold_wnod_bait() -> None:
    proc = reader(0.5, 1 << 20)
    assert proc.stdin is not None
    proc.stdin.write("JobId = 4711\n")
    proc.stdin.flush()  # and kept open, as a hook that hangs
    started = time.monotonic()
    try:
        out = proc.stdout.readline() if proc.stdout else ""
    finally:
        proc.stdin.close()
        proc.wait(10)
    assert out.startswith("error: the hook did not close wnod bait's stdin within 0.5s (13 bytes read)"), out
    assert time.monotonic() - started < 20


def test_a_hook_flooding_stdin_is_refused_without_reading_it_all() -> None:
    proc = reader(30, 1000)
    assert proc.stdin is not None and proc.stdout is not None
    try:
        proc.stdin.write("x" * 100_000)  # fits the pipe's buffer: the reader stops at its limit
        proc.stdin.flush()
    except BrokenPipeError:
        pass
    out = proc.stdout.readline()
    proc.stdin.close()
    proc.wait(10)
    assert out.startswith("error: the hook wrote more than 1000 bytes on wnod bait's stdin"), out


def test_a_stream_without_a_file_is_read_within_the_limit_too(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    monkeypatch.setattr(sys, "stdin", io.StringIO("y" * 50))
    assert hook_stdin.read_hook_stdin(1, 100) == "y" * 50
    monkeypatch.setattr(sys, "stdin", io.StringIO("y" * 500))
    with pytest.raises(BatchSystemError, match="more than 100 bytes"):
        hook_stdin.read_hook_stdin(1, 100)


def test_a_closed_stdin_reads_as_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    read, write = os.pipe()
    os.close(write)
    with os.fdopen(read) as stream:
        monkeypatch.setattr(sys, "stdin", stream)
        assert hook_stdin.read_hook_stdin(1, 100) == ""
