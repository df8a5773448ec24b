"""``[batch.pbs]``: the adapter's options, documented for the configuration reference."""

import enum

import attrs
from wnod_core.config.checks import longer_than_zero
from wnod_core.model.fields import documented


class Flavour(enum.StrEnum):
    OPENPBS = "openpbs"
    """OpenPBS or PBS Professional: ``qstat -F json``, ``pbsnodes -F json``."""
    TORQUE = "torque"
    """Torque: ``qstat -x`` / ``pbsnodes -x`` XML (no JSON), or the ``qstat -f`` text."""


class TorqueFormat(enum.StrEnum):
    XML = "xml"
    TEXT = "text"


def _command_names(_inst: object, _attr: attrs.Attribute, value: dict[str, str]) -> None:
    unknown = sorted(set(value) - set(COMMANDS))
    if unknown:
        raise ValueError(f"unknown command(s) {', '.join(unknown)}; known: {', '.join(COMMANDS)}")


COMMANDS = ("qstat", "pbsnodes", "qrun", "qrerun", "qalter", "qhold", "qrls", "qdel")
"""Every PBS command the adapter runs."""


@attrs.frozen
class PbsOptions:
    """`[batch.pbs]`."""

    flavour: Flavour = documented(
        'Which PBS: "openpbs" (OpenPBS and PBS Professional, 19.x and later: JSON output) or'
        ' "torque" (Torque 4-6: XML output, no JSON).',
        default=Flavour.OPENPBS,
    )
    bin_dir: str = documented(
        "Directory of the PBS commands (qstat, pbsnodes, qrun, ...), e.g. /opt/pbs/bin. Empty: found"
        " on the daemon's PATH.",
        default="",
    )
    commands: dict[str, str] = documented(
        "Absolute path of single commands, overriding bin_dir, e.g. { qstat = \"/usr/local/bin/qstat\" }.",
        factory=dict,
        validator=_command_names,
    )
    timeout: float = documented(
        "Seconds any one PBS command may take before it is killed and reported as failed.",
        default=30.0,
        validator=longer_than_zero,
    )
    requeue_timeout: float = documented(
        "Seconds migrate waits for a job it took off its bait (qrerun) to be queued again before"
        " running it on the VWN (qrun -H).",
        default=30.0,
        validator=longer_than_zero,
    )
    vm_type_resource: str = documented(
        'The job-wide resource through which a user asks for a VM type (qsub -l vmtype=atlas). The'
        ' site creates it as a string resource (OpenPBS: qmgr -c "create resource vmtype'
        ' type=string"). On Torque, "other" (qsub -l other=atlas) needs no server set-up.',
        default="vmtype",
    )
    torque_format: TorqueFormat = documented(
        'Torque only: read qstat\'s "xml" (qstat -f -x) or its "text" (qstat -f, for Torque builds'
        " whose XML output is broken). pbsnodes is always read as XML.",
        default=TorqueFormat.XML,
    )
