"""``wnod vm-types``: the VM types this host offers."""

import click

from ..config.convert import unstructure
from ..model import format_duration, format_size
from .context import CliContext, pass_wnod
from .output import emit_json, emit_table, json_option


@click.command("vm-types")
@json_option
@pass_wnod
def vm_types_command(wnod: CliContext, as_json: bool) -> None:
    """List the configured VM types with their image, size and reuse policy."""
    vm_types = wnod.site.config.vm_types
    if as_json:
        emit_json({"vm_types": [unstructure(t) for t in vm_types.values()]})
        return
    rows = [
        [
            t.name,
            t.image,
            t.vcpus if t.max_vcpus is None else f"{t.vcpus}-{t.max_vcpus}",
            format_size(t.memory) if t.max_memory is None else f"{format_size(t.memory)}-{format_size(t.max_memory)}",
            f"{format_size(t.scratch_size)} {t.scratch_layout}",
            t.network,
            f"{t.reuse.max_reuses}x, idle {format_duration(t.reuse.idle_ttl)}",
        ]
        for t in vm_types.values()
    ]
    emit_table(["NAME", "IMAGE", "VCPUS", "MEMORY", "SCRATCH", "NETWORK", "REUSE"], rows)
