"""Scale benchmark: a farm of real `wnod daemon` processes, one per hypervisor host, under a batch
system's load, with no VM: the farm issue's 20 hosts and 10 000 jobs by default.

The daemons share one fake batch system and one fake hypervisor (wnod_core.testing's shared
fakes, one SQLite file). Every job is submitted at the start (or, with --arrivals, they come at
that rate); each host's bait has a job slot per VWN slot of the host; which host's free slot
takes the next job is --dispatch (pull, order, weights: see wnod_core.testing.farmload); each
slot dispatches the job it takes to its bait and asks the
host's daemon, as `wnod bait` does; a migrated job runs a moment in its VWN and ends; a job put
back goes to the end of the queue, for any host (wnod_core.testing.farmload). Watched all along
and checked at the end, the load fails if any happens: a VWN name running two jobs or bound to
two unfinished ones, a job not ended exactly once, a domain no daemon holds as an idle VWN.

Printed: the farm's throughput, the bait answers' latency (p50, p99, max), the jobs put back and
why, the reuse ratio, each host's share, and the most any daemon held resident.

    .venv/bin/python bench/farm_scale.py                       # 20 hosts, 10 000 jobs
    .venv/bin/python bench/farm_scale.py --hosts 5 --jobs 1000  # a quicker look
"""

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

from wnod_core.testing.daemons import DaemonProcess, running
from wnod_core.testing.distributions import shared_fakes_environ
from wnod_core.testing.farmload import DISPATCH, USERS, FarmLoad, LoadFailed, site_config


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=20, help="hypervisor hosts, a daemon each (default 20)")
    parser.add_argument("--jobs", type=int, default=10_000, help="jobs through the farm (default 10 000)")
    parser.add_argument("--slots", type=int, default=4, help="VWN slots per host, and bait slots (default 4)")
    parser.add_argument("--poll", default="500ms", help="the daemons' engine.poll_interval (default 500ms)")
    parser.add_argument("--run", type=float, default=0.5, help="the longest a job runs, in seconds (0.5)")
    parser.add_argument("--full-wait", default="10s",
                        help="the daemons' engine.full_wait: how long a job finding its host full waits (10s)")
    parser.add_argument("--dispatch", choices=DISPATCH, default="pull",
                        help="which host's free slot takes the next job: pull (whichever asks first), order (the"
                             " first host: Slurm at one weight), weights (the lightest bait, as the daemons weigh"
                             " them: engine.steer_baits) (default pull)")
    parser.add_argument("--arrivals", type=float, default=0.0,
                        help="jobs a second arriving (a Poisson stream); 0: all at the start (default)")
    parser.add_argument("--no-notice", dest="notice", action="store_false",
                        help="no epilog tells a daemon of its job's end: it finds it at its next round")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="wnod-farm-scale-") as scratch:
        tmp = Path(scratch)
        fakes = tmp / "fakes"
        fakes.mkdir()
        env = shared_fakes_environ(tmp / "site")
        names = [f"hv{n:02d}" for n in range(1, args.hosts + 1)]
        configs = {name: site_config(name, f"{name}-bait", fakes, slots=args.slots, poll=args.poll,
                                    full_wait=args.full_wait) for name in names}
        daemons = [DaemonProcess(tmp / name, configs[name], env) for name in names]
        with running(daemons, timeout=120):
            load = FarmLoad(daemons, [f"{name}-bait" for name in names], fakes, USERS, slots=args.slots,
                            run_time=(0.0, args.run), timeout=600, notice=args.notice,
                            watch_every=max(0.2, args.jobs / 10_000), dispatch=args.dispatch,
                            arrivals=args.arrivals)
            try:
                figures = load.run(args.jobs)
            except LoadFailed as exc:
                print(f"FAILED: {exc}", file=sys.stderr)
                return 1
    lat = list(figures.latencies)
    print(f"farm: {figures.hosts} hosts x {args.slots} VWN slots, engine.poll_interval {args.poll},"
          f" jobs run 0-{args.run:g} s, job ends {'told at once' if args.notice else 'found by the rounds'};"
          f" dispatch {args.dispatch}, jobs {f'arriving at {args.arrivals:g}/s' if args.arrivals else 'all at the start'}")
    print(f"jobs: {figures.jobs} ended once each, in {figures.seconds:.1f} s:"
          f" {figures.jobs_per_second:.1f} jobs/s")
    print(f"bait answers 'migrated': p50 {statistics.median(lat) * 1000:.0f} ms,"
          f" p99 {percentile(lat, 0.99) * 1000:.0f} ms, max {max(lat) * 1000:.0f} ms")
    print(f"bait requests: {figures.baits}; put back: {sum(figures.put_back.values())}"
          + "".join(f"\n  {n} x {reason}" for reason, n in figures.put_back.most_common(5)))
    print(f"reused VWNs: {figures.reused} of {figures.jobs} jobs ({figures.reused / figures.jobs:.1%})")
    shares = sorted(figures.jobs_per_host.values())
    print(f"jobs per host: {shares[0]} to {shares[-1]}")
    print(f"watched: {figures.watched} reads of every job and binding; 0 double-bound, 0 lost,"
          " every domain an idle VWN of some daemon")
    print(f"daemon memory: at most {figures.peak_rss_kib / 1024:.0f} MiB resident")
    return 0


if __name__ == "__main__":
    sys.exit(main())
