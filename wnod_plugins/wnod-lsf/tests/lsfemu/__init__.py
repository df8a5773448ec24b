"""An emulator of IBM Spectrum LSF's commands, for wnod-lsf's tests (LSF cannot be installed here).

``Cluster`` holds the state; ``install(bin_dir)`` writes the commands (bjobs, bhosts, badmin,
bmod, brequeue, bresume, bstop, bkill, brun) as executables that run ``cli.main``.
"""

import os
import stat
import sys
from pathlib import Path

from .cli import COMMANDS
from .cluster import STATE_VAR, Cluster, LsfError

__all__ = ["COMMANDS", "STATE_VAR", "Cluster", "LsfError", "install"]


def install(bin_dir: Path) -> Path:
    """Write one executable per emulated command into `bin_dir`; returns `bin_dir`."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    home = Path(__file__).resolve().parent.parent
    for name in COMMANDS:
        path = bin_dir / name
        path.write_text(
            f"#!{sys.executable}\n"
            "import sys\n"
            f"sys.path.insert(0, {str(home)!r})\n"
            "from lsfemu.cli import main\n"
            f"sys.exit(main({name!r}, sys.argv[1:]))\n"
        )
        path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return bin_dir


def environ(state: Path) -> dict[str, str]:
    return {**os.environ, STATE_VAR: str(state)}
