"""Printing tables for people and JSON for programs."""

import json
from collections.abc import Sequence
from typing import Any

import click

from ..text import shown


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=False))


def emit_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    # Cells come from batch systems and users: shown escaped, a job cannot write to the terminal.
    cells = [[str(h) for h in headers]] + [["" if c is None else shown(str(c)) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    for row in cells:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON (stable; see docs/cli.md).")
