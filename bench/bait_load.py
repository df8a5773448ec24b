"""Load benchmark: many concurrent `bait` requests against one real `wnod daemon`.

The daemon runs as its own process over the shared fakes (a batch system and a
hypervisor whose state is a SQLite file: wnod_core.testing), so what is measured is
wnod itself — the API, the engine, its records — not a hypervisor. Two rounds run side
by side in one run: N plain API round trips (GET /v1/status, the floor no bait's answer can
beat), N jobs that each need a new VWN, then N jobs that reuse the VWNs the first left
idle. Printed: throughput, decision latency (p50, p99, max) per round, each round's rate
against the floor's, and the daemon's resident memory.

    .venv/bin/python bench/bait_load.py              # 1000 jobs at once
    .venv/bin/python bench/bait_load.py --jobs 200   # a quicker look
"""

import argparse
import asyncio
import json
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from wnod_core.testing.distributions import shared_fakes_environ
from wnod_core.testing.fakes.shared import SharedFakeBatchSystem
from wnod_core.testing.fakes.shared_plugin import shared_fakes_config

WNOD = Path(sys.executable).parent / "wnod"

CONFIG = """
[host]
name = "bench01.farm.test"
vcpus = {jobs}
memory = "{memory}GiB"
max_vwns = {jobs}

[engine]
poll_interval = "1s"
vwn_hostname = "{{host}}-vwn{{slot}}"

[daemon]
accounting = true

{shared_fakes}

[vm_types.el9]
image = "el9.img"
vcpus = 1
memory = "1GiB"
boot_timeout = "10m"
reuse = {{ max_reuses = 10, idle_ttl = "1h", scratch_reset = true }}

[[resolvers]]
use = "default"
vm_type = "el9"
"""


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def rss_kib(pid: int) -> dict[str, int]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0])
    return fields


async def bait_all(socket: Path, jobs: list[str]) -> tuple[float, list[float], dict[str, int]]:
    """POST /v1/bait for every job at once; (wall seconds, latencies, outcomes counted)."""
    connector = aiohttp.UnixConnector(path=str(socket), limit=0)
    timeout = aiohttp.ClientTimeout(total=3600)
    latencies: list[float] = []
    outcomes: dict[str, int] = {}
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def one(job_id: str) -> None:
            began = time.perf_counter()
            async with session.post("http://wnod/v1/bait", json={"job_id": job_id, "bait_host": "bait01"}) as r:
                answer = await r.json()
            latencies.append(time.perf_counter() - began)
            outcome = answer.get("outcome", f"HTTP {r.status}")
            outcomes[outcome] = outcomes.get(outcome, 0) + 1

        began = time.perf_counter()
        await asyncio.gather(*(one(job) for job in jobs))
        return time.perf_counter() - began, latencies, outcomes


async def round_trips(socket: Path, count: int) -> tuple[float, list[float]]:
    """GET /v1/status `count` times at once: the floor a bait's answer cannot beat (the API, the
    event loop, a record read), measured in the same run as the baits."""
    connector = aiohttp.UnixConnector(path=str(socket), limit=0)
    latencies: list[float] = []
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=3600)) as session:

        async def one() -> None:
            began = time.perf_counter()
            async with session.get("http://wnod/v1/status") as r:
                await r.read()
            latencies.append(time.perf_counter() - began)

        began = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(count)))
        return time.perf_counter() - began, latencies


def status(socket: Path) -> dict:
    out = subprocess.run(
        ["curl", "-s", "--unix-socket", str(socket), "http://wnod/v1/status"], capture_output=True, check=False
    )
    if out.returncode != 0:  # no curl: ask through the client the CLI uses
        from wnod_core.daemon.client import DaemonClient

        return DaemonClient(socket).get("/v1/status")
    return json.loads(out.stdout)


def report(name: str, jobs: int, wall: float, latencies: list[float], outcomes: dict[str, int]) -> None:
    print(
        f"{name:<10} {jobs:>6} jobs  {jobs / wall:8.1f} jobs/s  "
        f"p50 {statistics.median(latencies) * 1000:8.1f} ms  p99 {percentile(latencies, 0.99) * 1000:8.1f} ms  "
        f"max {max(latencies) * 1000:8.1f} ms  outcomes {outcomes}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000, help="jobs per round, all asked at once")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="wnod-bench-") as scratch:
        tmp = Path(scratch)
        fakes = tmp / "fakes"
        config = tmp / "wnod.toml"
        config.write_text(CONFIG.format(jobs=args.jobs, memory=args.jobs,
                                         shared_fakes=shared_fakes_config(fakes, auto_join=True)))
        env = {
            **shared_fakes_environ(tmp / "site"),
            "WNOD_STATE_DIR": str(tmp / "state"),
            "WNOD_RUNTIME_DIR": str(tmp / "run"),
            "WNOD_CACHE_DIR": str(tmp / "cache"),
        }
        socket = tmp / "run" / "wnod.sock"
        batch = SharedFakeBatchSystem(fakes)
        log = open(tmp / "daemon.log", "wb")
        daemon = subprocess.Popen([str(WNOD), "--config", str(config), "daemon"], env=env, stdout=log, stderr=log,
                                  stdin=subprocess.DEVNULL)
        try:
            while not socket.exists():
                if daemon.poll() is not None:
                    print((tmp / "daemon.log").read_text(), file=sys.stderr)
                    return 1
                time.sleep(0.05)
            print(f"wnod daemon pid {daemon.pid}; {rss_kib(daemon.pid)['VmRSS']} KiB resident at start")

            floor_wall, floor_latencies = asyncio.run(round_trips(socket, args.jobs))
            report("API floor", args.jobs, floor_wall, floor_latencies, {"GET /v1/status": args.jobs})

            fresh = [batch.submit(f"user{i % 50}").job_id for i in range(args.jobs)]
            for job in fresh:
                batch.dispatch_to_bait(job, "bait01")
            wall, latencies, outcomes = asyncio.run(bait_all(socket, fresh))
            report("new VWNs", args.jobs, wall, latencies, outcomes)
            new_p50 = statistics.median(latencies)
            print(f"new VWNs / API floor, jobs/s: {floor_wall / wall:.3f}")

            for job in fresh:  # every job runs and ends; its VWN is cleaned and kept idle
                batch.start(job)
                batch.finish(job)
            deadline = time.monotonic() + 600
            while status(socket)["vwns"].get("idle", 0) < args.jobs:
                if time.monotonic() > deadline:
                    print(f"VWNs did not all go idle: {status(socket)['vwns']}", file=sys.stderr)
                    return 1
                time.sleep(0.5)

            again = [batch.submit(f"user{i % 50}").job_id for i in range(args.jobs)]
            for job in again:
                batch.dispatch_to_bait(job, "bait01")
            wall, latencies, outcomes = asyncio.run(bait_all(socket, again))
            report("reused", args.jobs, wall, latencies, outcomes)
            print(f"reused / API floor, jobs/s: {floor_wall / wall:.3f}")
            print(f"reuse/new p50 ratio: {statistics.median(latencies) / new_p50:.2f}")
            memory = rss_kib(daemon.pid)
            print(f"daemon memory: {memory['VmRSS']} KiB resident now, {memory['VmHWM']} KiB at peak")
        finally:
            daemon.send_signal(signal.SIGTERM)
            try:
                daemon.wait(60)
            except subprocess.TimeoutExpired:
                daemon.kill()
                daemon.wait()
            log.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
