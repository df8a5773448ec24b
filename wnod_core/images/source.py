"""Where hosts get image versions from: a directory (a shared file system) or an HTTP(S) URL that
serves the same layout as a library, plus ``IMAGE/versions.json`` listing the versions there.

A host copies a version into its library's staging area, verifies it there (verify.py), and only
then puts it in place: nothing a source serves — a short read, a swapped disk, a bad signature —
is ever bootable."""

import io
import json
import os
import shutil
import urllib.error
import urllib.request
from pathlib import Path

import attrs

from ..errors import ImageError
from .copying import copy_disk
from .library import Library
from .manifest import DISK, LOG, MANIFEST, SIGNATURE, Manifest, check_version
from .verify import CHUNK

INDEX = "versions.json"
HOLE = 64 << 10
"""Runs of zeros this long, aligned, are left as holes: a downloaded disk is as sparse as a copied one."""
_ZEROS = bytes(HOLE)
SMALL = 16 << 20
"""The most a manifest, signature or log may be: a source cannot make a host read without end."""


@attrs.frozen
class Source:
    location: str
    timeout: float = 600.0

    @property
    def is_url(self) -> bool:
        return self.location.startswith(("http://", "https://"))

    def where(self, image: str, version: int | None = None) -> str:
        parts = [self.location.rstrip("/"), image, *([] if version is None else [str(version)])]
        return "/".join(parts)

    def versions(self, image: str) -> list[int]:
        """The versions of `image` the source has."""
        if self.is_url:
            text = self._get(f"{self.where(image)}/{INDEX}", SMALL, missing_ok=True)
            if text is None:
                return []
            try:
                listed = json.loads(text)
                return sorted(check_version(v, f"{self.where(image)}/{INDEX}") for v in listed)
            except (ValueError, TypeError):
                raise ImageError(f"{self.where(image)}/{INDEX}: expected a JSON list of version numbers") from None
        return Library(Path(self.location)).versions(image)

    def manifest(self, image: str, version: int) -> Manifest:
        where = f"{self.where(image, version)}/{MANIFEST}"
        text = self._read(image, version, MANIFEST)
        if text is None:
            raise ImageError(f"{image}@{version} is not at the image source {self.location} (no {where})")
        return Manifest.from_json(text, where)

    def fetch(self, image: str, version: int, into: Path) -> None:
        """Copy the version's files into `into` (a staging directory); the caller verifies them."""
        manifest_text = self._read(image, version, MANIFEST)
        if manifest_text is None:
            raise ImageError(f"{image}@{version} is not at the image source {self.location}")
        (into / MANIFEST).write_bytes(manifest_text)
        manifest = Manifest.from_json(manifest_text, f"{self.where(image, version)}/{MANIFEST}")
        for small in (SIGNATURE, LOG):
            text = self._read(image, version, small)
            if text is not None:
                (into / small).write_bytes(text)
        if self.is_url:
            self._download(f"{self.where(image, version)}/{DISK}", into / DISK, manifest.size)
        else:
            src = Path(self.location) / image / str(version) / DISK
            copy_disk(src, into / DISK, self.timeout, f"{image}@{version} from {self.location}")

    def push(self, library: Library, image: str, version: int) -> Path:
        """Copy `image@version` from `library` to this source (a directory) and list it there."""
        if self.is_url:
            raise ImageError(f"cannot push to {self.location}: push to the directory the web server serves")
        target = Library(Path(self.location))
        with target.locked(image):
            if target.has(image, version):
                raise ImageError(f"{image}@{version} is already at the image source {self.location}")
            manifest = library.manifest(image, version)
            with target.staging(image) as staged:
                for name in (MANIFEST, SIGNATURE, LOG):
                    src = library.version_dir(image, version) / name
                    if src.exists():
                        shutil.copyfile(src, staged / name)
                copy_disk(library.disk(image, version), staged / DISK, self.timeout, f"{image}@{version}")
                final = target.commit(staged, manifest)
            index = target.image_dir(image) / INDEX
            tmp = index.with_name(f".{INDEX}.new")
            tmp.write_text(json.dumps(target.versions(image)) + "\n")
            os.replace(tmp, index)
        return final

    # -- reading ---------------------------------------------------------------------------------------

    def _read(self, image: str, version: int, name: str) -> bytes | None:
        if self.is_url:
            return self._get(f"{self.where(image, version)}/{name}", SMALL, missing_ok=True)
        path = Path(self.location) / image / str(version) / name
        try:
            if path.stat().st_size > SMALL:
                raise ImageError(f"{path}: larger than {SMALL} bytes; not a {name}")
            return path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise ImageError(f"cannot read {path}: {exc.strerror}") from None

    def _open(self, url: str):  # noqa: ANN202 - urllib's response type
        return urllib.request.urlopen(url, timeout=min(self.timeout, 60.0))  # noqa: S310 - http(s) only, checked in config

    def _get(self, url: str, limit: int, *, missing_ok: bool = False) -> bytes | None:
        try:
            with self._open(url) as answer:
                data = answer.read(limit + 1)
        except urllib.error.HTTPError as exc:
            if exc.code == 404 and missing_ok:
                return None
            raise ImageError(f"{url}: the image source answered {exc.code} {exc.reason}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise ImageError(f"{url}: cannot reach the image source: {getattr(exc, 'reason', exc)}") from None
        if len(data) > limit:
            raise ImageError(f"{url}: larger than {limit} bytes")
        return data

    def _download(self, url: str, path: Path, size: int) -> None:
        """The disk, at most `size` bytes: a source that sends more is cut off and refused."""
        got = 0
        try:
            with self._open(url) as answer, open(path, "xb") as out:
                while block := answer.read(CHUNK):
                    got += len(block)
                    if got > size:
                        raise ImageError(f"{url}: more than the {size} bytes its manifest says: refused")
                    _write_sparse(out, block)
                out.truncate(got)
        except urllib.error.HTTPError as exc:
            raise ImageError(f"{url}: the image source answered {exc.code} {exc.reason}") from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            raise ImageError(f"{url}: download failed after {got} bytes: {getattr(exc, 'reason', exc)}") from None


def _write_sparse(out: "io.BufferedWriter", block: bytes) -> None:
    view = memoryview(block)
    for at in range(0, len(view), HOLE):
        piece = view[at:at + HOLE]
        if piece == _ZEROS[:len(piece)]:
            out.seek(len(piece), os.SEEK_CUR)
        else:
            out.write(piece)
