"""Taking a job off its host (qrerun): never a non-rerunnable one (``qsub -r n``), whose work a
rerun would lose, though OpenPBS's ``qrerun -W force`` would do it; and a rerunnable one even
when its MOM is gone, which a plain ``qrerun`` cannot."""

import logging

import pytest
from wnod_core.errors import BatchSystemError
from wnod_core.model import JobState

BAIT = "bait-1"


def _forced(emu):
    return [c for c in emu.calls("qrerun") if "force" in c or "-f" in c]


def test_migrate_refuses_a_non_rerunnable_job_on_its_bait_and_says_why(emu, batch_system):
    emu.ctl("join", "vwn-1")
    job = emu.qsub("-q", "short", "-r", "n")
    emu.ctl("bait", job, BAIT)
    with pytest.raises(BatchSystemError, match=r"not rerunnable \(qsub -r n\)"):
        batch_system.migrate(job, "vwn-1")
    assert emu.calls("qrerun") == [] and emu.calls("qrun") == []
    assert batch_system.job_facts(job).exec_hosts == (BAIT,), "left on its bait, for the engine to give back"


def test_a_non_rerunnable_job_is_shown_not_movable_and_a_default_one_movable(emu, batch_system):
    kept, default = emu.qsub("-q", "short", "-r", "n"), emu.qsub("-q", "short")
    emu.ctl("bait", kept, BAIT)
    assert batch_system.job_facts(kept).movable is False, "the engine refuses it before it boots a VWN for it"
    assert batch_system.job_facts(default).movable is True


def test_migrate_runs_a_queued_non_rerunnable_job_on_its_vwn(emu, batch_system):
    emu.ctl("join", "vwn-1")
    job = emu.qsub("-q", "short", "-r", "n")
    batch_system.migrate(job, "vwn-1")  # nothing to take off: no rerun
    facts = batch_system.job_facts(job)
    assert facts.state is JobState.RUNNING and facts.exec_hosts == ("vwn-1",)
    assert emu.calls("qrerun") == []


def test_hold_leaves_a_non_rerunnable_running_job_where_it_runs_and_says_so(emu, batch_system):
    job = emu.qsub("-q", "short", "-r", "n")
    emu.ctl("schedule", job)
    batch_system.hold(job, "wnod: no VWN for it")
    facts = batch_system.job_facts(job)
    assert facts.state is JobState.RUNNING and facts.exec_hosts == (BAIT,)
    assert "o" in emu.job(job)["hold"], "held once PBS requeues it"
    assert facts.reason.startswith("wnod: no VWN for it") and "not rerunnable" in facts.reason
    assert emu.calls("qrerun") == []


def test_release_leaves_a_non_rerunnable_job_on_its_given_up_vwn_and_says_so(emu, batch_system, caplog):
    batch_system.close_host("vwn-1")
    emu.ctl("join", "vwn-1")
    job = emu.qsub("-q", "short", "-r", "n")
    batch_system.migrate(job, "vwn-1")
    with caplog.at_level(logging.WARNING):
        batch_system.release(job, "wnod gave up on moving it to a VWN")
    facts = batch_system.job_facts(job)
    assert facts.state is JobState.RUNNING and facts.exec_hosts == ("vwn-1",)
    assert "not rerunnable" in facts.reason
    assert job in caplog.text and "not rerunnable" in caplog.text
    assert emu.calls("qrerun") == []


def test_a_rerunnable_job_whose_mom_is_gone_is_forced_off_its_given_up_vwn(emu, batch_system):
    batch_system.close_host("vwn-1")
    emu.ctl("join", "vwn-1")
    job = emu.qsub("-q", "short")
    batch_system.migrate(job, "vwn-1")
    emu.ctl("leave", "vwn-1")  # the VWN is destroyed: its MOM answers no more
    batch_system.release(job, "its VWN is gone")
    assert batch_system.job_facts(job).state is JobState.PENDING
    assert _forced(emu), "a plain qrerun cannot reach the MOM"


def test_a_rerunnable_job_on_its_bait_is_taken_off_without_force(emu, batch_system):
    if emu.flavour != "openpbs":
        pytest.skip("Torque's qrerun -f never overrides Rerunable = False: the adapter always uses it")
    emu.ctl("join", "vwn-1")
    job = emu.qsub("-q", "short")
    emu.ctl("bait", job, BAIT)
    batch_system.migrate(job, "vwn-1")
    assert batch_system.job_facts(job).exec_hosts == ("vwn-1",)
    assert emu.calls("qrerun") == [["qrerun", job]]


# -- the emulator's qrerun, as OpenPBS's (src/server/req_rerun.c) and Torque's --------------------


def _force(emu):
    return ["-f"] if emu.flavour == "torque" else ["-W", "force"]


def _exits(done, openpbs_code, emu):
    # OpenPBS exits with pbs_errno's low 8 bits; Torque's codes are not checked against a real one.
    return done.returncode == openpbs_code if emu.flavour == "openpbs" else done.returncode != 0


def test_qrerun_refuses_a_non_rerunnable_job_and_only_openpbs_force_overrides_it(emu):
    job = emu.qsub("-q", "short", "-r", "n")
    emu.ctl("schedule", job)
    plain = emu.run("qrerun", job)
    assert _exits(plain, 190, emu) and plain.stderr == f"qrerun: job is not rerunnable {job}\n"
    forced = emu.run("qrerun", *_force(emu), job)
    if emu.flavour == "torque":
        assert forced.returncode != 0 and emu.job(job)["state"] == "R"
    else:
        assert forced.returncode == 0 and emu.job(job)["state"] == "Q"
        assert emu.job(job)["exit_status"] == -11  # JOB_EXEC_RERUN


def test_a_plain_qrerun_needs_the_jobs_mom_and_force_does_not(emu):
    job = emu.qsub("-q", "short")
    emu.ctl("schedule", job)
    emu.ctl("leave", BAIT)
    plain = emu.run("qrerun", job)
    assert _exits(plain, 222, emu) and plain.stderr == f"qrerun: Server could not connect to MOM {job}\n"
    assert emu.job(job)["state"] == "R"
    forced = emu.run("qrerun", *_force(emu), job)
    assert forced.returncode == 0 and emu.job(job)["state"] == "Q"


def test_openpbs_qrerun_of_a_queued_job_is_refused_for_its_state(emu):
    if emu.flavour != "openpbs":
        pytest.skip("OpenPBS's rule: the job must be running, forced or not")
    job = emu.qsub("-q", "short")
    done = emu.run("qrerun", "-W", "force", job)
    assert done.returncode == 168 and done.stderr == f"qrerun: Request invalid for state of job {job}\n"


def test_a_prologue_requeue_sets_exit_status_minus_3(emu):
    job = emu.qsub("-q", "short")
    emu.ctl("bait", job, BAIT)
    assert emu.ctl("prologue-exit", job, BAIT, "2").strip() == "requeued"
    assert emu.job(job)["exit_status"] == -3  # JOB_EXEC_RETRY
    assert emu.job(job)["state"] == "Q"
