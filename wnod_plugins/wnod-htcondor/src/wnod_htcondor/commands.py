"""Running HTCondor's tools: argument lists, never a shell; a timeout on each; failures as BatchSystemError."""

import os
import shlex
import subprocess
from collections.abc import Sequence

import attrs
from wnod_core.errors import BatchSystemError

QUOTE_LIMIT = 600
"""Characters of a command's output quoted in an error: enough to see what went wrong."""


def quote(text: str) -> str:
    """`text` for an error message: stripped, cut to QUOTE_LIMIT, never empty."""
    text = text.strip()
    if not text:
        return "(no output)"
    if len(text) > QUOTE_LIMIT:
        return repr(text[:QUOTE_LIMIT]) + f" ... ({len(text)} characters)"
    return repr(text)


@attrs.frozen
class Result:
    argv: tuple[str, ...]
    code: int
    stdout: str
    stderr: str

    @property
    def command(self) -> str:
        return shlex.join(self.argv)

    def error(self, what: str) -> BatchSystemError:
        """A BatchSystemError naming the command, saying `what`, quoting both outputs."""
        return BatchSystemError(
            f"`{self.command}` {what} (exit {self.code}); stdout: {quote(self.stdout)}; stderr: {quote(self.stderr)}"
        )


@attrs.frozen
class Runner:
    """Runs one HTCondor tool at a time, found in `bin_dir` (or on PATH when empty)."""

    bin_dir: str = ""
    timeout: float = 30.0

    def path(self, tool: str) -> str:
        return os.path.join(self.bin_dir, tool) if self.bin_dir else tool

    def run(self, tool: str, args: Sequence[str]) -> Result:
        argv = (self.path(tool), *args)
        try:
            done = subprocess.run(
                argv,
                capture_output=True,
                timeout=self.timeout,
                stdin=subprocess.DEVNULL,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise BatchSystemError(f"`{shlex.join(argv)}` did not finish within {self.timeout:g}s") from None
        except OSError as exc:  # not installed, not executable, ...
            raise BatchSystemError(f"`{shlex.join(argv)}` could not be run: {exc}") from None
        return Result(
            argv=argv,
            code=done.returncode,
            stdout=done.stdout.decode("utf-8", "replace"),
            stderr=done.stderr.decode("utf-8", "replace"),
        )
