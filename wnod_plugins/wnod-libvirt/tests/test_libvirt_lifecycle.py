"""A VWN's life on libvirt's test driver: made with its two disks, listed, reset, destroyed."""

import os
import queue
from collections.abc import Callable
from pathlib import Path

import attrs
import libvirt
import pytest
from wnod_core.errors import HypervisorError, VwnNotFound
from wnod_core.interfaces import DomainEvent, DomainInfo, DomainState, VwnSpec
from wnod_core.model import VmType

from wnod_libvirt.backend import LibvirtHypervisor
from wnod_libvirt.config import Domain


def _defined(backend: LibvirtHypervisor, vwn_id: str) -> Domain:
    dom = backend.host.connection().lookupByName(vwn_id)
    return Domain.from_text(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))


def _files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


@pytest.mark.parametrize("flavour", ["xen-pv", "kvm", "qemu"])
def test_create_defines_exactly_what_render_shows_and_starts_it(
    flavour: str, make_backend: Callable[..., LibvirtHypervisor], spec: VwnSpec
) -> None:
    backend = make_backend(flavour=flavour)
    rendered = Domain.from_text(backend.render(spec))
    backend.create(spec)
    defined = _defined(backend, spec.vwn_id)
    assert (defined.type, defined.name, defined.identity) == (rendered.type, rendered.name, rendered.identity)
    assert defined.disks == rendered.disks
    assert defined.os.type == rendered.os.type
    assert backend.state(spec.vwn_id) is DomainState.RUNNING


def test_the_text_create_defines_is_the_text_render_prints(
    backend: LibvirtHypervisor, spec: VwnSpec, monkeypatch: pytest.MonkeyPatch
) -> None:
    defined: list[tuple[str, int]] = []
    original = libvirt.virConnect.defineXMLFlags

    def spy(conn: libvirt.virConnect, xml: str, flags: int = 0) -> libvirt.virDomain:
        defined.append((xml, flags))
        return original(conn, xml, flags)

    monkeypatch.setattr(libvirt.virConnect, "defineXMLFlags", spy)
    backend.create(spec)
    assert defined == [(backend.render(spec), libvirt.VIR_DOMAIN_DEFINE_VALIDATE)]


def test_a_raw_scratch_disk_is_a_sparse_file_of_the_types_size(
    backend: LibvirtHypervisor, spec: VwnSpec, scratch_dir: Path
) -> None:
    backend.create(spec)
    disk = scratch_dir / f"{spec.vwn_id}.scratch.raw"
    assert _files(scratch_dir) == [disk.name]
    assert disk.stat().st_size == spec.vm_type.scratch_size
    assert disk.stat().st_blocks == 0, "a fresh scratch disk takes no space"
    base, scratch = _defined(backend, spec.vwn_id).disks
    assert (base.readonly, base.target, base.format) == (True, "vda", "raw")
    assert (scratch.readonly, scratch.target, scratch.source) == (False, "vdb", str(disk))


def test_an_overlay_scratch_disk_is_qcow2_over_the_untouched_base(
    backend: LibvirtHypervisor, spec: VwnSpec, scratch_dir: Path, image_store: Path
) -> None:
    base_before = (image_store / "alpha.img").read_bytes()
    overlay = attrs.evolve(spec, vm_type=attrs.evolve(spec.vm_type, scratch_layout="overlay"))
    backend.create(overlay)
    disk = scratch_dir / f"{spec.vwn_id}.scratch.qcow2"
    assert _files(scratch_dir) == [disk.name]
    header = disk.read_bytes()[:32]
    assert header[:4] == b"QFI\xfb"
    assert int.from_bytes(header[24:32], "big") == spec.vm_type.scratch_size
    assert str(image_store / "alpha.img").encode() in disk.read_bytes()[:4096], "the base is its backing file"
    assert (image_store / "alpha.img").read_bytes() == base_before
    assert _defined(backend, spec.vwn_id).disks[1].format == "qcow2"


def test_an_overlay_is_never_smaller_than_its_base(
    backend: LibvirtHypervisor, spec: VwnSpec, scratch_dir: Path, image_store: Path
) -> None:
    tiny = attrs.evolve(spec, vm_type=attrs.evolve(spec.vm_type, scratch_layout="overlay", scratch_size="4KiB"))
    backend.create(tiny)
    header = (scratch_dir / f"{spec.vwn_id}.scratch.qcow2").read_bytes()[:32]
    assert int.from_bytes(header[24:32], "big") == (image_store / "alpha.img").stat().st_size


def test_domains_lists_wnods_vwns_with_their_identity_and_size(
    backend: LibvirtHypervisor, spec: VwnSpec, test_conn: libvirt.virConnect
) -> None:
    # Sized for its job: a daemon that lost its records counts the domain at the size it was made.
    spec = attrs.evolve(spec, vm_type=attrs.evolve(spec.vm_type, vcpus=3, memory="384MiB"))
    backend.create(spec)
    assert "test" in [d.name() for d in test_conn.listAllDomains()], "the test driver's own domain"
    assert list(backend.domains()) == [
        DomainInfo(vwn_id=spec.vwn_id, vm_type="alpha", host="hv-test", state=DomainState.RUNNING, image_version="v1",
                   hostname=spec.hostname, vcpus=3, memory=384 * 1024**2)
    ]


def test_a_new_backend_finds_the_vwns_of_an_earlier_one(
    make_backend: Callable[..., LibvirtHypervisor], spec: VwnSpec, test_conn: libvirt.virConnect
) -> None:
    make_backend().create(spec)
    later = make_backend()
    assert [i.vwn_id for i in later.domains()] == [spec.vwn_id]
    assert later.state(spec.vwn_id) is DomainState.RUNNING


def test_states_of_a_paused_stopped_and_crashed_vwn(
    backend: LibvirtHypervisor, spec: VwnSpec, test_conn: libvirt.virConnect
) -> None:
    backend.create(spec)
    dom = test_conn.lookupByName(spec.vwn_id)
    dom.suspend()
    assert backend.state(spec.vwn_id) is DomainState.PAUSED
    dom.resume()
    dom.destroy()
    assert backend.state(spec.vwn_id) is DomainState.SHUTOFF
    assert [i.state for i in backend.domains()] == [DomainState.SHUTOFF]


def test_create_starts_a_stopped_vwn_again_and_leaves_a_running_one_be(
    backend: LibvirtHypervisor, spec: VwnSpec, test_conn: libvirt.virConnect, scratch_dir: Path
) -> None:
    backend.create(spec)
    disk = scratch_dir / f"{spec.vwn_id}.scratch.raw"
    disk.write_bytes(b"the guest wrote this")
    backend.create(spec)
    assert disk.read_bytes() == b"the guest wrote this", "a running VWN is left alone"
    test_conn.lookupByName(spec.vwn_id).destroy()
    backend.create(spec)
    assert backend.state(spec.vwn_id) is DomainState.RUNNING


def test_reset_scratch_gives_a_fresh_empty_disk_and_leaves_the_base_alone(
    backend: LibvirtHypervisor, spec: VwnSpec, scratch_dir: Path, image_store: Path
) -> None:
    base_before = (image_store / "alpha.img").read_bytes()
    backend.create(spec)
    disk = scratch_dir / f"{spec.vwn_id}.scratch.raw"
    with open(disk, "r+b") as f:
        f.write(b"job output")
    inode = disk.stat().st_ino
    backend.reset_scratch(spec.vwn_id)
    assert disk.stat().st_ino != inode
    assert disk.stat().st_size == spec.vm_type.scratch_size and disk.stat().st_blocks == 0
    assert (image_store / "alpha.img").read_bytes() == base_before
    assert backend.state(spec.vwn_id) is DomainState.RUNNING
    assert _files(scratch_dir) == [disk.name], "no temporary file left"


def test_reset_scratch_of_an_overlay_makes_a_new_overlay(
    backend: LibvirtHypervisor, spec: VwnSpec, scratch_dir: Path
) -> None:
    overlay = attrs.evolve(spec, vm_type=attrs.evolve(spec.vm_type, scratch_layout="overlay"))
    backend.create(overlay)
    disk = scratch_dir / f"{spec.vwn_id}.scratch.qcow2"
    with open(disk, "ab") as f:
        f.write(b"written clusters" * 4096)
    grown = disk.stat().st_size
    backend.reset_scratch(spec.vwn_id)
    assert disk.stat().st_size < grown
    assert disk.read_bytes()[:4] == b"QFI\xfb"


def test_reset_scratch_restarts_the_guest_and_reports_it(
    backend: LibvirtHypervisor, spec: VwnSpec
) -> None:
    events: queue.Queue[DomainEvent] = queue.Queue()
    backend.create(spec)
    assert backend.watch(events.put)
    backend.reset_scratch(spec.vwn_id)
    seen = [events.get(timeout=10).state for _ in range(2)]
    assert seen == [DomainState.SHUTOFF, DomainState.RUNNING]


def test_reset_scratch_of_a_stopped_vwn_starts_it(
    backend: LibvirtHypervisor, spec: VwnSpec, test_conn: libvirt.virConnect
) -> None:
    backend.create(spec)
    test_conn.lookupByName(spec.vwn_id).destroy()
    backend.reset_scratch(spec.vwn_id)
    assert backend.state(spec.vwn_id) is DomainState.RUNNING


def test_destroy_removes_domain_and_scratch_disk_but_not_the_base(
    backend: LibvirtHypervisor, spec: VwnSpec, scratch_dir: Path, image_store: Path, test_conn: libvirt.virConnect
) -> None:
    backend.create(spec)
    backend.destroy(spec.vwn_id)
    assert spec.vwn_id not in [d.name() for d in test_conn.listAllDomains()]
    assert _files(scratch_dir) == []
    assert (image_store / "alpha.img").exists()


def test_destroy_removes_a_scratch_disk_left_by_a_destroy_cut_short(
    backend: LibvirtHypervisor, spec: VwnSpec, scratch_dir: Path
) -> None:
    (scratch_dir / f"{spec.vwn_id}.scratch.raw").write_bytes(b"left behind")
    (scratch_dir / "unrelated.img").write_bytes(b"not wnod's")
    backend.destroy(spec.vwn_id)
    assert _files(scratch_dir) == ["unrelated.img"]


def test_destroy_removes_the_console_log(
    make_backend: Callable[..., LibvirtHypervisor], spec: VwnSpec, tmp_path: Path
) -> None:
    logs = tmp_path / "consoles"
    logs.mkdir()
    backend = make_backend(console_log_dir=str(logs))
    backend.create(spec)
    (logs / f"{spec.vwn_id}.console.log").write_text("boot messages")
    backend.destroy(spec.vwn_id)
    assert list(logs.iterdir()) == []


# -- failures leave nothing behind ------------------------------------------------------------------


def test_a_missing_image_is_refused_before_anything_is_made(
    backend: LibvirtHypervisor, spec: VwnSpec, scratch_dir: Path
) -> None:
    missing = attrs.evolve(spec, vm_type=attrs.evolve(spec.vm_type, image="nope.img"))
    with pytest.raises(HypervisorError, match=r"image 'nope.img' is not in the image store"):
        backend.create(missing)
    assert backend.state(spec.vwn_id) is DomainState.MISSING
    assert _files(scratch_dir) == []


def test_a_missing_kernel_is_refused(backend: LibvirtHypervisor, spec: VwnSpec, scratch_dir: Path) -> None:
    missing = attrs.evolve(spec, vm_type=attrs.evolve(spec.vm_type, kernel="vmlinuz-nope"))
    with pytest.raises(HypervisorError, match="vmlinuz-nope"):
        backend.create(missing)
    assert _files(scratch_dir) == []


def test_a_definition_libvirt_refuses_leaves_no_disk(
    backend: LibvirtHypervisor, spec: VwnSpec, scratch_dir: Path
) -> None:
    no_memory = attrs.evolve(spec, vm_type=attrs.evolve(spec.vm_type, memory=0))
    with pytest.raises(HypervisorError, match=r"cannot define domain wnod-t-1 on test:///default: libvirt refused"):
        backend.create(no_memory)
    assert backend.state(spec.vwn_id) is DomainState.MISSING
    assert _files(scratch_dir) == []


def test_a_domain_that_fails_to_start_is_undefined_and_its_disk_removed(
    backend: LibvirtHypervisor, spec: VwnSpec, scratch_dir: Path, test_conn: libvirt.virConnect,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(_dom: libvirt.virDomain) -> int:
        raise libvirt.libvirtError("injected: the guest would not start")

    monkeypatch.setattr(libvirt.virDomain, "create", refuse)
    with pytest.raises(HypervisorError, match="cannot start domain wnod-t-1"):
        backend.create(spec)
    assert spec.vwn_id not in [d.name() for d in test_conn.listAllDomains()]
    assert _files(scratch_dir) == []


def test_an_overlay_qemu_img_cannot_make_is_refused_with_its_message(
    make_backend: Callable[..., LibvirtHypervisor], spec: VwnSpec, scratch_dir: Path, tmp_path: Path
) -> None:
    fake = tmp_path / "qemu-img"
    fake.write_text("#!/bin/sh\necho 'qemu-img: no space left, pretend' >&2\nexit 1\n")
    fake.chmod(0o755)
    backend = make_backend(qemu_img=str(fake))
    overlay = attrs.evolve(spec, vm_type=attrs.evolve(spec.vm_type, scratch_layout="overlay"))
    with pytest.raises(HypervisorError, match="no space left, pretend"):
        backend.create(overlay)
    assert backend.state(spec.vwn_id) is DomainState.MISSING
    assert _files(scratch_dir) == []


def test_a_hanging_qemu_img_is_stopped_at_its_timeout(
    make_backend: Callable[..., LibvirtHypervisor], spec: VwnSpec, scratch_dir: Path, tmp_path: Path
) -> None:
    fake = tmp_path / "qemu-img"
    fake.write_text("#!/bin/sh\nexec sleep 30\n")
    fake.chmod(0o755)
    backend = make_backend(qemu_img=str(fake), qemu_img_timeout="200ms")
    overlay = attrs.evolve(spec, vm_type=attrs.evolve(spec.vm_type, scratch_layout="overlay"))
    with pytest.raises(HypervisorError, match="did not finish within 0.2s"):
        backend.create(overlay)
    assert _files(scratch_dir) == []


def test_a_missing_scratch_dir_is_a_clear_error(
    make_backend: Callable[..., LibvirtHypervisor], spec: VwnSpec, tmp_path: Path
) -> None:
    backend = make_backend(scratch_dir=str(tmp_path / "nowhere"))
    with pytest.raises(HypervisorError, match="scratch directory .*nowhere does not exist"):
        backend.create(spec)
    assert backend.state(spec.vwn_id) is DomainState.MISSING


def test_reset_scratch_of_an_unknown_vwn(backend: LibvirtHypervisor) -> None:
    with pytest.raises(VwnNotFound, match="wnod-nope"):
        backend.reset_scratch("wnod-nope")


# -- domains wnod did not make ------------------------------------------------------------------------


def _foreign(conn: libvirt.virConnect, name: str) -> libvirt.virDomain:
    dom = conn.defineXML(
        f"<domain type='kvm'><name>{name}</name><memory>65536</memory><os><type>hvm</type></os></domain>"
    )
    dom.create()
    return dom


def test_a_foreign_domain_with_a_vwns_name_is_never_touched(
    backend: LibvirtHypervisor, spec: VwnSpec, test_conn: libvirt.virConnect, scratch_dir: Path
) -> None:
    dom = _foreign(test_conn, spec.vwn_id)
    try:
        assert backend.state(spec.vwn_id) is DomainState.MISSING
        assert list(backend.domains()) == []
        with pytest.raises(HypervisorError, match="was not made by wnod"):
            backend.create(spec)
        with pytest.raises(HypervisorError, match="was not made by wnod"):
            backend.destroy(spec.vwn_id)
        with pytest.raises(VwnNotFound):
            backend.reset_scratch(spec.vwn_id)
        assert dom.isActive()
        assert _files(scratch_dir) == []
    finally:
        dom.destroy()
        dom.undefine()


def test_the_scratch_disks_of_a_vwn_are_its_own(
    backend: LibvirtHypervisor, spec: VwnSpec, vm_type: VmType, scratch_dir: Path
) -> None:
    other = VwnSpec(vwn_id="wnod-t-2", vm_type=vm_type, host="hv-test", hostname="vwn-t-2")
    backend.create(spec)
    backend.create(other)
    backend.destroy(spec.vwn_id)
    assert _files(scratch_dir) == ["wnod-t-2.scratch.raw"]
    assert os.path.getsize(scratch_dir / "wnod-t-2.scratch.raw") == vm_type.scratch_size
