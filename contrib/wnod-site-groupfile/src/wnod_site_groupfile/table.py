"""The group file's format, and the table of rules read from it.

One clear format: CSV with the header ``group,vm_type``, one rule per line. Blank lines
and lines whose first non-blank character is '#' are ignored; a UTF-8 byte-order mark
and spaces around fields are tolerated, because spreadsheets and hand edits add them.
Rules are tried top to bottom, so the file's order is the site's priority.
"""

import csv
import re
from collections.abc import Collection, Iterable
from pathlib import Path

import attrs

from wnod_core.errors import WnodError
from wnod_core.text import did_you_mean

HEADER = ("group", "vm_type")

GROUP_RE = re.compile(r"^[A-Za-z0-9_.][A-Za-z0-9_.-]*\$?\Z")
"""Roughly what groupadd accepts; anything else in the first column is a typo, not a group."""


class GroupFileError(WnodError):
    """The group file cannot be read or says something wrong; the message starts with ``path:line:``."""


@attrs.frozen
class Rule:
    group: str
    vm_type: str
    line: int
    """Where the rule is in the file, so a decision can point the admin at it."""


@attrs.frozen
class GroupTable:
    source: str
    rules: tuple[Rule, ...]

    def match(self, groups: Iterable[str]) -> Rule | None:
        """The first rule, in file order, for any of `groups`; the job's group order does not matter."""
        wanted = set(groups)
        return next((rule for rule in self.rules if rule.group in wanted), None)

    def check_types(self, configured: Collection[str]) -> None:
        """GroupFileError at the first rule naming a VM type this host does not offer."""
        for rule in self.rules:
            if rule.vm_type not in configured:
                offered = ", ".join(sorted(configured)) or "none"
                raise GroupFileError(
                    f'{self.source}:{rule.line}: unknown VM type "{rule.vm_type}"'
                    f"{did_you_mean(rule.vm_type, configured)}; configured VM types: {offered}"
                )


def read_group_file(path: Path) -> GroupTable:
    """The file's rules. FileNotFoundError is left for the caller's missing-file policy."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise GroupFileError(f"{path}: cannot read the group file: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise GroupFileError(f"{path}:{line}: not UTF-8 text") from None
    return parse_group_file(text, str(path))


def parse_group_file(text: str, source: str) -> GroupTable:
    """Rules from the file's text; GroupFileError naming ``source:line`` at the first mistake."""
    rules: list[Rule] = []
    first_line_of: dict[str, int] = {}
    header_seen = False
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        where = f"{source}:{number}"
        fields = _fields(raw, where)
        if not header_seen:
            if tuple(f.lower() for f in fields) != HEADER:
                raise GroupFileError(
                    f'{where}: expected the header line "{",".join(HEADER)}", got {raw.strip()!r}'
                )
            header_seen = True
            continue
        if len(fields) != len(HEADER):
            raise GroupFileError(
                f"{where}: expected 2 fields (group,vm_type), got {len(fields)}: {raw.strip()!r}"
            )
        group, vm_type = fields
        if not GROUP_RE.match(group):
            raise GroupFileError(f"{where}: {group!r} is not a unix group name")
        if not vm_type:
            raise GroupFileError(f"{where}: group {group} has no VM type")
        if group in first_line_of:
            # Two rules for one group would make the file's meaning depend on which one wins.
            raise GroupFileError(f"{where}: group {group} is already mapped on line {first_line_of[group]}")
        first_line_of[group] = number
        rules.append(Rule(group=group, vm_type=vm_type, line=number))
    if not header_seen:
        raise GroupFileError(f'{source}:1: empty group file, expected the header line "{",".join(HEADER)}"')
    return GroupTable(source=source, rules=tuple(rules))


def _fields(raw: str, where: str) -> list[str]:
    try:
        return [field.strip() for field in next(csv.reader([raw], strict=True))]
    except csv.Error as exc:
        raise GroupFileError(f"{where}: not a CSV line ({exc}): {raw.strip()!r}") from None
