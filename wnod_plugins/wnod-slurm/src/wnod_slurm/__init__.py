"""wnod's Slurm adapter. See docs/slurm.md for the site's side: slurm.conf and the bait Prolog."""

from .adapter import SlurmBatchSystem
from .bait import BAIT_SIDE, EXIT_CODES
from .options import SlurmOptions

__all__ = ["BAIT_SIDE", "EXIT_CODES", "SlurmBatchSystem", "SlurmOptions"]
