"""A VWN's own read-write disk: a fresh sparse raw file, or a qcow2 overlay over the base image."""

import subprocess
from pathlib import Path

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
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError:
        raise HypervisorError(f"xl: cannot make overlay {path}: no command {qemu_img!r} (qemu-utils)") from None
    except subprocess.TimeoutExpired:
        path.unlink(missing_ok=True)
        raise HypervisorError(f"xl: {' '.join(argv)} did not finish within {timeout:g}s") from None
    if done.returncode != 0:
        path.unlink(missing_ok=True)
        raise HypervisorError(
            f"xl: {' '.join(argv)} failed (exit {done.returncode}): {done.stderr.strip() or done.stdout.strip()}"
        )


def remove(path: Path) -> None:
    path.unlink(missing_ok=True)
