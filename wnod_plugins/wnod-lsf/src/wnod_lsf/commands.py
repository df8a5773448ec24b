"""Where LSF's commands are and what they see: run through ``wnod_core.commands`` with LSF_ENVDIR set."""

import os
from collections.abc import Mapping

from wnod_core.commands import Result, run


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

    def run(self, name: str, *args: str) -> Result:
        """Run LSF command `name` with `args`; its output whatever its exit code.

        Raises ``BatchSystemError`` only when it could not be run or did not finish in time.
        """
        program = os.path.join(self.bin_dir, name) if self.bin_dir else name
        return run((program, *args), timeout=self.timeout, env=self._env)

    def check(self, name: str, *args: str) -> Result:
        """Like ``run``, but a non-zero exit is a ``BatchSystemError`` quoting what it said."""
        return self.run(name, *args).check()
