"""Image versions on a farm of real VWNs (issue 14): contrib/e2e/farm --hosts 2 --images.

Two hypervisor hosts, one Slurm; the VM type debian-base boots from each host's image library,
every version pulled from one image source and verified against the build host's ssh-keygen
signature. On hv1, an update VM (libvirt, QEMU) makes debian-base@2 from @1: a package from a
.deb the script carries, and a marker file. @2 is published on hv1 only, with the farm's
`wnod image publish --hosts hv1`, while a job there runs on @1: that job sees @1 to its end, the
next job on hv1 sees @2's package and marker, and a job on hv2 still gets @1. The farm's
rollback of @2 takes hv1 back and leaves hv2 as it was; a @3 with one byte changed at the source
after it was signed is refused by every host.
"""

from pathlib import Path

import pytest

from .farm_run import assert_nothing_left, require_the_farm, run_farm

pytestmark = pytest.mark.slow

require_the_farm("ssh-keygen", "dpkg-deb")


def test_an_update_vms_version_published_on_one_host_reaches_only_its_next_jobs(tmp_path: Path) -> None:
    done, summary = run_farm(tmp_path, "--hosts", "2", "--images", "--timeout", "900")
    jobs = {r["label"]: r for r in summary["jobs"]}

    # Published on hv1 while alice-1 ran there: it kept @1 to its end; carol-1, after, got @2.
    before, after, other = jobs["alice-1"], jobs["carol-1"], jobs["alice-2"]
    assert (before["host"], before["image_version"]) == ("hv1", "1"), before
    assert "image marker: none" in before["output"] and "marker package: none" in before["output"], before
    assert (after["host"], after["image_version"]) == ("hv1", "2"), after
    assert "image marker: made by the update VM" in after["output"], after
    assert "marker package: 1.0" in after["output"], after
    assert "root: /dev/vda ro" in after["output"], "the new version is mounted read-only as ever"
    # hv2 was never given @2.
    assert (other["host"], other["image_version"]) == ("hv2", "1"), other
    assert "image marker: none" in other["output"], other

    checks = summary["image_checks"]
    assert checks["update"] == "debian-base@2"
    assert checks["before_rollback"] == {"hv1": 2, "hv2": 1}
    assert checks["at_the_end"] == {"hv1": 1, "hv2": 1}, "rolled back on hv1; the tampered @3 published nowhere"
    tampered = [line for line in checks["tampered"].splitlines()[1:] if line.strip()]
    assert len(tampered) == 2 and all("refused (HTTP 409)" in line and "sha256" in line for line in tampered)
    assert_nothing_left(done)
