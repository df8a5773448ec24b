"""The ``[batch.lsf]`` section."""

import enum

import attrs
from wnod_core.config.checks import absolute_path_or_empty, longer_than_zero
from wnod_core.model import Seconds
from wnod_core.model.fields import documented


class LimitUnit(enum.StrEnum):
    """LSF_UNIT_FOR_LIMITS: the unit of a memory limit LSF prints as a bare number."""

    KB = "KB"
    MB = "MB"
    GB = "GB"
    TB = "TB"
    PB = "PB"
    EB = "EB"


@attrs.frozen
class LsfOptions:
    """The keys of ``[batch.lsf]``."""

    bin_dir: str = documented(
        "The directory of LSF's commands (bjobs, bhosts, bmod, brun, badmin, ...), e.g."
        ' "/opt/lsf/10.1/linux3.10-glibc2.17-x86_64/bin". Empty: found on the daemon\'s PATH.'
        " Must be absolute.",
        default="",
        validator=absolute_path_or_empty,
    )
    envdir: str = documented(
        "LSF_ENVDIR for those commands: the directory of lsf.conf (e.g. \"/etc/lsf\"). Empty: the"
        " daemon's own LSF_ENVDIR, or LSF's default /etc. Must be absolute.",
        default="",
        validator=absolute_path_or_empty,
    )
    timeout: Seconds = documented(
        "How long one LSF command may take before wnod gives up on it and reports the batch"
        " system as failing.",
        default=Seconds(30),
        validator=longer_than_zero,
    )
    settle_timeout: Seconds = documented(
        "How long wnod waits for LSF to take a job off its bait after `brequeue` (its pre-exec is"
        " killed first) before it binds the job to its VWN.",
        default=Seconds(60),
        validator=longer_than_zero,
    )
    app_prefix: str = documented(
        "Application profiles whose name starts with this prefix name a VM type: a job submitted"
        ' with `bsub -app wnod-atlas` asks for the VM type "atlas". The esub in contrib/lsf sets'
        " the profile from `bsub -a \"wnod(atlas)\"` too. Empty: every application profile names a"
        " VM type.",
        default="wnod-",
    )
    unit_for_limits: LimitUnit = documented(
        "The cluster's LSF_UNIT_FOR_LIMITS (lsf.conf): the unit of a memory limit LSF prints"
        " without one.",
        default=LimitUnit.KB,
    )
