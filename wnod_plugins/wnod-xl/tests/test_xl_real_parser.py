"""Every config wnod-xl writes, read by the real xl's own parser: accepted, and meaning what we intend.

Debian's xl refuses to start without a Xen hypervisor. ``xl -N create CFG`` (dry run)
parses the config and prints the domain libxl would build, as JSON; the LD_PRELOAD shim
``xl_devices_shim.c`` (built here with gcc) stands in for the /dev/xen devices so that
xl starts at all. Nothing is created. The JSON is libxl's: a read-only disk has no
``readwrite`` key, memory is in KiB, ``extra`` is ``cmdline``.
"""

import json
import math
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from wnod_core.errors import HypervisorError
from wnod_core.interfaces import UpdateVmSpec
from wnod_core.model import VmType
from wnod_core.testing.requirements import require

from wnod_xl.xl import Xl, XlFailed

SHIM_SOURCE = Path(__file__).parent / "xl_devices_shim.c"


def _real_xl() -> Path | None:
    """The real xl binary, not Debian's wrapper (which exits at once without a hypervisor)."""
    if os.environ.get("WNOD_REAL_XL"):
        return Path(os.environ["WNOD_REAL_XL"])
    found = sorted(Path("/usr/lib").glob("xen-*/bin/xl"))
    return found[-1] if found else None


class RealXl:
    def __init__(self, binary: Path, shim: Path) -> None:
        self.binary = binary
        self.env = {**os.environ, "LD_PRELOAD": str(shim)}

    def dry_run(self, config: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.binary), "-N", "create", str(config)],
            env=self.env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
        )

    def parse(self, text: str, folder: Path) -> dict[str, Any]:
        """libxl's domain config for the xl config `text`; fails the test with xl's words if refused."""
        cfg = folder / "domain.cfg"
        cfg.write_text(text)
        done = self.dry_run(cfg)
        assert done.returncode == 0, f"real xl refused the config:\n{done.stderr}\n---\n{text}"
        return json.loads(done.stdout)


@pytest.fixture(scope="session")
def real_xl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealXl]:
    binary = _real_xl()
    if binary is None or not binary.exists():
        require("the real xl is not installed (no /usr/lib/xen-*/bin/xl; Debian xen-utils-4.17, which"
                " dev/setup installs from wnod-xl's system-packages.txt)")
    gcc = shutil.which("gcc")
    if gcc is None:
        require("no gcc to build the LD_PRELOAD shim xl needs here (Debian gcc, in system-packages.txt)")
    shim = tmp_path_factory.mktemp("xl-shim") / "xl_devices_shim.so"
    subprocess.run(
        [gcc, "-shared", "-fPIC", "-O2", "-Wall", "-Werror", "-o", str(shim), str(SHIM_SOURCE), "-ldl"],
        check=True, capture_output=True, text=True, timeout=120,
    )
    yield RealXl(binary, shim)


def _disks(parsed: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {d["vdev"]: d for d in parsed.get("disks", [])}


# -- every case wnod writes ------------------------------------------------------------------------


def test_real_xl_reads_each_config_as_intended(
    case: str, render_case: Callable[..., Any], real_xl: RealXl, tmp_path: Path
) -> None:
    backend, spec = render_case(case)
    config = backend.domain_config(spec)
    parsed = real_xl.parse(backend.render(spec), tmp_path)
    vm = spec.vm_type

    c_info, b_info = parsed["c_info"], parsed["b_info"]
    assert c_info["type"] == "pv"
    assert c_info["name"] == backend.domain_name(spec.vwn_id)
    assert c_info["uuid"] == config.uuid
    assert b_info["max_memkb"] == b_info["target_memkb"] == math.ceil(vm.memory / 1024**2) * 1024
    assert b_info["max_vcpus"] == vm.vcpus
    assert parsed["on_crash"] == "preserve"
    assert parsed.get("on_poweroff", "destroy") == "destroy"  # libxl leaves its default out

    disks = _disks(parsed)
    # A library image version's disk, or else the VM type's image in the store.
    base = str(spec.image_disk) if spec.image_disk is not None else str(backend.image(vm.image))
    own = str(backend.scratch_path(c_info["name"], vm.scratch_layout))
    if vm.scratch_layout == "overlay":
        assert disks == {"xvda": {"pdev_path": own, "vdev": "xvda", "format": "qcow2", "readwrite": 1}}
    else:
        assert disks["xvda"] == {"pdev_path": base, "vdev": "xvda", "format": "raw"}  # no "readwrite": read-only
        assert disks["xvdb"] == {"pdev_path": own, "vdev": "xvdb", "format": "raw", "readwrite": 1}
        assert set(disks) == {"xvda", "xvdb"}

    if vm.kernel:
        assert b_info["kernel"] == str(backend.image(vm.kernel))
        assert b_info.get("ramdisk") == (str(backend.image(vm.initrd)) if vm.initrd else None)
        assert b_info.get("cmdline", "") == vm.cmdline
        assert "bootloader" not in b_info
    else:
        assert b_info["bootloader"] == "pygrub"
        assert "kernel" not in b_info

    if vm.cpuset:
        wanted = sorted(_cpus(vm.cpuset))
        assert b_info["vcpu_hard_affinity"] == [wanted] * vm.vcpus
    else:
        assert "vcpu_hard_affinity" not in b_info

    nics = parsed.get("nics", [])
    if vm.network == "open":
        bridge = backend.options.bridge
        assert len(nics) == 1 and nics[0].get("bridge") == bridge
    elif backend.options.closed_bridge:
        assert len(nics) == 1 and nics[0]["bridge"] == backend.options.closed_bridge
    else:
        assert nics == []


def test_real_xl_reads_the_update_vms_config_as_intended(build: Callable[..., Any], real_xl: RealXl,
                                                         tmp_path: Path) -> None:
    """The update VM (``wnod image update``): both disks read-write, no network, and a reboot or a
    crash ends it as a power-off does."""
    disk, script = tmp_path / "new.raw", tmp_path / "script.img"
    for path in (disk, script):
        path.write_bytes(b"\0" * 4096)
    vm = VmType(name="alpha", image="alpha.img", memory="256MiB", kernel="vmlinuz-6.1", initrd="initrd-6.1.img",
                cmdline="root=/dev/xvda console=hvc0")
    backend = build()
    config = backend.update_config(UpdateVmSpec(name="wnod-update-el9-2", vm_type=vm, host="hv-test", disk=disk,
                                                script_disk=script, timeout=60))
    parsed = real_xl.parse(config.format(), tmp_path)
    assert parsed["c_info"]["name"] == "wnod-update-el9-2" and parsed["c_info"]["uuid"] == config.uuid
    assert _disks(parsed) == {
        "xvda": {"pdev_path": str(disk), "vdev": "xvda", "format": "raw", "readwrite": 1},
        "xvdb": {"pdev_path": str(script), "vdev": "xvdb", "format": "raw", "readwrite": 1},
    }
    assert parsed.get("nics", []) == []
    # libxl leaves out what is its default, and "destroy" is: a VWN's config has them, this one not.
    assert "on_reboot" not in parsed and "on_crash" not in parsed
    vwn = real_xl.parse(attrs.evolve(config, on_reboot="restart", on_crash="preserve").format(), tmp_path)
    assert (vwn["on_reboot"], vwn["on_crash"]) == ("restart", "preserve")
    assert parsed["b_info"]["kernel"] == str(backend.image("vmlinuz-6.1"))
    assert parsed["b_info"]["cmdline"] == "root=/dev/xvda console=hvc0"


def _cpus(cpuset: str) -> set[int]:
    out: set[int] = set()
    for part in cpuset.split(","):
        first, _, last = part.partition("-")
        out.update(range(int(first), int(last or first) + 1))
    return out


# -- no value can add a key or change a disk's mode ------------------------------------------------


HOSTILE_CMDLINES = [
    "a' memory = 1 '",
    "a\\' memory = 1 #",
    'say "hi"; vcpus = 64',
    "ends in a backslash \\",
    "\\\\' ]",
    "ünïcödé=ok",
]


@pytest.mark.parametrize("cmdline", HOSTILE_CMDLINES)
def test_real_xl_reads_a_hostile_cmdline_back_exactly(
    cmdline: str, build: Callable[..., Any], make_spec: Callable[..., Any], real_xl: RealXl, tmp_path: Path
) -> None:
    backend = build()
    spec = make_spec(kernel="vmlinuz-6.1", cmdline=cmdline, memory="256MiB", vcpus=2)
    parsed = real_xl.parse(backend.render(spec), tmp_path)
    assert parsed["b_info"]["cmdline"] == cmdline
    assert parsed["b_info"]["max_memkb"] == 256 * 1024
    assert parsed["b_info"]["max_vcpus"] == 2


HOSTILE_FOLDERS = [
    "/srv/x, access=rw",
    "/srv/x', 'format=raw, vdev=xvdc, access=rw, target=/etc/shadow",
    "/srv/x\\', vdev=xvdc, target=/etc",
    '/srv/"x"]',
]


@pytest.mark.parametrize("folder", HOSTILE_FOLDERS)
def test_real_xl_keeps_a_hostile_image_store_path_whole_and_read_only(
    folder: str, build: Callable[..., Any], make_spec: Callable[..., Any], real_xl: RealXl, tmp_path: Path
) -> None:
    backend = build({"image_store": folder})
    spec = make_spec()
    disks = _disks(real_xl.parse(backend.render(spec), tmp_path))
    assert set(disks) == {"xvda", "xvdb"}
    assert disks["xvda"]["pdev_path"] == f"{folder}/alpha.img"
    assert "readwrite" not in disks["xvda"]


@pytest.mark.parametrize("bad", ["line\nmemory = 1", "tab\there", "nul\0", "del\x7f"])
def test_control_characters_are_refused_before_xl_sees_them(
    bad: str, build: Callable[..., Any], make_spec: Callable[..., Any]
) -> None:
    with pytest.raises(HypervisorError, match="control characters"):
        build().render(make_spec(kernel="vmlinuz-6.1", cmdline=bad))


# -- xl's own errors reach the admin verbatim ------------------------------------------------------


def test_a_config_the_real_xl_refuses_is_reported_with_its_own_words(
    real_xl: RealXl, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tmp_path / "broken.cfg"
    cfg.write_text("name = 'x'\nmemory = 'unterminated\n")
    monkeypatch.setenv("LD_PRELOAD", real_xl.env["LD_PRELOAD"])
    with pytest.raises(XlFailed) as failed:
        Xl(str(real_xl.binary), timeout=60).run("-N", "create", str(cfg))
    message = str(failed.value)
    assert f"-N create {cfg}: failed (exit 1)" in message
    assert f"{cfg}:2: config parsing error" in message
    assert failed.value.stderr.strip() in message
