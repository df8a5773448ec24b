"""The core's disk kit, which every hypervisor backend makes its VWNs' scratch disks with."""

import json
import os
import subprocess
from pathlib import Path

import pytest

from wnod_core.errors import HypervisorError
from wnod_core.kits.disks import ScratchDir
from wnod_core.testing.requirements import missing_commands, require


@pytest.fixture
def scratch(tmp_path: Path) -> ScratchDir:
    (tmp_path / "scratch").mkdir()
    return ScratchDir(tmp_path / "scratch")


@pytest.fixture
def base(tmp_path: Path) -> Path:
    path = tmp_path / "base.raw"
    path.write_bytes(b"base".ljust(2 << 20, b"\0"))
    path.chmod(0o400)
    return path


def _qemu_img() -> None:
    require(missing_commands("qemu-img", hint="Debian qemu-utils"))


def _info(path: Path) -> dict:
    done = subprocess.run(["qemu-img", "info", "--output=json", str(path)], capture_output=True, check=True)
    return json.loads(done.stdout)


def test_a_raw_disk_is_sparse_private_and_replaces_the_old_one_whole(scratch: ScratchDir) -> None:
    disk = scratch.root / "vwn-1.img"
    disk.write_bytes(b"the last job's files")
    old_inode = disk.stat().st_ino
    scratch.make_raw(disk, 64 << 20)
    st = disk.stat()
    assert (st.st_size, st.st_blocks, st.st_mode & 0o777) == (64 << 20, 0, 0o600)
    assert st.st_ino != old_inode, "a new file renamed into place, not the old one truncated"
    assert disk.read_bytes()[:20] == bytes(20)
    assert sorted(p.name for p in scratch.root.iterdir()) == ["vwn-1.img"]


def test_a_symlink_planted_where_the_disk_goes_is_replaced_never_followed(scratch: ScratchDir, tmp_path: Path) -> None:
    victim = tmp_path / "shadow"
    victim.write_text("root:secret\n")
    disk = scratch.root / "vwn-1.img"
    disk.symlink_to(victim)
    (scratch.root / ".vwn-1.img.new").symlink_to(victim)  # and where it is made aside
    scratch.make_raw(disk, 1 << 20)
    assert victim.read_text() == "root:secret\n"
    assert not disk.is_symlink() and disk.stat().st_size == 1 << 20


def test_nothing_is_made_or_deleted_outside_the_scratch_directory(scratch: ScratchDir, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.img"
    outside.write_text("keep me")
    with pytest.raises(HypervisorError, match="refusing to make .*elsewhere.img: not in the scratch directory"):
        scratch.make_raw(outside, 1 << 20)
    with pytest.raises(HypervisorError, match="refusing to delete .*elsewhere.img: not a scratch disk"):
        scratch.remove(outside)
    with pytest.raises(HypervisorError, match="refusing to delete"):
        scratch.remove(scratch.root / "sub" / ".." / ".." / "elsewhere.img")
    assert outside.read_text() == "keep me"


def test_a_missing_scratch_directory_is_named(tmp_path: Path) -> None:
    scratch = ScratchDir(tmp_path / "nowhere", who="xl: ")
    with pytest.raises(HypervisorError, match=r"^xl: scratch directory .*nowhere does not exist"):
        scratch.make_raw(tmp_path / "nowhere" / "vwn-1.img", 1 << 20)


def test_an_overlay_reads_its_base_never_writes_it_and_is_at_least_the_scratch_size(
    scratch: ScratchDir, base: Path
) -> None:
    _qemu_img()
    before = base.read_bytes()
    big, small = scratch.root / "big.qcow2", scratch.root / "small.qcow2"
    scratch.make_overlay(big, base, 64 << 20)
    scratch.make_overlay(small, base, 4096)
    assert _info(big)["virtual-size"] == 64 << 20
    assert _info(small)["virtual-size"] == base.stat().st_size, "never smaller than its base"
    info = _info(big)
    assert (info["format"], info["full-backing-filename"], info["backing-filename-format"]) == ("qcow2", str(base), "raw")
    assert big.stat().st_mode & 0o777 == 0o600
    assert base.read_bytes() == before


def test_qemu_img_failing_is_quoted_and_leaves_nothing(scratch: ScratchDir, base: Path, tmp_path: Path) -> None:
    fake = tmp_path / "qemu-img"
    fake.write_text("#!/bin/sh\necho 'qemu-img: no space left, pretend' >&2\nexit 1\n")
    fake.chmod(0o755)
    disk = scratch.root / "vwn-1.qcow2"
    disk.write_bytes(b"the old overlay")
    with pytest.raises(HypervisorError, match="cannot make an overlay: .*qemu-img create .* failed .exit 1.: qemu-img:"
                       " no space left, pretend"):
        ScratchDir(scratch.root, qemu_img=str(fake)).make_overlay(disk, base, 1 << 20)
    assert disk.read_bytes() == b"the old overlay", "a failed reset leaves the old disk as it was"
    assert sorted(p.name for p in scratch.root.iterdir()) == ["vwn-1.qcow2"]


def test_a_hanging_qemu_img_is_stopped_at_its_timeout(scratch: ScratchDir, base: Path, tmp_path: Path) -> None:
    fake = tmp_path / "qemu-img"
    fake.write_text("#!/bin/sh\nexec sleep 30\n")
    fake.chmod(0o755)
    with pytest.raises(HypervisorError, match="did not finish within 0.2s"):
        ScratchDir(scratch.root, qemu_img=str(fake), timeout=0.2).make_overlay(scratch.root / "v.qcow2", base, 1 << 20)
    assert list(scratch.root.iterdir()) == []


def test_no_qemu_img_says_which_package(scratch: ScratchDir, base: Path) -> None:
    with pytest.raises(HypervisorError, match=r"no command '/nonexistent/qemu-img'.*\(Debian: qemu-utils\)"):
        ScratchDir(scratch.root, qemu_img="/nonexistent/qemu-img").make_overlay(scratch.root / "v.qcow2", base, 1)


def test_an_overlay_over_a_missing_base_is_refused_by_name(scratch: ScratchDir, tmp_path: Path) -> None:
    with pytest.raises(HypervisorError, match=r"cannot make an overlay over .*gone.raw"):
        scratch.make_overlay(scratch.root / "v.qcow2", tmp_path / "gone.raw", 1 << 20)
    assert list(scratch.root.iterdir()) == []


def test_remove_is_idempotent(scratch: ScratchDir) -> None:
    disk = scratch.root / "vwn-1.img"
    scratch.make_raw(disk, 1 << 20)
    scratch.remove(disk)
    scratch.remove(disk)
    assert not os.path.lexists(disk)
