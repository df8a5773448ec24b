"""wnod's reasons in a job's comment, beside the comments PBS writes there itself: what the
owner reads, and what the adapter reads back, as a real OpenPBS 23.06 leaves them."""

import json

import pytest
from wnod_core.model import JobState

BAIT = "bait-1"
REASON = "wnod: no VWN: 'atlas' is full, try later"


def _openpbs_only(emu):
    if emu.flavour != "openpbs":
        pytest.skip("OpenPBS's server and scheduler write these comments; Torque's do not")


def test_a_quoted_comment_keeps_a_space_where_its_closing_quote_was(emu):
    job = emu.qsub("-q", "short")
    assert emu.run("qalter", "-W", 'comment="full, try later"', job).returncode == 0
    assert emu.job(job)["comment"] == "full, try later "
    # Unquoted, the last value runs to the end, commas and all (parse_equal_string).
    assert emu.run("qalter", "-W", "comment=full, try later", job).returncode == 0
    assert emu.job(job)["comment"] == "full, try later"


def test_a_reason_with_commas_and_quotes_reads_back_whole_and_trimmed(emu, batch_system):
    job = emu.qsub("-q", "short")
    batch_system.hold(job, 'no VWN: "atlas" is full, try later')
    assert emu.job(job)["comment"].endswith(" "), "the emulator keeps PBS's trailing space"
    assert batch_system.job_facts(job).reason == REASON


def test_a_failed_queued_job_shows_wnods_reason_and_how_pbs_ended_it(emu, batch_system):
    job = emu.qsub("-q", "short")
    batch_system.fail(job, REASON)
    comment = emu.job(job)["comment"]
    if emu.flavour == "openpbs":
        assert comment.endswith(" and terminated"), comment  # appended when it went to history
    facts = batch_system.job_facts(job)
    assert facts.state.is_over and facts.reason == REASON


def test_a_job_failed_in_its_prologue_runs_until_the_prologue_exits(emu, batch_system):
    _openpbs_only(emu)
    job = emu.qsub("-q", "short")
    emu.ctl("bait", job, BAIT)
    batch_system.fail(job, REASON)
    assert " and terminated by " in emu.job(job)["comment"]
    facts = batch_system.job_facts(job)
    assert facts.state is JobState.RUNNING and facts.reason == REASON
    batch_system.fail(job, REASON)  # idempotent while PBS waits for the prologue
    assert emu.ctl("prologue-exit", job, BAIT, "1").strip() == "deleted"
    facts = batch_system.job_facts(job)
    assert facts.state is JobState.CANCELLED and facts.reason == REASON


def test_the_server_says_when_it_sent_and_ran_a_job(emu):
    _openpbs_only(emu)
    job = emu.qsub("-q", "short")
    emu.ctl("bait", job, BAIT)
    sent = emu.job(job)
    assert sent["substate"] == 41, "PRERUN while the prologue runs"
    assert sent["comment"].startswith("Job was sent for execution at ")
    assert sent["comment"].endswith(f" on ({BAIT}:ncpus=1)")
    emu.ctl("prologue-exit", job, BAIT, "0")
    ran = emu.job(job)
    assert ran["substate"] == 42 and ran["comment"].startswith("Job run at ")


def test_the_scheduler_writes_over_a_queued_jobs_reason_but_not_a_held_ones(emu, batch_system):
    _openpbs_only(emu)
    queued, held = emu.qsub("-q", "short", "-l", "ncpus=64"), emu.qsub("-q", "short", "-l", "ncpus=64")
    emu.run("qalter", "-W", f'comment="{REASON}"', queued)
    batch_system.hold(held, REASON)
    for job in (queued, held):
        assert emu.run("pbs-emu", "schedule", job).returncode != 0  # no node has 64 cpus
    assert batch_system.job_facts(queued).reason == "Not Running: Not enough free nodes available"
    facts = batch_system.job_facts(held)
    assert facts.state is JobState.HELD and facts.reason == REASON


def test_qrls_removes_the_comment_once_no_hold_is_left(emu, batch_system):
    _openpbs_only(emu)
    job = emu.qsub("-q", "short", "-h")  # a user hold
    batch_system.hold(job, REASON)  # and wnod's
    emu.run("qrls", "-h", "u", job)
    assert batch_system.job_facts(job).reason == REASON, "still held (o): the comment stays"
    emu.run("qrls", "-h", "o", job)
    facts = batch_system.job_facts(job)
    assert facts.state is JobState.PENDING and facts.reason == ""


def test_wnods_mark_on_a_closed_node_outlives_its_mom_going_down(emu, batch_system):
    # PBS's server writes "node down: ..." only over a comment it wrote itself, not a manager's.
    _openpbs_only(emu)
    emu.ctl("join", "vwn-1")
    emu.ctl("join", "vwn-2")
    batch_system.close_host("vwn-1")
    emu.ctl("leave", "vwn-1")
    emu.ctl("leave", "vwn-2")
    nodes = json.loads(emu.run("pbsnodes", "-av", "-F", "json").stdout)["nodes"]
    assert nodes["vwn-1"]["comment"].startswith("wnod:")
    assert nodes["vwn-2"]["comment"] == "node down: communication closed"
    emu.ctl("join", "vwn-2")
    nodes = json.loads(emu.run("pbsnodes", "-av", "-F", "json").stdout)["nodes"]
    assert "comment" not in nodes["vwn-2"], "the server clears its own comment when the MOM is back"
