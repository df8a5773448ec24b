"""The files behind a VWN's disks: read-only images in the image store (wnod_core's kit), scratch
disks in the scratch dir."""

import os
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import attrs
from wnod_core.errors import HypervisorError
from wnod_core.kits.images import ImageStore

__all__ = ["ImageStore", "ScratchDisks", "check_vwn_id"]

_VWN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}\Z")


def check_vwn_id(vwn_id: str) -> str:
    """VWN ids name domains and files: a single plain path component, nothing else."""
    if not isinstance(vwn_id, str) or not _VWN_ID.match(vwn_id) or ".." in vwn_id:
        raise HypervisorError(
            f"VWN id {vwn_id!r} cannot name a domain and its files: expected letters, digits, '.', '_', '-'"
        )
    return vwn_id


@attrs.frozen
class ScratchDisks:
    """Each VWN's read-write disk: a sparse raw file, or a qcow2 overlay over its base image."""

    root: Path
    qemu_img: str = "qemu-img"
    timeout: float = 60.0

    def path(self, vwn_id: str, overlay: bool) -> Path:
        return self.root / f"{check_vwn_id(vwn_id)}.scratch.{'qcow2' if overlay else 'raw'}"

    def all_paths(self, vwn_id: str) -> list[Path]:
        return [self.path(vwn_id, False), self.path(vwn_id, True)]

    def owns(self, path: str | Path) -> bool:
        """Whether `path` is a scratch disk in this directory: wnod deletes nothing else."""
        path = Path(path)
        return path.parent == self.root and path.name.endswith((".scratch.raw", ".scratch.qcow2"))

    def make_raw(self, path: Path, size: int) -> None:
        """A fresh sparse raw file of `size` bytes at `path`, replacing any old one whole."""

        def fill(tmp: Path) -> None:
            with open(tmp, "xb") as f:
                os.fchmod(f.fileno(), 0o600)
                f.truncate(size)

        self._replace(path, fill)

    def make_overlay(self, path: Path, base: Path, size: int) -> None:
        """A fresh qcow2 overlay at `path` over the raw `base`, never writing `base`.

        Its size is `size`, or the base's if that is larger: a guest may not see its base cut short."""
        size = max(size, base.stat().st_size)

        def fill(tmp: Path) -> None:
            argv = [self.qemu_img, "create", "-q", "-f", "qcow2", "-b", str(base), "-F", "raw", str(tmp), str(size)]
            try:
                done = subprocess.run(argv, capture_output=True, text=True, timeout=self.timeout, check=False)
            except FileNotFoundError:
                raise HypervisorError(f"cannot make an overlay: no program {self.qemu_img!r}") from None
            except subprocess.TimeoutExpired:
                raise HypervisorError(
                    f"cannot make an overlay: {' '.join(argv)} took longer than {self.timeout:g}s"
                ) from None
            if done.returncode != 0:
                said = (done.stderr or done.stdout).strip() or f"exit status {done.returncode}"
                raise HypervisorError(f"cannot make an overlay: {' '.join(argv)} failed: {said}")
            os.chmod(tmp, 0o600)

        self._replace(path, fill)

    def _replace(self, path: Path, fill: Callable[[Path], None]) -> None:
        # Made aside and renamed into place: a guest never sees a half-made disk, and a
        # failure leaves neither the new file nor (for a reset) a truncated old one.
        if not self.root.is_dir():
            raise HypervisorError(f"scratch directory {self.root} does not exist")
        tmp = path.with_name(f".{path.name}.new")
        tmp.unlink(missing_ok=True)
        try:
            fill(tmp)
            os.replace(tmp, path)
        except OSError as exc:
            raise HypervisorError(f"cannot make scratch disk {path}: {exc.strerror or exc}") from None
        finally:
            tmp.unlink(missing_ok=True)

    def remove(self, path: str | Path) -> None:
        if not self.owns(path):
            raise HypervisorError(f"refusing to delete {path}: not a scratch disk in {self.root}")
        try:
            Path(path).unlink(missing_ok=True)
        except OSError as exc:
            raise HypervisorError(f"cannot delete scratch disk {path}: {exc.strerror or exc}") from None

