"""The engine against real Slurm daemons when things go wrong the way they do on a farm.

A whole engine runs here: the Slurm adapter on the local Slurm, and an in-memory hypervisor
whose "guest" is a slurmd under the VWN's name (started when the domain is made, killed with
its job steps when it is destroyed). The bait's Prolog is held by the test, which asks the
engine what ``wnod bait`` would ask; the engine's rounds run as the daemon runs them.

Each test checks, besides its own story, what the batch system must never show: two live
jobs bound (``ReqNodeList``) to one VWN name.
"""

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from wnod_core.chain import Link, ResolverChain
from wnod_core.commands import Result, Tools
from wnod_core.config.schema import EngineSection
from wnod_core.engine import Engine, HostPolicy, Parts, Store
from wnod_core.interfaces import BaitOutcome, Resolver
from wnod_core.model import HostCapacity, JobFacts, Resolved, ReusePolicy, VmType
from wnod_core.model.events import JobStep
from wnod_core.testing import build_plugin
from wnod_core.testing.fakes import FakeHypervisor

from wnod_slurm.adapter import SlurmBatchSystem
from wnod_slurm.bait import BAIT_SIDE
from wnod_slurm.commands import tools
from wnod_slurm.testing import BAIT, LocalSlurm, caught_on_bait, end_prolog

pytestmark = pytest.mark.slow

VM_TYPE = "sl"


class EveryJob(Resolver):
    def resolve(self, job: JobFacts) -> Resolved:
        return Resolved(VM_TYPE, "every job of these tests")


class Quiet:
    def vwn_changed(self, event: Any) -> None:
        pass

    def job_step(self, event: Any) -> None:
        pass


@attrs.define
class Bindings:
    """What squeue shows bound to each VWN name, sampled while a test runs."""

    slurm: LocalSlurm
    seen: list[str] = attrs.Factory(list)

    def sample(self) -> None:
        out = self.slurm.run(["squeue", "--all", "-h", "-o", "%i|%T|%n"], check=False).stdout
        by_name: dict[str, list[str]] = {}
        for line in out.splitlines():
            job_id, state, requested = (line.split("|") + ["", ""])[:3]
            if requested and state not in ("COMPLETED", "CANCELLED", "FAILED"):
                by_name.setdefault(requested, []).append(job_id)
        self.seen += [f"{name}: {jobs}" for name, jobs in by_name.items() if len(jobs) > 1]


@attrs.define
class SlurmHost:
    """One hypervisor host of the farm: its engine over the real Slurm, its rounds running."""

    slurm: LocalSlurm
    engine: Engine
    hypervisor: FakeHypervisor
    adapter: SlurmBatchSystem
    bindings: Bindings

    async def bait(self, job_id: str, timeout: float = 90.0) -> Any:
        """What ``wnod bait`` on the bait asks, and the Prolog glue ending with its answer."""
        answer = await asyncio.wait_for(self.engine.bait(job_id, BAIT), timeout)
        # What contrib/slurm/wnod-prolog does with wnod bait's exit code, before it exits 0.
        code = BAIT_SIDE.answer(answer.outcome, answer.reason).exit_code
        if code == 11:
            self.slurm.run(["scancel", job_id], check=False)
        elif code != 0:
            self.slurm.run(["scontrol", "requeue", job_id], check=False)
        end_prolog(self.slurm, job_id, 0)
        go = self.slurm.dir / "catch" / f"{job_id}.go"
        await self.until(lambda: not go.exists(), f"the bait's Prolog of job {job_id} took no answer", 15)
        return answer

    async def until(self, check: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            self.bindings.sample()
            answer = await asyncio.to_thread(check)
            if answer or time.monotonic() > deadline:
                assert answer, f"{what} (waited {timeout:g}s)"
                return answer
            await asyncio.sleep(0.5)

    def step(self, job_id: str) -> JobStep | None:
        flight = self.engine.parts.store.job(job_id)
        return flight.step if flight else None

    def facts(self, job_id: str) -> JobFacts:
        return self.adapter.job_facts(job_id)

    def done(self, job_id: str) -> bool:
        """Completed, exit 0 (wnod's facts say only "finished")."""
        shown = self.slurm.run(["scontrol", "-o", "show", "job", job_id], check=False).stdout
        return "JobState=COMPLETED" in shown and "ExitCode=0:0" in shown

    async def back_on_bait(self, job_id: str, timeout: float = 60.0) -> None:
        """A job wnod gave back reaches the bait again, after Slurm's requeue delay (cred_expire):
        sooner, the bait's slurmd would not run its Prolog again, and the job would run there
        outside any VWN."""
        bait = self.slurm.dir / "catch" / f"{job_id}.bait"
        try:
            await self.until(bait.exists, f"job {job_id} never came back to the bait", timeout)
        except AssertionError as exc:
            shown = self.slurm.run(["scontrol", "-o", "show", "job", job_id], check=False).stdout
            raise AssertionError(f"{exc}: Slurm shows {shown}") from None


def runs_of(slurm: LocalSlurm, job_id: str) -> list[str]:
    path = slurm.dir / "out" / f"{job_id}.runs"
    return path.read_text().split("\n")[:-1] if path.exists() else []


def command(slurm: LocalSlurm, seconds: int, first_run: int | None = None) -> str:
    """A job that notes where it ran (and how often Slurm had restarted it), then works
    `seconds`; `first_run` seconds instead the first time, as a job that checkpoints and resumes
    where it stopped."""
    runs = f"{slurm.dir}/out/$SLURM_JOB_ID.runs"
    work = f"sleep {seconds}"
    if first_run is not None:
        work = f"if [ $(/usr/bin/wc -l < {runs}) -le 1 ]; then sleep {first_run}; else {work}; fi"
    return f'echo "$SLURMD_NODENAME ${{SLURM_RESTART_COUNT:-0}}" >> {runs}; {work}'


@pytest.fixture
def make_host(slurm: LocalSlurm, record: Any, tmp_path: Path) -> Iterator[Callable[..., SlurmHost]]:
    """``make_host(runner=..., scontrol=..., **engine_keys)``: a host with its rounds running in
    the test's event loop (``asyncio.run`` of the test's story). Stopped after the test: its
    VWNs powered off, its jobs cancelled."""
    made: list[SlurmHost] = []

    def make(runner: Tools | None = None, scontrol: str = "", max_vwns: int = 2, **engine: Any) -> SlurmHost:
        name = slurm.take_host()
        options = {"slurm_conf": str(slurm.conf), "hasten_for": 60}
        if scontrol:
            options["scontrol"] = scontrol
        adapter = build_plugin(record, options, {}, tmp_path, path="batch.slurm")
        if runner is not None:
            adapter = SlurmBatchSystem(adapter.options, runner=runner)
        hypervisor = FakeHypervisor(on_create=lambda spec: slurm.start_node(spec.hostname),
                                    on_destroy=lambda spec: slurm.power_off(spec.hostname))
        vm_types = {VM_TYPE: VmType(name=VM_TYPE, image="sl.img", vcpus=1, memory="1GiB", boot_timeout="60s",
                                    reuse=ReusePolicy(max_reuses=10, idle_ttl="10m"))}
        settings = {"poll_interval": "0.5s", "boot_retries": 0, "bait_timeout": "120s", **engine}
        policy = HostPolicy(host=f"{name}.farm.test",
                            capacity=HostCapacity(vcpus=2, memory="2GiB", max_vwns=max_vwns),
                            engine=EngineSection(**settings), vm_types=vm_types)
        parts = Parts(policy=policy, store=Store(tmp_path / name / "wnod.db"), batch=adapter, hypervisor=hypervisor,
                      chain=ResolverChain([Link("every-job (resolvers[0])", EveryJob())], vm_types),
                      listeners=Quiet())
        host = SlurmHost(slurm, Engine(parts), hypervisor, adapter, Bindings(slurm))
        made.append(host)
        return host

    yield make
    for host in made:
        host.engine.close()
        for domain in host.hypervisor.domains():
            host.hypervisor.destroy(domain.vwn_id)
        for slot in (1, 2):
            slurm.power_off(host.engine.parts.policy.hostname(slot))


async def with_rounds(host: SlurmHost, story: Callable[[], Any]) -> Any:
    stop = asyncio.Event()
    rounds = asyncio.create_task(host.engine.run_rounds(stop))
    try:
        return await story()
    finally:
        stop.set()
        await rounds
        await host.engine.wait_idle()


def test_a_vwn_whose_slurmd_dies_under_its_job_is_replaced_and_the_job_completes(
    slurm: LocalSlurm, make_host: Callable[..., SlurmHost], jobs: list[str]
) -> None:
    host = make_host()
    job = caught_on_bait(slurm, jobs, command=command(slurm, 3, first_run=600))

    async def story() -> tuple[str, str]:
        first = await host.bait(job)
        assert first.outcome is BaitOutcome.MIGRATED, first
        await host.until(lambda: host.step(job) is JobStep.STARTED, f"job {job} never started on {first.hostname}")
        assert [r.split()[0] for r in runs_of(slurm, job)] == [first.hostname]

        slurm.kill_slurmd(first.hostname)  # the guest runs on; its batch daemon is gone
        # Slurm sets the node DOWN at SlurmdTimeout (30 s here) and requeues the job, still
        # bound to the dead name; wnod unbinds it, destroys the VWN and gives the job back.
        await host.back_on_bait(job, timeout=120)
        assert first.vwn_id not in {d.vwn_id for d in host.hypervisor.domains()}, "the broken VWN was kept"
        second = await host.bait(job)
        assert second.outcome is BaitOutcome.MIGRATED, second
        await host.until(lambda: host.done(job), f"job {job} never completed", timeout=90)
        await host.until(lambda: host.step(job) is JobStep.ENDED, f"wnod never saw job {job} end")
        return first.hostname, second.hostname

    first, second = asyncio.run(with_rounds(host, story))
    runs = runs_of(slurm, job)
    assert [r.split()[0] for r in runs] == [first, second], f"ran {runs}: on a VWN each time, never on the bait"
    assert int(runs[1].split()[1]) > int(runs[0].split()[1]), "the second run is Slurm's restart of the first"
    assert not host.bindings.seen, host.bindings.seen


@attrs.frozen
class ControllerRestartAfterRequeueHold(Tools):
    """Slurm's commands as the adapter runs them, but slurmctld is stopped right after the
    job is taken off its bait, mid-migration, and comes back `down_for` seconds later."""

    slurm: LocalSlurm | None = None
    down_for: float = 5.0
    fired: list[bool] = attrs.Factory(list)

    def run(self, tool: str, *args: str, input: str | None = None) -> Result:
        result = super().run(tool, *args, input=input)
        if "requeuehold" in args and not self.fired and self.slurm is not None:
            self.fired.append(True)
            self.slurm.stop_controller()
            threading.Timer(self.down_for, self.slurm.start_controller).start()
        return result


def test_slurmctld_restarted_during_a_migration_loses_no_job(
    slurm: LocalSlurm, make_host: Callable[..., SlurmHost], jobs: list[str]
) -> None:
    runner = ControllerRestartAfterRequeueHold(**attrs.asdict(tools(10, str(slurm.conf)), recurse=False), slurm=slurm)
    host = make_host(runner=runner)
    job = caught_on_bait(slurm, jobs, command=command(slurm, 3))

    async def story() -> list[Any]:
        answers = [await host.bait(job)]
        assert runner.fired, "the controller was never restarted"
        if answers[0].outcome is not BaitOutcome.MIGRATED:
            # The move failed with the controller away: given back, the job comes to the bait again.
            await host.back_on_bait(job, timeout=120)
            answers.append(await host.bait(job))
        await host.until(lambda: host.done(job), f"job {job} never completed", timeout=120)
        await host.until(lambda: host.step(job) is JobStep.ENDED, f"wnod never saw job {job} end")
        return answers

    answers = asyncio.run(with_rounds(host, story))
    assert answers[-1].outcome is BaitOutcome.MIGRATED, answers
    assert [r.split()[0] for r in runs_of(slurm, job)] == [answers[-1].hostname], "ran once, on its VWN"
    assert not host.bindings.seen, host.bindings.seen


SLOW_SCONTROL = """#!/bin/sh
# scontrol, but the first update that binds a job to a VWN takes {delay} s and then lands.
case "$*" in
*ReqNodeList=hv*) if [ -e {flag} ]; then /bin/rm -f {flag}; /bin/sleep {delay}; fi ;;
esac
exec /usr/bin/scontrol "$@"
"""


def test_a_migrate_that_lands_after_wnod_gave_up_binds_no_second_job(
    slurm: LocalSlurm, make_host: Callable[..., SlurmHost], jobs: list[str], tmp_path: Path
) -> None:
    wrapper, flag = tmp_path / "scontrol", tmp_path / "slow-once"
    wrapper.write_text(SLOW_SCONTROL.format(delay=6, flag=flag))
    wrapper.chmod(0o755)
    flag.touch()
    # One VWN's room: a second job can only have the first one's VWN, the one the late bind names.
    host = make_host(scontrol=str(wrapper), plugin_timeout="2s", max_vwns=1)
    one = caught_on_bait(slurm, jobs, command=command(slurm, 4))

    async def story() -> dict[str, list[Any]]:
        answers: dict[str, list[Any]] = {one: [await host.bait(one)]}
        assert not flag.exists(), "the slow bind never ran"
        assert answers[one][0].outcome is not BaitOutcome.MIGRATED, "wnod waited past plugin_timeout"
        two = caught_on_bait(slurm, jobs, command=command(slurm, 4))
        answers[two] = []
        pending = {one, two}
        deadline = time.monotonic() + 240
        while pending and time.monotonic() < deadline:
            for job in sorted(pending):
                if (slurm.dir / "catch" / f"{job}.bait").exists():
                    answers[job].append(await host.bait(job))
                if await asyncio.to_thread(host.done, job):
                    pending.discard(job)
            host.bindings.sample()
            await asyncio.sleep(0.5)
        assert not pending, f"jobs {sorted(pending)} never completed: {answers}"
        return answers

    answers = asyncio.run(with_rounds(host, story))
    for job, said in answers.items():
        runs = runs_of(slurm, job)
        assert len(runs) == 1 and runs[0].split()[0].startswith("hv"), f"job {job} ran {runs} after {said}"
    assert not host.bindings.seen, host.bindings.seen
