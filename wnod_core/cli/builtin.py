"""The core's own CLI commands, registered through the same hook a site's plugin uses."""

from collections.abc import Iterator

import click

from .. import hookimpl
from .config_cmd import config_group
from .plugins_cmd import plugins_command
from .resolve_cmd import resolve_command
from .vmtypes_cmd import vm_types_command


@hookimpl
def wnod_cli_commands() -> Iterator[click.Command]:
    yield plugins_command
    yield config_group
    yield vm_types_command
    yield resolve_command
