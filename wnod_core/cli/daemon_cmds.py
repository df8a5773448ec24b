"""The daemon and the commands that talk to it: ``wnod daemon``, ``bait``, ``vms``, ``jobs``,
``vm destroy``, ``drain``, ``resume``, ``status``."""

import logging
import os
import sys
import time
from datetime import datetime
from urllib.parse import quote

import click

from ..daemon.client import DaemonClient, DaemonRefused, DaemonUnreachable
from ..errors import BatchSystemError
from ..interfaces import BaitOutcome, BaitSide, HookInput
from ..text import shown
from .context import CliContext, pass_wnod
from .hook_stdin import STDIN_WAIT, read_hook_stdin
from .output import emit_json, emit_table, json_option
from .rows import JOB_COLUMNS, VWN_COLUMNS, job_row, vwn_row
from .types import DURATION

RETRY_EVERY = 2.0
"""Seconds between tries while the daemon cannot be reached (it may be restarting)."""


def _client(wnod: CliContext, timeout: float = 30.0) -> DaemonClient:
    from ..daemon.run import socket_path  # the server side is only imported by the commands that need it

    return DaemonClient(socket_path(wnod.site), timeout=timeout)


@click.command("daemon")
@click.option("--adopt", "strays", flag_value="adopt",
              help="Keep the VWNs no record explains, and follow the jobs in them (after lost records).")
@click.option("--reap-strays", "strays", flag_value="reap",
              help="Destroy the VWNs no record explains, and whatever runs in them.")
@pass_wnod
def daemon_command(wnod: CliContext, strays: str | None) -> None:
    """Run this hypervisor host's daemon in the foreground until SIGTERM or SIGINT.

    SIGHUP reloads the configuration. Exits 3 when it cannot start, saying why: among others
    when it finds VWNs of this host running but records that never held one (a lost or
    truncated state file, another state directory). It then touches nothing until told
    --adopt or --reap-strays; with records of its own it adopts such VWNs by itself.
    """
    from ..daemon.run import run
    from ..engine import StrayDecision

    # A daemon's log is its admin's window: start-up, reloads and every VWN destroyed, by default.
    if wnod.verbose < 2:
        logging.getLogger("wnod").setLevel(logging.INFO)
    # The site is opened by run(): a configuration it cannot read is a start-up failure (exit 3).
    sys.exit(run(lambda: wnod.site, wnod.config_file, StrayDecision(strays or "none")))


@click.command("bait", context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.option(
    "--timeout",
    type=DURATION,
    default=None,
    help='Give up after this long ("600", "10m") and put the job back [default: engine.bait_timeout + 60s].',
)
@click.argument("hook_args", nargs=-1, type=click.UNPROCESSED)
@pass_wnod
def bait_command(wnod: CliContext, timeout: float | None, hook_args: tuple[str, ...]) -> None:
    """Called by the batch system's job-start hook on a bait: have the job moved to a VWN.

    Which job and which bait are read from what the hook passes (its environment,
    HOOK_ARGS, and for some systems stdin), by the batch-system plugin's bait side. How it
    ends (its exit code, and for some systems what it prints on stdout) tells the batch
    system what to do with this dispatch: the plugin chooses it per outcome (migrated,
    refused, retry, released). If the daemon cannot be reached in time, the job is put back
    (retry). What it decided and why is said on stderr.
    """
    side = wnod.site.bait_side
    budget = timeout if timeout is not None else wnod.site.config.engine.bait_timeout + 60
    deadline = time.monotonic() + budget
    try:
        stdin = read_hook_stdin(min(budget, STDIN_WAIT)) if side.reads_stdin else ""
    except BatchSystemError as exc:
        raise click.ClickException(f"cannot read what the batch system's hook passed: {exc}") from None
    try:
        request = side.read(HookInput(environ=dict(os.environ), argv=hook_args, stdin=stdin))
    except BatchSystemError as exc:
        raise click.ClickException(f"not called by the batch system's hook: {exc}") from None
    client = _client(wnod)
    body = {"job_id": request.job_id, "bait_host": request.bait_host}
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            _bait_exit(side, request.job_id, BaitOutcome.RETRY, f"no answer from the daemon within {budget:.0f}s")
        try:
            answer = client.post("/v1/bait", body, timeout=left)
        except DaemonUnreachable as exc:
            click.echo(shown(f"wnod bait: job {request.job_id}: {exc}; trying again"), err=True)
            time.sleep(min(RETRY_EVERY, max(left, 0)))
            continue
        except DaemonRefused as exc:
            # A refused request is wnod's own fault, never the job's: put it back rather than lose it.
            _bait_exit(side, request.job_id, BaitOutcome.RETRY, f"the daemon refused the request: {exc}")
        _bait_exit(side, request.job_id, BaitOutcome(answer["outcome"]), answer["reason"])


def _bait_exit(side: BaitSide, job_id: str, outcome: BaitOutcome, reason: str) -> None:
    click.echo(shown(f"wnod bait: job {job_id}: {outcome}: {reason}"), err=True)
    answer = side.answer(outcome, reason)
    if answer.stdout:  # for the hook to read, as it is: escaping it would change what it says
        click.echo(answer.stdout, nl=False)
    sys.exit(answer.exit_code)


@click.command("vms")
@json_option
@pass_wnod
def vms_command(wnod: CliContext, as_json: bool) -> None:
    """The VWNs of this host: id, type, state, host name, job, age, reuses."""
    vwns = _client(wnod).get("/v1/vwns")["vwns"]
    if as_json:
        emit_json({"vwns": vwns})
        return
    now = time.time()
    emit_table(VWN_COLUMNS, [vwn_row(v, now) for v in vwns])


@click.command("jobs")
@json_option
@pass_wnod
def jobs_command(wnod: CliContext, as_json: bool) -> None:
    """The jobs this host's daemon is placing or following."""
    jobs = _client(wnod).get("/v1/jobs")["jobs"]
    if as_json:
        emit_json({"jobs": jobs})
        return
    emit_table(JOB_COLUMNS, [job_row(j) for j in jobs])


@click.group("vm")
def vm_group() -> None:
    """Act on one VWN."""


@vm_group.command("destroy")
@click.argument("vwn_id")
@pass_wnod
def vm_destroy_command(wnod: CliContext, vwn_id: str) -> None:
    """Destroy VWN_ID now; a job running in it goes back to pending."""
    # Quoted whole: "ID?x", "ID#x" or "../drain" must reach the daemon as the id it is (and be
    # refused there), never as another path or query.
    vwn = _client(wnod, timeout=600).delete(f"/v1/vwns/{quote(vwn_id, safe='')}")
    click.echo(shown(f"VWN {vwn['id']} ({vwn['hostname']}) is {vwn['state']}"))


@click.command("drain")
@pass_wnod
def drain_command(wnod: CliContext) -> None:
    """Take no new jobs on this host (its baits close in the batch system; a job sent anyway goes
    back to pending); jobs at work finish."""
    _client(wnod, timeout=600).post("/v1/drain")  # closing the baits is a batch-system call each
    click.echo("drained: the baits are closed, new jobs go to other hosts; `wnod resume` undoes it")


@click.command("resume")
@pass_wnod
def resume_command(wnod: CliContext) -> None:
    """Take new jobs again after `wnod drain`: the baits reopen (unless boots keep failing here)."""
    _client(wnod, timeout=600).post("/v1/resume")
    click.echo("resumed: new jobs are placed again")


@click.command("status")
@json_option
@pass_wnod
def status_command(wnod: CliContext, as_json: bool) -> None:
    """The daemon of this host: up since when, drained or not, VWNs by state, capacity used."""
    status = _client(wnod).get("/v1/status")
    if as_json:
        emit_json(status)
        return
    cap = status["capacity"]
    click.echo(f"host {status['host']}: wnod {status['version']}, up since "
               f"{datetime.fromtimestamp(status['started_at']):%Y-%m-%d %H:%M:%S}"
               + (", DRAINED" if status["drained"] else ""))
    states = ", ".join(f"{n} {s}" for s, n in sorted(status["vwns"].items())) or "none"
    click.echo(f"VWNs: {states}; jobs in flight: {status['jobs_in_flight']}")
    for vwn_id, why in status.get("quarantined", {}).items():
        click.echo(shown(f"QUARANTINED VWN {vwn_id} (running, no record; no new jobs here until settled): {why}"))
    for job_id, why in status.get("stuck_jobs", {}).items():
        click.echo(shown(f"STUCK job {job_id}: the batch system does not take it back (wnod keeps asking): {why}"))
    breaker = status.get("breaker", {})
    if breaker.get("host", "closed") != "closed":
        click.echo(shown(f"BOOTS FAILING on this host ({breaker['host']}): no new VWN, baits closed:"
                         f" {breaker.get('why', '')}"))
    for vm_type, state in breaker.get("types", {}).items():
        click.echo(f"BOOTS FAILING for VM type {vm_type} ({state}): no new VWN of it for now")
    click.echo(f"capacity: {cap['vwns']['used']}/{cap['vwns']['total']} VWNs, "
               f"{cap['vcpus']['used']}/{cap['vcpus']['total']} vCPUs, "
               f"{cap['memory']['used'] // 2**20}/{cap['memory']['total'] // 2**20} MiB")
