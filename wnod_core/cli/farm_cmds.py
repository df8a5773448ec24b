"""``wnod farm``: the whole farm at once, every host's daemon asked over its TCP API.

A thin shim over ``wnod_core.farm``: the hosts come from the farm file (``--farm``,
``$WNOD_FARM``, or ``farm.toml`` in the XDG config directories); each host answers within
``farm.timeout`` or is shown unreachable, saying why. Exits 1 when a host did not answer.
"""

import csv
import sys
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import click

from ..farm import FARM_ENV, HostAnswer, ask_farm
from ..farm.accounting import OUTCOMES, read_ledgers, summarize
from ..farm.config import FarmFile, find_farm
from ..text import shown
from .output import emit_json, emit_table, json_option
from .rows import JOB_COLUMNS, VWN_COLUMNS, job_row, vwn_row
from .types import DURATION

watch_option = click.option("--watch", type=click.FloatRange(min=0.5), default=None, metavar="SECONDS",
                            help="Ask again every SECONDS until interrupted.")
hosts_option = click.option("--host", "hosts", multiple=True, help="Only this host of the farm file (repeatable).")


@click.group("farm")
@click.option("--farm", "farm_path", type=click.Path(dir_okay=False), default=None,
              help=f"The farm file. [env: {FARM_ENV}; default: farm.toml in the XDG config directories]")
@click.pass_context
def farm_group(ctx: click.Context, farm_path: str | None) -> None:
    """The whole farm: every host's daemon asked at once (see docs/farm.md)."""
    ctx.meta["wnod.farm_path"] = farm_path


def _farm(ctx: click.Context) -> FarmFile:
    return find_farm(ctx.meta.get("wnod.farm_path"))


def _run(ctx: click.Context, path: str, hosts: tuple[str, ...], watch: float | None,
         show: Callable[[list[HostAnswer]], None]) -> None:
    farm = _farm(ctx)
    unknown = sorted(set(hosts) - {h.name for h in farm.farm.hosts})
    if unknown:
        raise click.UsageError(f"not a host of {farm.path}: {', '.join(unknown)}")
    while True:
        answers = ask_farm(farm, path, hosts)
        if watch is not None and sys.stdout.isatty():
            click.clear()
        show(answers)
        if watch is None:
            break
        time.sleep(watch)
    if not all(a.reachable for a in answers):
        ctx.exit(1)


def _unreachable(answers: list[HostAnswer]) -> None:
    for a in answers:
        if not a.reachable:
            click.echo(shown(f"{a.host.name} ({a.host.address}): {a.error}"), err=True)


def _json(answers: list[HostAnswer], key: str) -> dict[str, Any]:
    return {"hosts": [{"name": a.host.name, "address": a.host.address, "error": a.error or None,
                       key: (a.data or {}).get(key) if key else a.data} for a in answers]}


@farm_group.command("status")
@json_option
@hosts_option
@watch_option
@click.pass_context
def farm_status_command(ctx: click.Context, as_json: bool, hosts: tuple[str, ...], watch: float | None) -> None:
    """Every host: up or not, drained, its VWNs by state, jobs in flight, capacity used; and the farm's totals."""

    def show(answers: list[HostAnswer]) -> None:
        if as_json:
            emit_json({"hosts": [{"name": a.host.name, "address": a.host.address, "error": a.error or None,
                                  "status": a.data} for a in answers]})
            return
        rows, totals = [], Counter[str]()
        for a in answers:
            if not a.reachable:
                rows.append([a.host.name, a.host.address, "UNREACHABLE", "-", "-", "-", "-", a.error])
                continue
            s, cap = a.data, a.data["capacity"]
            totals.update(s["vwns"])
            warnings = _warnings(s)
            rows.append([a.host.name, a.host.address, "DRAINED" if s["drained"] else "up",
                         ", ".join(f"{n} {state}" for state, n in sorted(s["vwns"].items())) or "none",
                         s["jobs_in_flight"], f"{cap['vwns']['used']}/{cap['vwns']['total']}",
                         f"{cap['vcpus']['used']}/{cap['vcpus']['total']}", "; ".join(warnings)])
        emit_table(["HOST", "ADDRESS", "STATE", "VWNS", "JOBS", "SLOTS", "VCPUS", "NOTES"], rows)
        up = sum(a.reachable for a in answers)
        vwns = ", ".join(f"{n} {state}" for state, n in sorted(totals.items())) or "none"
        click.echo(f"farm: {up} of {len(answers)} hosts answered; VWNs: {vwns}")

    _run(ctx, "/v1/status", hosts, watch, show)


def _warnings(status: dict[str, Any]) -> list[str]:
    notes = []
    if status.get("quarantined"):
        notes.append(f"{len(status['quarantined'])} VWN(s) quarantined")
    if status.get("stuck_jobs"):
        notes.append(f"{len(status['stuck_jobs'])} job(s) stuck")
    breaker = status.get("breaker", {})
    if breaker.get("host", "closed") != "closed":
        notes.append(f"boots failing ({breaker['host']})")
    notes += [f"boots of {t} failing" for t in breaker.get("types", {})]
    return notes


@farm_group.command("vms")
@json_option
@hosts_option
@watch_option
@click.pass_context
def farm_vms_command(ctx: click.Context, as_json: bool, hosts: tuple[str, ...], watch: float | None) -> None:
    """Every VWN of the farm, with the host it runs on."""

    def show(answers: list[HostAnswer]) -> None:
        if as_json:
            emit_json(_json(answers, "vwns"))
            return
        now = time.time()
        emit_table(["HOST", *VWN_COLUMNS],
                   [[a.host.name, *vwn_row(v, now)] for a in answers if a.reachable for v in a.data["vwns"]])
        _unreachable(answers)

    _run(ctx, "/v1/vwns", hosts, watch, show)


@farm_group.command("jobs")
@json_option
@hosts_option
@watch_option
@click.pass_context
def farm_jobs_command(ctx: click.Context, as_json: bool, hosts: tuple[str, ...], watch: float | None) -> None:
    """Every job the farm's daemons are placing or following, with its host."""

    def show(answers: list[HostAnswer]) -> None:
        if as_json:
            emit_json(_json(answers, "jobs"))
            return
        emit_table(["HOST", *JOB_COLUMNS],
                   [[a.host.name, *job_row(j)] for a in answers if a.reachable for j in a.data["jobs"]])
        _unreachable(answers)

    _run(ctx, "/v1/jobs", hosts, watch, show)


@farm_group.command("accounting")
@click.option("--since", "since", type=DURATION, default="1d", show_default=True,
              help='Jobs wnod was done with within this long ("12h", "7d").')
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV, one line per host and VM type.")
@json_option
@hosts_option
@click.pass_context
def farm_accounting_command(ctx: click.Context, since: float, as_csv: bool, as_json: bool,
                            hosts: tuple[str, ...]) -> None:
    """Every host's accounting ledger, summed up per host and VM type, and for the farm (host *):
    jobs and how they ended, VWNs made and reused, boot and wait times (seconds)."""
    farm = _farm(ctx)
    start = time.time() - since
    answers = read_ledgers(farm, start, hosts)
    rows = summarize({a.host.name: a.data["records"] for a in answers if a.reachable})
    if as_json:
        emit_json({"since": start, "rows": [r.as_dict() for r in rows],
                   "hosts": [{"name": a.host.name, "error": a.error or None,
                              "skipped": (a.data or {}).get("skipped", 0), "more": (a.data or {}).get("more", False)}
                             for a in answers]})
    else:
        header = ["HOST", "TYPE", "JOBS", *(o.upper() for o in OUTCOMES), "NEW", "REUSED", "REUSE%",
                  "BOOT_MEAN", "BOOT_P95", "WAIT_MEAN", "WAIT_P95"]
        table = [[r.host, r.vm_type, r.jobs, *(r.outcomes.get(o, 0) for o in OUTCOMES), r.new_vwns, r.reuses,
                  _percent(r.reuse_ratio), _seconds(r.boot_mean), _seconds(r.boot_p95), _seconds(r.wait_mean),
                  _seconds(r.wait_p95)] for r in rows]
        if as_csv:
            writer = csv.writer(sys.stdout, lineterminator="\n")
            writer.writerow(header)
            writer.writerows(table)
        else:
            emit_table(header, table)
        _unreachable(answers)
        for a in answers:
            if a.reachable and a.data["skipped"]:
                click.echo(f"{a.host.name}: {a.data['skipped']} line(s) of its ledger are not records, skipped", err=True)
            if a.reachable and a.data["more"]:
                click.echo(f"{a.host.name}: more records than one read takes; give a shorter --since", err=True)
    if not all(a.reachable for a in answers):
        ctx.exit(1)


def _percent(ratio: float | None) -> str:
    return "-" if ratio is None else f"{100 * ratio:.0f}%"


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"
