"""The emulated OpenPBS answers as a real OpenPBS 23.06 did where a review found it answering
otherwise: messages, exit statuses, what a node and a job show. And the adapter copes."""

import json

import pytest
from wnod_core.errors import BatchSystemError
from wnod_core.model import JobState

BAIT = "bait-1"
SERVER = "pbs-server.example.org"


@pytest.fixture
def emu(emulator):
    if emulator.flavour != "openpbs":
        pytest.skip("what a real OpenPBS answered")
    return emulator


@pytest.mark.parametrize("flag", ["-o", "-r"])
def test_marking_an_unknown_node_exits_1_and_names_it(emu, flag):
    done = emu.run("pbsnodes", flag, "no-such-node")
    assert (done.returncode, done.stderr) == (1, "Error marking node no-such-node - Unknown node \n")


def test_an_unknown_vnode_in_json_is_an_error_entry_and_no_node_to_the_adapter(emu, batch_system):
    done = emu.run("pbsnodes", "-v", "no-such-node", "-F", "json")
    assert done.returncode == 0
    assert json.loads(done.stdout)["nodes"] == {"no-such-node": {"Error": "Unknown node "}}
    assert batch_system.host_ready("no-such-node", 0.0) is False


@pytest.mark.parametrize("command", ["qrerun", "qhold", "qrls", "qdel", "qstat"])
def test_messages_name_the_full_job_id(emu, command):
    done = emu.run(command, *(["-f"] if command == "qstat" else []), "999")
    assert done.returncode == 153
    assert done.stderr == f"{command}: Unknown Job Id 999.{SERVER}\n"


def test_qrun_onto_a_down_vnode_cannot_reach_its_mom_and_counts_a_run(emu, batch_system):
    job = emu.qsub("-q", "short")
    done = emu.run("qrun", "-H", "(vwn-1)", job)  # declared, never joined
    assert (done.returncode, done.stderr) == (2, f"qrun: Server could not connect to MOM {job}\n")
    assert emu.job(job)["run_count"] == 1 and emu.job(job)["state"] == "Q"
    with pytest.raises(BatchSystemError, match="could not connect to MOM"):
        batch_system.migrate(job, "vwn-1")
    assert batch_system.job_facts(job).state is JobState.PENDING


def test_a_suspended_job_frees_its_node(emu, batch_system):
    job = emu.qsub("-q", "short", "-l", "ncpus=4")  # the whole bait
    emu.ctl("schedule", job)
    bait = {h.name: h for h in batch_system.hosts()}[BAIT]
    assert not bait.accepting and bait.jobs == (job,)
    emu.ctl("suspend", job)
    bait = {h.name: h for h in batch_system.hosts()}[BAIT]
    assert bait.accepting and bait.jobs == ()
    facts = batch_system.job_facts(job)
    assert facts.state is JobState.SUSPENDED and facts.exec_hosts == (BAIT,)


def test_a_deleted_running_job_ends_at_once_once_its_prologue_is_done(emu):
    job = emu.qsub("-q", "short")
    emu.ctl("bait", job, BAIT)
    emu.ctl("prologue-exit", job, BAIT, "0")
    assert emu.run("qdel", job).returncode == 0
    assert emu.job(job)["state"] == "F" and emu.job(job)["substate"] == 91

