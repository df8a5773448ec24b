"""A VWN's own read-write disk, for every hypervisor backend: a fresh sparse raw file, or a qcow2
overlay over its read-only base that never writes the base.

Each backend names the files (its own layout of its scratch directory); this kit makes, replaces
and removes them the one safe way:

- made aside and renamed into place, so a guest never sees a half-made disk and a failed reset
  leaves neither a new file nor a truncated old one;
- the file made with ``O_EXCL`` (a symlink planted where the disk goes is replaced, never
  followed), mode 0600, and only ever directly inside the scratch directory;
- an overlay as large as the VM type's scratch size, or its base's if that is larger (a guest
  may not see its base cut short); ``qemu-img`` run through ``wnod_core.commands``, so it times
  out and fails like every other tool wnod runs.
"""

import os
from collections.abc import Callable
from pathlib import Path

import attrs

from .. import commands
from ..errors import HypervisorError


@attrs.frozen
class ScratchDir:
    root: Path
    qemu_img: str = "qemu-img"
    timeout: float = 60.0
    who: str = ""
    """Who is speaking, at the start of every error ("xl: "), for the backends that say so."""

    def owns(self, path: str | Path) -> bool:
        """Whether `path` lies directly in this directory: the only files wnod writes or deletes."""
        path = Path(path)
        return path.parent == self.root and path.name not in ("", ".", "..")

    def make_raw(self, path: Path, size: int) -> None:
        """A fresh sparse raw file of `size` bytes at `path`, replacing any old one whole."""

        def fill(tmp: Path) -> None:
            with open(tmp, "xb") as f:
                os.fchmod(f.fileno(), 0o600)
                f.truncate(size)

        self._replace(path, fill)

    def make_overlay(self, path: Path, base: Path, size: int) -> None:
        """A fresh qcow2 overlay at `path` over the raw `base`, at least `size` bytes."""
        try:
            size = max(size, base.stat().st_size)
        except OSError as exc:
            raise HypervisorError(f"{self.who}cannot make an overlay over {base}: {exc.strerror or exc}") from None

        def fill(tmp: Path) -> None:
            argv = [self.qemu_img, "create", "-q", "-f", "qcow2", "-b", str(base), "-F", "raw", str(tmp), str(size)]
            try:
                commands.run(argv, timeout=self.timeout, error=HypervisorError).check("failed")
            except HypervisorError as exc:
                hint = " (Debian: qemu-utils)" if "no command" in str(exc) else ""
                raise HypervisorError(f"{self.who}cannot make an overlay: {exc}{hint}") from None
            os.chmod(tmp, 0o600)

        self._replace(path, fill)

    def remove(self, path: str | Path) -> None:
        if not self.owns(path):
            raise HypervisorError(f"{self.who}refusing to delete {path}: not a scratch disk in {self.root}")
        try:
            Path(path).unlink(missing_ok=True)
        except OSError as exc:
            raise HypervisorError(f"{self.who}cannot delete scratch disk {path}: {exc.strerror or exc}") from None

    def _replace(self, path: Path, fill: Callable[[Path], None]) -> None:
        if not self.owns(path):
            raise HypervisorError(f"{self.who}refusing to make {path}: not in the scratch directory {self.root}")
        if not self.root.is_dir():
            raise HypervisorError(f"{self.who}scratch directory {self.root} does not exist")
        tmp = path.with_name(f".{path.name}.new")
        tmp.unlink(missing_ok=True)
        try:
            fill(tmp)
            os.replace(tmp, path)
        except OSError as exc:
            raise HypervisorError(f"{self.who}cannot make scratch disk {path}: {exc.strerror or exc}") from None
        finally:
            tmp.unlink(missing_ok=True)
