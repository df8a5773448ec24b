"""A small Debian package made on the spot, for the tests and stories of the update VM: it
installs with dpkg in the guest, and a job can tell it is there (``dpkg-query -W wnod-e2e-marker``,
/usr/share/wnod-e2e-marker/README)."""

import subprocess
from pathlib import Path

MARKER = "wnod-e2e-marker"
VERSION = "1.0"


def marker_deb(where: Path) -> Path:
    """``wnod-e2e-marker_1.0_all.deb`` built in `where` (with dpkg-deb)."""
    tree = where / MARKER
    (tree / "DEBIAN").mkdir(parents=True)
    (tree / "usr" / "share" / MARKER).mkdir(parents=True)
    (tree / "usr" / "share" / MARKER / "README").write_text("installed by wnod image update\n")
    (tree / "DEBIAN" / "control").write_text(
        f"Package: {MARKER}\nVersion: {VERSION}\nArchitecture: all\nMaintainer: wnod tests <root@localhost>\n"
        "Description: a marker package for wnod's update VM tests\n")
    deb = where / f"{MARKER}_{VERSION}_all.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "--build", str(tree), str(deb)], check=True,
                   capture_output=True)
    return deb
