"""The update VM on xl (``wnod image update``): a PV domain with the new version's disk read-write
and the script disk, no network, ended by its guest's power-off or destroyed past its timeout; never
a VWN, and never left running. Against ``fake_xl.py``; ``test_xl_real_parser.py`` has the real
xl read its config."""

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from wnod_core.errors import HypervisorError
from wnod_core.interfaces import UpdateVmSpec
from wnod_core.model import VmType

NAME = "wnod-update-el9-2"


@pytest.fixture
def update_spec(tmp_path: Path) -> Callable[..., UpdateVmSpec]:
    def make(timeout: float = 30.0, **vm: Any) -> UpdateVmSpec:
        disk, script = tmp_path / "disk.raw", tmp_path / "script.img"
        for path in (disk, script):
            path.write_bytes(b"\0" * 4096)
        fields = {"name": "alpha", "image": "alpha.img", "memory": "256MiB", "kernel": "vmlinuz-6.1",
                  "initrd": "initrd-6.1.img", "cmdline": "root=/dev/xvda console=hvc0", **vm}
        return UpdateVmSpec(name=NAME, vm_type=VmType(**fields), host="hv-test", disk=disk, script_disk=script,
                            timeout=timeout)

    return make


@pytest.fixture
def guest(fake_xl: Any) -> Iterator[Callable[[float], None]]:
    """``guest(after)``: once the update VM's domain is there, its guest powers off `after` seconds later."""
    threads: list[threading.Thread] = []

    def start(after: float) -> None:
        def run() -> None:
            deadline = time.monotonic() + 20
            while NAME not in fake_xl.domains() and time.monotonic() < deadline:
                time.sleep(0.02)
            time.sleep(after)
            if NAME in fake_xl.domains():
                fake_xl.power_off(NAME)

        threads.append(threading.Thread(target=run, daemon=True))
        threads[-1].start()

    yield start
    for thread in threads:
        thread.join(30)


def test_the_update_vm_gets_the_new_disk_read_write_and_the_script_disk_and_ends_at_its_power_off(
        backend: Any, fake_xl: Any, update_spec: Callable[..., UpdateVmSpec], guest: Callable[[float], None],
        tmp_path: Path) -> None:
    backend.update_poll = 0.05
    spec = update_spec()
    said: list[str] = []
    seen: dict[str, Any] = {}

    def watch() -> None:
        deadline = time.monotonic() + 20
        while not seen and time.monotonic() < deadline:
            seen.update(fake_xl.domains().get(NAME, {}))
            time.sleep(0.01)

    watcher = threading.Thread(target=watch)
    watcher.start()
    guest(0.3)
    backend.run_update(spec, said.append)
    watcher.join(30)
    config = seen["config"]
    disks = {d["vdev"]: d for d in config["disks"]}
    assert disks["xvda"]["pdev_path"] == str(spec.disk) and disks["xvda"]["readwrite"] == 1
    assert disks["xvdb"]["pdev_path"] == str(spec.script_disk) and disks["xvdb"]["readwrite"] == 1
    assert config["nics"] == [], "an update VM gets no network"
    assert said and "xl console" in said[0]
    assert NAME not in fake_xl.domains() and backend.domains() == [], "never one of the VWNs"
    assert not list((tmp_path / "domains").glob("*.update.cfg")), "its config file is not left behind"


def test_an_update_vm_past_its_timeout_is_destroyed_and_the_run_fails(
        backend: Any, fake_xl: Any, update_spec: Callable[..., UpdateVmSpec]) -> None:
    backend.update_poll = 0.05
    with pytest.raises(HypervisorError, match=r"was still running after 0.5s \(images.update_timeout\); it was"
                                              " destroyed"):
        backend.run_update(update_spec(timeout=0.5), lambda _line: None)
    assert NAME not in fake_xl.domains()
    assert ["destroy"] == [c[0] for c in fake_xl.calls() if c[0] == "destroy"]


def test_a_domain_of_the_same_name_is_left_alone_and_the_run_refused(
        backend: Any, fake_xl: Any, update_spec: Callable[..., UpdateVmSpec]) -> None:
    fake_xl.add_foreign(NAME)
    with pytest.raises(HypervisorError, match=f"a domain of that name is already there.*`xl destroy {NAME}`"):
        backend.run_update(update_spec(), lambda _line: None)
    assert NAME in fake_xl.domains() and not [c for c in fake_xl.calls() if c[0] in ("create", "destroy")]


def test_an_xl_that_fails_to_create_leaves_nothing_and_says_why(
        backend: Any, fake_xl: Any, update_spec: Callable[..., UpdateVmSpec], tmp_path: Path) -> None:
    fake_xl.fail("create", "libxl: error: libxl_create.c: domain creation failed")
    with pytest.raises(HypervisorError, match="domain creation failed"):
        backend.run_update(update_spec(), lambda _line: None)
    assert NAME not in fake_xl.domains() and not list((tmp_path / "domains").glob("*.update.cfg"))


def test_missing_disks_or_kernel_are_refused_before_xl_runs(
        backend: Any, fake_xl: Any, update_spec: Callable[..., UpdateVmSpec]) -> None:
    spec = update_spec()
    spec.script_disk.unlink()
    with pytest.raises(HypervisorError, match="the script disk .* is not there"):
        backend.run_update(spec, lambda _line: None)
    with pytest.raises(HypervisorError, match="vmlinuz-9 is not in the image store"):
        backend.run_update(update_spec(kernel="vmlinuz-9"), lambda _line: None)
    assert fake_xl.calls() == [] or all(c[0] == "list" for c in fake_xl.calls())
