"""What Slurm's commands see: the site's slurm.conf, the C locale, and none of the user's
SQUEUE_/SINFO_ settings."""

from wnod_core.commands import Tools

DROPPED_ENV = ("SQUEUE_", "SINFO_")
"""Formats and filters a user exported must not change what the parsers read."""


def tools(timeout: float, slurm_conf: str = "") -> Tools:
    """Slurm's commands, each run by the absolute path the options give."""
    env = {"LC_ALL": "C", **({"SLURM_CONF": slurm_conf} if slurm_conf else {})}
    return Tools(timeout=timeout, env=env, drop_env_prefixes=DROPPED_ENV)
