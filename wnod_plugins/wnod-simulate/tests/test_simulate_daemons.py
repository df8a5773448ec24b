"""The simulator predicts the daemons: one site config and one small trace, replayed by
``wnod simulate``'s own code and by real ``wnod daemon`` processes, decide every job alike.

Each simulated host is a real daemon over the shared fakes (one batch system, one hypervisor,
one SQLite file). The simulation runs first, with ``check=True``, which journals its decisions
(``Outcome.decisions``); then the jobs are put to the daemons in that order, each to the host
the simulation gave it, as the batch system of the simulation would have dispatched them:

- a job the simulation placed is submitted, dispatched to its host's bait and baited (the
  daemon's bait API, which ``wnod bait`` calls); the daemon must answer with the same VWN (the
  very one it reused, or a new one in the same slot) after evicting the same idle VWNs;
- a job the simulation ended is started on its VWN, then finished; the daemon must keep its VWN
  idle, or destroy it, as the simulation did.

Each step waits for the daemons to settle before the next: the daemons run on their own
clocks and rounds, and only the order of events is the simulation's. So the trace must have no
two VWNs of one host going idle in the same second (their order would then be the simulation's
tie-break, not the daemons' clock): asserted before the replay. Idle TTLs are the one rule left
out (a year here): the daemons expire VWNs on their own clocks.
"""

import random
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from wnod_core.model import HostCapacity
from wnod_core.plugins import Plugins
from wnod_core.records import Dirs
from wnod_core.site import Site
from wnod_core.testing.daemons import DaemonProcess, running
from wnod_core.testing.fakes import shared_plugin
from wnod_core.testing.fakes.shared import SharedFakeBatchSystem, SharedFakeHypervisor
from wnod_core.testing.fakes.shared_plugin import shared_fakes_config
from wnod_core.testing.requirements import missing_module, require

from wnod_simulate.boot import NO_TIME, BootModel, Fixed
from wnod_simulate.crosscheck import Left, Took
from wnod_simulate.farm import Outcome, SimJob, simulate
from wnod_simulate.policies import plan
from wnod_simulate.study import Study
from wnod_simulate.swf import read_trace

pytestmark = pytest.mark.slow

HOSTS = ("hv01", "hv02", "hv03")

SITE = """
[host]
name = "{name}.farm.test"
vcpus = 4
memory = "5GiB"
max_vwns = 3
baits = ["{name}-bait"]

[engine]
poll_interval = "50ms"

[daemon]
accounting = true

{shared_fakes}

[vm_types.vo1]
image = "vo1.img"
memory = "1GiB"
reuse = {{ max_reuses = 3, idle_ttl = "366d" }}

[vm_types.vo2]
image = "vo2.img"
vcpus = 2
memory = "2GiB"
reuse = {{ max_reuses = 1, idle_ttl = "366d", reuse_scope = "group" }}

[vm_types.grid]
image = "grid.img"
memory = "2GiB"
reuse = {{ max_reuses = 5, idle_ttl = "366d", reuse_scope = "type" }}

[[resolvers]]
use = "by-group"
map = {{ group1 = "vo1", group2 = "vo2" }}

[[resolvers]]
use = "default"
vm_type = "grid"
"""

GROUP_OF = {1: 1, 2: 1, 3: 2, 4: 2, 5: 3, 6: 3}
"""Each user's group: group1's jobs get vo1 VWNs, group2's vo2 ones, group3's grid ones."""


def write_trace(path: Path, jobs: int, seed: int) -> Path:
    """`jobs` jobs of six users in three groups, coming a few seconds apart and running minutes:
    more than three hosts hold at once, so that jobs wait, and VWNs are evicted and reused."""
    rng = random.Random(seed)
    lines = ["; Version: 2.2", f"; Made for the wnod-simulate cross-check with the daemons (seed {seed})"]
    submit = 0
    for number in range(1, jobs + 1):
        submit += rng.randint(1, 40)
        user = rng.randint(1, 6)
        fields = [number, submit, -1, rng.randint(30, 600), 1, -1, -1, 1, -1, -1, 1, user, GROUP_OF[user], -1, 1,
                  -1, -1, -1]
        lines.append(" ".join(map(str, fields)))
    path.write_text("\n".join(lines) + "\n")
    return path


def study_of(config: Path, trace: Path) -> Study:
    """The trace typed by the site's own resolver chain, on hosts its [host] section sizes: as
    ``wnod simulate`` makes it."""
    plugins = Plugins.load(allowed=frozenset({"wnod-resolvers"}), extra=[("wnod-shared-fakes", shared_plugin)])
    home = config.parent
    site = Site.open(config, plugins, Dirs(state=home / "state", cache=home / "cache", runtime=home / "run"))
    host = site.config.host
    capacity = HostCapacity(vcpus=host.vcpus, memory=host.memory, max_vwns=host.max_vwns)
    return Study.of(read_trace(trace), site.resolver_chain.resolve, site.config.vm_types, capacity)


def simulated(study: Study, dispatch: str) -> tuple[Outcome, tuple[SimJob, ...]]:
    chosen = plan("wnod", study.vm_types, study.capacity, len(HOSTS), study.jobs, BootModel(Fixed(30)), NO_TIME, 0,
                  dispatch)
    assert chosen.setup is not None
    return simulate(chosen.setup, chosen.jobs, check=True), tuple(chosen.jobs)


def no_ties(decisions: list) -> None:
    """No two VWNs of one host go idle in the same second: the simulation's order of them is then
    its tie-break (by id), which the daemons, whose clocks never tie, cannot follow."""
    idled = Counter((d.host, d.at) for d in decisions if isinstance(d, Left) and d.kept)
    assert max(idled.values()) == 1, [key for key, n in idled.items() if n > 1]


def until(what: str, check: Callable[[], object], daemon: DaemonProcess, timeout: float = 30) -> object:
    deadline = time.monotonic() + timeout
    while True:
        answer = check()
        if answer:
            return answer
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s; the daemon's log ends:\n" + \
            "\n".join(daemon.read_log().splitlines()[-30:])
        time.sleep(0.02)


class Lockstep:
    """The simulation's decisions, put to the daemons one after another."""

    def __init__(self, daemons: list[DaemonProcess], batch: SharedFakeBatchSystem, jobs: tuple[SimJob, ...]):
        self.daemons, self.batch, self.jobs = daemons, batch, jobs
        self.clients = [d.client() for d in daemons]
        self.vwn_ids: dict[str, str] = {}
        """The simulation's VWN ids to the daemons' ones, as each is made."""
        self.job_ids: dict[int, str] = {}
        self.evicted: Counter[int] = Counter()

    def vwns(self, host: int) -> dict[str, dict]:
        return {v["id"]: v for v in self.clients[host].get("/v1/vwns")["vwns"] if v["state"] != "destroyed"}

    def took(self, d: Took) -> None:
        job = self.jobs[d.job]
        if d.weights:  # the bait weights the daemons set are those the simulation dispatched by
            baits = [f"{h}-bait" for h in HOSTS]
            until(f"bait weights {d.weights} before job {d.job}",
                  lambda: tuple(self.batch.weight_of(b) for b in baits) == d.weights, self.daemons[d.host], timeout=10)
        before = self.vwns(d.host)
        facts = self.batch.submit(job.user, groups=(job.group,), queue="queue1")
        self.job_ids[d.job] = facts.job_id
        bait = f"{HOSTS[d.host]}-bait"
        self.batch.dispatch_to_bait(facts.job_id, bait)
        answer = self.clients[d.host].post("/v1/bait", {"job_id": facts.job_id, "bait_host": bait}, timeout=60)
        where = f"job {d.job} ({facts.job_id}, {job.vm_type} of {job.user}) on {HOSTS[d.host]}"
        assert answer["outcome"] == "migrated", f"{where}: the daemon answered {answer}, the simulation {d}"
        assert answer["vm_type"] == job.vm_type, where
        after = self.vwns(d.host)
        got = answer["vwn_id"]
        if d.reused:
            assert got == self.vwn_ids[d.vwn] and got in before, f"{where}: the daemon took {got}, the simulation {d}"
        else:
            assert got not in before, f"{where}: the daemon reused {got}, the simulation made {d.vwn}"
            assert after[got]["slot"] == d.slot, f"{where}: slot {after[got]['slot']}, the simulation's {d.slot}"
            self.vwn_ids[d.vwn] = got
        evicted = {v for v, vwn in before.items() if vwn["state"] == "idle" and v not in after}
        assert evicted == {self.vwn_ids[v] for v in d.victims}, f"{where}: the daemon evicted {evicted}, {d}"
        self.evicted[d.host] += len(evicted)
        self.batch.start(facts.job_id)

    def left(self, d: Left) -> None:
        daemon, vwn = self.daemons[d.host], self.vwn_ids[d.vwn]
        job_id = self.job_ids[d.job]
        until(f"VWN {vwn} running job {job_id}", lambda: self.vwns(d.host)[vwn]["state"] == "running", daemon)
        self.batch.finish(job_id)

        def settled() -> str:
            state = self.vwns(d.host).get(vwn, {"state": "gone"})["state"]
            return state if state in ("idle", "gone") else ""

        state = until(f"VWN {vwn} idle or gone after job {job_id}", settled, daemon)
        assert (state == "idle") == d.kept, f"VWN {vwn} is {state} after job {job_id}, the simulation's {d}"


@pytest.fixture
def daemons(tmp_path: Path, shared_fakes_dir: Path, shared_fakes_env: dict[str, str]) -> Iterator[list[DaemonProcess]]:
    require(missing_module("wnod_resolvers", "wnod-resolvers"))
    started = [DaemonProcess(tmp_path / name, SITE.format(name=name, shared_fakes=shared_fakes_config(shared_fakes_dir, auto_join=True)), shared_fakes_env)
               for name in HOSTS]
    with running(started):
        yield started


@pytest.mark.parametrize("dispatch", ["informed", "weights"])
def test_the_daemons_decide_every_job_as_the_simulation(tmp_path: Path, daemons: list[DaemonProcess],
                                                        shared_fakes_dir: Path, dispatch: str) -> None:
    """With the "weights" dispatch, also: before each job, the bait weights the daemons' rounds
    set (engine.steer_baits) are the simulation's, by which it chose the job's host."""
    study = study_of(daemons[0].config, write_trace(tmp_path / "crosscheck.swf", jobs=150, seed=7))
    assert {job.vm_type for job in study.jobs} == {"vo1", "vo2", "grid"}
    outcome, jobs = simulated(study, dispatch)
    took = [d for d in outcome.decisions if isinstance(d, Took)]
    assert len(took) == len(jobs) == 150
    assert all(len(d.weights) == len(HOSTS) for d in took) is (dispatch == "weights")
    no_ties(outcome.decisions)
    # The trace puts the policy to work: jobs waited, VWNs were reused and evicted on every host.
    assert max(s - job.submit for s, job in zip(outcome.starts, jobs, strict=True)) > 30
    for host in range(len(HOSTS)):
        assert any(d.reused for d in took if d.host == host)
        assert any(d.victims for d in took if d.host == host) or dispatch == "weights"
    if dispatch == "weights":
        assert len({d.weights for d in took}) > 5, "the weights changed as the hosts filled and emptied"

    step = Lockstep(daemons, SharedFakeBatchSystem(shared_fakes_dir), jobs)
    for d in outcome.decisions:
        step.took(d) if isinstance(d, Took) else step.left(d)

    for host, daemon in enumerate(daemons):
        ledger = daemon.client().get("/v1/accounting")["records"]
        mine = [d for d in took if d.host == host]
        assert Counter(r["outcome"] for r in ledger) == {"ended": len(mine)}, "no job requeued, refused or failed"
        said = {"boots": sum(not r["reused"] for r in ledger), "reuses": sum(r["reused"] for r in ledger),
                "evictions": step.evicted[host]}
        assert said == {"boots": sum(not d.reused for d in mine), "reuses": sum(d.reused for d in mine),
                        "evictions": sum(len(d.victims) for d in mine)}, HOSTS[host]
    # Every domain the hypervisor holds is an idle VWN of some daemon's records: none leaked.
    alive = {v for host in range(len(HOSTS)) for v, vwn in step.vwns(host).items() if vwn["state"] == "idle"}
    assert set(SharedFakeHypervisor(shared_fakes_dir).running()) == alive
