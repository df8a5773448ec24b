"""The ``groupfile`` resolver: the first rule of the site's group file that fits the job's groups."""

from pathlib import Path

from wnod_core.interfaces import Resolver
from wnod_core.model import JobFacts, Resolved
from wnod_core.records import Setup

from .options import GroupFileOptions, OnMissingFile
from .source import GroupFile
from .table import GroupFileError


class GroupFileResolver(Resolver):
    """Maps a job's unix groups to a VM type through the site's group file; passes other jobs."""

    def __init__(self, group_file: GroupFile, on_missing_file: OnMissingFile):
        self._file = group_file
        self._on_missing_file = on_missing_file

    @classmethod
    def from_setup(cls, setup: Setup[GroupFileOptions]) -> "GroupFileResolver":
        """The plugin's factory. The file must exist and be right now: `wnod config check` is
        where the admin should learn of a typo, not the first job of the night."""
        group_file = GroupFile(Path(setup.options.path), setup.vm_types)
        try:
            group_file.table()
        except FileNotFoundError:
            raise ValueError(f"group file {setup.options.path} does not exist") from None
        except GroupFileError as exc:
            # The core reports a factory's ValueError as a configuration problem at setup.path.
            raise ValueError(str(exc)) from None
        return cls(group_file, setup.options.on_missing_file)

    def resolve(self, job: JobFacts) -> Resolved | None:
        try:
            table = self._file.table()
        except FileNotFoundError:
            if self._on_missing_file is OnMissingFile.PASS:
                return None
            raise GroupFileError(f"{self._file.path}: the group file is missing") from None
        rule = table.match(job.groups)
        if rule is None:
            return None
        return Resolved(
            vm_type=rule.vm_type,
            reason=f"group {rule.group} is mapped to VM type {rule.vm_type} ({table.source}:{rule.line})",
        )
