"""A VWN's own read-write disk: a fresh sparse raw file, or a qcow2 overlay over the base image."""

from pathlib import Path

from wnod_core import commands
from wnod_core.errors import HypervisorError


def make_raw(path: Path, size: int) -> None:
    """A new, empty, sparse raw file of `size` bytes at `path` (whatever was there is gone)."""
    path.unlink(missing_ok=True)
    try:
        with open(path, "xb") as f:
            f.truncate(size)
    except OSError as e:
        path.unlink(missing_ok=True)
        raise HypervisorError(f"xl: cannot make scratch disk {path}: {e}") from None


def make_overlay(path: Path, base: Path, qemu_img: str, timeout: float) -> None:
    """A new qcow2 overlay at `path` whose reads fall through to `base` and whose writes stay in it."""
    path.unlink(missing_ok=True)
    argv = [qemu_img, "create", "-q", "-f", "qcow2", "-b", str(base), "-F", "raw", str(path)]
    try:
        commands.run(argv, timeout=timeout, error=HypervisorError).check()
    except HypervisorError as e:
        path.unlink(missing_ok=True)
        hint = " (Debian: qemu-utils)" if isinstance(e.__cause__, FileNotFoundError) else ""
        raise HypervisorError(f"xl: cannot make overlay {path}: {e}{hint}") from None


def remove(path: Path) -> None:
    path.unlink(missing_ok=True)
