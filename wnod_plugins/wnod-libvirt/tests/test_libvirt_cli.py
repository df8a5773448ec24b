"""`wnod render` prints this backend's domain XML, end to end through the real console script."""

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from wnod_libvirt.config import Domain

WNOD = Path(sys.executable).parent / "wnod"


def test_wnod_render_prints_the_domain_xml_and_creates_nothing(
    site_config: Callable[[str], Path], image_store: Path, scratch_dir: Path
) -> None:
    site = site_config(
        f"""\
[host]
name = "hv01"

[hypervisor]
backend = "libvirt"

[hypervisor.libvirt]
uri = "test:///default"
flavour = "xen-pv"
image_store = "{image_store}"
scratch_dir = "{scratch_dir}"

[vm_types.alpha]
image = "alpha.img"
kernel = "vmlinuz"
initrd = "initrd.img"
cmdline = "root=/dev/xvda ro"
scratch_layout = "overlay"
image_version = "v1"
"""
    )
    env = {**os.environ, "WNOD_LOAD_PLUGINS": "wnod-libvirt"}
    done = subprocess.run(
        [str(WNOD), "--config", str(site), "render", "--type", "alpha"],
        capture_output=True, text=True, timeout=60, check=False, env=env,
    )
    assert done.returncode == 0, done.stderr
    domain = Domain.from_text(done.stdout)
    assert (domain.type, domain.os.type, domain.os.kernel) == ("xen", "linux", str(image_store / "vmlinuz"))
    assert [(d.target, d.readonly, d.format) for d in domain.disks] == [("xvda", True, "raw"), ("xvdb", False, "qcow2")]
    assert (domain.identity.vm_type, domain.identity.host, domain.identity.image_version) == ("alpha", "hv01", "v1")
    assert list(scratch_dir.iterdir()) == []
