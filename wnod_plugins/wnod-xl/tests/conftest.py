"""Fixtures shared by the wnod-xl tests.

The backend is built through the core's own plugin loader, as ``wnod`` builds it, and
driven against ``fake_xl.py``, a scripted stand-in for ``xl`` that keeps its domains in
a JSON file. Test modules use these as fixtures only: with ``--import-mode=importlib``
nothing here can be imported.
"""

import json
import shlex
import stat
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from wnod_core.interfaces import VwnSpec
from wnod_core.model import VmType
from wnod_core.plugins import Plugins
from wnod_core.plugins.report import Status
from wnod_core.records import HypervisorPlugin
from wnod_core.testing import build_plugin

from wnod_xl import plugin

HERE = Path(__file__).parent


class FakeXl:
    """The stand-in ``xl``: `command` is the executable to give wnod; the rest scripts and reads it."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.state_file = folder / "xl-state.json"
        self.command = folder / "xl"
        self.command.write_text(
            f"#!/bin/sh\nexec {shlex.quote(sys.executable)} {shlex.quote(str(HERE / 'fake_xl.py'))}"
            f" --state {shlex.quote(str(self.state_file))} \"$@\"\n"
        )
        self.command.chmod(self.command.stat().st_mode | stat.S_IXUSR)
        self._write({})

    def _read(self) -> dict[str, Any]:
        return json.loads(self.state_file.read_text())

    def _write(self, state: dict[str, Any]) -> None:
        state.setdefault("domains", {})
        state.setdefault("next_domid", 1)
        state.setdefault("calls", [])
        self.state_file.write_text(json.dumps(state))

    def _edit(self, change: Callable[[dict[str, Any]], None]) -> None:
        state = self._read()
        change(state)
        self._write(state)

    # -- reading it --------------------------------------------------------------------------------

    def domains(self) -> dict[str, dict[str, Any]]:
        """Name -> {"domid", "flags", "config"} of every domain but Domain-0."""
        return self._read()["domains"]

    def calls(self) -> list[list[str]]:
        return self._read()["calls"]

    # -- scripting it ------------------------------------------------------------------------------

    def fail(self, command: str, stderr: str, exit_code: int = 1) -> None:
        self._edit(lambda s: s.setdefault("fail", {}).__setitem__(command, {"stderr": stderr, "exit": exit_code}))

    def hang(self, command: str, seconds: float) -> None:
        self._edit(lambda s: s.setdefault("hang", {}).__setitem__(command, seconds))

    def ignore_shutdown(self) -> None:
        self._edit(lambda s: s.__setitem__("ignore_shutdown", True))

    def set_flags(self, name: str, flags: str) -> None:
        self._edit(lambda s: s["domains"][name].__setitem__("flags", flags))

    def power_off(self, name: str) -> None:
        """The guest powers off; with on_poweroff='destroy' xl removes its domain."""
        self._edit(lambda s: s["domains"].pop(name))

    def add_foreign(self, name: str, uuid: str = "00000000-0000-4000-8000-00000000f0f0") -> None:
        """A domain someone else made, named as wnod would name one."""

        def add(s: dict[str, Any]) -> None:
            domid = s["next_domid"]
            s["next_domid"] = domid + 1
            s["domains"][name] = {
                "domid": domid,
                "flags": "-b----",
                "config": {
                    "c_info": {"type": "pv", "name": name, "uuid": uuid},
                    "b_info": {"max_vcpus": 1, "max_memkb": 65536, "target_memkb": 65536},
                    "disks": [],
                    "nics": [],
                },
            }

        self._edit(add)


@pytest.fixture
def fake_xl(tmp_path: Path) -> FakeXl:
    return FakeXl(tmp_path / "fake-xl")


@pytest.fixture
def image_store(tmp_path: Path) -> Path:
    """An image store with the images, kernels and ramdisks the tests' VM types name."""
    store = tmp_path / "images"
    store.mkdir()
    for name in ("alpha.img", "beta.img", "vmlinuz-6.1", "initrd-6.1.img"):
        (store / name).write_bytes(b"\0" * 4096)
    return store


@pytest.fixture
def record() -> HypervisorPlugin:
    """The registered ``xl`` record, as the config loader finds it."""
    loaded = Plugins.load(installed=False, extra=[("wnod-xl", plugin)])
    failed = [f"{r.name}: {r.error}" for r in loaded.reports() if r.status is not Status.LOADED or r.problems]
    assert not failed, failed
    return loaded.lookup("hypervisors", "xl")


@pytest.fixture
def build(record: HypervisorPlugin, tmp_path: Path, image_store: Path) -> Callable[..., Any]:
    """``build({"bridge": "xenbr0"})``: the backend, built as the core builds ``hypervisor.xl``.

    ``image_store``, ``scratch_dir`` and ``config_dir`` default to folders under tmp_path.
    """

    def make(options: Mapping[str, Any] | None = None, vm_types: Mapping[str, VmType] | None = None) -> Any:
        table = {
            "image_store": str(image_store),
            "scratch_dir": str(tmp_path / "scratch"),
            "config_dir": str(tmp_path / "domains"),
            **(options or {}),
        }
        return build_plugin(record, table, vm_types or {}, tmp_path, host="hv-test", path="hypervisor.xl")

    return make


@pytest.fixture
def backend(build: Callable[..., Any], fake_xl: FakeXl) -> Any:
    """The backend driving the stand-in xl, with a short clean-shutdown wait."""
    return build({"xl": str(fake_xl.command), "shutdown_timeout": "2s", "command_timeout": "20s"})


@pytest.fixture
def make_spec() -> Callable[..., VwnSpec]:
    """``make_spec("vwn-1", memory="1GiB")``: a VWN of a small VM type "alpha" on image alpha.img;
    ``image_disk=`` gives it an image library's disk instead."""

    def make(vwn_id: str = "hv1-s0-abc123", image_disk: Path | None = None, **vm: Any) -> VwnSpec:
        fields = {"name": "alpha", "image": "alpha.img", "memory": "256MiB", "scratch_size": "64MiB", **vm}
        return VwnSpec(
            vwn_id=vwn_id, vm_type=VmType(**fields), host="hv-test", hostname=f"{vwn_id}.farm", image_disk=image_disk
        )

    return make


# -- the configs wnod-xl writes, one case per way a VM type and the options can shape one ----------

FIXED_DIRS = {"image_store": "/srv/wnod/images", "scratch_dir": "/srv/wnod/scratch", "config_dir": "/etc/wnod/xl"}
"""Render needs no files: the golden cases use fixed folders so their text never changes."""

LIBRARY_DISK = "/var/lib/wnod/library/debian-science/3/disk.raw"
"""The disk the host's image library gives VWNs of version 3 of image debian-science (spec.image_disk)."""

LIBRARY_VM = {"image": "debian-science", "image_source": "library", "image_version": "3"}
"""A library image is a name, not a file of the image store: its VWNs boot LIBRARY_DISK."""

CASES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    # case: ([hypervisor.xl] options, VM type fields)
    "pygrub": ({}, {}),
    "kernel": ({}, {"kernel": "vmlinuz-6.1", "initrd": "initrd-6.1.img", "cmdline": "root=/dev/xvda ro console=hvc0"}),
    "kernel-only": ({}, {"kernel": "vmlinuz-6.1"}),
    "pinned": ({}, {"vcpus": 4, "memory": "6GiB", "cpuset": "2-5"}),
    "pinned-list": ({}, {"vcpus": 2, "cpuset": "0,2,4-5"}),
    "overlay": ({}, {"scratch_layout": "overlay"}),
    "open": ({"bridge": "xenbr0"}, {"network": "open"}),
    "open-default-bridge": ({}, {"network": "open"}),
    "closed-bridge": ({"closed_bridge": "wnodfence0"}, {}),
    "odd-memory": ({}, {"memory": "1000000000"}),
    "odd-paths": (
        {"image_store": "/srv/my images, 'old' \\ \"new\"", "scratch_dir": "/srv/scratch, access=ro"},
        {"kernel": "vmlinuz-6.1", "cmdline": "quiet init='/bin/sh -c \"x\"' \\ end"},
    ),
    "library": ({}, LIBRARY_VM),
    "library-kernel": (
        {}, {**LIBRARY_VM, "kernel": "vmlinuz-6.1", "initrd": "initrd-6.1.img", "cmdline": "root=/dev/xvda ro"},
    ),
    "library-overlay": ({}, {**LIBRARY_VM, "scratch_layout": "overlay"}),
}


def case_spec(case: str) -> VwnSpec:
    _, vm = CASES[case]
    fields = {"name": "alpha", "image": "alpha.img", "memory": "512MiB", "image_version": "2024.1", **vm}
    disk = Path(LIBRARY_DISK) if vm.get("image_source") == "library" else None
    return VwnSpec(
        vwn_id="hv1-s0-c0ffee", vm_type=VmType(**fields), host="hv1", hostname="vwn-hv1-0.farm", image_disk=disk
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "case" in metafunc.fixturenames:
        metafunc.parametrize("case", sorted(CASES))


@pytest.fixture
def case_names() -> list[str]:
    return sorted(CASES)


@pytest.fixture
def render_case(record: HypervisorPlugin, tmp_path: Path) -> Callable[..., tuple[Any, VwnSpec]]:
    """``render_case(case, **dirs)``: (backend, spec) of that case; folders fixed unless given."""

    def make(case: str, **dirs: str) -> tuple[Any, VwnSpec]:
        options, _ = CASES[case]
        table = {**FIXED_DIRS, **options, **dirs}
        spec = case_spec(case)
        backend = build_plugin(record, table, {}, tmp_path, host="hv1", path="hypervisor.xl")
        return backend, spec

    return make
