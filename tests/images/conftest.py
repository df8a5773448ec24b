"""Image libraries, disks and signing keys for the image tests — real files, real ``ssh-keygen``,
real ext4 made by ``mke2fs``, so what is checked is what a host does."""

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from wnod_core.config.schema import ImagesSection
from wnod_core.images import HostImages
from wnod_core.testing.requirements import missing_commands, require
from wnod_core.testing.signing import SigningKeys, signing_keys

TOOLS = ("ssh-keygen", "mke2fs", "debugfs", "e2fsck")


@pytest.fixture(autouse=True)
def _tools() -> None:
    require(missing_commands(*TOOLS, hint="Debian openssh-client and e2fsprogs: system-packages.txt"))


Keys = SigningKeys


@pytest.fixture
def keys(tmp_path: Path) -> Keys:
    """The build host's signing key, and the allowed-signers file every host trusts it with."""
    where = tmp_path / "keys"
    where.mkdir()
    return signing_keys(where, "builder@farm.test")


@pytest.fixture
def stranger(tmp_path: Path) -> Keys:
    """A key nobody's allowed-signers file names."""
    where = tmp_path / "stranger"
    where.mkdir()
    return signing_keys(where, "mallory@elsewhere.test")


def make_ext4(path: Path, files: dict[str, str], size: int = 8 << 20) -> Path:
    """A small ext4 disk whose root holds `files` (name → text), made without mounting anything."""
    root = path.with_name(path.name + ".root")
    root.mkdir()
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    with open(path, "wb") as f:
        f.truncate(size)
    subprocess.run(["mke2fs", "-q", "-F", "-t", "ext4", "-E", "root_owner=0:0", "-d", str(root), str(path)],
                   check=True)
    return path


def read_ext4(disk: Path, name: str) -> str | None:
    """File `name` of the ext4 disk, or None when it is not there."""
    out = subprocess.run(["debugfs", "-R", f"cat /{name}", str(disk)], capture_output=True, text=True)
    return None if "File not found" in out.stderr else out.stdout


@pytest.fixture
def ext4() -> Callable[..., Path]:
    return make_ext4


@pytest.fixture
def read_disk() -> Callable[[Path, str], str | None]:
    return read_ext4


@pytest.fixture
def host_images(tmp_path: Path) -> Callable[..., HostImages]:
    """A host's images: `name` picks its library directory; keyword arguments are ``[images]`` keys."""

    def make(name: str = "hv01", **section: object) -> HostImages:
        return HostImages.of(ImagesSection(library=str(tmp_path / name / "images"), **section))  # type: ignore[arg-type]

    return make


@pytest.fixture
def say() -> list[str]:
    return []
