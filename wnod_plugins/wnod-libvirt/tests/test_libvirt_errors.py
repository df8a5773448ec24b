"""libvirt's errors become wnod's in one place, with messages an admin can act on; no path escapes."""

import os
from collections.abc import Callable
from pathlib import Path

import attrs
import libvirt
import pytest
from wnod_core.errors import HypervisorError, VwnNotFound
from wnod_core.interfaces import VwnSpec

from wnod_libvirt.backend import LibvirtHypervisor
from wnod_libvirt.errors import is_connection_lost, translate, translated
from wnod_libvirt.storage import ImageStore, ScratchDisks


def _libvirt_error(conn: libvirt.virConnect, provoke: Callable[[libvirt.virConnect], object]) -> libvirt.libvirtError:
    with pytest.raises(libvirt.libvirtError) as caught:
        provoke(conn)
    return caught.value


def test_a_missing_domain_is_vwn_not_found(test_conn: libvirt.virConnect) -> None:
    exc = _libvirt_error(test_conn, lambda c: c.lookupByName("wnod-gone"))
    error = translate(exc, "start domain wnod-gone", "test:///default", "wnod-gone")
    assert isinstance(error, VwnNotFound)
    assert str(error) == (
        "cannot start domain wnod-gone: test:///default has no domain for VWN wnod-gone (libvirt: Domain not found)"
    )


def test_a_refused_definition_names_the_action_the_uri_and_libvirts_words(test_conn: libvirt.virConnect) -> None:
    exc = _libvirt_error(test_conn, lambda c: c.defineXML("<domain type='kvm'><name>x</name></domain>"))
    error = translate(exc, "define domain x", "test:///default", "x")
    assert type(error) is HypervisorError
    assert str(error).startswith("cannot define domain x on test:///default: libvirt refused the domain definition")
    assert str(error).endswith("(libvirt: XML error: an os <type> must be specified)")


def test_an_invalid_state_is_said_in_words(test_conn: libvirt.virConnect) -> None:
    dom = test_conn.defineXML(
        "<domain type='kvm'><name>wnod-err</name><memory>65536</memory><os><type>hvm</type></os></domain>"
    )
    try:
        exc = _libvirt_error(test_conn, lambda _c: dom.destroy())
    finally:
        dom.undefine()
    assert "not possible in the domain's current state" in str(translate(exc, "destroy domain wnod-err", "u"))


def test_a_closed_connection_is_a_lost_connection(test_conn: libvirt.virConnect) -> None:
    gone = libvirt.open("test:///default")
    gone.close()
    exc = _libvirt_error(gone, lambda c: c.listAllDomains())
    assert is_connection_lost(exc)
    assert "lost the connection to libvirt" in str(translate(exc, "list domains", "test:///default"))


def test_translated_raises_wnods_error_chained_to_libvirts(test_conn: libvirt.virConnect) -> None:
    with pytest.raises(VwnNotFound) as caught, translated("look up domain wnod-x", "test:///default", "wnod-x"):
        test_conn.lookupByName("wnod-x")
    assert isinstance(caught.value.__cause__, libvirt.libvirtError)


def test_an_unreachable_libvirt_is_a_clear_error(make_backend: Callable[..., LibvirtHypervisor]) -> None:
    backend = make_backend(uri="qemu+unix:///system?socket=/nonexistent/libvirt-sock")
    with pytest.raises(HypervisorError, match=r"cannot open a connection on qemu\+unix.*libvirt:"):
        backend.domains()


def test_a_closed_backend_says_so(backend: LibvirtHypervisor) -> None:
    backend.close()
    with pytest.raises(HypervisorError, match="libvirt backend for test:///default is closed"):
        backend.state("wnod-x")


# -- paths ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["../etc/passwd", "/etc/passwd", "a/../../b", "..", ".hidden", "sub/dir.img"])
def test_image_names_leading_outside_the_store_are_refused(image_store: Path, name: str) -> None:
    with pytest.raises(HypervisorError, match="refused"):
        ImageStore(image_store).path(name)


def test_a_symlink_out_of_the_store_is_refused(image_store: Path, tmp_path: Path) -> None:
    (tmp_path / "secret").write_text("host file")
    (image_store / "escape.img").symlink_to(tmp_path / "secret")
    with pytest.raises(HypervisorError, match="leads outside the image store"):
        ImageStore(image_store).path("escape.img")


def test_a_symlink_within_the_store_is_fine(image_store: Path) -> None:
    (image_store / "current.img").symlink_to("alpha.img")
    assert ImageStore(image_store).existing("current.img") == image_store / "current.img"


def test_render_refuses_an_escaping_image_even_past_the_cores_checks(
    backend: LibvirtHypervisor, spec: VwnSpec, image_store: Path, tmp_path: Path
) -> None:
    (tmp_path / "outside.img").write_bytes(b"x")
    (image_store / "link.img").symlink_to(tmp_path / "outside.img")
    linked = attrs.evolve(spec, vm_type=attrs.evolve(spec.vm_type, image="link.img"))
    with pytest.raises(HypervisorError, match="leads outside the image store"):
        backend.render(linked)
    with pytest.raises(HypervisorError, match="leads outside the image store"):
        backend.create(linked)


@pytest.mark.parametrize("vwn_id", ["../wnod-1", "a/b", "", "..", "-x"])
def test_vwn_ids_that_are_not_plain_names_are_refused(backend: LibvirtHypervisor, spec: VwnSpec, vwn_id: str) -> None:
    with pytest.raises(HypervisorError, match="cannot name a domain and its files"):
        backend.render(attrs.evolve(spec, vwn_id=vwn_id))
    with pytest.raises(HypervisorError, match="cannot name a domain and its files"):
        backend.destroy(vwn_id)


def test_only_scratch_disks_in_the_scratch_dir_are_ever_deleted(scratch_dir: Path, image_store: Path) -> None:
    disks = ScratchDisks(scratch_dir)
    for path in (image_store / "alpha.img", scratch_dir / "notes.txt", scratch_dir / "sub" / "x.scratch.raw"):
        with pytest.raises(HypervisorError, match="refusing to delete"):
            disks.remove(path)
    assert os.path.exists(image_store / "alpha.img")
