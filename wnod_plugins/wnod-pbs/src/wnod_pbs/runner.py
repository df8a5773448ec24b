"""Running one PBS command: an argument list (never a shell), a timeout, and errors that
name the command and quote what it said."""

import shlex
import subprocess
from collections.abc import Sequence

import attrs
from wnod_core.errors import BatchSystemError

QUOTE_LIMIT = 600
"""Characters of a command's output quoted in an error: enough to see what went wrong."""


def quote(text: str, limit: int = QUOTE_LIMIT) -> str:
    text = text.strip()
    if not text:
        return "(nothing)"
    if len(text) > limit:
        text = text[:limit] + f"... ({len(text) - limit} more characters)"
    return repr(text)


@attrs.frozen
class Result:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def command(self) -> str:
        return shlex.join(self.argv)

    def error(self, what: str) -> BatchSystemError:
        """A BatchSystemError saying `what` went wrong with this command, quoting its output."""
        return BatchSystemError(
            f"{self.command}: {what} (exit {self.returncode}; stdout {quote(self.stdout)};"
            f" stderr {quote(self.stderr)})"
        )


def run(argv: Sequence[str], timeout: float) -> Result:
    """Run `argv` with `timeout`; any outcome of the process is returned, only failing to run it raises."""
    argv = tuple(argv)
    command = shlex.join(argv)
    try:
        done = subprocess.run(
            argv, capture_output=True, timeout=timeout, check=False, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired as exc:
        partial = (exc.stdout or b"").decode("utf-8", "replace")
        raise BatchSystemError(f"{command}: no answer within {timeout:g}s (stdout so far {quote(partial)})") from None
    except OSError as exc:  # not found, not executable, ...
        raise BatchSystemError(f"{command}: cannot run it: {exc.strerror or exc}") from None
    return Result(
        argv=argv,
        returncode=done.returncode,
        stdout=done.stdout.decode("utf-8", "replace"),
        stderr=done.stderr.decode("utf-8", "replace"),
    )
