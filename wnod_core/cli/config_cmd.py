"""``wnod config check|show|reference``."""

import json
from typing import Any

import click

from ..config import Config
from ..config.convert import unstructure
from ..errors import ConfigError
from ..paths import config_search_path
from ..reference import core_reference, plugin_reference
from .context import CliContext, pass_wnod
from .output import emit_json, json_option


@click.group("config")
def config_group() -> None:
    """Check and show this host's configuration."""


@config_group.command("check")
@pass_wnod
def check_command(wnod: CliContext) -> None:
    """Validate the configuration against the installed plugins.

    Prints one line per mistake, with its key and file, and exits 1; exits 0 when
    the configuration is sound. Checks what the daemon checks when it starts, too: the
    token file, the socket's group and path, the listen address.
    """
    from ..daemon.preflight import daemon_problems

    site = wnod.site
    problems = daemon_problems(site)
    try:
        site.check()
    except ConfigError as exc:
        problems = [*exc.problems, *problems]
    if problems:
        raise ConfigError(problems)
    config = site.config
    files = ", ".join(str(f) for f in config.files) or "none found (all defaults)"
    click.echo(f"configuration OK — files: {files}")
    click.echo(
        f"  {len(config.vm_types)} VM type(s), {len(config.resolvers)} resolver(s);"
        f" batch system: {config.batch.system or 'not set'}; hypervisor: {config.hypervisor.backend or 'not set'}"
    )


@config_group.command("show")
@json_option
@pass_wnod
def show_command(wnod: CliContext, as_json: bool) -> None:
    """Print the effective configuration and the file each value came from."""
    config = wnod.site.config
    values = effective(config)
    flat = dict(_flatten(values, ""))
    # Exact keys only: a file that sets one key of a table did not set its other keys.
    sources = {key: config.sources.get(key) or "default" for key in flat}
    if as_json:
        emit_json(
            {
                "files": [str(f) for f in config.files],
                "config": values,
                "sources": sources,
            }
        )
        return
    if not config.files:
        searched = ", ".join(str(p) for p in config_search_path())
        click.echo(f"# no config file found (looked for {searched}); all values are defaults")
    for key, value in flat.items():
        click.echo(f"{key} = {json.dumps(value)}  # {sources[key]}")


@config_group.command("reference")
@click.option("--plugin", "plugin_name", default=None, help="Only this plugin's options.")
@pass_wnod
def reference_command(wnod: CliContext, plugin_name: str | None) -> None:
    """Print the configuration reference (Markdown): the core's sections and every loaded plugin's options."""
    plugins = wnod.plugins
    kinds = (
        ("batch_systems", plugins.batch_systems(), "[batch.{name}]"),
        ("hypervisors", plugins.hypervisors(), "[hypervisor.{name}]"),
        ("resolvers", plugins.resolvers(), '[[resolvers]] use = "{name}"'),
    )
    chunks = [] if plugin_name else [core_reference()]
    found = False
    for _kind, records, heading in kinds:
        for name, record in sorted(records.items()):
            if plugin_name and name != plugin_name:
                continue
            found = True
            chunks.append(plugin_reference(heading.format(name=name), record.options, record.summary))
    if plugin_name and not found:
        raise click.UsageError(f'no loaded plugin provides "{plugin_name}"; see `wnod plugins`')
    click.echo("\n".join(chunks).rstrip())


def effective(config: Config) -> dict[str, Any]:
    """The whole configuration as TOML-shaped data, defaults included."""
    out: dict[str, Any] = {
        "host": unstructure(config.host),
        "engine": unstructure(config.engine),
        "daemon": unstructure(config.daemon),
    }
    out["batch"] = {k: v for k, v in unstructure(config.batch).items() if v is not None}
    if config.batch.system and config.batch_options is not None:
        out["batch"][config.batch.system] = unstructure(config.batch_options)
    out["hypervisor"] = {k: v for k, v in unstructure(config.hypervisor).items() if v is not None}
    if config.hypervisor.backend and config.hypervisor_options is not None:
        out["hypervisor"][config.hypervisor.backend] = unstructure(config.hypervisor_options)
    out["vm_types"] = {name: _drop_name(unstructure(t)) for name, t in config.vm_types.items()}
    out["resolvers"] = [
        {"use": link.use, **(unstructure(link.options) if link.options is not None else {})} for link in config.resolvers
    ]
    return out


def _drop_name(table: dict[str, Any]) -> dict[str, Any]:
    table.pop("name", None)
    return table


def _flatten(value: Any, prefix: str) -> Any:
    if isinstance(value, dict) and value:
        for key, inner in value.items():
            yield from _flatten(inner, f"{prefix}.{key}" if prefix else key)
    elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        for index, inner in enumerate(value):
            yield from _flatten(inner, f"{prefix}[{index}]")
    else:
        yield prefix, value
