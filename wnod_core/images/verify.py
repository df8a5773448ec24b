"""Checking a version before any VWN may use it: the disk is the one its manifest describes, byte
for byte, and — where the host requires signatures — the manifest is signed by someone allowed."""

import hashlib
from pathlib import Path

import attrs

from ..errors import ImageError
from . import signing
from .manifest import DISK, MANIFEST, SIGNATURE, Manifest

CHUNK = 1 << 20


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


@attrs.frozen
class Verifier:
    allowed_signers: Path | None
    """None: signatures are not required (and not checked)."""
    timeout: float = 60.0

    def check(self, directory: Path, expected: tuple[str, int], where: str) -> Manifest:
        """The manifest of the version in `directory`, once its signature and disk check out;
        ImageError naming `where` (the version's origin) and what is wrong otherwise."""
        manifest_path = directory / MANIFEST
        try:
            manifest = Manifest.from_json(manifest_path.read_bytes(), f"{where}/{MANIFEST}")
        except FileNotFoundError:
            raise ImageError(f"{where}: no {MANIFEST}") from None
        if (manifest.image, manifest.version) != expected:
            raise ImageError(f"{where}: its manifest is of {manifest.ref}, not of {expected[0]}@{expected[1]}")
        signer = ""
        if self.allowed_signers is not None:
            signer = signing.verify(manifest_path, directory / SIGNATURE, self.allowed_signers,
                                    timeout=self.timeout)
        disk = directory / DISK
        try:
            size = disk.stat().st_size
        except FileNotFoundError:
            raise ImageError(f"{where}: no {DISK}") from None
        if size != manifest.size:
            raise ImageError(f"{where}: {DISK} is {size} bytes, its manifest says {manifest.size}: refused")
        digest = sha256_of(disk)
        if digest != manifest.sha256:
            raise ImageError(f"{where}: {DISK} does not match its manifest (sha256 {digest},"
                             f" manifest {manifest.sha256}{f', signed by {signer}' if signer else ''}):"
                             " refused, never booted")
        return manifest
