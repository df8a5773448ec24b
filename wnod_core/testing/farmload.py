"""A batch system's load on a farm of real ``wnod daemon`` processes, and what must never
happen under it. Test tools, not product features: tests/farm/test_farm_scale.py runs a small
farm in CI, bench/farm_scale.py the farm issue's 20 hosts and 10 000 jobs.

The farm's daemons share one fake batch system and one fake hypervisor (``wnod_core.testing``'s
shared fakes, one SQLite file). The load plays the batch system's scheduler: every job is
submitted at the start; each host's bait has as many job slots as the host has VWN slots, and
each slot takes the next pending job, dispatches it to the bait and asks the host's daemon (its
bait API, as ``wnod bait`` does); a job migrated to a VWN is started there, runs a moment and
ends; a job put back to pending goes to the end of the queue, for any host. Which host's free slot
takes the next job is the load's `dispatch`: "pull", whichever slot asks first; "order", the
first host with a free slot (Slurm with every bait at one weight); "weights", the host whose bait
weighs least of those with a free slot, by the weights its daemon set (``engine.steer_baits``),
as Slurm allocates by node Weight. With `arrivals`, jobs come at that rate (a Poisson stream)
rather than all at the start. A watcher reads the
whole batch system all the while: no VWN host name may ever run two jobs or be bound to two
unfinished jobs. At the end every job must have ended exactly once, in a VWN, and every domain
of the hypervisor must be an idle VWN of some daemon's records.
"""

import random
import threading
import time
from collections import Counter, deque
from collections.abc import Sequence
from pathlib import Path

import attrs

from ..engine.flow import FAILED_HERE
from ..interfaces import BaitOutcome
from ..model import JobState
from .daemons import DaemonProcess
from .fakes.batch import EXIT_CODES
from .fakes.shared import SharedFakeBatchSystem, SharedFakeHypervisor
from .fakes.shared_plugin import shared_fakes_config

DISPATCH = ("pull", "order", "weights")

USERS = tuple(f"user{n}" for n in range(1, 13))
"""The load's job owners: the first six get el9 VWNs, the next four sl6 ones, the last two grid ones."""

SITE = """
[host]
name = "{name}.farm.test"
vcpus = {slots}
memory = "{memory}GiB"
max_vwns = {slots}
baits = ["{bait}"]

[engine]
poll_interval = "{poll}"
full_wait = "{full_wait}"

[daemon]
accounting = true

{shared_fakes}
[vm_types.el9]
image = "el9.img"
memory = "1GiB"
reuse = {{ max_reuses = 20 }}

[vm_types.sl6]
image = "sl6.img"
memory = "1GiB"
reuse = {{ max_reuses = 5, reuse_scope = "group" }}

[vm_types.grid]
image = "grid.img"
memory = "1GiB"
reuse = {{ max_reuses = 3, reuse_scope = "type" }}

[[resolvers]]
use = "by-user"
map = {{ {el9}, {sl6} }}

[[resolvers]]
use = "default"
vm_type = "grid"
"""


def site_config(name: str, bait: str, fakes: Path, *, slots: int, poll: str = "200ms", full_wait: str = "10s") -> str:
    """Host `name`'s wnod.toml for a load: `slots` VWNs of 1 vCPU and 1 GiB, three VM types whose
    reuse differs (by owner, by group, by type), over the shared fakes in `fakes`; `full_wait`
    as ``[engine] full_wait`` (its default)."""
    el9 = ", ".join(f'{u} = "el9"' for u in USERS[:6])
    sl6 = ", ".join(f'{u} = "sl6"' for u in USERS[6:10])
    return SITE.format(name=name, bait=bait, slots=slots, memory=slots, poll=poll, full_wait=full_wait, el9=el9, sl6=sl6,
                       shared_fakes=shared_fakes_config(fakes, auto_join=True))


@attrs.frozen
class Figures:
    """What a load came to, for a test to assert on and a benchmark to print."""

    hosts: int
    jobs: int
    seconds: float
    """From the first dispatch to the last job's end."""
    baits: int
    """Bait requests made: one per job, and one more per time a job was put back."""
    put_back: Counter[str]
    """Bait answers other than "migrated", by their reason."""
    latencies: tuple[float, ...]
    """Seconds from each bait request to its answer "migrated", in no order."""
    jobs_per_host: Counter[str]
    """Jobs that ended on each host's VWNs, by host (from the daemons' ledgers)."""
    reused: int
    """Jobs that ran in a VWN an earlier job had run in."""
    watched: int
    """Reads of the whole batch system by the watcher."""
    peak_rss_kib: int
    """The most any daemon held resident, as the watcher saw it."""

    @property
    def jobs_per_second(self) -> float:
        return self.jobs / self.seconds if self.seconds else 0.0


class LoadFailed(AssertionError):
    """Something that must never happen did: a job lost or ended twice, a VWN name serving two
    jobs, a VWN no record holds. The message says which, and where."""


class FarmLoad:
    """`jobs` jobs of `users` (each mapped by the daemons' config to a VM type) on the farm of
    `daemons`, whose host `i` has the bait `baits[i]` with `slots` job slots."""

    def __init__(self, daemons: Sequence[DaemonProcess], baits: Sequence[str], fakes: Path,
                 users: Sequence[str], *, slots: int, run_time: tuple[float, float] = (0.0, 0.3), seed: int = 0,
                 timeout: float = 120, notice: bool = True, watch_every: float = 0.2, dispatch: str = "pull",
                 arrivals: float = 0.0):
        if dispatch not in DISPATCH:
            raise ValueError(f"unknown dispatch {dispatch!r}; expected one of {', '.join(DISPATCH)}")
        self.dispatch, self.arrivals = dispatch, arrivals
        self.daemons, self.baits, self.fakes, self.users = list(daemons), list(baits), fakes, list(users)
        self.slots, self.run_time, self.timeout = slots, run_time, timeout
        self.notice, self.watch_every = notice, watch_every
        """`notice`: each job's end is told to its daemon at once, as an epilog would; else the
        daemon finds it at its next round. `watch_every`: seconds between the watcher's reads."""
        self.rng = random.Random(seed)
        self.batch = SharedFakeBatchSystem(fakes)
        self._queue: deque[str] = deque()
        self._lock = threading.Lock()
        self._unfinished = 0
        self._baits = 0
        self._put_back: Counter[str] = Counter()
        self._latencies: list[float] = []
        self._failures: list[str] = []
        self._done = threading.Event()
        self._waiting = [0] * len(self.baits)
        """Per host, its slots that wait for a job (with "order" and "weights")."""
        self._weights = [1] * len(self.baits)
        """Per host, its bait's weight as the batch system has it, read every few tens of ms."""
        self.weights_seen: set[tuple[int, ...]] = set()

    # -- the load -----------------------------------------------------------------------------------

    def run(self, jobs: int) -> Figures:
        owners = [self.rng.choice(self.users) for _ in range(jobs)]
        ids = [self.batch.submit(owner, groups=(owner,)).job_id for owner in owners]
        self._unfinished = jobs
        helpers = []
        if self.arrivals > 0:
            helpers.append(threading.Thread(target=self._arrive, args=(ids,), name="arrivals", daemon=True))
        else:
            self._queue.extend(ids)
        if self.dispatch == "weights":
            helpers.append(threading.Thread(target=self._read_weights, name="weights", daemon=True))
        pids = {d.process.pid for d in self.daemons if d.process is not None}
        watcher = Watcher(self.batch, set(self.baits), pids)
        watching = threading.Thread(target=watcher.watch, args=(self._done, self.watch_every), name="watcher",
                                    daemon=True)
        slots = [threading.Thread(target=self._slot, args=(host, self.rng.random()), name=f"bait{host}-{n}",
                                  daemon=True)
                 for host in range(len(self.daemons)) for n in range(self.slots)]
        began = time.monotonic()
        watching.start()
        for helper in helpers:
            helper.start()
        for slot in slots:
            slot.start()
        for slot in slots:
            slot.join()
        seconds = time.monotonic() - began
        self._done.set()
        watching.join()
        for helper in helpers:
            helper.join()
        failures = self._failures + watcher.failures
        if failures:
            more = f" (and {len(failures) - 20} more)" if len(failures) > 20 else ""
            raise LoadFailed("; ".join(failures[:20]) + more)
        ledgers = self._settled(ids)
        return Figures(hosts=len(self.daemons), jobs=jobs, seconds=seconds, baits=self._baits,
                       put_back=self._put_back, latencies=tuple(self._latencies),
                       jobs_per_host=Counter(r["host"] for r in ledgers if r["outcome"] == "ended"),
                       reused=sum(1 for r in ledgers if r["outcome"] == "ended" and r["reused"]),
                       watched=watcher.reads, peak_rss_kib=watcher.peak_rss_kib)

    def _arrive(self, ids: Sequence[str]) -> None:
        for job_id in ids:
            with self._lock:
                self._queue.append(job_id)
            if self._done.wait(self.rng.expovariate(self.arrivals)):
                return

    def _read_weights(self) -> None:
        while not self._done.wait(0.03):
            weights = [self.batch.weight_of(b) for b in self.baits]
            with self._lock:
                self._weights = weights
                self.weights_seen.add(tuple(weights))

    def _next(self, host: int) -> str | None:
        """The first pending job, for a slot of `host` when the dispatch gives it there; waiting
        while others may still come back; None once all ended."""
        ordered = self.dispatch != "pull"
        with self._lock:
            self._waiting[host] += 1
        while True:
            with self._lock:  # the count and the queue change together: no job goes where no slot waits
                if self._unfinished == 0 or self._failures:
                    self._waiting[host] -= 1
                    return None
                if self._queue and (not ordered or self._first_free() == host):
                    self._waiting[host] -= 1
                    return self._queue.popleft()
            time.sleep(0.005)

    def _first_free(self) -> int:
        """The host the batch system gives the next job to: of those with a slot free, the lightest
        bait (all weigh alike with "order"), then the first."""
        weights = self._weights if self.dispatch == "weights" else [1] * len(self.baits)
        return min((weights[h], h) for h, n in enumerate(self._waiting) if n)[1]

    def _slot(self, host: int, seed: float) -> None:
        rng = random.Random(seed)
        client = self.daemons[host].client(timeout=self.timeout)
        bait = self.baits[host]
        while (job := self._next(host)) is not None:
            try:
                self._one(job, bait, client, rng)
            except Exception as exc:  # noqa: BLE001 - any failure ends the load, said with its job
                with self._lock:
                    self._failures.append(f"job {job} on {bait}: {type(exc).__name__}: {exc}")

    def _one(self, job: str, bait: str, client, rng: random.Random) -> None:
        self.batch.dispatch_to_bait(job, bait)
        began = time.monotonic()
        answer = client.post("/v1/bait", {"job_id": job, "bait_host": bait})
        took = time.monotonic() - began
        outcome = BaitOutcome(answer["outcome"])
        with self._lock:
            self._baits += 1
        # What the bait's hook would tell the batch system by its exit code.
        self.batch.bait_exited(job, EXIT_CODES[outcome])
        if outcome is not BaitOutcome.MIGRATED:
            # A job put back for a bug of the daemon's is nothing lost, but a bug all the same.
            if outcome is not BaitOutcome.RETRY or answer["reason"].startswith(FAILED_HERE):
                raise LoadFailed(f"the daemon answered {outcome}: {answer['reason']}")
            with self._lock:
                self._put_back[answer["reason"]] += 1
                self._queue.append(job)
            return
        with self._lock:
            self._latencies.append(took)
        host = self.batch.start(job)
        if host != answer["hostname"]:
            raise LoadFailed(f"migrated to {answer['hostname']}, started on {host}")
        time.sleep(rng.uniform(*self.run_time))
        self.batch.finish(job)
        if self.notice:  # as a site's epilog tells the daemon (LSF's post-exec does): look now
            client.post(f"/v1/jobs/{job}/notice")
        with self._lock:
            self._unfinished -= 1

    # -- the end ------------------------------------------------------------------------------------

    def _settled(self, ids: Sequence[str]) -> list[dict]:
        """Once every daemon has done with every job: each ended exactly once, and every domain
        an idle VWN of some daemon's records. The daemons' ledgers, all together."""
        deadline = time.monotonic() + self.timeout
        clients = [d.client() for d in self.daemons]
        while True:
            status = [c.get("/v1/status") for c in clients]
            if all(s["jobs_in_flight"] == 0 and set(s["vwns"]) <= {"idle"} for s in status):
                break
            if time.monotonic() > deadline:
                left = "; ".join(f"{s['host']}: {s['jobs_in_flight']} jobs, {s['vwns']}" for s in status)
                raise LoadFailed(f"the daemons did not settle within {self.timeout:g} s: {left}")
            time.sleep(0.1)
        jobs, _ = self.batch.snapshot()
        over = Counter(jobs[i].state for i in ids)
        if over != {JobState.FINISHED: len(ids)}:
            raise LoadFailed(f"jobs not finished in the batch system: {dict(over)}")
        ledgers = [r for c in clients for r in _ledger(c)]
        ended = Counter(r["job_id"] for r in ledgers if r["outcome"] == "ended")
        twice = sorted(j for j, n in ended.items() if n > 1)
        never = sorted(set(ids) - set(ended))
        others = Counter(r["outcome"] for r in ledgers if r["outcome"] not in ("ended", "requeued"))
        if twice or never or others:
            raise LoadFailed(f"ledgers: ended twice {twice[:10]}, never ended {never[:10]},"
                             f" other outcomes {dict(others)}")
        vwns = {v["id"] for c in clients for v in c.get("/v1/vwns")["vwns"] if v["state"] == "idle"}
        domains = {d.vwn_id for d in SharedFakeHypervisor(self.fakes).domains()}
        if domains != vwns:
            raise LoadFailed(f"domains no daemon holds idle: {sorted(domains - vwns)[:10]};"
                             f" idle VWNs without a domain: {sorted(vwns - domains)[:10]}")
        return ledgers


def _ledger(client) -> list[dict]:
    records: list[dict] = []
    since = 0.0
    while True:
        page = client.get(f"/v1/accounting?since={since!r}")
        fresh = [r for r in page["records"] if r not in records]
        records += fresh
        if not page["more"] or not fresh:
            return records
        since = page["records"][-1]["at"]


class Watcher:
    """Reads the whole batch system again and again while a load runs: no VWN host name runs two
    jobs, or is bound to two unfinished ones; and the daemons' resident memory."""

    def __init__(self, batch: SharedFakeBatchSystem, baits: set[str], pids: set[int]):
        self.batch, self.baits, self.pids = batch, baits, pids
        self.failures: list[str] = []
        self.reads = 0
        self.peak_rss_kib = 0

    def watch(self, done: threading.Event, every: float = 0.2) -> None:
        while not done.wait(every):
            self.look()

    def look(self) -> None:
        """One read of every job and binding, at one instant."""
        jobs, bound = self.batch.snapshot()
        self.reads += 1
        running: dict[str, list[str]] = {}
        binding: dict[str, list[str]] = {}
        for job_id, job in jobs.items():
            if job.state is JobState.RUNNING:
                for host in job.exec_hosts:
                    running.setdefault(host, []).append(job_id)
            if job_id in bound and not job.state.is_over:
                binding.setdefault(bound[job_id], []).append(job_id)
        for what, by_host in (("runs", running), ("is bound to", binding)):
            for host, held in sorted(by_host.items()):
                if len(held) > 1 and host not in self.baits:  # a bait runs many hooks at once
                    self.failures.append(f"{host} {what} jobs {', '.join(sorted(held))} at once")
        for pid in self.pids:
            self.peak_rss_kib = max(self.peak_rss_kib, _rss_kib(pid))


def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0
