"""Where HTCondor's tools are: each run through ``wnod_core.commands`` with the configured timeout."""

import os
from collections.abc import Sequence

import attrs
from wnod_core.commands import Result, run


@attrs.frozen
class Runner:
    """Runs one HTCondor tool at a time, found in `bin_dir` (or on PATH when empty)."""

    bin_dir: str = ""
    timeout: float = 30.0

    def path(self, tool: str) -> str:
        return os.path.join(self.bin_dir, tool) if self.bin_dir else tool

    def run(self, tool: str, args: Sequence[str]) -> Result:
        """What `tool` with `args` printed, whatever its exit; BatchSystemError when it cannot run or hangs."""
        return run((self.path(tool), *args), timeout=self.timeout)
