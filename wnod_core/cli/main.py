"""The ``wnod`` command: a thin click shim over ``wnod_core.site`` and friends.

Its subcommands come from plugins (the core's own included) through the
``wnod_cli_commands`` hook, so a site's plugin adds commands the same way.
"""

import sys

import click

from .. import __version__
from ..errors import ConfigError, WnodError
from ..text import shown
from .context import cli_context


class WnodGroup(click.Group):
    """Looks its subcommands up in the loaded plugins."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(cli_context(ctx).plugins.commands()))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return super().get_command(ctx, cmd_name) or cli_context(ctx).plugins.commands().get(cmd_name)


@click.group(cls=WnodGroup, context_settings={"auto_envvar_prefix": "WNOD", "help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    help="Read only this config file instead of the XDG ones. [env: WNOD_CONFIG]",
)
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False),
    help="Where wnod keeps its records. [env: WNOD_STATE_DIR; default: $STATE_DIRECTORY or $XDG_STATE_HOME/wnod]",
)
@click.option("--no-plugins", is_flag=True, help="Load no installed plugins, only the core's own.")
@click.option("-v", "--verbose", count=True, help="Say more (tracebacks of failed plugins, debug logs with -vv).")
@click.version_option(__version__, prog_name="wnod", message="%(prog)s %(version)s")
@click.pass_context
def cli(ctx: click.Context, config_file: str | None, state_dir: str | None, no_plugins: bool, verbose: int) -> None:
    """wnod — Worker Nodes On Demand.

    Runs every batch job inside a virtual worker node (VWN) of its user's
    environment, on one shared pool of hypervisor hosts.
    """
    ctx.obj = cli_context(ctx)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the console script: wnod's own errors become one clear message and exit 1."""
    try:
        # Without standalone mode click hands back ctx.exit()'s code instead of exiting itself.
        code = cli.main(args=argv, prog_name="wnod", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except ConfigError as exc:
        click.echo(f"wnod: {len(exc.problems)} configuration error(s):", err=True)
        for problem in exc.problems:
            click.echo(f"  {shown(str(problem))}", err=True)
        sys.exit(1)
    except WnodError as exc:
        click.echo(f"wnod: error: {shown(str(exc))}", err=True)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
