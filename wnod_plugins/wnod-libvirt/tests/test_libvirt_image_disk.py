"""VWNs of a library image on libvirt's test driver: they boot the version disk the host's image
library gave them (``spec.image_disk``), never a file of the image store, for their whole life."""

from pathlib import Path

import attrs
import libvirt
import pytest
from wnod_core.errors import HypervisorError
from wnod_core.interfaces import VwnSpec
from wnod_core.model import VmType

from wnod_libvirt.backend import LibvirtHypervisor
from wnod_libvirt.config import Domain

LIBRARY = {"image": "el9", "image_source": "library", "image_version": "3"}


def _version_disk(root: Path, version: int) -> Path:
    """A version's disk as the library keeps it: ``<image>/<N>/disk.raw``, mode 0400."""
    disk = root / "library" / "el9" / str(version) / "disk.raw"
    disk.parent.mkdir(parents=True)
    disk.write_bytes(f"el9 version {version}".encode().ljust(1024 * 1024, b"\0"))
    disk.chmod(0o400)
    return disk


def _spec(disk: Path | None, **vm: object) -> VwnSpec:
    vm_type = VmType(**{"name": "el9", "memory": "256MiB", "scratch_size": "64MiB", **LIBRARY, **vm})  # type: ignore[arg-type]
    return VwnSpec(vwn_id="wnod-lib-1", vm_type=vm_type, host="hv-test", hostname="vwn-lib-1", image_disk=disk)


def _defined(backend: LibvirtHypervisor, vwn_id: str) -> Domain:
    dom = backend.host.connection().lookupByName(vwn_id)
    return Domain.from_text(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))


def _nothing_made(backend: LibvirtHypervisor, scratch_dir: Path) -> None:
    assert backend.host.lookup("wnod-lib-1") is None
    assert list(backend.domains()) == []
    assert list(scratch_dir.iterdir()) == []


def test_a_library_vwn_boots_the_version_disk_read_only(
    backend: LibvirtHypervisor, tmp_path: Path, scratch_dir: Path
) -> None:
    disk = _version_disk(tmp_path, 3)
    backend.create(_spec(disk))
    base, scratch = _defined(backend, "wnod-lib-1").disks
    assert (base.source, base.readonly) == (str(disk), True)
    assert (scratch.source, scratch.readonly) == (str(scratch_dir / "wnod-lib-1.scratch.raw"), False)
    assert [i.image_version for i in backend.domains()] == ["3"]
    assert disk.stat().st_mode & 0o777 == 0o400, "wnod leaves the library's disk as it found it"


def test_the_library_disk_wins_over_a_store_image_of_the_same_name(
    backend: LibvirtHypervisor, tmp_path: Path, image_store: Path
) -> None:
    disk = _version_disk(tmp_path, 3)
    spec = _spec(disk, image="alpha.img")  # alpha.img is in the store; the rollout chose the library's
    assert str(image_store / "alpha.img") not in backend.render(spec)
    backend.create(spec)
    assert _defined(backend, "wnod-lib-1").disks[0].source == str(disk)


@pytest.mark.parametrize("layout", ["raw", "overlay"])
def test_a_missing_library_disk_is_refused_by_name_and_nothing_is_made(
    layout: str, backend: LibvirtHypervisor, tmp_path: Path, scratch_dir: Path
) -> None:
    gone = tmp_path / "library" / "el9" / "4" / "disk.raw"
    with pytest.raises(HypervisorError, match=rf"image disk {gone} \(image el9 version 3, from the host's image"
                       r" library\) is not there"):
        backend.create(_spec(gone, scratch_layout=layout))
    _nothing_made(backend, scratch_dir)


def test_a_missing_library_disk_never_falls_back_to_the_store_image(
    backend: LibvirtHypervisor, tmp_path: Path, scratch_dir: Path
) -> None:
    gone = tmp_path / "library" / "el9" / "4" / "disk.raw"
    with pytest.raises(HypervisorError, match="is not there"):
        backend.create(_spec(gone, image="alpha.img"))
    _nothing_made(backend, scratch_dir)


def test_a_library_disk_path_that_is_not_absolute_is_refused(backend: LibvirtHypervisor) -> None:
    with pytest.raises(HypervisorError, match=r"image disk 'el9/3/disk.raw' .* not an absolute path"):
        backend.render(_spec(Path("el9/3/disk.raw")))


def test_an_overlay_is_backed_by_the_version_disk_and_a_reset_keeps_it(
    backend: LibvirtHypervisor, tmp_path: Path, scratch_dir: Path
) -> None:
    disk = _version_disk(tmp_path, 3)
    before = disk.read_bytes()
    spec = _spec(disk, scratch_layout="overlay")
    overlay = scratch_dir / "wnod-lib-1.scratch.qcow2"
    backend.create(spec)
    assert str(disk).encode() in overlay.read_bytes()[:4096], "the version disk is its backing file"

    # A newer version appears meanwhile: a reset still remakes the overlay over the VWN's own.
    _version_disk(tmp_path, 4)
    backend.reset_scratch(spec.vwn_id)
    head = overlay.read_bytes()[:4096]
    assert str(disk).encode() in head and b"el9/4/" not in head
    backend.destroy(spec.vwn_id)
    assert not overlay.exists()
    assert disk.read_bytes() == before


def test_recreating_a_running_library_vwn_changes_nothing(
    backend: LibvirtHypervisor, tmp_path: Path
) -> None:
    disk = _version_disk(tmp_path, 3)
    backend.create(_spec(disk))
    uuid = backend.host.lookup("wnod-lib-1").UUIDString()
    backend.create(attrs.evolve(_spec(disk)))
    assert backend.host.lookup("wnod-lib-1").UUIDString() == uuid
    assert _defined(backend, "wnod-lib-1").disks[0].source == str(disk)
