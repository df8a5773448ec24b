"""contrib/e2e/farm run as a site admin runs it, for the e2e farm tests: what it needs, its run
with a JSON summary, and the check that nothing of it is left behind."""

import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from wnod_core.testing.requirements import missing_commands, missing_file, missing_root, require

FARM = Path(__file__).resolve().parents[2] / "contrib" / "e2e" / "farm"
NEEDED = ("slurmctld", "slurmd", "munged", "sbatch", "libvirtd", "virtlogd", "virsh", "qemu-system-x86_64",
          "mmdebstrap", "e2fsck", "debugfs", "runuser", "useradd", "unshare", "nsenter")


def require_the_farm(*more: str) -> None:
    """Skip the test module (fail it under CI) where the farm cannot run; `more`: commands its story needs."""
    require(
        missing_root("the farm starts munged, slurmctld, slurmd and libvirtd, and adds users")
        or missing_commands(*NEEDED, *more, hint="see contrib/e2e/system-packages.txt")
        or missing_file("/etc/munge/munge.key", "the munge package makes it at install"),
        module=True,
    )


def run_farm(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """The farm with `args`, to its end; its output (printed, for the log) and its JSON summary,
    once it said every job went as expected."""
    summary_file = tmp_path / "summary.json"
    wnod = Path(sys.executable).parent / "wnod"
    started = time.monotonic()
    done = subprocess.run([sys.executable, str(FARM), "--wnod", str(wnod), "--json-summary", str(summary_file),
                           *args], capture_output=True, text=True, timeout=3000, check=False)
    print(done.stdout[-20000:])
    print(f"farm: {time.monotonic() - started:.1f} s")
    assert done.returncode == 0, done.stdout[-8000:] + done.stderr[-3000:]
    assert "farm: every job went as expected" in done.stdout
    summary = json.loads(summary_file.read_text())
    assert summary["problems"] == []
    return done, summary


def assert_nothing_left(done: subprocess.CompletedProcess[str]) -> None:
    """No process names the farm's directory, the directory is gone, and so is every user it added."""
    workdir = re.search(r"farm directory: (/var/tmp/wnod-farm-[^;]+);", done.stdout)
    assert workdir, "the farm did not say where it ran"
    ps = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True, check=True).stdout
    assert [line for line in ps.splitlines() if workdir.group(1) in line] == []
    assert not Path(workdir.group(1)).exists()
    users_line = next(line for line in done.stdout.splitlines() if "] users: " in line)
    created = users_line.split("; created ", 1)[1].split(", ") if "; created " in users_line else []
    for user in created:
        assert subprocess.run(["id", user], capture_output=True, check=False).returncode != 0, f"{user} left behind"
