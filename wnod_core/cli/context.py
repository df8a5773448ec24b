"""What every command shares: the global flags, and plugins and site loaded once, lazily."""

import functools
import logging
import os
import sys

import attrs
import click

from ..paths import resolve_dirs
from ..plugins import Plugins
from ..records import Dirs
from ..site import Site
from ..text import ShownFormatter


@attrs.define
class CliContext:
    config_file: str | None = None
    state_dir: str | None = None
    no_plugins: bool = False
    verbose: int = 0
    preloaded: Plugins | None = None
    """Plugins loaded by whoever embeds the CLI (tests), used instead of loading them."""

    @functools.cached_property
    def plugins(self) -> Plugins:
        if self.preloaded is not None:
            return self.preloaded
        return Plugins.load(allowed=frozenset() if self.no_plugins else None)

    @functools.cached_property
    def dirs(self) -> Dirs:
        return resolve_dirs(state_dir=self.state_dir)

    @functools.cached_property
    def site(self) -> Site:
        return Site.open(self.config_file, self.plugins, self.dirs)


def cli_context(ctx: click.Context) -> CliContext:
    """The CliContext of this invocation, made from the root's parsed flags if needed.

    Commands may be looked up (for --help, completion) before the root callback runs,
    so the context is built on first use rather than in the callback.
    """
    root = ctx.find_root()
    if "wnod" not in root.meta and isinstance(root.obj, CliContext):
        root.meta["wnod"] = root.obj  # given by an embedder: CliRunner().invoke(cli, obj=CliContext(...))
    if "wnod" not in root.meta:
        params = root.params
        setup_logging(int(params.get("verbose") or 0))
        root.meta["wnod"] = CliContext(
            config_file=params.get("config_file") or os.environ.get("WNOD_CONFIG") or None,
            state_dir=params.get("state_dir"),
            no_plugins=bool(params.get("no_plugins")),
            verbose=int(params.get("verbose") or 0),
        )
    return root.meta["wnod"]


def setup_logging(verbose: int) -> None:
    """Before anything is loaded: a plugin skipped at load time is reported in wnod's voice."""
    level = logging.DEBUG if verbose >= 2 else logging.INFO if verbose else logging.WARNING
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(ShownFormatter("wnod: %(levelname)s: %(message)s"))  # reasons come from batch systems
    logging.basicConfig(level=level, handlers=[handler], force=True)


pass_wnod = click.make_pass_decorator(CliContext)
