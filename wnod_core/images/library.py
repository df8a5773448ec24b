"""The host's image library: one directory per image, one per version, and nothing half-made in view.

    LIBRARY/debian-science/1/disk.raw, manifest.json[, manifest.json.sig][, update.log]
    LIBRARY/debian-science/2/...
    LIBRARY/debian-science/rollout.json      which version is current here (rollout.py)

A version appears under its number only once it is whole and verified: it is made (built, or
pulled) in a hidden ``.new-*`` directory beside it and renamed into place, so a VWN never boots
a half-copied disk and a crash leaves only a hidden directory the next run sweeps. Versions are
never changed once in place: the disk is made read-only (0400), the directory 0500.
"""

import contextlib
import fcntl
import json
import os
import shutil
import tempfile
from collections.abc import Collection, Iterator
from pathlib import Path

import attrs

from ..errors import ImageError
from ..model.vmtype import check_name
from .manifest import DISK, LOG, MANIFEST, SIGNATURE, Manifest, check_version

STAGING = ".new-"
BUSY = ".busy"
"""In a staging directory: locked (flock) by the process making the version there."""
VERIFIED = "verified.json"
"""The disk file as it was when this host last verified it (inode, size, modification time): a
VWN boots a version only while its disk still is that file, unchanged since — checked at each boot
by a stat, where a digest of the whole disk would take minutes."""


@attrs.frozen
class Library:
    root: Path

    def image_dir(self, image: str) -> Path:
        try:
            check_name(image, "image name")
        except ValueError as exc:
            raise ImageError(str(exc)) from None
        return self.root / image

    def version_dir(self, image: str, version: int) -> Path:
        return self.image_dir(image) / str(check_version(version))

    def images(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith("."))

    def versions(self, image: str) -> list[int]:
        """The versions of `image` in this library, oldest first."""
        where = self.image_dir(image)
        if not where.is_dir():
            return []
        return sorted(int(p.name) for p in where.iterdir()
                      if p.name.isdigit() and not p.name.startswith("0") and (p / MANIFEST).is_file())

    def has(self, image: str, version: int) -> bool:
        return version in self.versions(image)

    def manifest(self, image: str, version: int) -> Manifest:
        path = self.version_dir(image, version) / MANIFEST
        try:
            text = path.read_bytes()
        except FileNotFoundError:
            raise ImageError(f"{image}@{version} is not in the image library {self.root}") from None
        except OSError as exc:
            raise ImageError(f"cannot read {path}: {exc.strerror}") from None
        manifest = Manifest.from_json(text, str(path))
        if (manifest.image, manifest.version) != (image, version):
            raise ImageError(f"{path}: the manifest is of {manifest.ref}, not of {image}@{version}")
        return manifest

    def disk(self, image: str, version: int) -> Path:
        """The read-only disk of `image@version`; ImageError if that version is not here."""
        path = self.version_dir(image, version) / DISK
        if not self.has(image, version) or not path.is_file():
            have = ", ".join(map(str, self.versions(image))) or "none"
            raise ImageError(f"{image}@{version} is not in the image library {self.root} (versions here: {have})")
        return path

    def mark_verified(self, image: str, version: int, directory: Path | None = None) -> None:
        """Remember the disk of `image@version` (in `directory`, its staging one before ``commit``)
        as this host just verified it."""
        where = directory if directory is not None else self.version_dir(image, version)
        mark = where / VERIFIED
        tmp = where / f".{VERIFIED}.new"
        tmp.write_text(json.dumps(_fingerprint(where / DISK), sort_keys=True) + "\n")
        os.chmod(tmp, 0o444)
        os.replace(tmp, mark)

    def changed_since_verified(self, image: str, version: int) -> str:
        """Why the disk of `image@version` is not the file this host verified ("" if it is)."""
        where = self.version_dir(image, version)
        try:
            marked = json.loads((where / VERIFIED).read_text())
        except FileNotFoundError:
            return f"{where / DISK} was never verified on this host"
        except (OSError, ValueError) as exc:
            return f"{where / VERIFIED} cannot be read ({exc})"
        try:
            now = _fingerprint(where / DISK)
        except OSError as exc:
            return f"{where / DISK} cannot be read ({exc.strerror})"
        if now != marked:
            changed = ", ".join(f"{k} {marked.get(k)} -> {v}" for k, v in sorted(now.items()) if marked.get(k) != v)
            return f"{where / DISK} changed since it was verified ({changed})"
        return ""

    def log(self, image: str, version: int) -> str:
        path = self.version_dir(image, version) / LOG
        self.manifest(image, version)
        try:
            return path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def next_version(self, image: str, *also: Collection[int]) -> int:
        """The number a new version of `image` gets: one more than any here or in `also` (the source's)."""
        return max([0, *self.versions(image), *(v for more in also for v in more)]) + 1

    # -- making and removing versions ----------------------------------------------------------------

    @contextlib.contextmanager
    def locked(self, image: str) -> Iterator[None]:
        """Only one process at a time adds, removes or publishes versions of `image` on this host:
        two pulls of one version copy it once, and a prune never races a publish."""
        where = self.image_dir(image)
        where.mkdir(parents=True, exist_ok=True, mode=0o755)
        with open(where / ".lock", "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    @contextlib.contextmanager
    def staging(self, image: str) -> Iterator[Path]:
        """A hidden directory to make a version in; removed afterwards unless ``commit`` took it."""
        where = self.image_dir(image)
        where.mkdir(parents=True, exist_ok=True, mode=0o755)
        staged = Path(tempfile.mkdtemp(prefix=STAGING, dir=where))
        # Held while the version is being made (an update runs for up to update_timeout): a
        # sweep by another process leaves the directory alone, and takes it once this one died.
        busy = open(staged / BUSY, "wb")
        fcntl.flock(busy, fcntl.LOCK_EX)
        try:
            yield staged
        finally:
            busy.close()
            if staged.exists():
                _remove_tree(staged)

    def commit(self, staged: Path, manifest: Manifest) -> Path:
        """Put the whole version made in `staged` in place under its number; refuses to replace one."""
        final = self.version_dir(manifest.image, manifest.version)
        if final.exists():
            raise ImageError(f"{manifest.ref} is already in the image library {self.root}: versions never change")
        # A pulled manifest stays the very bytes its signer signed; a built one is written here.
        if not (staged / MANIFEST).exists():
            (staged / MANIFEST).write_text(manifest.to_json())
        elif Manifest.from_json((staged / MANIFEST).read_bytes(), str(staged / MANIFEST)) != manifest:
            raise ImageError(f"{staged / MANIFEST} is not the manifest of {manifest.ref} being put in place")
        (staged / BUSY).unlink(missing_ok=True)  # under the image's lock, which every sweep takes
        for name in (DISK, MANIFEST, SIGNATURE, LOG):
            if (staged / name).exists():
                os.chmod(staged / name, 0o400 if name == DISK else 0o444)
        # Every version is committed verified: pulled and checked, or digested as it was made.
        self.mark_verified(manifest.image, manifest.version, staged)
        _fsync_tree(staged)
        os.rename(staged, final)
        os.chmod(final, 0o555)
        _fsync_dir(final.parent)
        return final

    def remove(self, image: str, version: int) -> None:
        """Remove `image@version` whole: first out of view (renamed hidden), then its files."""
        final = self.version_dir(image, version)
        if not final.exists():
            return
        hidden = final.with_name(f"{STAGING}gone-{version}")
        if hidden.exists():
            _remove_tree(hidden)
        os.rename(final, hidden)
        _fsync_dir(final.parent)
        _remove_tree(hidden)

    def sweep(self, image: str) -> list[str]:
        """Remove what a crashed build or pull left half-made; the names removed."""
        where = self.image_dir(image)
        if not where.is_dir():
            return []
        left = [p for p in where.iterdir() if p.name.startswith(STAGING) and not _being_made(p)]
        for path in left:
            _remove_tree(path)
        return [p.name for p in left]


def _being_made(staged: Path) -> bool:
    """Whether a live process still holds `staged`'s lock (a build or pull under way)."""
    try:
        with open(staged / BUSY, "rb") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(f, fcntl.LOCK_UN)
    except (FileNotFoundError, NotADirectoryError):
        pass
    return False


def _remove_tree(path: Path) -> None:
    # Versions are made read-only; removing one needs its directories writable again.
    for dirpath, _dirs, _files in os.walk(path):
        os.chmod(dirpath, 0o700)
    shutil.rmtree(path, ignore_errors=False)


def _fsync_tree(path: Path) -> None:
    for child in path.iterdir():
        if child.is_file():
            with open(child, "rb") as f:
                os.fsync(f.fileno())
    _fsync_dir(path)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fingerprint(disk: Path) -> dict[str, int]:
    # Not ctime: libvirt lends a disk to its QEMU user by chown for each VWN, which changes it.
    st = os.stat(disk)
    return {"inode": st.st_ino, "size": st.st_size, "mtime_ns": st.st_mtime_ns}
