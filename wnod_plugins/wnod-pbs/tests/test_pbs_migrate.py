"""The flow wnod drives, against the emulated PBS: a job dispatched to a bait, its VWN closed
before it joins, the job migrated to it and to it alone; the prologue's exit codes."""

import time

from wnod_core.interfaces import BaitOutcome, HookInput
from wnod_core.model import JobState

from wnod_pbs.bait import BAIT_SIDE, EXIT_CODES, PROLOGUE_EXIT

BAIT = "bait-1"


def _bait(emu, batch_system, job_id):
    """The scheduler dispatches the job to the bait; returns what the prologue passes wnod bait."""
    call = __import__("json").loads(emu.ctl("bait", job_id, BAIT))
    env = dict(call["env"])
    env.setdefault("WNOD_PBS_BAIT_HOST", call["host"])
    return BAIT_SIDE.read(HookInput(environ=env, argv=call["argv"]))


def test_a_job_on_its_bait_moves_to_its_closed_vwn_and_nowhere_else(emu, batch_system):
    job = emu.qsub("-q", "short", "-l", "ncpus=2")
    request = _bait(emu, batch_system, job)
    assert request.bait_host == BAIT
    assert batch_system.job_facts(job).exec_hosts == (BAIT,)

    made = time.time()
    batch_system.close_host("vwn-1")  # before the VWN exists
    assert batch_system.host_ready("vwn-1", made) is False
    emu.ctl("join", "vwn-1")
    assert batch_system.host_ready("vwn-1", made) is True, "a closed VWN that joined is ready for its job"
    assert batch_system.host_ready("vwn-1", time.time() + 60) is False, "not a VWN made after it joined"

    batch_system.migrate(job, "vwn-1")
    facts = batch_system.job_facts(job)
    assert facts.state is JobState.RUNNING and facts.exec_hosts == ("vwn-1",)
    # The prologue on the bait exits with what wnod bait's code means: PBS must not run the job there.
    code = PROLOGUE_EXIT[EXIT_CODES[BaitOutcome.MIGRATED]]
    assert emu.ctl("prologue-exit", job, BAIT, str(code)).strip().startswith("ignored")
    assert batch_system.job_facts(job).exec_hosts == ("vwn-1",)
    assert [c for c in emu.calls("qrun")] == [["qrun", "-H", "(vwn-1)", job]] if emu.flavour == "openpbs" else True


def test_no_other_job_lands_on_a_closed_vwn(emu, batch_system):
    batch_system.close_host("vwn-1")
    emu.ctl("join", "vwn-1")
    mine, other = emu.qsub("-q", "short"), emu.qsub("-q", "short")
    batch_system.migrate(mine, "vwn-1")
    emu.ctl("leave", BAIT)  # only the VWN and vwn-2 (not joined) remain
    assert emu.run("pbs-emu", "schedule", other).returncode != 0, "the scheduler put a job on a closed VWN"
    hosts = {h.name: h for h in batch_system.hosts()}
    assert hosts["vwn-1"].accepting is False
    assert hosts["vwn-1"].jobs == (mine,)


def test_migrate_twice_changes_nothing(emu, batch_system):
    job = emu.qsub("-q", "short")
    _bait(emu, batch_system, job)
    emu.ctl("join", "vwn-2")
    batch_system.migrate(job, "vwn-2")
    runs = emu.job(job)["run_count"]
    batch_system.migrate(job, "vwn-2")
    assert emu.job(job)["run_count"] == runs
    assert len(emu.calls("qrun")) == 1


def test_torque_opens_the_vwn_for_the_qrun_alone(emu, batch_system):
    if emu.flavour != "torque":
        return
    batch_system.close_host("vwn-1")
    emu.ctl("join", "vwn-1")
    job = emu.qsub("-q", "short")
    batch_system.migrate(job, "vwn-1")
    node = emu.state()["nodes"]["vwn-1"]
    assert node["offline"] is True and node["comment"].startswith("wnod:")
    assert batch_system.job_facts(job).exec_hosts == ("vwn-1",)


def test_released_runs_on_the_bait_retry_requeues_refused_aborts(emu, batch_system):
    released, retry, refused = emu.qsub("-q", "short"), emu.qsub("-q", "short"), emu.qsub("-q", "short")
    for job in (released, retry, refused):
        _bait(emu, batch_system, job)
    emu.ctl("prologue-exit", released, BAIT, str(PROLOGUE_EXIT[EXIT_CODES[BaitOutcome.RELEASED]]))
    emu.ctl("prologue-exit", retry, BAIT, str(PROLOGUE_EXIT[EXIT_CODES[BaitOutcome.RETRY]]))
    batch_system.fail(refused, "wnod: user alice may not run VM type atlas")  # the engine fails it first
    emu.ctl("prologue-exit", refused, BAIT, str(PROLOGUE_EXIT[EXIT_CODES[BaitOutcome.REFUSED]]))
    assert batch_system.job_facts(released).state is JobState.RUNNING
    assert batch_system.job_facts(released).exec_hosts == (BAIT,)
    assert batch_system.job_facts(retry).state is JobState.PENDING
    assert batch_system.job_facts(refused).state.is_over


def test_a_refused_job_left_running_is_aborted_by_the_prologue(emu, batch_system):
    job = emu.qsub("-q", "short")
    _bait(emu, batch_system, job)
    assert emu.ctl("prologue-exit", job, BAIT, "1").strip() == "aborted"
    assert batch_system.job_facts(job).state.is_over


def test_release_requeues_a_job_whose_vwn_is_given_up(emu, batch_system):
    batch_system.close_host("vwn-1")
    emu.ctl("join", "vwn-1")
    job = emu.qsub("-q", "short")
    batch_system.migrate(job, "vwn-1")
    emu.ctl("leave", "vwn-1")  # the VWN is destroyed
    batch_system.release(job, "its VWN is gone")
    facts = batch_system.job_facts(job)
    assert facts.state is JobState.PENDING and facts.exec_hosts == ()


def test_release_leaves_a_job_on_its_bait_alone(emu, batch_system):
    job = emu.qsub("-q", "short")
    _bait(emu, batch_system, job)
    batch_system.release(job, "site policy")
    assert batch_system.job_facts(job).exec_hosts == (BAIT,)
    assert emu.calls("qrerun") == []


def test_hold_of_a_job_on_its_bait_takes_it_off_and_holds_it(emu, batch_system):
    job = emu.qsub("-q", "short")
    _bait(emu, batch_system, job)
    batch_system.hold(job, "wnod: no VWN, see your admin")
    facts = batch_system.job_facts(job)
    assert facts.state is JobState.HELD and facts.reason == "wnod: no VWN, see your admin"

