"""Running Slurm's commands: argument lists, a timeout, and errors that name the command."""

import os
import shlex
import subprocess
from collections.abc import Mapping, Sequence

import attrs
from wnod_core.errors import BatchSystemError

QUOTE_MAX = 600
"""Characters of a command's output quoted in an error: enough to see what went wrong."""


def quote(text: str, limit: int = QUOTE_MAX) -> str:
    text = text.strip()
    if len(text) > limit:
        text = text[:limit] + f"... ({len(text) - limit} more characters)"
    return repr(text) if text else "nothing"


def command_line(argv: Sequence[str]) -> str:
    return shlex.join(argv)


@attrs.frozen
class Result:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return (self.stderr.strip() + "\n" + self.stdout.strip()).strip()

    def failure(self, what: str = "") -> BatchSystemError:
        """The error for this result, naming the command and quoting what it said."""
        said = quote(self.output)
        lead = f"{what}: " if what else ""
        return BatchSystemError(f"{lead}`{command_line(self.argv)}` exited {self.returncode}: {said}")


@attrs.frozen
class Runner:
    """Runs one Slurm command at a time, never through a shell."""

    timeout: float
    slurm_conf: str = ""

    def env(self) -> Mapping[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SQUEUE_") and not k.startswith("SINFO_")}
        # Formats and filters a user exported must not change what the parsers read.
        env["LC_ALL"] = "C"
        if self.slurm_conf:
            env["SLURM_CONF"] = self.slurm_conf
        return env

    def run(self, argv: Sequence[str]) -> Result:
        """Run `argv`; a command that cannot start or outlives the timeout is a BatchSystemError.

        A non-zero exit is returned, not raised: some are answers ("no such job").
        """
        argv = tuple(argv)
        try:
            done = subprocess.run(
                argv, capture_output=True, text=True, errors="replace", timeout=self.timeout,
                env=self.env(), stdin=subprocess.DEVNULL, check=False,
            )
        except subprocess.TimeoutExpired:
            raise BatchSystemError(f"`{command_line(argv)}` did not answer within {self.timeout:g}s") from None
        except OSError as exc:
            raise BatchSystemError(f"`{command_line(argv)}` could not be run: {exc.strerror or exc}") from None
        return Result(argv=argv, returncode=done.returncode, stdout=done.stdout, stderr=done.stderr)

    def check(self, argv: Sequence[str], what: str = "") -> Result:
        """Run `argv` and raise its failure unless it exits 0."""
        result = self.run(argv)
        if result.returncode:
            raise result.failure(what)
        return result
