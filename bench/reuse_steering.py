"""How much the batch system's choice of bait decides VWN reuse: the same trace and farm under the
three dispatches of wnod-simulate, side by side in one run.

- blind: hosts in their order (Slurm with every bait at one Weight, as without engine.steer_baits);
- weights: by the bait weights the daemons set (engine.steer_baits; wnod_core.engine.steering),
  lightest first, as Slurm allocates by node Weight;
- informed: a host with an idle VWN for the job first, then room (what no batch system does: it
  would have to know each job's VM type and each host's VWNs; the bound of what steering can buy).

The site is wnod-simulate's example study (examples/lcg-study.toml), the trace the LCG grid log of
the Parallel Workloads Archive (LCG-2005-1.swf.gz from
https://www.cs.huji.ac.il/labs/parallel/workload/l_lcg/index.html), given with --trace or in
$WNOD_TRACE. Each farm size is run under each dispatch; reuse rate = jobs that found an idle VWN.

    .venv/bin/python bench/reuse_steering.py --trace LCG-2005-1.swf.gz --hosts 60 --hosts 100
"""

import argparse
import sys
import time

from lcg_args import add_trace_args, open_site, trace_problem
from wnod_simulate.run import Settings, run_policy
from wnod_simulate.study import Study
from wnod_simulate.swf import read_trace

DISPATCHES = ("blind", "weights", "informed")
"""wnod_simulate.farm.DISPATCH, in the order the table reads best: none, the daemons', the bound."""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_trace_args(parser)
    parser.add_argument("--hosts", type=int, action="append", help="repeatable; default: 100")
    args = parser.parse_args()
    problem = trace_problem(parser, args)
    if problem:
        print(problem, file=sys.stderr)
        return 1
    site, capacity = open_site(args.config)
    host = site.config.host
    study = Study.of(read_trace(args.trace), site.resolver_chain.resolve, site.config.vm_types, capacity)
    print(f"trace {args.trace.name}: {len(study.jobs)} jobs; hosts of {host.vcpus} vCPUs, {host.max_vwns} VWNs;"
          f" boot {Settings().boot.default}")
    print(f"{'hosts':>5}  {'dispatch':<8} {'reused':>7} {'boots':>7} {'evictions':>9} {'wait p95':>9}"
          f" {'utilisation':>11} {'took':>6}")
    for hosts in args.hosts or [100]:
        for dispatch in DISPATCHES:
            began = time.perf_counter()
            r = run_policy(study, "wnod", hosts, Settings(dispatch=dispatch))
            took = time.perf_counter() - began
            print(f"{hosts:>5}  {dispatch:<8} {r.reuses / r.jobs:>7.1%} {r.boots:>7} {r.evictions:>9}"
                  f" {r.wait.p95:>8.0f}s {r.utilisation:>11.1%} {took:>5.0f}s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
