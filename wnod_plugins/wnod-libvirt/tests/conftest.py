"""Fixtures shared by the wnod-libvirt tests.

Backends are built through the core's plugin loader and options structuring, as ``wnod``
builds them, on libvirt's in-process test driver ``test:///default``: real libvirt, no daemon.
Test modules use these as fixtures only: with ``--import-mode=importlib`` nothing here can
be imported.
"""

import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import libvirt
import pytest
from wnod_core.errors import HypervisorError
from wnod_core.interfaces import VwnSpec
from wnod_core.model import VmType
from wnod_core.plugins import Plugins
from wnod_core.plugins.report import Status
from wnod_core.records import HypervisorPlugin
from wnod_core.testing import build_plugin, structure_options

from wnod_libvirt import plugin
from wnod_libvirt.backend import LibvirtHypervisor

TEST_URI = "test:///default"
BASE_BYTES = b"wnod base image\n" + bytes(1024 * 1024 - 16)


@pytest.fixture
def record() -> HypervisorPlugin:
    loaded = Plugins.load(installed=False, extra=[("wnod-libvirt", plugin)])
    failed = [f"{r.name}: {r.error}" for r in loaded.reports() if r.status is not Status.LOADED or r.problems]
    assert not failed, failed
    return loaded.lookup("hypervisors", "libvirt")


@pytest.fixture
def image_store(tmp_path: Path) -> Path:
    """An image store with a 1 MiB raw base image, a kernel and an initrd (none of them real)."""
    store = tmp_path / "images"
    store.mkdir()
    (store / "alpha.img").write_bytes(BASE_BYTES)
    (store / "vmlinuz").write_bytes(b"not a kernel")
    (store / "initrd.img").write_bytes(b"not an initrd")
    return store


@pytest.fixture
def scratch_dir(tmp_path: Path) -> Path:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    return scratch


@pytest.fixture
def options_table(image_store: Path, scratch_dir: Path) -> dict[str, Any]:
    """`[hypervisor.libvirt]` of a test site, on the test driver."""
    return {"uri": TEST_URI, "flavour": "kvm", "image_store": str(image_store), "scratch_dir": str(scratch_dir)}


@pytest.fixture
def options(record: HypervisorPlugin) -> Callable[..., Any]:
    """``options(table)``: the options structured exactly as the config loader does."""
    return lambda table: structure_options(record, table, "hypervisor.libvirt")


@pytest.fixture
def make_backend(
    record: HypervisorPlugin, options_table: dict[str, Any], tmp_path: Path
) -> Iterator[Callable[..., LibvirtHypervisor]]:
    """``make_backend(flavour="xen-pv", ...)``: a backend as the core builds it, closed after the test."""
    made: list[LibvirtHypervisor] = []

    def make(vm_types: Mapping[str, VmType] | None = None, **overrides: Any) -> LibvirtHypervisor:
        backend = build_plugin(
            record, {**options_table, **overrides}, vm_types or {}, tmp_path, path="hypervisor.libvirt"
        )
        made.append(backend)
        return backend

    yield make
    for backend in made:
        try:
            for info in backend.domains():
                backend.destroy(info.vwn_id)
        except HypervisorError:
            pass  # closed by the test; the test driver forgets all once its last connection closes
        backend.close()


@pytest.fixture
def backend(make_backend: Callable[..., LibvirtHypervisor]) -> LibvirtHypervisor:
    return make_backend()


@pytest.fixture
def vm_type() -> VmType:
    return VmType(name="alpha", image="alpha.img", memory="256MiB", scratch_size="64MiB", image_version="v1")


@pytest.fixture
def spec(vm_type: VmType) -> VwnSpec:
    return VwnSpec(vwn_id="wnod-t-1", vm_type=vm_type, host="hv-test", hostname="vwn-t-1")


@pytest.fixture
def test_conn() -> Iterator[libvirt.virConnect]:
    """A connection of the test's own to the test driver, e.g. to make a foreign domain.

    While it is open, the test driver keeps its state when a backend closes its connection."""
    conn = libvirt.open(TEST_URI)
    yield conn
    conn.close()


# -- for the real-VM tests only (they skip unless wnod_libvirt.testing.missing() is empty) -----------


@pytest.fixture(scope="module")
def libvirtd() -> Iterator[str]:
    """The URI of a private libvirtd (and virtlogd), one per test module, stopped by PID after it."""
    from wnod_libvirt import testing

    with testing.private_libvirtd() as (uri, _run_dir):
        yield uri


@pytest.fixture
def site() -> Iterator[Path]:
    """A directory for a host's images, disks and logs that QEMU (user libvirt-qemu) can reach."""
    root = Path(tempfile.mkdtemp(prefix="wnod-realvm-", dir="/var/tmp"))
    root.chmod(0o755)
    yield root
    shutil.rmtree(root, ignore_errors=True)
