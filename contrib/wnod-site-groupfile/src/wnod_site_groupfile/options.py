"""The options of a ``[[resolvers]] use = "groupfile"`` table."""

import enum
import os

import attrs

from wnod_core.model.fields import documented


class OnMissingFile(enum.StrEnum):
    """What a running resolver does when its group file has disappeared."""

    REFUSE = "refuse"
    """Refuse the job, saying the file is missing: safest, nobody runs in a type they were not given."""
    PASS = "pass"
    """Have no opinion, so the next resolver of the chain decides."""


def _absolute(_inst: object, _attr: attrs.Attribute, value: str) -> None:
    # The daemon's working directory is nobody's business: a relative path would mean
    # different files to `wnod config check` in a shell and to the service.
    if not os.path.isabs(value):
        raise ValueError(f"path must be absolute, got {value!r}")


@attrs.frozen
class GroupFileOptions:
    """The keys of a ``[[resolvers]]`` table with ``use = "groupfile"``."""

    path: str = documented(
        "The group file: CSV with the header `group,vm_type`, one group per line, '#' starts a"
        " comment line. Rows are tried top to bottom and the first group the job's owner is in"
        " wins. It must exist and be valid when the configuration is checked; it is re-read"
        " whenever it changes. Must be absolute.",
        validator=_absolute,
    )
    on_missing_file: OnMissingFile = documented(
        '"refuse": a job is refused while the file is missing; "pass": the resolver has no'
        " opinion and the next one decides. Only applies after start-up: at start-up a missing"
        " file is always a configuration error.",
        default=OnMissingFile.REFUSE,
    )
