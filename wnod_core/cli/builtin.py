"""The core's own CLI commands, registered through the same hook a site's plugin uses."""

from collections.abc import Iterator

import click

from .. import hookimpl
from .batch_cmds import batch_group
from .config_cmd import config_group
from .daemon_cmds import (
    bait_command,
    daemon_command,
    drain_command,
    jobs_command,
    resume_command,
    status_command,
    vm_group,
    vms_command,
)
from .farm_cmds import farm_group
from .farm_web_cmd import farm_web_command  # noqa: F401 - registers `wnod farm web` on farm_group
from .image_cmds import image_group
from .plugins_cmd import plugins_command
from .render_cmd import render_command
from .resolve_cmd import resolve_command
from .vmtypes_cmd import vm_types_command


@hookimpl
def wnod_cli_commands() -> Iterator[click.Command]:
    yield plugins_command
    yield config_group
    yield vm_types_command
    yield resolve_command
    yield daemon_command
    yield bait_command
    yield vms_command
    yield jobs_command
    yield vm_group
    yield drain_command
    yield resume_command
    yield status_command
    yield render_command
    yield batch_group
    yield farm_group
    yield image_group
