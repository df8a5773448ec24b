"""What Slurm's commands see: run through ``wnod_core.commands`` with the site's slurm.conf and
none of the user's SQUEUE_/SINFO_ settings."""

import os
from collections.abc import Mapping, Sequence

import attrs
from wnod_core.commands import Result, run


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
        return run(argv, timeout=self.timeout, env=self.env())

    def check(self, argv: Sequence[str], what: str) -> Result:
        """Run `argv`; unless it exits 0, a BatchSystemError saying it failed `what` (e.g. "listing nodes")."""
        return self.run(argv).check(f"failed {what}")
