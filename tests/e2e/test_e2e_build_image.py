"""Quick tests of contrib/e2e/build-image's pieces: no root, no network, no VM.

The real build and boot are in test_e2e_guest.py (slow).
"""

import gzip
import importlib.machinery
import importlib.util
import io
import lzma
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from wnod_core.testing.requirements import missing_commands, require

BUILD_IMAGE = Path(__file__).resolve().parents[2] / "contrib" / "e2e" / "build-image"


@pytest.fixture(scope="module")
def bi() -> ModuleType:
    loader = importlib.machinery.SourceFileLoader("wnod_e2e_build_image", str(BUILD_IMAGE))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def _unpack_cpio(data: bytes) -> dict[str, tuple[int, bytes]]:
    out, pos = {}, 0
    while True:
        assert data[pos:pos + 6] == b"070701"
        fields = [int(data[pos + 6 + 8 * i: pos + 14 + 8 * i], 16) for i in range(13)]
        mode, size, namesize = fields[1], fields[6], fields[11]
        name = data[pos + 110: pos + 110 + namesize - 1].decode()
        pos += 110 + namesize
        pos += -pos % 4
        body = data[pos: pos + size]
        pos += size
        pos += -pos % 4
        if name == "TRAILER!!!":
            return out
        out[name] = (mode, body)


def test_cpio_round_trips(bi: ModuleType) -> None:
    archive = bi.cpio([("bin", 0o040755, b""), ("init", 0o100755, b"#!/bin/sh\n"), ("odd", 0o100644, b"abc")])
    assert _unpack_cpio(archive) == {"bin": (0o040755, b""), "init": (0o100755, b"#!/bin/sh\n"),
                                     "odd": (0o100644, b"abc")}


def _fake_module(directory: Path, name: str, depends: str, compress: bool = False) -> None:
    data = b"\x7fELF....\0license=GPL\0depends=" + depends.encode() + b"\0name=" + name.encode() + b"\0"
    if compress:
        (directory / f"{name}.ko.xz").write_bytes(lzma.compress(data))
    else:
        (directory / f"{name}.ko").write_bytes(data)


def test_modules_come_after_what_they_depend_on(bi: ModuleType, tmp_path: Path) -> None:
    _fake_module(tmp_path, "virtio_ring", "")
    _fake_module(tmp_path, "virtio", "virtio_ring")
    _fake_module(tmp_path, "virtio_pci", "virtio,virtio_ring")
    _fake_module(tmp_path, "virtio_blk", "virtio,virtio_ring", compress=True)
    files = bi.module_files(tmp_path)
    order = bi.module_order(["virtio_blk", "virtio_pci"], files)
    assert order == ["virtio_ring", "virtio", "virtio_blk", "virtio_pci"]


def test_a_missing_module_or_a_cycle_is_a_clear_error(bi: ModuleType, tmp_path: Path) -> None:
    _fake_module(tmp_path, "a", "b")
    _fake_module(tmp_path, "b", "a")
    _fake_module(tmp_path, "c", "nowhere")
    files = bi.module_files(tmp_path)
    with pytest.raises(bi.BuildError, match="cycle"):
        bi.module_order(["a"], files)
    with pytest.raises(bi.BuildError, match="nowhere not found"):
        bi.module_order(["c"], files)


def test_the_initramfs_holds_busybox_init_and_modules_in_order(bi: ModuleType, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    busybox = tmp_path / "busybox"
    busybox.write_bytes(b"BUSYBOX")
    monkeypatch.setattr(bi, "BUSYBOX", busybox)
    monkeypatch.setattr(bi, "INITRD_MODULES", ["virtio_blk"])
    modules = tmp_path / "lib" / "modules" / "6.1.0-test" / "kernel"
    modules.mkdir(parents=True)
    _fake_module(modules, "virtio", "")
    _fake_module(modules, "virtio_blk", "virtio")
    image, order = bi.initramfs(tmp_path / "lib" / "modules")
    files = _unpack_cpio(gzip.decompress(image))
    assert order == ["virtio", "virtio_blk"]
    assert files["modules.order"][1] == b"virtio\nvirtio_blk\n"
    assert files["bin/busybox"] == (0o100755, b"BUSYBOX")
    assert files["init"][0] == 0o100755 and files["init"][1].startswith(b"#!/bin/busybox sh")
    assert {"lib/modules/virtio.ko", "lib/modules/virtio_blk.ko", "dev/console", "newroot"} <= set(files)


ELF = b"\x7fELF" + bytes(range(256)) * 64


@pytest.mark.parametrize("kind", ["xz", "gzip", "lz4"])
def test_the_uncompressed_kernel_is_found_in_a_bzimage(bi: ModuleType, kind: str) -> None:
    if kind == "xz":
        payload = lzma.compress(ELF, format=lzma.FORMAT_XZ)
    elif kind == "gzip":
        payload = gzip.compress(ELF)
    else:
        require(missing_commands("lz4", hint="Debian lz4, in contrib/e2e/system-packages.txt"))
        payload = subprocess.run(["lz4", "-l", "-c"], input=ELF, capture_output=True, check=True).stdout
    assert bi.decompress_kernel(b"MZ setup code \x1f\x8b junk" + payload + b"trailer") == ELF


def test_no_payload_means_no_uncompressed_kernel(bi: ModuleType) -> None:
    assert bi.decompress_kernel(b"MZ nothing compressed here \xfd7zXZ\x00 broken") is None
    not_elf = io.BytesIO()
    with gzip.GzipFile(fileobj=not_elf, mode="wb") as f:
        f.write(b"not an ELF")
    assert bi.decompress_kernel(b"MZ" + not_elf.getvalue()) is None


def test_the_image_key_follows_every_input(bi: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    base = bi.image_key("debian-base", ["slurmd"], b"key", bi.MIRROR)
    assert base == bi.image_key("debian-base", ["slurmd"], b"key", bi.MIRROR)
    assert len(base) == 16
    different = {
        bi.image_key("debian-science", ["slurmd"], b"key", bi.MIRROR),
        bi.image_key("debian-base", ["slurmd", "python3-numpy"], b"key", bi.MIRROR),
        bi.image_key("debian-base", ["slurmd"], b"other key", bi.MIRROR),
        bi.image_key("debian-base", ["slurmd"], b"key", "http://mirror.example/debian"),
    }
    monkeypatch.setattr(bi, "INIT", bi.INIT + "# changed\n")
    different.add(bi.image_key("debian-base", ["slurmd"], b"key", bi.MIRROR))
    assert base not in different and len(different) == 5


def test_the_key_itself_never_shows_in_the_image_key_inputs(bi: ModuleType) -> None:
    # Only its hash goes in; the cache directory names are derived from a hash of hashes.
    assert "s3cret" not in bi.image_key("debian-base", [], b"s3cret", bi.MIRROR)


def test_the_cache_defaults_follow_the_environment(bi: ModuleType, monkeypatch: pytest.MonkeyPatch,
                                                   tmp_path: Path) -> None:
    monkeypatch.delenv("WNOD_E2E_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert bi.default_cache() == tmp_path / "xdg" / "wnod" / "e2e"
    monkeypatch.setenv("WNOD_E2E_CACHE", str(tmp_path / "mine"))
    assert bi.default_cache() == tmp_path / "mine"


def test_older_builds_of_the_same_thing_are_dropped(bi: ModuleType, tmp_path: Path) -> None:
    for name in ("debian-base-0000000000000000", "debian-base-1111111111111111", "debian-science-2222222222222222",
                 "debian-base-notahash"):
        (tmp_path / name).mkdir()
    tmp = tmp_path / ".debian-base-tmp"
    tmp.mkdir()
    bi.publish(tmp, tmp_path / "debian-base-3333333333333333", "debian-base")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "debian-base-3333333333333333", "debian-base-notahash", "debian-science-2222222222222222"]


def test_an_unknown_target_is_refused(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, str(BUILD_IMAGE), "--cache", str(tmp_path), "debian-gaming"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert "unknown target 'debian-gaming'" in done.stderr
    assert not any(tmp_path.iterdir())


def test_a_missing_munge_key_is_a_clear_error(bi: ModuleType, tmp_path: Path) -> None:
    with pytest.raises(bi.BuildError, match="munge key .*nope"):
        bi.build_image(tmp_path, "debian-base", tmp_path / "nope", bi.MIRROR, False)


def test_the_guest_scripts_parse(bi: ModuleType, tmp_path: Path) -> None:
    (tmp_path / "init").write_text(bi.INIT)
    done = subprocess.run(["bash", "-n", str(tmp_path / "init")], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    busybox = shutil.which("busybox")
    if busybox:
        (tmp_path / "initrd-init").write_text(bi.INITRD_INIT)
        done = subprocess.run([busybox, "sh", "-n", str(tmp_path / "initrd-init")], capture_output=True, text=True,
                              check=False)
        assert done.returncode == 0, done.stderr
