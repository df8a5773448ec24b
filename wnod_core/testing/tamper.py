"""Damage as tests make it: one byte of a file changed in place, as a bad disk or a hand would."""

import os
from pathlib import Path


def flip_byte(path: Path, offset: int) -> None:
    """Invert every bit of the byte at `offset` of `path`, made writable for it (an image library's
    disks are read-only); its size and name stay."""
    os.chmod(path, 0o600)
    with open(path, "r+b") as f:
        f.seek(offset)
        byte = f.read(1)
        if len(byte) != 1:
            raise ValueError(f"{path} has no byte at offset {offset}")
        f.seek(offset)
        f.write(bytes([byte[0] ^ 0xFF]))
