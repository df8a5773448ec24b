"""`[batch.slurm]`: where the Slurm commands are, and how the site declared its VWN nodes."""

import re

import attrs
from wnod_core.config.checks import absolute_path, longer_than_zero
from wnod_core.model.fields import documented

_WORD = re.compile(r"^[A-Za-z0-9_.-]+\Z")


def _word(_inst: object, attr: attrs.Attribute, value: str) -> None:
    if value and not _WORD.match(value):
        raise ValueError(f"{attr.name} must be one word of letters, digits, '_', '.', '-', got {value!r}")


FACTS_SOURCES = ("auto", "scontrol-json", "squeue-json", "scontrol-text")


@attrs.frozen
class SlurmOptions:
    """`[batch.slurm]`."""

    squeue: str = documented("Absolute path of squeue.", default="/usr/bin/squeue", validator=absolute_path)
    scontrol: str = documented("Absolute path of scontrol.", default="/usr/bin/scontrol", validator=absolute_path)
    sinfo: str = documented("Absolute path of sinfo.", default="/usr/bin/sinfo", validator=absolute_path)
    scancel: str = documented("Absolute path of scancel.", default="/usr/bin/scancel", validator=absolute_path)
    slurm_conf: str = documented(
        "The slurm.conf the commands read (set as SLURM_CONF); empty: Slurm's own default"
        " (/etc/slurm/slurm.conf, or configless).",
        default="",
    )
    command_timeout: float = documented(
        "Seconds one Slurm command may take before it is given up as failed.",
        default=30.0,
        converter=float,
        validator=longer_than_zero,
    )
    vwn_partition: str = documented(
        "The partition that holds the VWN nodes and nothing else (declare it `Hidden=YES`); a"
        " migrated job is moved into it. Empty: the job stays in its own partition, which must"
        " then hold the VWN nodes too.",
        default="wnod",
        validator=_word,
    )
    reservation_prefix: str = documented(
        "Migrate makes a reservation named PREFIX + the VWN's node name, for the job's owner only,"
        " so that no job that does not name it can start on the VWN. In mixed mode (`[host]"
        " bare_metal_node`) each busy VWN's CPUs are a reservation of that node's CPUs, named PREFIX +"
        " \"cpus-\" + the VWN's id.",
        default="wnod-",
        validator=_word,
    )
    vm_type_prefix: str = documented(
        "How a job asks for a VM type: a word of its comment starting with this, e.g."
        " `sbatch --comment=vmtype:atlas` asks for atlas. Empty: jobs cannot ask.",
        default="vmtype:",
    )
    facts_source: str = documented(
        "Where job facts are read: `scontrol-json` (`scontrol show job --json`, Slurm >= 23.02),"
        " `squeue-json` (`squeue --json`, Slurm >= 21.08), `scontrol-text` (`scontrol show job -o`),"
        " or `auto`: the best the installed Slurm has, from `scontrol --version`.",
        default="auto",
        validator=attrs.validators.in_(FACTS_SOURCES),
    )
    hasten_for: float = documented(
        "Slurm holds a job requeued from its bait for its credential lifetime (120 s by default)"
        " before it may start again. After a migration wnod watches the job this many seconds and"
        " lets it start on its VWN at once when Slurm has requeued it. 0 turns this off.",
        default=600.0,
        converter=float,
    )
