"""``wnod resolve``: dry-run the resolver chain for a made-up job."""

import click

from ..model import JobFacts, Resolved
from ..text import shown
from .context import CliContext, pass_wnod
from .output import emit_json, json_option

EXIT_REFUSED = 3


@click.command("resolve")
@click.option("--user", required=True, help="The job owner's user name.")
@click.option("--uid", type=int, default=None, help="The job owner's uid.")
@click.option("--group", "groups", multiple=True, help="A group of the owner, primary first (repeatable).")
@click.option("--queue", default="", help="Queue, partition or pool the job was submitted to.")
@click.option("--type", "requested", default=None, help="The VM type the job asks for.")
@json_option
@pass_wnod
@click.pass_context
def resolve_command(
    ctx: click.Context,
    wnod: CliContext,
    user: str,
    uid: int | None,
    groups: tuple[str, ...],
    queue: str,
    requested: str | None,
    as_json: bool,
) -> None:
    """Which VM type would a job of USER get, which resolver decides, or why it is refused.

    Exits 0 when a type is chosen, 3 when the job would be refused.
    """
    job = JobFacts(
        batch_system="dry-run",
        job_id="dry-run",
        user=user,
        uid=uid,
        groups=groups,
        queue=queue,
        requested_vm_type=requested,
    )
    decision = wnod.site.resolver_chain.resolve(job)
    resolved = isinstance(decision, Resolved)
    if as_json:
        emit_json(
            {
                "outcome": "resolved" if resolved else "refused",
                "vm_type": decision.vm_type if isinstance(decision, Resolved) else None,
                "resolver": decision.resolver or None,
                "reason": decision.reason,
            }
        )
    elif isinstance(decision, Resolved):
        click.echo(f"VM type: {decision.vm_type}")
        click.echo(f"decided by: {decision.resolver}")
        click.echo(f"because: {shown(decision.reason)}")
    else:
        click.echo(f"refused: {shown(decision.reason)}")
        if decision.resolver:
            click.echo(f"decided by: {decision.resolver}")
    if not resolved:
        ctx.exit(EXIT_REFUSED)
