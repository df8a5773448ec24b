"""``wnod batch show`` and ``wnod batch hosts``: the batch system as wnod's adapter reads it,
for debugging a site's glue."""

from typing import Any

import click

from ..config.convert import unstructure
from ..model import Resolved
from ..text import shown
from .context import CliContext, pass_wnod
from .output import emit_json, emit_table, json_option


@click.group("batch")
def batch_group() -> None:
    """What the configured batch-system plugin reads from the batch system."""


@batch_group.command("show")
@click.argument("job_id")
@json_option
@pass_wnod
def batch_show_command(wnod: CliContext, job_id: str, as_json: bool) -> None:
    """The facts the adapter reads for JOB_ID, and the VM type the resolver chain gives it."""
    site = wnod.site
    facts = site.batch_system.job_facts(job_id)
    decision = site.resolver_chain.resolve(facts)
    resolved = isinstance(decision, Resolved)
    data: dict[str, Any] = {
        "facts": unstructure(facts),
        "decision": {
            "outcome": "resolved" if resolved else "refused",
            "vm_type": decision.vm_type if isinstance(decision, Resolved) else None,
            "resolver": decision.resolver or None,
            "reason": decision.reason,
        },
    }
    if as_json:
        emit_json(data)
        return
    for key, value in data["facts"].items():
        text = ", ".join(value) if isinstance(value, list) else value
        click.echo(f"{key + ':':<19} {'-' if text in (None, '') else shown(str(text))}")
    verdict = f"VM type {decision.vm_type}" if isinstance(decision, Resolved) else "refused"
    click.echo(shown(f"{'wnod would give:':<19} {verdict} — {decision.reason} ({decision.resolver or 'no resolver'})"))


@batch_group.command("hosts")
@json_option
@pass_wnod
def batch_hosts_command(wnod: CliContext, as_json: bool) -> None:
    """Every execution host the batch system knows — baits, VWNs and the rest — and its state."""
    hosts = wnod.site.batch_system.hosts()
    if as_json:
        emit_json({"hosts": [unstructure(h) for h in hosts]})
        return
    emit_table(
        ["HOST", "STATE", "ACCEPTING", "JOBS"],
        [[h.name, h.state, "yes" if h.accepting else "no", ", ".join(h.jobs) or "-"] for h in hosts],
    )
