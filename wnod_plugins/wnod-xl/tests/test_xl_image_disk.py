"""VWNs of a library image: they boot the image version's disk the host's image library gives
them (``spec.image_disk``), never the VM type's image in the image store.

The library disk is a raw file, mode 0400, in a folder of its own outside the image store.
Kernels and ramdisks still come from the image store.
"""

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from wnod_core.errors import HypervisorError
from wnod_core.interfaces import DomainState
from wnod_core.testing.requirements import missing_commands, require

LIBRARY_VM = {"image": "debian-science", "image_source": "library", "image_version": "3"}


def _version_disk(library: Path, version: int) -> Path:
    """Version `version` of image debian-science as the library keeps it: ``<image>/<N>/disk.raw``, 0400."""
    disk = library / "debian-science" / str(version) / "disk.raw"
    disk.parent.mkdir(parents=True)
    disk.write_bytes(f"debian-science version {version}".encode().ljust(1024 * 1024, b"\0"))
    disk.chmod(0o400)
    return disk


@pytest.fixture
def library(tmp_path: Path) -> Path:
    return tmp_path / "library"


@pytest.fixture
def disk(library: Path) -> Path:
    return _version_disk(library, 3)


def _disks(fake_xl: Any, name: str) -> dict[str, dict[str, Any]]:
    """The disks of domain `name` as the stand-in xl read its config."""
    return {d["vdev"]: d for d in fake_xl.domains()[name]["config"]["disks"]}


def _nothing_left(fake_xl: Any, backend: Any, tmp_path: Path, vwn_id: str) -> None:
    assert backend.state(vwn_id) is DomainState.MISSING
    assert backend.domains() == []
    assert not any(c[0] == "create" for c in fake_xl.calls()), "xl create should never have run"
    assert fake_xl.domains() == {}
    for folder in ("domains", "scratch"):
        assert not (tmp_path / folder).exists() or list((tmp_path / folder).iterdir()) == []


# -- the config names the library's disk -----------------------------------------------------------


def test_a_library_vwn_boots_the_version_disk_read_only(
    backend: Any, fake_xl: Any, make_spec: Callable[..., Any], disk: Path, tmp_path: Path
) -> None:
    # debian-science is no file of the image store: only the library disk can be meant
    spec = make_spec("vwn-a", image_disk=disk, **LIBRARY_VM)
    assert f"'format=raw, vdev=xvda, access=ro, target={disk}'" in backend.render(spec)

    backend.create(spec)

    disks = _disks(fake_xl, "wnod-vwn-a")
    assert disks["xvda"]["pdev_path"] == str(disk) and "readwrite" not in disks["xvda"]
    assert disks["xvdb"]["pdev_path"] == str(tmp_path / "scratch" / "wnod-vwn-a.img")
    assert disks["xvdb"]["readwrite"] == 1
    assert disk.stat().st_mode & 0o777 == 0o400, "wnod must leave the library's disk as it found it"


def test_the_library_disk_wins_over_a_store_image_of_the_same_name(
    backend: Any, fake_xl: Any, make_spec: Callable[..., Any], disk: Path, image_store: Path
) -> None:
    # alpha.img is in the store; the library's version is what the host's rollout chose
    spec = make_spec("vwn-a", image_disk=disk)
    text = backend.render(spec)
    assert str(disk) in text and str(image_store / "alpha.img") not in text
    backend.create(spec)
    assert _disks(fake_xl, "wnod-vwn-a")["xvda"]["pdev_path"] == str(disk)


def test_kernel_and_ramdisk_still_come_from_the_image_store(
    backend: Any, make_spec: Callable[..., Any], disk: Path, image_store: Path
) -> None:
    spec = make_spec("vwn-a", image_disk=disk, kernel="vmlinuz-6.1", initrd="initrd-6.1.img", **LIBRARY_VM)
    config = backend.domain_config(spec)
    assert config.kernel == image_store / "vmlinuz-6.1" and config.ramdisk == image_store / "initrd-6.1.img"
    assert config.disks[0].target == disk and not config.disks[0].writable


def test_without_a_library_disk_the_store_image_is_used_as_before(
    backend: Any, fake_xl: Any, make_spec: Callable[..., Any], image_store: Path, tmp_path: Path
) -> None:
    spec = make_spec("vwn-a", image_disk=None)
    assert f"'format=raw, vdev=xvda, access=ro, target={image_store / 'alpha.img'}'" in backend.render(spec)
    backend.create(spec)
    assert _disks(fake_xl, "wnod-vwn-a")["xvda"]["pdev_path"] == str(image_store / "alpha.img")
    record = json.loads((tmp_path / "domains" / "wnod-vwn-a.json").read_text())
    assert record["base_image"] == str(image_store / "alpha.img")


def test_a_library_disk_path_that_is_not_absolute_is_refused(
    backend: Any, make_spec: Callable[..., Any]
) -> None:
    with pytest.raises(HypervisorError, match=r"image disk 'debian-science/3/disk.raw' .* not an absolute path"):
        backend.render(make_spec("vwn-a", image_disk=Path("debian-science/3/disk.raw"), **LIBRARY_VM))


# -- a disk that is not there ------------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["raw", "overlay"])
def test_a_missing_library_disk_is_refused_by_name_and_leaves_nothing(
    layout: str, backend: Any, fake_xl: Any, make_spec: Callable[..., Any], library: Path, tmp_path: Path
) -> None:
    gone = library / "debian-science" / "4" / "disk.raw"
    spec = make_spec("vwn-a", image_disk=gone, scratch_layout=layout, **LIBRARY_VM)
    with pytest.raises(HypervisorError, match=rf"image disk {gone} \(image debian-science version 3, from the"
                       r" host's image library\) is not there"):
        backend.create(spec)
    _nothing_left(fake_xl, backend, tmp_path, "vwn-a")


def test_a_missing_library_disk_never_falls_back_to_the_store_image(
    backend: Any, fake_xl: Any, make_spec: Callable[..., Any], library: Path, image_store: Path, tmp_path: Path
) -> None:
    # alpha.img is in the store, but the VWN is to boot the library's version, which is gone
    gone = library / "debian-science" / "4" / "disk.raw"
    with pytest.raises(HypervisorError, match=rf"image disk {gone} "):
        backend.create(make_spec("vwn-a", image_disk=gone))
    _nothing_left(fake_xl, backend, tmp_path, "vwn-a")


# -- the same disk for the VWN's whole life ----------------------------------------------------------


def test_the_record_keeps_the_library_disk_and_a_reset_boots_it_again(
    backend: Any, fake_xl: Any, make_spec: Callable[..., Any], disk: Path, tmp_path: Path
) -> None:
    backend.create(make_spec("vwn-a", image_disk=disk, **LIBRARY_VM))
    record = json.loads((tmp_path / "domains" / "wnod-vwn-a.json").read_text())
    assert record["base_image"] == str(disk) and record["image_version"] == "3"

    backend.reset_scratch("vwn-a")
    assert _disks(fake_xl, "wnod-vwn-a")["xvda"]["pdev_path"] == str(disk)


def test_a_restarted_backend_finds_a_library_vwn_and_recreating_it_changes_nothing(
    backend: Any, build: Callable[..., Any], fake_xl: Any, make_spec: Callable[..., Any], disk: Path
) -> None:
    spec = make_spec("vwn-a", image_disk=disk, **LIBRARY_VM)
    backend.create(spec)
    domid = fake_xl.domains()["wnod-vwn-a"]["domid"]

    restarted = build({"xl": str(fake_xl.command)})
    assert [(i.vwn_id, i.image_version) for i in restarted.domains()] == [("vwn-a", "3")]
    restarted.create(spec)
    assert fake_xl.domains()["wnod-vwn-a"]["domid"] == domid


def test_recreating_a_vwn_on_another_library_version_is_refused(
    backend: Any, fake_xl: Any, make_spec: Callable[..., Any], disk: Path, library: Path
) -> None:
    backend.create(make_spec("vwn-a", image_disk=disk, **LIBRARY_VM))
    newer = _version_disk(library, 4)
    with pytest.raises(HypervisorError, match="another definition"):
        backend.create(make_spec("vwn-a", image_disk=newer, **LIBRARY_VM))
    assert _disks(fake_xl, "wnod-vwn-a")["xvda"]["pdev_path"] == str(disk)


# -- overlay scratch layout --------------------------------------------------------------------------


def test_an_overlay_vwn_of_a_library_image_is_backed_by_the_version_disk(
    backend: Any, make_spec: Callable[..., Any], disk: Path, tmp_path: Path
) -> None:
    require(missing_commands("qemu-img", hint="Debian qemu-utils, in wnod-xl's system-packages.txt"))
    spec = make_spec("vwn-a", image_disk=disk, scratch_layout="overlay", **LIBRARY_VM)
    assert f"# xvda: a qcow2 overlay over {disk}, which stays read-only" in backend.render(spec)
    before = disk.read_bytes()

    backend.create(spec)
    overlay = tmp_path / "scratch" / "wnod-vwn-a.qcow2"

    def backing() -> dict[str, Any]:
        info = json.loads(
            subprocess.run(["qemu-img", "info", "--output=json", str(overlay)], capture_output=True, check=True).stdout
        )
        return {k: info[k] for k in ("format", "full-backing-filename", "backing-filename-format")}

    wanted = {"format": "qcow2", "full-backing-filename": str(disk), "backing-filename-format": "raw"}
    assert backing() == wanted
    backend.reset_scratch("vwn-a")  # remade over the same version's disk, from the record
    assert backing() == wanted
    backend.destroy("vwn-a")
    assert not overlay.exists()
    assert disk.read_bytes() == before and disk.stat().st_mode & 0o777 == 0o400
