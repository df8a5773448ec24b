"""``wnod farm web``: the farm's dashboard in the browser, read-only (see docs/farm.md).

A shim over ``wnod_core.farm.web``: it checks where to listen and the token before anything
else, so that a dashboard open to the network without a token never starts.
"""

from pathlib import Path

import click

from ..daemon.preflight import read_token
from .farm_cmds import _farm, _warnings, farm_group


@farm_group.command("web")
@click.option("--listen", default="127.0.0.1:8480", show_default=True, metavar="ADDRESS:PORT",
              help="Where to serve the page. Off loopback it needs --token-file.")
@click.option("--token-file", type=click.Path(dir_okay=False), default=None,
              help="A file holding the token the browser must show (one word, at least 16 characters, mode 0600):"
                   " opened once as /?token=TOKEN, or sent as Authorization: Bearer TOKEN.")
@click.option("--tls-cert-file", type=click.Path(dir_okay=False), default=None,
              help="Serve over HTTPS with this PEM certificate (with --tls-key-file): the token and the farm's"
                   " data then cross the network encrypted.")
@click.option("--tls-key-file", type=click.Path(dir_okay=False), default=None,
              help="The certificate's PEM private key, a file of mode 0600.")
@click.pass_context
def farm_web_command(ctx: click.Context, listen: str, token_file: str | None, tls_cert_file: str | None,
                     tls_key_file: str | None) -> None:
    """Serve a read-only map of the farm to the browser: every host, its VWNs and their jobs,
    redrawn every few seconds. Runs until SIGTERM or SIGINT."""
    from ..daemon.tls import server_context
    from ..farm.web import host_port, make_app, serve  # aiohttp: only for the command that serves
    from ..farm.webauth import on_loopback, parse_listen

    try:
        address, port = parse_listen(listen)
        loopback = on_loopback(address)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--listen") from None
    token = None
    if token_file:
        try:
            token = read_token(Path(token_file))
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--token-file") from None
    elif not loopback:
        raise click.UsageError(
            f"--listen {host_port(address, port)} is not a loopback address: whoever reaches it would see the"
            " farm. Give --token-file FILE (a token of one word, at least 16 characters, in a file of mode 0600),"
            " or listen on 127.0.0.1.")
    tls = None
    if (tls_cert_file is None) != (tls_key_file is None):
        raise click.UsageError("--tls-cert-file and --tls-key-file go together: give both, or neither")
    if tls_cert_file and tls_key_file:
        try:
            tls = server_context(tls_cert_file, tls_key_file, named=("--tls-cert-file", "--tls-key-file"))
        except ValueError as exc:
            raise click.UsageError(str(exc)) from None
    if not loopback and tls is None:
        click.echo(f"wnod farm web: warning: plain HTTP on {host_port(address, port)}: the token and the farm's data"
                   " cross the network in clear; give --tls-cert-file and --tls-key-file", err=True)
    farm = _farm(ctx)
    app = make_app(farm, token, _warnings)

    def ready(url: str) -> None:
        shown = f"{url}?token=..." if token else url
        click.echo(f"wnod farm web: the dashboard of {len(farm.farm.hosts)} host(s) of {farm.path} at {shown}",
                   err=True)

    serve(app, address, port, ready, tls)
