"""The readers of PBS output: garbage and truncated output give ``Garbled`` (which the adapter
turns into a BatchSystemError quoting the command), never another exception or a wrong answer."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from wnod_core.commands import Result
from wnod_core.errors import BatchSystemError, Garbled
from wnod_core.model import JobState

from wnod_pbs import openpbs, torque
from wnod_pbs.formats import duration_seconds, exec_hosts, is_job_id, size_bytes

# From OpenPBS qstat(1B) / src/cmds/qstat.c: the JSON shape of `qstat -f -F json` (values made up).
OPENPBS_JOB = {
    "timestamp": 1717000000,
    "pbs_version": "23.06.06",
    "pbs_server": "pbs.example.org",
    "Jobs": {
        "1234[7].pbs.example.org": {
            "Job_Name": "sim",
            "Job_Owner": "alice@login1.example.org",
            "job_state": "R",
            "queue": "workq",
            "exec_host": "node1/0*2+node2/1",
            "exec_vnode": "(node1:ncpus=2)+(node2:ncpus=1)",
            "Hold_Types": "n",
            "Resource_List": {"ncpus": 3, "mem": "4gb", "walltime": "02:00:00", "vmtype": "atlas",
                              "select": "1:ncpus=2+1:ncpus=1", "nodect": 2, "place": "scatter"},
            "substate": 42,
            "Variable_List": {"PBS_O_HOME": "/home/alice"},
            "euser": "alice",
            "egroup": "atlas",
            "run_count": 1,
        }
    },
}

# From Torque src/cmds/qstat.c (create_full_job_xml): one line, resources nested.
TORQUE_XML = (
    '<?xml version="1.0"?>\n<Data><Job><Job_Id>88.torque.example.org</Job_Id><Job_Name>STDIN</Job_Name>'
    "<Job_Owner>bob@login1</Job_Owner><job_state>R</job_state><queue>batch</queue>"
    "<exec_host>n1/0-3+n2/0</exec_host><Resource_List><nodes>2:ppn=4</nodes><walltime>10:00</walltime>"
    "<mem>512mb</mem></Resource_List><euser>bob</euser><egroup>cms</egroup>"
    "<comment>hello &amp; bye</comment></Job></Data>\n"
)

# From Torque src/cmds/qstat.c (prt_attr): long values wrapped onto tab-led lines.
TORQUE_TEXT = (
    "Job Id: 89.torque.example.org\n"
    "    Job_Name = STDIN\n"
    "    Job_Owner = carol@login1\n"
    "    job_state = Q\n"
    "    queue = batch\n"
    "    Resource_List.nodes = 1:ppn=2\n"
    "    Resource_List.walltime = 01:00:00\n"
    "    Variable_List = PBS_O_QUEUE=batch,PBS_O_HOME=/home/carol,PBS_O_LOGNAME=carol,\n"
    "\tPBS_O_PATH=/usr/bin:/bin,PBS_O_SHELL=/bin/bash\n"
    "    comment = a comment long enough that Torque had to wrap it somewhere in the mi\n"
    "\tddle\n"
    "    euser = carol\n"
    "    egroup = users\n"
    "\n"
)


def test_openpbs_job_with_two_hosts_and_a_subjob_id():
    (record,) = openpbs.jobs(json.dumps(OPENPBS_JOB)).values()
    facts = record.facts("pbs", "vmtype")
    assert facts.job_id == "1234[7].pbs.example.org"
    assert facts.exec_hosts == ("node1", "node2")
    assert (facts.cpus, facts.memory, facts.walltime) == (3, 4 * 1024**3, 7200)
    assert facts.requested_vm_type == "atlas" and facts.groups == ("atlas",)
    assert facts.state is JobState.RUNNING


def test_torque_xml_job():
    (record,) = torque.jobs_xml(TORQUE_XML).values()
    facts = record.facts("pbs", "other")
    assert facts.exec_hosts == ("n1", "n2")
    assert (facts.cpus, facts.memory, facts.walltime) == (8, 512 * 1024**2, 600)
    assert facts.reason == "hello & bye"


def test_torque_text_job_joins_wrapped_lines():
    (record,) = torque.jobs_text(TORQUE_TEXT).values()
    assert record.comment == "a comment long enough that Torque had to wrap it somewhere in the middle"
    assert record.user == "carol" and record.cpus() == 2


@pytest.mark.parametrize(
    "entry",
    [
        {"Error": "Unknown node "},  # OpenPBS 19.1 to 23.06 (src/cmds/pbsnodes.c, add_json_node)
        {"vwn-9": "Unknown node "},  # OpenPBS after 23.06 (the same, through cJSON)
    ],
)
def test_openpbs_unknown_vnode_entry(entry):
    text = json.dumps({"timestamp": 1, "pbs_version": "23", "pbs_server": "s", "nodes": {"vwn-9": entry}})
    assert openpbs.nodes(text) == ([], {"vwn-9"})


@pytest.mark.parametrize("shown, rerunable", [("True", True), ("False", False), (None, None)])
def test_rerunable_is_read_and_unknown_when_not_shown(shown, rerunable):
    job = dict(OPENPBS_JOB["Jobs"]["1234[7].pbs.example.org"])
    if shown is not None:
        job["Rerunable"] = shown
    (record,) = openpbs.jobs(json.dumps({**OPENPBS_JOB, "Jobs": {"1.s": job}})).values()
    assert record.rerunable is rerunable


def test_rerunable_that_is_no_boolean_is_garbled():
    job = {**OPENPBS_JOB["Jobs"]["1234[7].pbs.example.org"], "Rerunable": "perhaps"}
    with pytest.raises(Garbled, match="Rerunable"):
        openpbs.jobs(json.dumps({**OPENPBS_JOB, "Jobs": {"1.s": job}}))


@pytest.mark.parametrize(
    "comment, reason",
    [
        ("wnod: no VWN, try later ", "wnod: no VWN, try later"),  # qalter's space for the closing quote
        ("wnod: refused  and terminated by root@pbs", "wnod: refused"),  # qdel of a running job
        ("wnod: refused  and terminated", "wnod: refused"),  # qdel of a queued one, at its end
        ("wnod: held  and finished", "wnod: held"),
        ("wnod: held  and failed", "wnod: held"),
        ("wnod: its VWN booted and failed ", "wnod: its VWN booted and failed"),  # wnod's own words
        ("Not Running: Not enough free nodes available", "Not Running: Not enough free nodes available"),
        ("Job run at Tue Jun 04 at 10:11 on (n1:ncpus=1) and finished",
         "Job run at Tue Jun 04 at 10:11 on (n1:ncpus=1) and finished"),  # PBS's own: as it says it
    ],
)
def test_the_reason_is_wnods_own_without_what_pbs_appended(comment, reason):
    job = {**OPENPBS_JOB["Jobs"]["1234[7].pbs.example.org"], "comment": comment}
    (record,) = openpbs.jobs(json.dumps({**OPENPBS_JOB, "Jobs": {"1.s": job}})).values()
    assert record.facts("pbs", "vmtype").reason == reason


@pytest.mark.parametrize("text", ["node1/0*2+node2/1", "node1/0-3,5+node2/0", "node1"])
def test_exec_host_shapes(text):
    assert exec_hosts(text)[0] == "node1"


@pytest.mark.parametrize("job_id", ["123", "123.srv", "123[].srv.example.org", "123[4].srv", "7@srv"])
def test_job_ids(job_id):
    assert is_job_id(job_id)


@pytest.mark.parametrize("job_id", ["", "abc", "12 3", "-1", "12;ls", "123[x]"])
def test_not_job_ids(job_id):
    assert not is_job_id(job_id)


def test_sizes_and_durations():
    assert size_bytes("1kb") == 1024 and size_bytes("2mw") == 2 * 8 * 1024**2 and size_bytes(5) == 5
    assert duration_seconds("1:00:00") == 3600 and duration_seconds("90") == 90
    for bad in ("1xb", "-1", "", "gb"):
        with pytest.raises(Garbled):
            size_bytes(bad)


READERS = [openpbs.jobs, openpbs.nodes, torque.jobs_xml, torque.jobs_text, torque.nodes_xml]


def _no_crash(reader, text):
    try:
        reader(text)
    except Garbled:
        pass


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=400))
def test_garbage_is_garbled_or_read(text):
    for reader in READERS:
        _no_crash(reader, text)


SAMPLES = [json.dumps(OPENPBS_JOB), TORQUE_XML, TORQUE_TEXT]


@settings(max_examples=300, deadline=None)
@given(sample=st.sampled_from(SAMPLES), cut=st.integers(min_value=0, max_value=2000))
def test_truncated_output_is_garbled_or_read(sample, cut):
    for reader in READERS:
        _no_crash(reader, sample[:cut])


def _json_values():
    return st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
        max_leaves=20,
    )


@settings(max_examples=300, deadline=None)
@given(job=st.dictionaries(
    st.sampled_from(["job_state", "queue", "Job_Owner", "euser", "egroup", "exec_host", "Resource_List",
                     "comment", "substate", "Hold_Types", "Rerunable"]),
    _json_values(), max_size=10))
def test_well_formed_json_with_wrong_values_is_garbled_or_read(job):
    text = json.dumps({"pbs_server": "s", "Jobs": {"1.s": job}})
    try:
        for record in openpbs.jobs(text).values():
            record.facts("pbs", "vmtype")
    except Garbled:
        pass


@settings(max_examples=200, deadline=None)
@given(node=st.dictionaries(st.sampled_from(["state", "jobs", "comment", "vwn-1", "Error"]), _json_values(), max_size=4))
def test_well_formed_pbsnodes_json_with_wrong_values_is_garbled_or_read(node):
    try:
        openpbs.nodes(json.dumps({"pbs_server": "s", "nodes": {"vwn-1": node}}))
    except Garbled:
        pass


def test_result_errors_quote_the_output_and_name_the_command():
    result = Result(argv=("qstat", "-f", "1"), returncode=153, stdout="", stderr="qstat: Unknown Job Id 1\n")
    err = result.error("failed")
    assert isinstance(err, BatchSystemError)
    assert "qstat -f 1" in str(err) and "Unknown Job Id" in str(err) and "153" in str(err)
    long = Result(argv=("qstat",), returncode=0, stdout="x" * 5000, stderr="")
    assert len(str(long.error("unreadable"))) < 1000


@pytest.mark.parametrize(("letter", "substate", "state"), [
    ("F", 92, JobState.FINISHED), ("F", 93, JobState.FAILED), ("F", 91, JobState.CANCELLED), ("C", None, JobState.FINISHED),
])
def test_a_finished_job_says_how_it_ended_by_its_substate(letter: str, substate: int | None, state: JobState) -> None:
    from wnod_pbs.formats import job_state

    assert job_state(letter, substate) is state
