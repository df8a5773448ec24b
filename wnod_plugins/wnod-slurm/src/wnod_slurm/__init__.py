"""wnod's Slurm adapter. See docs/slurm.md for the site's side: slurm.conf and the bait Prolog."""

from .adapter import EXIT_CODES, SlurmBatchSystem
from .options import SlurmOptions

__all__ = ["EXIT_CODES", "SlurmBatchSystem", "SlurmOptions"]
