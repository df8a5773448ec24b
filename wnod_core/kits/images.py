"""The image store: the directory of read-only OS images, kernels and initrds that VM types name.

Every hypervisor backend hands these files to guests, so every backend resolves them here:
a name (or a symlink in the store) that leads outside the store is refused, whatever the
configuration says — a guest must never be given the host's /etc/shadow as its disk.
"""

import os
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from ..errors import HypervisorError
from ..model.vmtype import check_image_name

if TYPE_CHECKING:
    from ..interfaces import VwnSpec


def inside(path: Path, directory: Path) -> bool:
    """Whether `path`, symlinks followed, lies inside `directory`, symlinks followed."""
    real, root = os.path.realpath(path), os.path.realpath(directory)
    return os.path.commonpath([real, root]) == root and real != root


@attrs.frozen
class ImageStore:
    root: Path

    def path(self, name: str) -> Path:
        """Where image `name` is; refuses any name, or symlink, that leads outside the store.

        Names are already checked by the core's config; this is the backends' own guard, so that
        no configuration they are ever given makes them hand a guest a file outside the store."""
        try:
            check_image_name(name)
        except ValueError as exc:
            raise HypervisorError(f"image {name!r} refused: {exc}") from None
        path = self.root / name
        if not inside(path, self.root):
            raise HypervisorError(f"image {name!r} refused: {path} leads outside the image store {self.root}")
        return path

    def existing(self, name: str) -> Path:
        path = self.path(name)
        if not path.is_file():
            raise HypervisorError(f"image {name!r} is not in the image store: no file {path}")
        return path

    def os_disk(self, spec: "VwnSpec") -> Path:
        """The VWN's read-only OS disk: the image version the host's image library gave it
        (``spec.image_disk``), else its VM type's image in this store.

        A library disk is taken as the core gives it (it verified that very file), never looked
        up here: the store need not hold a library image at all, and must not stand in for it."""
        if spec.image_disk is None:
            return self.path(spec.vm_type.image)
        disk = Path(spec.image_disk)
        if not disk.is_absolute():
            raise HypervisorError(
                f"VWN {spec.vwn_id}: image disk {str(disk)!r} from the image library is not an absolute path"
            )
        return disk

    def existing_os_disk(self, spec: "VwnSpec") -> Path:
        """``os_disk``, refused (naming the file and where it comes from) if it is not there."""
        if spec.image_disk is None:
            return self.existing(spec.vm_type.image)
        disk, vm = self.os_disk(spec), spec.vm_type
        if not disk.is_file():
            version = f" version {vm.image_version}" if vm.image_version else ""
            raise HypervisorError(
                f"VWN {spec.vwn_id} of VM type {vm.name}: image disk {disk} (image {vm.image}{version},"
                " from the host's image library) is not there"
            )
        return disk
