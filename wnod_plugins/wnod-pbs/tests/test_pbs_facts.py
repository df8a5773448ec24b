"""Job facts and hosts from the emulated PBS: resources, VM type requests, the awkward cases."""

import json
import os
import pwd

import pytest
from wnod_core.errors import BatchSystemError, JobNotFound
from wnod_core.model import JobState


def test_facts_carry_the_request(emu, batch_system):
    resource = "other" if emu.flavour == "torque" else "vmtype"
    job = emu.qsub("-q", "short", "-l", f"ncpus=4,mem=2gb,walltime=01:30:00,{resource}=atlas", user="bob",
                   group="cms")
    if emu.flavour == "torque":
        batch_system = type(batch_system)(__import__("attrs").evolve(batch_system.options, vm_type_resource="other"))
    facts = batch_system.job_facts(job)
    assert (facts.user, facts.groups, facts.queue) == ("bob", ("cms",), "short")
    assert facts.cpus == 4
    assert facts.memory == 2 * 1024**3
    assert facts.walltime == 5400
    assert facts.requested_vm_type == "atlas"
    assert facts.state is JobState.PENDING and facts.exec_hosts == ()


def test_a_job_asked_for_by_its_sequence_number_alone(emu, batch_system):
    job = emu.qsub("-q", "short")
    short = job.split(".")[0]
    assert batch_system.job_facts(short).job_id == short


def test_array_subjobs_are_jobs_of_their_own(emu, batch_system):
    parent = emu.qsub("-q", "short", "-J" if emu.flavour == "openpbs" else "-t", "1-3")
    assert parent.split(".")[0].endswith("[]")
    sub = parent.replace("[]", "[2]")
    assert batch_system.job_facts(sub).state is JobState.PENDING
    emu.ctl("schedule", sub)
    facts = batch_system.job_facts(sub)
    assert facts.state is JobState.RUNNING and facts.job_id == sub
    if emu.flavour == "openpbs":
        assert batch_system.job_facts(parent).state is JobState.RUNNING  # B: begun


def test_a_finished_job_is_read_from_history(emu, batch_system):
    job = emu.qsub("-q", "short")
    emu.ctl("schedule", job)
    emu.ctl("finish", job)
    assert batch_system.job_facts(job).state is JobState.FINISHED


def test_a_deleted_job_reads_cancelled_on_openpbs(emu, batch_system):
    job = emu.qsub("-q", "short")
    emu.run("qdel", job)
    expected = JobState.CANCELLED if emu.flavour == "openpbs" else JobState.FINISHED
    assert batch_system.job_facts(job).state is expected


def test_without_history_a_finished_job_is_unknown(emu, batch_system):
    if emu.flavour != "openpbs":
        return
    emu.ctl("history", "off")
    job = emu.qsub("-q", "short")
    emu.run("qdel", job)
    with pytest.raises(JobNotFound):
        batch_system.job_facts(job)
    with pytest.raises(JobNotFound):  # gone from PBS's word as from the engine's: no silent success
        batch_system.fail(job, "already gone")


def test_a_multi_host_job_names_every_host_first_host_first(emu, batch_system):
    for name in ("vwn-1", "vwn-2"):
        emu.ctl("join", name)
    job = emu.qsub("-q", "short", "-l", "ncpus=2")
    spec = "(vwn-2)+(vwn-1)" if emu.flavour == "openpbs" else "vwn-2+vwn-1"
    assert emu.run("qrun", "-H", spec, job).returncode == 0
    raw = emu.job(job)["exec_host"]
    assert "+" in raw and ("*2" in raw or "0-1" in raw), raw
    assert batch_system.job_facts(job).exec_hosts == ("vwn-2", "vwn-1")


def test_an_unknown_node_is_not_ready_and_cannot_be_closed(emu, batch_system):
    assert batch_system.host_ready("no-such-node", 0.0) is False
    with pytest.raises(BatchSystemError, match="create node no-such-node"):
        batch_system.close_host("no-such-node")


def test_a_job_id_that_is_no_job_id_is_not_found(batch_system):
    with pytest.raises(JobNotFound):
        batch_system.job_facts("12; rm -rf /")


def test_a_host_name_that_is_no_host_name_is_refused(batch_system):
    with pytest.raises(BatchSystemError):
        batch_system.host_ready("-o", 0.0)


@pytest.mark.parametrize(
    "command, output",
    [
        ("qstat", '{"timestamp": 1, "pbs_version": "23", "pbs_server": "s", "Jobs": {"'),
        ("qstat", "<?xml version=\"1.0\"?>\n<Data><Job><Job_Id>1.s</Job_Id><job_state>Q"),
        ("qstat", "Job Id: 100.pbs-server.example.org\n    job_state = Z\n"),
        ("qstat", "Segmentation fault\n"),
    ],
)
def test_garbled_qstat_output_is_a_batch_system_error_quoting_it(emu, batch_system, tmp_path, command, output):
    job = emu.qsub("-q", "short")
    emu.garble(command, output, tmp_path)
    with pytest.raises(BatchSystemError) as err:
        batch_system.job_facts(job)
    assert "qstat" in str(err.value)
    assert not isinstance(err.value, JobNotFound)


def test_garbled_pbsnodes_output_is_a_batch_system_error(emu, batch_system, tmp_path):
    emu.garble("pbsnodes", '{"pbs_server": "s", "nodes": {"vwn-1": {"state": 7}}}', tmp_path)
    with pytest.raises(BatchSystemError, match="pbsnodes"):
        batch_system.host_ready("vwn-1", 0.0)


def test_a_failing_command_names_itself_and_quotes_its_stderr(emu, batch_system):
    job = emu.qsub("-q", "short")  # queued: migrate runs it on vwn-1 straight away
    refusal = "Resource temporarily unavailable" if emu.flavour == "torque" else "could not connect to MOM"
    with pytest.raises(BatchSystemError, match=f"qrun -H .*vwn-1.*{refusal}"):
        batch_system.migrate(job, "vwn-1")  # declared, but its MOM never joined


def test_a_missing_command_is_a_batch_system_error(build, tmp_path):
    adapter = build({"bin_dir": str(tmp_path / "nowhere")})
    with pytest.raises(BatchSystemError, match="cannot run it"):
        adapter.job_facts("1")


def test_the_owners_uid_is_looked_up_on_wnods_host_never_read_from_qstat(emu, batch_system):
    me = pwd.getpwuid(os.getuid()).pw_name
    mine, stranger = emu.qsub("-q", "short", user=me), emu.qsub("-q", "short", user="no-such-user-wnod")
    if emu.flavour == "openpbs":
        shown = json.loads(emu.run("qstat", "-f", "-F", "json", mine).stdout)["Jobs"]
        assert not any("uid" in name.lower() for job in shown.values() for name in job)
    assert batch_system.job_facts(mine).uid == os.getuid()
    assert batch_system.job_facts(stranger).uid is None
