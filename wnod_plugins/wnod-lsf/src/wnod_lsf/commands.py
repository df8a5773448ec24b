"""Running LSF's commands: an argument list (never a shell), a timeout, errors that name the command."""

import os
import shlex
import subprocess
from collections.abc import Mapping

import attrs
from wnod_core.errors import BatchSystemError


@attrs.frozen
class Output:
    """What one command printed, and how it exited."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def command(self) -> str:
        return shlex.join(self.argv)

    @property
    def text(self) -> str:
        """Both streams together, for messages that LSF prints on either."""
        return "\n".join(s.strip() for s in (self.stdout, self.stderr) if s.strip())

    def failure(self, what: str = "") -> BatchSystemError:
        said = self.text or "nothing"
        if len(said) > 500:
            said = said[:500] + "..."
        return BatchSystemError(f"lsf: `{self.command}`{what} exited {self.returncode}: {said}")


class Runner:
    """Runs LSF commands from `bin_dir` (or PATH), with LSF_ENVDIR set when given."""

    def __init__(self, bin_dir: str = "", envdir: str = "", timeout: float = 30.0,
                 environ: Mapping[str, str] | None = None):
        self.bin_dir = bin_dir
        self.timeout = timeout
        env = dict(os.environ if environ is None else environ)
        if envdir:
            env["LSF_ENVDIR"] = envdir
        self._env = env

    def run(self, name: str, *args: str) -> Output:
        """Run LSF command `name` with `args`; its output whatever its exit code.

        Raises ``BatchSystemError`` only when it could not be run or did not finish in time.
        """
        program = os.path.join(self.bin_dir, name) if self.bin_dir else name
        argv = (program, *args)
        try:
            done = subprocess.run(
                argv, capture_output=True, text=True, errors="replace", timeout=self.timeout,
                env=self._env, stdin=subprocess.DEVNULL, check=False,
            )
        except subprocess.TimeoutExpired:
            raise BatchSystemError(f"lsf: `{shlex.join(argv)}` did not finish within {self.timeout:g}s") from None
        except OSError as exc:
            raise BatchSystemError(f"lsf: cannot run `{shlex.join(argv)}`: {exc.strerror or exc}") from None
        return Output(argv=argv, returncode=done.returncode, stdout=done.stdout, stderr=done.stderr)

    def check(self, name: str, *args: str) -> Output:
        """Like ``run``, but a non-zero exit is a ``BatchSystemError`` quoting what it said."""
        out = self.run(name, *args)
        if out.returncode != 0:
            raise out.failure()
        return out
