"""The image store: the directory of read-only OS images, kernels and initrds that VM types name.

Every hypervisor backend hands these files to guests, so every backend resolves them here:
a name (or a symlink in the store) that leads outside the store is refused, whatever the
configuration says — a guest must never be given the host's /etc/shadow as its disk.
"""

import os
from pathlib import Path

import attrs

from ..errors import HypervisorError
from ..model.vmtype import check_image_name


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
