"""``wnod simulate``: a thin click shim over run.py, with the site's own config and resolvers."""

from pathlib import Path

import click
from wnod_core.cli.context import CliContext, pass_wnod
from wnod_core.cli.output import emit_json, emit_table, json_option
from wnod_core.cli.types import DURATION
from wnod_core.errors import WnodError
from wnod_core.model import HostCapacity

from . import report
from .boot import BootModel, parse_boot_time
from .crosscheck import Disagreement
from .farm import DISPATCH
from .policies import POLICIES
from .run import Settings, compare, sweep
from .study import Study
from .swf import read_trace


class _BootSpec(click.ParamType):
    name = "[TYPE=]BOOT"

    def convert(self, value, param, ctx):  # type: ignore[no-untyped-def]
        try:
            parse_boot_time(value.rpartition("=")[2].strip())
        except ValueError as exc:
            self.fail(str(exc), param, ctx)
        return value


@click.command("simulate")
@click.argument("trace", type=click.Path(dir_okay=False))
@click.option("--hosts", type=click.IntRange(min=1), help="Hypervisor hosts of the simulated farm, each like this"
              " site's [host] section.")
@click.option("--policy", "policies", multiple=True, type=click.Choice(POLICIES),
              help="A policy to run (repeatable; default: all four, side by side).")
@click.option("--boot", "boots", multiple=True, type=_BootSpec(),
              help='How long a new VWN takes to boot and join: "90s", "uniform:1m-3m"; TYPE=... for one VM type'
                   " (repeatable). [default: 60s]")
@click.option("--reset", "reset", default="0s", show_default=True, type=_BootSpec(),
              help="How long a kept VWN takes to restart on a fresh scratch disk (types with scratch_reset).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the boot-time spreads.")
@click.option("--dispatch", type=click.Choice(DISPATCH), default="informed", show_default=True,
              help="How the batch system picks a host for a job: informed (one with an idle VWN for it, else"
                   " room: the best possible), weights (by the bait weights the daemons set, as Slurm does"
                   " with engine.steer_baits), blind (in host order, as Slurm does with equal weights).")
@click.option("--sweep", "do_sweep", is_flag=True, help="Find, for each policy, the fewest hosts that keep the p95"
              " wait at or under --max-p95.")
@click.option("--max-p95", type=DURATION, help='The sweep\'s bound on the p95 wait, e.g. "10m".')
@click.option("--max-hosts", type=click.IntRange(min=1), default=100_000, show_default=True,
              help="The sweep gives up past this many hosts.")
@click.option("--plot", "plot_file", type=click.Path(dir_okay=False), help="Also draw utilisation and queue length"
              " over time per policy to this PNG (needs wnod-simulate[plot]).")
@click.option("--check", is_flag=True, help="Ask wnod's own place() and worth_keeping() beside the simulation at"
              " every decision, and stop at the first difference (about 1 000 jobs/s: for small traces and"
              " farms, or a night).")
@json_option
@pass_wnod
def simulate_command(wnod: CliContext, trace: str, hosts: int | None, policies: tuple[str, ...],
                     boots: tuple[str, ...], reset: str, seed: int, dispatch: str, do_sweep: bool, max_p95: float | None,
                     max_hosts: int, plot_file: str | None, check: bool, as_json: bool) -> None:
    """Replay TRACE (SWF, gzip or plain) on a farm of --hosts hosts, each job typed by this site's
    resolver chain and placed by wnod's own placement code; compare wnod with no reuse, static
    partitioning and one ideal pool. See docs/simulate.md for what is modelled."""
    try:
        _simulate(wnod, trace, hosts, policies, boots, reset, seed, dispatch, do_sweep, max_p95, max_hosts,
                  plot_file, check, as_json)
    except Disagreement as exc:
        raise WnodError(f"the simulation decided otherwise than wnod's engine: {exc}. That is a bug of"
                        " wnod-simulate (its results would not predict the daemons'): please report it, with"
                        " this trace and config") from None


def _simulate(wnod: CliContext, trace: str, hosts: int | None, policies: tuple[str, ...], boots: tuple[str, ...],
              reset: str, seed: int, dispatch: str, do_sweep: bool, max_p95: float | None, max_hosts: int, plot_file: str | None,
              check: bool, as_json: bool) -> None:
    if do_sweep and max_p95 is None:
        raise click.UsageError("--sweep needs --max-p95")
    if not do_sweep and hosts is None:
        raise click.UsageError("give --hosts N (or --sweep --max-p95 SECONDS)")
    if plot_file and do_sweep:
        raise click.UsageError("--plot draws one run at --hosts, not a sweep")
    settings = Settings(BootModel.parse(boots), parse_boot_time(reset), seed, dispatch)
    unknown = sorted(set(settings.boot.by_type) - set(wnod.site.config.vm_types))
    if unknown:
        raise click.BadParameter(f"no such VM type in the config: {', '.join(unknown)}", param_hint="--boot")
    section = wnod.site.config.host
    study = Study.of(read_trace(trace), wnod.site.resolver_chain.resolve, wnod.site.config.vm_types,
                     HostCapacity(vcpus=section.vcpus, memory=section.memory, max_vwns=section.max_vwns))
    chosen = policies or POLICIES
    if do_sweep:
        assert max_p95 is not None
        points = [sweep(study, policy, max_p95, settings, max_hosts, check) for policy in chosen]
        if as_json:
            emit_json(report.sweep_json(study, settings, max_p95, points))
            return
        for line in report.study_lines(study, settings):
            click.echo(line)
        click.echo(f"fewest hosts keeping the p95 wait at or under {report._duration(max_p95)}:")
        emit_table(report.POLICY_HEADERS, [
            report.policy_row(p.result) if p.result else [p.policy, f"more than {max_hosts}"] + [""] * 8
            for p in points
        ])
        for p in points:
            if p.result and p.result.note:
                click.echo(f"{p.policy}: {p.result.note}")
        for line in report.checked_lines([p.result for p in points if p.result], sweep=True):
            click.echo(line)
        return
    assert hosts is not None
    results = compare(study, hosts, chosen, settings, timeline=bool(plot_file), check=check)
    if plot_file:
        from .plot import draw  # matplotlib only for the plot

        draw(results, Path(plot_file), study.capacity.vcpus)
    if as_json:
        emit_json(report.comparison_json(study, settings, results))
        return
    for line in report.study_lines(study, settings):
        click.echo(line)
    emit_table(report.POLICY_HEADERS, [report.policy_row(r) for r in results])
    click.echo("")
    emit_table(report.WAIT_HEADERS, report.wait_rows(results))
    for r in results:
        if r.note:
            click.echo(f"{r.policy}: {r.note}" if r.ran else f"{r.policy}: cannot run: {r.note}")
    for line in report.checked_lines(results):
        click.echo(line)
