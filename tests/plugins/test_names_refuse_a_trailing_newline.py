"""Every validated name refuses a trailing newline.

Python's "$" also matches before a final "\\n": a pattern anchored with it took "999020\\n" as
a job id, and such names ended up in the records, in host names and in kernel command lines.
Each validator is fed a good name (accepted) and the same name with "\\n" (refused).
"""

from collections.abc import Callable
from typing import Any

import pytest

from wnod_core.model.vmtype import check_image_name, check_name


def _raises(check: Callable[[str], Any]) -> Callable[[str], bool]:
    def accepts(value: str) -> bool:
        try:
            result = check(value)
        except Exception:  # noqa: BLE001 - each validator has its own error class
            return False
        return result is not False

    return accepts


def _core() -> dict[str, tuple[Callable[[str], bool], str]]:
    from wnod_core.daemon.api import _WORD

    return {
        "VM type name": (_raises(check_name), "el9"),
        "image name": (_raises(check_image_name), "el9.img"),
        "API job id / bait host": (lambda v: bool(_WORD.match(v)), "999020"),
    }


def _plugins() -> dict[str, tuple[Callable[[str], bool], str]]:
    from wnod_htcondor.ads import check_hostname
    from wnod_htcondor.bait import JOB_ID as CONDOR_JOB_ID
    from wnod_libvirt.storage import check_vwn_id
    from wnod_lsf.notes import _name
    from wnod_pbs.formats import is_job_id
    from wnod_site_groupfile.table import GROUP_RE
    from wnod_slurm.options import _WORD as SLURM_WORD
    from wnod_xl.backend import VWN_ID_RE

    return {
        "libvirt VWN id": (_raises(check_vwn_id), "hv01-s1-abcdef"),
        "xl VWN id": (lambda v: bool(VWN_ID_RE.match(v)), "hv01-s1-abcdef"),
        "PBS job id": (is_job_id, "123.server"),
        "HTCondor job id": (lambda v: bool(CONDOR_JOB_ID.match(v)), "123.0"),
        "HTCondor host name": (_raises(check_hostname), "vwn01.farm"),
        "LSF notice key": (_raises(_name), "123"),
        "Slurm option word": (lambda v: bool(SLURM_WORD.match(v)), "wnod"),
        "site group name": (lambda v: bool(GROUP_RE.match(v)), "atlas"),
    }


CHECKS = {**_core(), **_plugins()}


@pytest.mark.parametrize("what", sorted(CHECKS))
def test_a_name_is_accepted_and_the_same_name_with_a_newline_refused(what: str) -> None:
    accepts, good = CHECKS[what]
    assert accepts(good), f"{what}: {good!r} should be accepted"
    assert not accepts(good + "\n"), f"{what}: {good + chr(10)!r} must be refused"
