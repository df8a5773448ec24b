"""What the benchmarks over a workload trace share: its --trace and --config arguments, and the
site's host as the simulation's capacity."""

import argparse
import os
from pathlib import Path

from wnod_core.model import HostCapacity
from wnod_core.paths import resolve_dirs
from wnod_core.plugins import Plugins
from wnod_core.site import Site

ROOT = Path(__file__).resolve().parents[1]
STUDY = ROOT / "wnod_plugins" / "wnod-simulate" / "examples" / "lcg-study.toml"
ARCHIVE = "https://www.cs.huji.ac.il/labs/parallel/workload/l_lcg/index.html"


def add_trace_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--trace", type=Path, default=os.environ.get("WNOD_TRACE") or None,
                        help="an SWF trace, gzip or plain (default: $WNOD_TRACE)")
    parser.add_argument("--config", type=Path, default=STUDY, help="the site's wnod.toml (default: the example study)")


def trace_problem(parser: argparse.ArgumentParser, args: argparse.Namespace) -> str:
    """Why the benchmark cannot run on the arguments given ("" when it can); no trace at all is a usage error."""
    if args.trace is None:
        parser.error(f"give the trace: --trace FILE or WNOD_TRACE=FILE (the LCG log of the Parallel Workloads"
                     f" Archive: {ARCHIVE})")
    return "" if args.trace.exists() else f"cannot run: no trace at {args.trace}"


def open_site(config: Path) -> tuple[Site, HostCapacity]:
    site = Site.open(config, Plugins.load(), resolve_dirs())
    host = site.config.host
    return site, HostCapacity(vcpus=host.vcpus, memory=host.memory, max_vwns=host.max_vwns)
