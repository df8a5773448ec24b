"""The seed's update VM for real: ``wnod image update`` boots the real guest image (built by
``contrib/e2e/build-image``) under a private libvirtd (QEMU, TCG) with a copy of version 1's disk
read-write, and the image's own init runs the admin's script in it — here ``dpkg -i`` of a
``.deb`` the test makes and ships on the script disk (guests have no network), and a marker.

Everything goes through the ``wnod`` command as an admin types it; the versions are checked
from the outside (debugfs, never mounted): v2 has the package and the marker, v1 is unchanged,
both verify against their signatures, and a copy of v2 with one byte changed is refused.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from wnod_core.testing.debs import marker_deb
from wnod_core.testing.requirements import missing_commands, missing_root, require
from wnod_core.testing.signing import signing_keys
from wnod_core.testing.tamper import flip_byte

pytestmark = pytest.mark.slow

BUILD_IMAGE = Path(__file__).resolve().parents[2] / "contrib" / "e2e" / "build-image"
WNOD = Path(sys.executable).parent / "wnod"
IMAGE = "debian-base"
NEEDED = ("mmdebstrap", "dpkg-deb", "debugfs", "e2fsck", "mke2fs", "ssh-keygen", "libvirtd", "virtlogd",
          "qemu-system-x86_64")

require(missing_root("mmdebstrap builds as root, libvirtd runs as root")
        or missing_commands(*NEEDED, hint="see contrib/e2e/system-packages.txt"), module=True)

testing = pytest.importorskip("wnod_libvirt.testing")


@pytest.fixture(scope="module")
def parts() -> dict:
    done = subprocess.run([sys.executable, str(BUILD_IMAGE), "--json", "kernel", IMAGE], capture_output=True,
                          text=True, timeout=3000, check=False)
    assert done.returncode == 0, f"build-image failed:\n{done.stderr}"
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def uri() -> Iterator[str]:
    with testing.private_libvirtd() as (address, _run_dir):
        yield address


@pytest.fixture
def host(parts: dict, uri: str) -> Iterator[Path]:
    """A host's directory (QEMU's user can reach it): wnod.toml, image store, library, keys."""
    root = Path(tempfile.mkdtemp(prefix="wnod-e2e-update-", dir="/var/tmp"))
    try:
        root.chmod(0o755)
        store = root / "store"
        store.mkdir(mode=0o755)
        for key, name in (("kernel", "vmlinux"), ("initrd", "initrd.gz")):
            shutil.copyfile(parts["kernel"][key], store / name)
            (store / name).chmod(0o644)
        keys = signing_keys(root, "builder@farm")
        (root / "wnod.toml").write_text(f"""
[host]
name = "hv01"

[images]
library = "{root / 'library'}"
signing_key = "{keys.private}"
allowed_signers = "{keys.allowed_signers}"
update_timeout = "15m"

[hypervisor]
backend = "libvirt"

[hypervisor.libvirt]
uri = "{uri}"
flavour = "qemu"
image_store = "{store}"
scratch_dir = "{root}"

[vm_types.base]
image = "{IMAGE}"
image_source = "library"
kernel = "vmlinux"
initrd = "initrd.gz"
cmdline = "console=ttyS0 panic=-1"
memory = "768MiB"
""")
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def wnod(host: Path, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "WNOD_LOAD_PLUGINS": "wnod-libvirt"}
    done = subprocess.run([str(WNOD), "--config", str(host / "wnod.toml"), "--state-dir", str(host / "state"),
                           *args], capture_output=True, text=True, timeout=1800, check=False, env=env,
                          stdin=subprocess.DEVNULL)
    assert (done.returncode == 0) is ok, f"wnod {' '.join(args)}: {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


def _read(disk: Path, name: str) -> str | None:
    out = subprocess.run(["debugfs", "-R", f"cat {name}", str(disk)], capture_output=True, text=True)
    return None if "File not found" in out.stderr else out.stdout


def test_an_update_vm_installs_a_package_into_a_new_version_and_the_parent_stays_as_it_was(
    host: Path, parts: dict
) -> None:
    assert wnod(host, "image", "import", IMAGE, parts[IMAGE]["image"], "--note", "bookworm").stdout == f"{IMAGE}@1\n"
    assert wnod(host, "image", "publish", f"{IMAGE}@1").stdout == f"{IMAGE}: current none -> {IMAGE}@1\n"
    deb = marker_deb(host)
    script = host / "update.sh"
    script.write_text(f"#!/bin/sh\nset -e\necho \"installing $(ls *.deb)\"\ndpkg -i ./{deb.name}\n"
                      "echo 'made by the update VM' > \"$ROOT/etc/wnod-e2e-marker\"\n")

    done = wnod(host, "image", "update", IMAGE, "--script", str(script), "--with", str(deb), "--note", "marker")
    assert done.stdout == f"{IMAGE}@2\n"
    said = done.stderr
    print(said)  # what docs/images.md shows
    assert "| WNOD-GUEST update: running the script" in said, said
    assert "| Setting up wnod-e2e-marker (1.0) ..." in said, "the script's output is shown as it runs"
    assert "| WNOD-GUEST update: the script ended with status 0" in said, said
    assert f"{IMAGE}@2 is built; not current anywhere until published" in said

    library = host / "library" / IMAGE
    v1, v2 = library / "1" / "disk.raw", library / "2" / "disk.raw"
    assert _read(v2, "/etc/wnod-e2e-marker") == "made by the update VM\n"
    assert _read(v2, "/usr/share/wnod-e2e-marker/README") == "installed by wnod image update\n"
    assert "Package: wnod-e2e-marker" in (_read(v2, "/var/lib/dpkg/status") or "")
    assert _read(v1, "/etc/wnod-e2e-marker") is None and _read(v1, "/usr/share/wnod-e2e-marker/README") is None
    for disk in (v1, v2):
        checked = subprocess.run(["e2fsck", "-fn", str(disk)], capture_output=True, text=True)
        assert checked.returncode == 0, checked.stdout + checked.stderr

    assert "Setting up wnod-e2e-marker (1.0)" in wnod(host, "image", "log", f"{IMAGE}@2").stdout
    for version in (1, 2):
        assert wnod(host, "image", "verify", f"{IMAGE}@{version}").stdout.startswith(f"{IMAGE}@{version}: good")
    status = wnod(host, "image", "status", IMAGE).stdout.splitlines()
    assert [line.split()[:2] for line in status[1:]] == [[f"{IMAGE}@1", "current"], [f"{IMAGE}@2", "cached"]], status
    assert not [name for name in os.listdir(library) if name.startswith(".new-")], "no staging left"

    # One byte of v2 changed after signing: refused, never booted.
    flip_byte(v2, 4096)
    refused = wnod(host, "image", "verify", f"{IMAGE}@2", ok=False)
    assert "sha256" in refused.stderr and "Traceback" not in refused.stderr, refused.stderr
    refused = wnod(host, "image", "publish", f"{IMAGE}@2", ok=False)
    assert "Traceback" not in refused.stderr, refused.stderr
