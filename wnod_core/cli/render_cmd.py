"""``wnod render``: the exact domain definition a VWN of a type would get, creating nothing."""

import click

from ..engine.parts import HostPolicy
from ..errors import ConfigError, Problem
from ..interfaces import VwnSpec
from ..text import did_you_mean
from .context import CliContext, pass_wnod


@click.command("render")
@click.option("--type", "vm_type", required=True, help="The VM type of the VWN to render.")
@click.option("--slot", type=int, default=1, show_default=True, help="The host slot, which names the VWN.")
@pass_wnod
def render_command(wnod: CliContext, vm_type: str, slot: int) -> None:
    """Print the domain definition (libvirt XML, xl config, ...) the configured hypervisor
    backend would create for a VWN of VM type TYPE, without creating anything.

    Review it before trusting wnod with a hypervisor.
    """
    site = wnod.site
    types = site.config.vm_types
    if vm_type not in types:
        known = ", ".join(sorted(types)) or "none"
        raise click.BadParameter(f'no VM type "{vm_type}"{did_you_mean(vm_type, types)}; configured: {known}',
                                 param_hint="--type")
    policy = HostPolicy.from_config(site.config)
    if not 1 <= slot <= policy.capacity.max_vwns:
        raise click.BadParameter(f"must be 1 to host.max_vwns ({policy.capacity.max_vwns})", param_hint="--slot")
    if site.config.hypervisor.backend is None:
        raise ConfigError([Problem("hypervisor.backend", "required to render: which backend would make the VWN?")])
    spec = VwnSpec(
        vwn_id=f"{policy.short_host}-s{slot}-render",
        vm_type=types[vm_type],
        host=policy.host,
        hostname=policy.hostname(slot),
    )
    click.echo(site.hypervisor.render(spec).rstrip("\n"))
