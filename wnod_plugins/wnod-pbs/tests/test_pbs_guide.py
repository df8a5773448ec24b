"""docs/pbs.md tells the admin and the job's owner what they will read: the comments wnod and
the (emulated) OpenPBS write in wnod's flow are the ones it names."""

import json
import re
from pathlib import Path

import pytest

from wnod_pbs.adapter import CLOSED_COMMENT

GUIDE = Path(__file__).resolve().parents[3] / "docs" / "pbs.md"

pytestmark = pytest.mark.skipif(not GUIDE.exists(), reason="docs/ is not beside this distribution")


def _named(comment: str, guide: str) -> bool:
    # Up to its first date, user or node: "Job held by root on Tue ..." is named as "Job held".
    return re.split(r" (?:at|on|by) ", comment)[0] in guide


def test_the_guide_names_every_comment_openpbs_writes_in_wnods_flow(emu, batch_system):
    if emu.flavour != "openpbs":
        pytest.skip("OpenPBS's comments")
    seen = []
    job, waiting = emu.qsub("-q", "short"), emu.qsub("-q", "short", "-l", "ncpus=64")
    emu.ctl("bait", job, "bait-1")
    seen.append(emu.job(job)["comment"])
    emu.ctl("prologue-exit", job, "bait-1", "0")
    seen.append(emu.job(job)["comment"])
    emu.run("pbs-emu", "schedule", waiting)
    seen.append(emu.job(waiting)["comment"])
    emu.run("qhold", waiting)
    seen.append(emu.job(waiting)["comment"])
    emu.ctl("join", "vwn-2")
    emu.ctl("leave", "vwn-2")
    seen.append(json.loads(emu.run("pbsnodes", "-v", "vwn-2", "-F", "json").stdout)["nodes"]["vwn-2"]["comment"])
    batch_system.fail(job, "wnod: refused")
    seen.append(emu.job(job)["comment"].partition("wnod: refused")[2].strip())
    guide = GUIDE.read_text()
    assert [c for c in seen if not _named(c, guide)] == []
    assert CLOSED_COMMENT in guide, "the admin's example shows the comment close_host writes"
