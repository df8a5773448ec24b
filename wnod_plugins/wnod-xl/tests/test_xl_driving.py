"""How wnod-xl drives xl: the commands it runs, the files it keeps, what it makes of xl's answers and failures.

Against ``fake_xl.py``, the scripted stand-in ``xl`` (see its docstring for what it answers).
"""

import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from wnod_core.errors import ConfigError, HypervisorError, VwnNotFound
from wnod_core.interfaces import DomainState
from wnod_core.testing.requirements import missing_commands, require

MiB = 1024**2


# -- what create makes -----------------------------------------------------------------------------


def test_create_writes_config_record_and_a_sparse_scratch_disk_then_runs_xl_create(
    backend: Any, fake_xl: Any, make_spec: Callable[..., Any], tmp_path: Path
) -> None:
    spec = make_spec("vwn-a", scratch_size="64MiB", image_version="v7")
    backend.create(spec)

    name = "wnod-vwn-a"
    cfg = tmp_path / "domains" / f"{name}.cfg"
    assert cfg.read_text() == backend.render(spec)
    assert fake_xl.calls()[-1] == ["create", str(cfg)]

    scratch = tmp_path / "scratch" / f"{name}.img"
    assert scratch.stat().st_size == 64 * MiB
    assert scratch.stat().st_blocks == 0, "the scratch disk should be sparse"

    record = json.loads((tmp_path / "domains" / f"{name}.json").read_text())
    assert record["vwn_id"] == "vwn-a" and record["vm_type"] == "alpha" and record["image_version"] == "v7"
    assert record["uuid"] == fake_xl.domains()[name]["config"]["c_info"]["uuid"]


def test_the_stand_in_reads_the_disks_as_intended(backend: Any, fake_xl: Any, make_spec: Callable[..., Any]) -> None:
    backend.create(make_spec("vwn-a"))
    disks = {d["vdev"]: d for d in fake_xl.domains()["wnod-vwn-a"]["config"]["disks"]}
    assert "readwrite" not in disks["xvda"] and disks["xvdb"]["readwrite"] == 1


def test_a_new_backend_finds_the_vwns_an_old_one_made(
    backend: Any, build: Callable[..., Any], fake_xl: Any, make_spec: Callable[..., Any]
) -> None:
    backend.create(make_spec("vwn-a"))
    backend.create(make_spec("vwn-b"))
    restarted = build({"xl": str(fake_xl.command)})
    assert sorted(i.vwn_id for i in restarted.domains()) == ["vwn-a", "vwn-b"]
    restarted.destroy("vwn-a")
    assert "wnod-vwn-a" not in fake_xl.domains()


def test_create_again_with_another_definition_is_refused(
    backend: Any, make_spec: Callable[..., Any]
) -> None:
    backend.create(make_spec("vwn-a"))
    with pytest.raises(HypervisorError, match="another definition"):
        backend.create(make_spec("vwn-a", memory="1GiB"))


def test_an_image_missing_from_the_store_is_named(backend: Any, fake_xl: Any, make_spec: Callable[..., Any]) -> None:
    with pytest.raises(HypervisorError, match=r"kernel .*/images/vmlinuz-9 is not in the image store"):
        backend.create(make_spec("vwn-a", kernel="vmlinuz-9"))
    assert fake_xl.calls() == [["list"], ["list", "-l"]]


def test_a_vwn_id_that_cannot_name_a_domain_is_refused(backend: Any, make_spec: Callable[..., Any]) -> None:
    with pytest.raises(HypervisorError, match="cannot name a domain"):
        backend.create(make_spec("../etc"))


# -- xl failing --------------------------------------------------------------------------------------


def test_xl_create_failing_is_reported_verbatim_and_leaves_nothing(
    backend: Any, fake_xl: Any, make_spec: Callable[..., Any], tmp_path: Path
) -> None:
    said = "libxl: error: libxl_dm.c:3173: Domain 7:device model did not start: -3\n"
    fake_xl.fail("create", said, 3)
    with pytest.raises(HypervisorError) as failed:
        backend.create(make_spec("vwn-a"))
    assert str(failed.value) == f"{fake_xl.command} create {tmp_path}/domains/wnod-vwn-a.cfg: failed (exit 3): {said.strip()}"
    assert list((tmp_path / "domains").iterdir()) == []
    assert list((tmp_path / "scratch").iterdir()) == []
    assert backend.domains() == []


def test_xl_create_refusing_a_disk_leaves_nothing(
    backend: Any, fake_xl: Any, make_spec: Callable[..., Any], image_store: Path, tmp_path: Path
) -> None:
    spec = make_spec("vwn-a")
    original = backend._check_files
    backend._check_files = lambda spec: None  # let the missing image reach xl, as a race would
    (image_store / "alpha.img").unlink()
    with pytest.raises(HypervisorError, match=r"Disk vdev=xvda failed to stat: .*alpha.img: No such file"):
        backend.create(spec)
    backend._check_files = original
    assert backend.state("vwn-a") is DomainState.MISSING
    assert list((tmp_path / "scratch").iterdir()) == []


def test_a_hanging_xl_is_stopped_at_the_timeout(
    build: Callable[..., Any], fake_xl: Any, make_spec: Callable[..., Any], tmp_path: Path
) -> None:
    backend = build({"xl": str(fake_xl.command), "command_timeout": "1s"})
    fake_xl.hang("create", 30)
    started = time.monotonic()
    with pytest.raises(HypervisorError, match=r"create .* did not finish within 1s; stopped it"):
        backend.create(make_spec("vwn-a"))
    assert time.monotonic() - started < 10
    assert list((tmp_path / "domains").iterdir()) == []


def test_no_xl_command_is_a_clear_error(build: Callable[..., Any], make_spec: Callable[..., Any]) -> None:
    backend = build({"xl": "/nonexistent/xl"})
    with pytest.raises(HypervisorError, match=r"no command '/nonexistent/xl' \(is Xen's xl installed"):
        backend.create(make_spec("vwn-a"))


def test_xl_list_failing_is_reported_verbatim(backend: Any, fake_xl: Any, make_spec: Callable[..., Any]) -> None:
    backend.create(make_spec("vwn-a"))
    fake_xl.fail("list", "xencall: error: Could not obtain handle on privileged command interface\n")
    with pytest.raises(HypervisorError, match="list: failed .exit 1.: xencall: error: Could not obtain handle"):
        backend.state("vwn-a")


def test_a_list_wnod_cannot_read_is_an_error_not_a_guess(backend: Any, fake_xl: Any, tmp_path: Path) -> None:
    bad = tmp_path / "bad-xl"
    bad.write_text("#!/bin/sh\necho 'something else entirely'\n")
    bad.chmod(0o755)
    backend.xl.command = str(bad)
    with pytest.raises(HypervisorError, match="printed no table wnod can read"):
        backend.xl.domains()


# -- state as xl shows it ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "state"),
    [
        ("r-----", DomainState.RUNNING),
        ("-b----", DomainState.RUNNING),
        ("------", DomainState.RUNNING),
        ("--p---", DomainState.PAUSED),
        ("---s--", DomainState.SHUTOFF),
        ("-----d", DomainState.SHUTOFF),
        ("---sc-", DomainState.CRASHED),
    ],
)
def test_state_follows_xl_list_flags(
    flags: str, state: DomainState, backend: Any, fake_xl: Any, make_spec: Callable[..., Any]
) -> None:
    backend.create(make_spec("vwn-a"))
    fake_xl.set_flags("wnod-vwn-a", flags)
    assert backend.state("vwn-a") is state
    assert [i.state for i in backend.domains()] == [state]


def test_a_guest_that_powered_off_is_shutoff_until_destroyed(
    backend: Any, fake_xl: Any, make_spec: Callable[..., Any], tmp_path: Path
) -> None:
    backend.create(make_spec("vwn-a"))
    fake_xl.power_off("wnod-vwn-a")
    assert backend.state("vwn-a") is DomainState.SHUTOFF
    assert [(i.vwn_id, i.state) for i in backend.domains()] == [("vwn-a", DomainState.SHUTOFF)]
    backend.destroy("vwn-a")
    assert backend.state("vwn-a") is DomainState.MISSING
    assert list((tmp_path / "scratch").iterdir()) == []


# -- reset and destroy -------------------------------------------------------------------------------


def test_reset_scratch_restarts_the_domain_on_an_empty_disk(
    backend: Any, fake_xl: Any, make_spec: Callable[..., Any], tmp_path: Path, image_store: Path
) -> None:
    backend.create(make_spec("vwn-a"))
    scratch = tmp_path / "scratch" / "wnod-vwn-a.img"
    with open(scratch, "r+b") as f:
        f.write(b"results of the last job")
    base_before = (image_store / "alpha.img").read_bytes()
    domid = fake_xl.domains()["wnod-vwn-a"]["domid"]

    backend.reset_scratch("vwn-a")

    assert fake_xl.domains()["wnod-vwn-a"]["domid"] != domid
    assert scratch.stat().st_size == 64 * MiB and scratch.stat().st_blocks == 0
    assert (image_store / "alpha.img").read_bytes() == base_before
    cfg = str(tmp_path / "domains" / "wnod-vwn-a.cfg")
    changes = [c for c in fake_xl.calls() if c[0] != "list"]
    assert changes[-2:] == [["shutdown", "-w", str(domid)], ["create", cfg]]
    assert backend.state("vwn-a") is DomainState.RUNNING


def test_reset_scratch_of_a_powered_off_vwn_starts_it_again(
    backend: Any, fake_xl: Any, make_spec: Callable[..., Any]
) -> None:
    backend.create(make_spec("vwn-a"))
    fake_xl.power_off("wnod-vwn-a")
    backend.reset_scratch("vwn-a")
    assert backend.state("vwn-a") is DomainState.RUNNING


def test_destroy_asks_the_guest_to_shut_down_first(backend: Any, fake_xl: Any, make_spec: Callable[..., Any]) -> None:
    backend.create(make_spec("vwn-a"))
    domid = fake_xl.domains()["wnod-vwn-a"]["domid"]
    backend.destroy("vwn-a")
    assert ["shutdown", "-w", str(domid)] in fake_xl.calls()
    assert ["destroy", str(domid)] not in fake_xl.calls()


def test_a_guest_that_ignores_shutdown_is_destroyed_after_the_shutdown_timeout(
    build: Callable[..., Any], fake_xl: Any, make_spec: Callable[..., Any], tmp_path: Path
) -> None:
    backend = build({"xl": str(fake_xl.command), "shutdown_timeout": "1s"})
    backend.create(make_spec("vwn-a"))
    domid = fake_xl.domains()["wnod-vwn-a"]["domid"]
    fake_xl.ignore_shutdown()
    started = time.monotonic()
    backend.destroy("vwn-a")
    assert time.monotonic() - started < 10
    assert ["destroy", str(domid)] in fake_xl.calls()
    assert fake_xl.domains() == {}
    assert list((tmp_path / "domains").iterdir()) == [] and list((tmp_path / "scratch").iterdir()) == []


def test_shutdown_timeout_zero_destroys_at_once(
    build: Callable[..., Any], fake_xl: Any, make_spec: Callable[..., Any]
) -> None:
    backend = build({"xl": str(fake_xl.command), "shutdown_timeout": 0})
    backend.create(make_spec("vwn-a"))
    backend.destroy("vwn-a")
    assert not any(c[0] == "shutdown" for c in fake_xl.calls())


def test_a_crashed_guest_is_destroyed_without_asking(backend: Any, fake_xl: Any, make_spec: Callable[..., Any]) -> None:
    backend.create(make_spec("vwn-a"))
    fake_xl.set_flags("wnod-vwn-a", "----c-")
    backend.destroy("vwn-a")
    assert not any(c[0] == "shutdown" for c in fake_xl.calls())
    assert fake_xl.domains() == {}


def test_reset_of_a_vwn_never_made_raises_vwn_not_found(backend: Any) -> None:
    with pytest.raises(VwnNotFound, match="no VWN vwn-x"):
        backend.reset_scratch("vwn-x")


# -- domains wnod did not make -----------------------------------------------------------------------


def test_a_foreign_domain_under_wnods_name_is_neither_listed_nor_replaced(
    backend: Any, fake_xl: Any, make_spec: Callable[..., Any]
) -> None:
    fake_xl.add_foreign("wnod-vwn-a")
    assert backend.domains() == []
    assert backend.state("vwn-a") is DomainState.MISSING
    with pytest.raises(HypervisorError, match="exists that wnod did not make; not touching it"):
        backend.create(make_spec("vwn-a"))
    backend.destroy("vwn-a")
    assert "wnod-vwn-a" in fake_xl.domains()


def test_a_foreign_domain_that_took_a_gone_vwns_name_is_left_alone(
    backend: Any, fake_xl: Any, make_spec: Callable[..., Any]
) -> None:
    backend.create(make_spec("vwn-a"))
    fake_xl.power_off("wnod-vwn-a")
    fake_xl.add_foreign("wnod-vwn-a")  # same name, another UUID
    assert backend.state("vwn-a") is DomainState.SHUTOFF
    backend.destroy("vwn-a")
    assert "wnod-vwn-a" in fake_xl.domains()
    assert backend.state("vwn-a") is DomainState.MISSING


# -- overlay scratch layout --------------------------------------------------------------------------


def test_an_overlay_vwn_gets_a_qcow2_over_the_read_only_base(
    backend: Any, make_spec: Callable[..., Any], image_store: Path, tmp_path: Path
) -> None:
    require(missing_commands("qemu-img", hint="Debian qemu-utils, in wnod-xl's system-packages.txt"))
    backend.create(make_spec("vwn-a", scratch_layout="overlay"))
    overlay = tmp_path / "scratch" / "wnod-vwn-a.qcow2"
    info = json.loads(
        subprocess.run(["qemu-img", "info", "--output=json", str(overlay)], capture_output=True, check=True).stdout
    )
    assert info["format"] == "qcow2"
    assert info["full-backing-filename"] == str(image_store / "alpha.img")
    assert info["backing-filename-format"] == "raw"
    assert info["virtual-size"] == 64 << 20, "the VM type's scratch_size, as on every backend"
    assert overlay.stat().st_mode & 0o777 == 0o600
    inode = overlay.stat().st_ino
    backend.reset_scratch("vwn-a")
    assert overlay.exists() and overlay.stat().st_ino != inode, "a new overlay renamed into place"
    backend.destroy("vwn-a")
    assert not overlay.exists() and (image_store / "alpha.img").exists()


# -- options -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"image_store": "images"}, "hypervisor.xl.image_store: .*absolute path"),
        ({"bridge": "br0; rm -rf /"}, "hypervisor.xl.bridge: .*bridge interface name"),
        ({"domain_prefix": "a b"}, "hypervisor.xl.domain_prefix"),
        ({"command_timeout": "0s"}, "hypervisor.xl.command_timeout"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_bad_options_are_config_errors_at_their_key(
    options: dict[str, Any], message: str, build: Callable[..., Any]
) -> None:
    with pytest.raises(ConfigError, match=message):
        build(options)


def test_folders_default_to_wnods_state_folder(record: Any, tmp_path: Path, image_store: Path) -> None:
    from wnod_core.testing import build_plugin

    backend = build_plugin(record, {"image_store": str(image_store)}, {}, tmp_path, path="hypervisor.xl")
    assert backend.config_dir == tmp_path / "state" / "xl" / "domains"
    assert backend.scratch_dir == tmp_path / "state" / "xl" / "scratch"


# -- the image store: nothing outside it reaches a guest ------------------------------------------------


@pytest.mark.parametrize("field", ["image", "kernel", "initrd"])
def test_a_symlink_out_of_the_image_store_is_refused(
    backend: Any, make_spec: Callable[..., Any], image_store: Path, tmp_path: Path, field: str
) -> None:
    (tmp_path / "secret").write_text("the host's own file\n")
    (image_store / "escape").symlink_to(tmp_path / "secret")
    extra = {"kernel": "vmlinuz-6.1"} if field == "initrd" else {}
    spec = make_spec("vwn-a", **{field: "escape", **extra})
    with pytest.raises(HypervisorError, match="leads outside the image store"):
        backend.render(spec)
    with pytest.raises(HypervisorError, match="leads outside the image store"):
        backend.create(spec)
    assert backend.state("vwn-a") is DomainState.MISSING


def test_a_symlink_within_the_image_store_is_followed(backend: Any, make_spec: Callable[..., Any],
                                                      image_store: Path) -> None:
    (image_store / "current.img").symlink_to("alpha.img")
    assert str(image_store / "current.img") in backend.render(make_spec("vwn-a", image="current.img"))
