"""The files behind a VWN's disks: read-only images in the image store, scratch disks in the
scratch dir — both through wnod_core's kits, which every backend shares."""

import re
from pathlib import Path

import attrs
from wnod_core.errors import HypervisorError
from wnod_core.kits.disks import ScratchDir
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
    """Each VWN's read-write disk: a sparse raw file, or a qcow2 overlay over its base image. The
    names are this backend's; making and removing the files is the core's disk kit."""

    root: Path
    qemu_img: str = "qemu-img"
    timeout: float = 60.0

    @property
    def files(self) -> ScratchDir:
        return ScratchDir(self.root, qemu_img=self.qemu_img, timeout=self.timeout)

    def path(self, vwn_id: str, overlay: bool) -> Path:
        return self.root / f"{check_vwn_id(vwn_id)}.scratch.{'qcow2' if overlay else 'raw'}"

    def all_paths(self, vwn_id: str) -> list[Path]:
        return [self.path(vwn_id, False), self.path(vwn_id, True)]

    def owns(self, path: str | Path) -> bool:
        """Whether `path` is a scratch disk in this directory: wnod deletes nothing else."""
        return self.files.owns(path) and Path(path).name.endswith((".scratch.raw", ".scratch.qcow2"))

    def make_raw(self, path: Path, size: int) -> None:
        self.files.make_raw(path, size)

    def make_overlay(self, path: Path, base: Path, size: int) -> None:
        self.files.make_overlay(path, base, size)

    def remove(self, path: str | Path) -> None:
        if not self.owns(path):
            raise HypervisorError(f"refusing to delete {path}: not a scratch disk in {self.root}")
        self.files.remove(path)
