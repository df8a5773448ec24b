"""The group file as last read, re-read only when it changes."""

import os
import threading
from collections.abc import Collection
from pathlib import Path

import attrs

from .table import GroupFileError, GroupTable, read_group_file


@attrs.frozen
class _Snapshot:
    signature: tuple[int, int, int, int]
    table: GroupTable | None
    error: str | None
    """A broken file is remembered too, so it is not parsed again for every job until it is fixed.
    Kept as text: re-raising one exception object would grow its traceback with every job."""


class GroupFile:
    """One group file shared by the threads that resolve jobs.

    Every call stats the file; it is read again when its modification time, size, inode
    or device changed (an edit in place or an atomic rename over it), otherwise the
    table read last time is used.
    """

    def __init__(self, path: Path, vm_types: Collection[str]):
        self.path = path
        self._vm_types = frozenset(vm_types)
        self._lock = threading.Lock()
        self._last: _Snapshot | None = None

    def table(self) -> GroupTable:
        """The current rules; GroupFileError if the file is unreadable or wrong, FileNotFoundError if gone."""
        with self._lock:
            try:
                st = os.stat(self.path)
            except FileNotFoundError:
                self._last = None
                raise
            except OSError as exc:
                raise GroupFileError(
                    f"{self.path}: cannot read the group file: {exc.strerror or exc}"
                ) from None
            signature = (st.st_mtime_ns, st.st_size, st.st_ino, st.st_dev)
            if self._last is None or self._last.signature != signature:
                self._last = self._read(signature)
            if self._last.error is not None:
                raise GroupFileError(self._last.error)
            assert self._last.table is not None
            return self._last.table

    def _read(self, signature: tuple[int, int, int, int]) -> _Snapshot:
        try:
            table = read_group_file(self.path)
            table.check_types(self._vm_types)
        except GroupFileError as exc:
            return _Snapshot(signature, None, str(exc))
        return _Snapshot(signature, table, None)
