"""Speed of `wnod simulate`: simulated jobs a second for each policy on a real grid trace.

The site is wnod-simulate's example study (examples/lcg-study.toml: hosts of 32 vCPUs and 32
VWNs, five VM types chosen by the real by-group and default resolvers); the trace is the LCG
grid log of the Parallel Workloads Archive (188 041 jobs; LCG-2005-1.swf.gz from
https://www.cs.huji.ac.il/labs/parallel/workload/l_lcg/index.html), given with --trace or in
$WNOD_TRACE. What is timed is each policy's run alone, simulation and summary, deciding every
placement as wnod's own place() does: not reading the trace or typing its jobs (printed apart).
Best of --rounds.

    .venv/bin/python bench/simulate.py --trace LCG-2005-1.swf.gz          # wnod, 100 hosts
    WNOD_TRACE=LCG-2005-1.swf.gz .venv/bin/python bench/simulate.py --policy wnod --policy static --hosts 200
    .venv/bin/python bench/simulate.py --trace my.swf.gz --config my-wnod.toml
"""

import argparse
import sys
import time

from lcg_args import add_trace_args, open_site, trace_problem
from wnod_simulate.policies import POLICIES
from wnod_simulate.run import Settings, run_policy
from wnod_simulate.study import Study
from wnod_simulate.swf import read_trace


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_trace_args(parser)
    parser.add_argument("--hosts", type=int, default=100)
    parser.add_argument("--policy", action="append", choices=POLICIES, help="repeatable; default: wnod")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    problem = trace_problem(parser, args)
    if problem:
        print(problem, file=sys.stderr)
        return 1
    began = time.perf_counter()
    trace = read_trace(args.trace)
    read = time.perf_counter() - began
    site, capacity = open_site(args.config)
    host = site.config.host
    began = time.perf_counter()
    study = Study.of(trace, site.resolver_chain.resolve, site.config.vm_types, capacity)
    typed = time.perf_counter() - began
    print(f"trace {args.trace.name}: {len(trace.jobs)} jobs read in {read:.2f} s, typed by the resolver chain"
          f" in {typed:.2f} s; {args.hosts} hosts of {host.vcpus} vCPUs, {host.max_vwns} VWNs")
    print(f"python {sys.version.split()[0]}; best of {args.rounds} rounds")
    for policy in args.policy or ["wnod"]:
        best = float("inf")
        for _ in range(args.rounds):
            began = time.perf_counter()
            result = run_policy(study, policy, args.hosts, Settings())
            best = min(best, time.perf_counter() - began)
        print(f"{policy:<9} {len(study.jobs) / best:10.0f} simulated jobs/s  ({best:.2f} s;"
              f" utilisation {result.utilisation:.1%}, p95 wait {result.wait.p95:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
