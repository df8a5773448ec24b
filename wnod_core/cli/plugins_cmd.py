"""``wnod plugins``: what loaded, from which distribution, and what failed."""

import click

from .. import __version__
from .context import CliContext, pass_wnod
from .output import emit_json, emit_table, json_option


@click.command("plugins")
@json_option
@pass_wnod
def plugins_command(wnod: CliContext, as_json: bool) -> None:
    """List plugins: name, distribution, version, status, what each provides.

    A plugin that failed to load is listed with its error (its traceback with -v)
    and is not used; everything else works without it.
    """
    reports = wnod.plugins.reports()
    if as_json:
        emit_json(
            {
                "wnod_core": __version__,
                "plugins": [r.to_json(with_traceback=wnod.verbose > 0) for r in reports],
            }
        )
        return
    rows = []
    for r in reports:
        provides = "; ".join(f"{kind}: {', '.join(names)}" for kind, names in sorted(r.provides.items()))
        rows.append([r.name, r.distribution, r.version, r.status, provides])
    emit_table(["NAME", "DISTRIBUTION", "VERSION", "STATUS", "PROVIDES"], rows)
    for r in reports:
        if r.error:
            click.echo(f"\n{r.name} ({r.distribution}) {r.status}: {r.error}", err=True)
            if wnod.verbose and r.traceback:
                click.echo(r.traceback.rstrip(), err=True)
        for problem in r.problems:
            click.echo(f"\n{r.name} ({r.distribution}): {problem}", err=True)
