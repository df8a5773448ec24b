"""The entry point the core loads: adds ``wnod simulate`` to the ``wnod`` command."""

from collections.abc import Iterator

import click

# Imported by name, not as `import wnod_core`: the core takes every module attribute
# starting with "wnod_" for a hook implementation and refuses a plugin with unknown ones.
from wnod_core import hookimpl

from .cli import simulate_command


@hookimpl
def wnod_cli_commands() -> Iterator[click.Command]:
    yield simulate_command
