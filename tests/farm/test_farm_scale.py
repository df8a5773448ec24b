"""The farm under a batch system's load, at a size CI affords: real daemons, one per host, over
one fake batch system and hypervisor; every job ends once, in a VWN, no VWN name ever serves
two jobs, and no VWN is left that no daemon holds (bench/farm_scale.py runs the farm issue's
20 hosts and 10 000 jobs, and prints its figures)."""

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from wnod_core.engine.steering import weight
from wnod_core.interfaces import VwnSpec
from wnod_core.model import VmType
from wnod_core.testing.daemons import DaemonProcess, running
from wnod_core.testing.fakes.shared import SharedFakeBatchSystem, SharedFakeHypervisor
from wnod_core.testing.farmload import USERS, FarmLoad, LoadFailed, Watcher, site_config
from wnod_core.testing.requirements import missing_module, require

pytestmark = pytest.mark.slow

HOSTS = 4
SLOTS = 3


@pytest.fixture
def hosts(tmp_path: Path, shared_fakes_dir: Path, shared_fakes_env: dict[str, str]) -> Iterator[list[DaemonProcess]]:
    require(missing_module("wnod_resolvers", "wnod-resolvers"))
    daemons = [DaemonProcess(tmp_path / f"hv{n:02d}", site_config(f"hv{n:02d}", f"hv{n:02d}-bait", shared_fakes_dir,
                                                                  slots=SLOTS, poll="100ms"), shared_fakes_env)
               for n in range(1, HOSTS + 1)]
    with running(daemons):
        yield daemons


def load(hosts: list[DaemonProcess], fakes: Path) -> FarmLoad:
    return FarmLoad(hosts, [f"hv{n:02d}-bait" for n in range(1, HOSTS + 1)], fakes, USERS, slots=SLOTS,
                    run_time=(0.0, 0.2), seed=1)


def test_every_job_ends_once_in_a_vwn_of_its_own(hosts: list[DaemonProcess], shared_fakes_dir: Path) -> None:
    figures = load(hosts, shared_fakes_dir).run(400)
    assert figures.jobs == 400 and sum(figures.jobs_per_host.values()) == 400
    assert len(figures.jobs_per_host) == HOSTS  # every host took its share
    assert figures.baits == 400 + sum(figures.put_back.values())
    assert len(figures.latencies) == 400
    assert figures.reused > 0 and figures.watched > 0


def test_jobs_dispatched_by_the_weights_the_daemons_set_end_once_each(hosts: list[DaemonProcess],
                                                                      shared_fakes_dir: Path) -> None:
    """The scheduler that honours bait weights (bench/farm_scale.py --dispatch weights): the
    weights it reads are the daemons' own, changing as their VWNs do, and nothing is lost."""
    farm = FarmLoad(hosts, [f"hv{n:02d}-bait" for n in range(1, HOSTS + 1)], shared_fakes_dir, USERS, slots=SLOTS,
                    run_time=(0.0, 0.2), seed=2, dispatch="weights", arrivals=40)
    figures = farm.run(150)
    assert figures.jobs == 150 and figures.reused > 0
    assert len(farm.weights_seen) > 3, farm.weights_seen
    # The empty hosts' weight, then hosts full of idle VWNs (a job there evicts one): as the VWNs went.
    seen = {w for weights in farm.weights_seen for w in weights}
    assert weight(0, SLOTS) in seen and any(weight(0, 1) < w <= weight(1, 0) for w in seen), sorted(seen)


def test_the_next_job_goes_to_the_lightest_bait_with_a_slot_free_or_by_order_the_first(tmp_path: Path) -> None:
    weighted = FarmLoad([], ["a", "b", "c"], tmp_path, USERS, slots=1, dispatch="weights")
    ordered = FarmLoad([], ["a", "b", "c"], tmp_path, USERS, slots=1, dispatch="order")
    for farm in (weighted, ordered):
        farm._waiting, farm._weights = [1, 1, 0], [300, 199, 1]  # c weighs least, but has no slot free
    assert (weighted._first_free(), ordered._first_free()) == (1, 0)
    weighted._weights = [199, 199, 1]
    assert weighted._first_free() == 0, "equal weights: the first host"


def test_an_unknown_dispatch_is_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown dispatch 'random'"):
        FarmLoad([], ["hv01-bait"], tmp_path, USERS, slots=1, dispatch="random")


def test_a_vwn_name_serving_two_jobs_is_caught(tmp_path: Path) -> None:
    # The watcher is what says "0 double-bound": two jobs running on one VWN's name, or two
    # unfinished ones bound to it, fail the load, naming the host and both jobs; a bait runs many.
    batch = SharedFakeBatchSystem(tmp_path)
    watcher = Watcher(batch, {"hv01-bait"}, set())
    batch.register_host("hv01-vwn1")
    jobs = [batch.submit("user1").job_id for _ in range(4)]
    for job in jobs[:2]:
        batch.dispatch_to_bait(job, "hv01-bait")
    watcher.look()
    assert watcher.failures == []
    batch.start(jobs[2], "hv01-vwn1")
    batch.start(jobs[3], "hv01-vwn1")
    batch.migrate(jobs[0], "hv01-vwn2")
    batch.migrate(jobs[1], "hv01-vwn2")
    watcher.look()
    assert watcher.failures == [f"hv01-vwn1 runs jobs {jobs[2]}, {jobs[3]} at once",
                                f"hv01-vwn2 is bound to jobs {jobs[0]}, {jobs[1]} at once"]


def test_a_domain_no_daemon_holds_fails_the_load(hosts: list[DaemonProcess], shared_fakes_dir: Path) -> None:
    # A VWN left behind, here of a host no daemon runs: every job ends, but the hypervisor holds
    # a domain that is no daemon's idle VWN.
    el9 = VmType(name="el9", image="el9.img", memory=2**30)
    SharedFakeHypervisor(shared_fakes_dir).create(VwnSpec(vwn_id="hv99-s1-leaked", vm_type=el9,
                                                          host="hv99.farm.test", hostname="hv99-vwn1"))
    with pytest.raises(LoadFailed, match=r"domains no daemon holds idle: \['hv99-s1-leaked'\]"):
        load(hosts, shared_fakes_dir).run(12)


def test_a_job_put_back_for_a_bug_of_the_daemon_fails_the_load(tmp_path: Path) -> None:
    # Nothing is lost (the job goes back to pending), but the daemon's answer says it broke:
    # the load that found the eviction race counted such an answer as one more put back.
    class Broken:
        def post(self, path: str, body: dict | None = None) -> dict:
            return {"outcome": "retry", "reason": "wnod failed on this host: IllegalTransition: VWN hv08-s1 is"
                    " no longer destroying", "vm_type": "el9", "vwn_id": "", "hostname": ""}

    farm = FarmLoad([], ["hv01-bait"], tmp_path, USERS, slots=1)
    job = farm.batch.submit("user1").job_id
    with pytest.raises(LoadFailed, match="the daemon answered retry: wnod failed on this host: IllegalTransition"):
        farm._one(job, "hv01-bait", Broken(), random.Random(0))
