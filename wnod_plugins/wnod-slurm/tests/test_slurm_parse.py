"""The readers of Slurm's output: real shapes read right, garbage refused with a reason, never a crash."""

import json
import string

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from wnod_core.commands import Result, Tools
from wnod_core.errors import BatchSystemError, Garbled, JobNotFound
from wnod_core.model import JobState

from wnod_slurm.adapter import SlurmBatchSystem
from wnod_slurm.options import SlurmOptions
from wnod_slurm.parse import (
    REQUEUE_HELD,
    expand_hostlist,
    fields_from_text,
    jobs_from_json,
    jobs_from_text,
    nodes_from_json,
)

# Trimmed from `squeue --json --jobs 1` of Slurm 22.05.8 (openapi v0.0.38) on Debian 12.
JOB_0038 = {
    "admin_comment": "", "array_job_id": 0, "array_task_id": None, "comment": "vmtype:atlas",
    "cpus": 2, "group_id": 1, "group_name": "daemon", "job_id": 7, "job_state": "RUNNING",
    "memory_per_node": 10, "memory_per_cpu": None, "nodes": "vwn[001-002]", "partition": "wnod",
    "priority": 4294901759, "required_nodes": "vwn001", "resv_name": "wnod-vwn001",
    "state_reason": "None", "time_limit": 10, "tres_req_str": "cpu=2,mem=10M,node=1,billing=2",
    "user_id": 1, "user_name": "daemon",
}
# The same job as Slurm 23.02+ prints it (openapi v0.0.39+): numbers as objects, states as lists.
JOB_0039 = {
    **JOB_0038,
    "cpus": {"set": True, "infinite": False, "number": 2},
    "job_state": ["RUNNING", "COMPLETING"],
    "time_limit": {"set": True, "infinite": False, "number": 10},
    "priority": {"set": True, "infinite": False, "number": 5},
}
TEXT = (
    "JobId=1 JobName=wrap UserId=daemon(1) GroupId=daemon(1) MCS_label=N/A Priority=0 Nice=0 Account=(null)"
    " QOS=(null) JobState=PENDING Reason=JobHeldAdmin Dependency=(null) Requeue=1 Restarts=0 BatchFlag=1"
    " TimeLimit=1-02:00:00 Partition=short ReqNodeList=(null) ExcNodeList=(null) NodeList= NumNodes=1"
    " NumCPUs=4 NumTasks=1 CPUs/Task=4 TRES=cpu=1,mem=10M,node=1,billing=1 MinMemoryNode=10M WorkDir=/tmp"
    " AdminComment=wnod: held for a reason [from=short]  Comment=vmtype:atlas  StdErr=/dev/null"
)


def doc(*jobs: object) -> str:
    return json.dumps({"meta": {}, "errors": [], "jobs": list(jobs)})


@pytest.mark.parametrize("job", [JOB_0038, JOB_0039], ids=["v0.0.38", "v0.0.39"])
def test_a_job_of_either_json_shape_reads_the_same(job: dict) -> None:
    [read] = jobs_from_json(doc(job))
    assert (read.job_id, read.user, read.uid, read.group, read.partition) == ("7", "daemon", 1, "daemon", "wnod")
    assert (read.cpus, read.memory, read.walltime) == (2, 10 * 2**20, 600)
    assert read.nodes == ("vwn001", "vwn002") and read.required_nodes == ("vwn001",)
    assert read.state is JobState.RUNNING and read.reservation == "wnod-vwn001"


@pytest.mark.parametrize(("asked", "memory"), [
    ({"memory_per_node": 20, "memory_per_cpu": None}, 20 * 2**20),
    ({"memory_per_node": None, "memory_per_cpu": 10}, 2 * 10 * 2**20),  # per CPU, times its 2
    ({"memory_per_node": {"set": False, "infinite": False, "number": 0}, "memory_per_cpu": None}, None),
    ({"memory_per_node": None, "memory_per_cpu": None}, None),
])
def test_the_memory_a_job_asked_for_never_the_whole_node_slurm_gives_one_that_asked_none(asked, memory) -> None:
    # As 22.05.8 shows them: a job that asked for no memory has its node's whole RealMemory in
    # tres_req_str (here 64M): taken for a request, it sized VWNs, and refused jobs, by it.
    [read] = jobs_from_json(doc({**JOB_0038, "tres_req_str": "cpu=2,mem=64M,node=1,billing=2", **asked}))
    assert read.memory == memory


@pytest.mark.parametrize(("fields", "memory"), [
    ("MinMemoryNode=20M", 20 * 2**20), ("MinMemoryNode=1.5G", int(1.5 * 2**30)),
    ("MinMemoryCPU=10M", 4 * 10 * 2**20), ("MinMemoryNode=0", None), ("", None),
])
def test_the_memory_a_job_asked_for_reads_from_scontrol_text_the_same(fields, memory) -> None:
    line = TEXT.replace(" MinMemoryNode=10M", "").replace("TRES=cpu=1,mem=10M", "TRES=cpu=1,mem=64M")
    [read] = jobs_from_text(line.replace(" WorkDir=", f" {fields} WorkDir=") if fields else line)
    assert read.memory == memory


@pytest.mark.parametrize(("asked", "cpus"), [
    ({"tres_req_str": "cpu=2,mem=64M,node=1,billing=2", "cpus": 2}, 2),
    ({"tres_req_str": "cpu=1,mem=64M,node=1,billing=1", "cpus": 32}, 1),  # exclusive: given the node
    ({"tres_req_str": "", "cpus": 3}, 3),
])
def test_the_cpus_a_job_asked_for_not_those_an_exclusive_job_was_given(asked, cpus) -> None:
    [read] = jobs_from_json(doc({**JOB_0038, **asked}))
    assert read.cpus == cpus


@pytest.mark.parametrize(("fields", "cpus"), [
    ("NumCPUs=32 NumTasks=1 CPUs/Task=1 MinCPUsNode=1", 1),  # running, exclusive
    ("NumCPUs=2 NumTasks=1 CPUs/Task=2 MinCPUsNode=2", 2),   # -c 2
    ("NumCPUs=2 NumTasks=2 CPUs/Task=1 MinCPUsNode=1", 2),   # -n 2
    ("NumCPUs=4", 1),                                       # nothing but NumCPUs: one task of one
    ("NumCPUs=1 NumTasks=N/A CPUs/Task=1 MinCPUsNode=1", 1),  # cancelled before it ran (22.05.8)
])
def test_the_cpus_a_job_asked_for_read_from_scontrol_text(fields, cpus) -> None:
    [read] = jobs_from_text(TEXT.replace("NumCPUs=4 NumTasks=1 CPUs/Task=4", fields))
    assert read.cpus == cpus


def test_a_garbled_cpu_count_is_named() -> None:
    with pytest.raises(Garbled, match="CPUs/Task='many' is not a number"):
        jobs_from_text(TEXT.replace("CPUs/Task=4", "CPUs/Task=many"))


def test_a_garbled_memory_request_is_named() -> None:
    with pytest.raises(Garbled, match="MinMemoryNode='lots' is not a size"):
        jobs_from_text(TEXT.replace("MinMemoryNode=10M", "MinMemoryNode=lots"))


def test_a_job_of_scontrol_text_reads_with_spaces_in_its_comments() -> None:
    [read] = jobs_from_text(TEXT)
    assert read.admin_comment == "wnod: held for a reason [from=short]"
    assert read.comment == "vmtype:atlas"
    assert (read.cpus, read.walltime, read.memory) == (4, 26 * 3600, 10 * 2**20)
    assert read.state is JobState.HELD


def test_a_requeuehold_reads_the_same_in_text_and_json_and_apart_from_a_users_hold() -> None:
    # As Slurm 22.05.8 shows a job `scontrol requeuehold` took off its node, then one its owner held.
    [text] = jobs_from_text(TEXT.replace("Reason=JobHeldAdmin", "Reason=job_requeued_in_held_state"))
    held = {**JOB_0038, "job_state": "PENDING", "priority": 0, "state_reason": "JobHeldUser"}
    [requeued] = jobs_from_json(doc({**held, "state_description": "job requeued in held state"}))
    [users] = jobs_from_json(doc({**held, "state_description": ""}))
    assert text.reason == requeued.reason == REQUEUE_HELD
    assert users.reason == "JobHeldUser"
    assert text.state is requeued.state is users.state is JobState.HELD


@pytest.mark.parametrize(
    ("states", "reason", "priority", "expected"),
    [
        ("PENDING", "Resources", 5, JobState.PENDING),
        ("PENDING", "JobHeldUser", 5, JobState.HELD),
        ("PENDING", "None", 0, JobState.HELD),
        ("COMPLETING", "None", 5, JobState.RUNNING),
        (["CANCELLED", "COMPLETING"], "None", 5, JobState.CANCELLED),
        (["PENDING", "REQUEUE_HOLD"], "None", 5, JobState.HELD),
        (["RUNNING", "COMPLETING"], "None", 5, JobState.RUNNING),
        ("TIMEOUT", "None", 5, JobState.FAILED),
        ("COMPLETED", "None", 5, JobState.FINISHED),
        ("NODE_FAIL", "None", 5, JobState.FAILED),
        ("CANCELLED", "None", 5, JobState.CANCELLED),
        ("SUSPENDED", "None", 5, JobState.SUSPENDED),
    ],
)
def test_states_map_to_wnods_words(states: object, reason: str, priority: int, expected: JobState) -> None:
    [read] = jobs_from_json(doc({**JOB_0038, "job_state": states, "state_reason": reason, "priority": priority}))
    assert read.state is expected


def test_an_unknown_state_is_refused_by_name() -> None:
    [read] = jobs_from_json(doc({**JOB_0038, "job_state": "LEVITATING"}))
    with pytest.raises(Garbled, match="LEVITATING"):
        read.state  # noqa: B018


@pytest.mark.parametrize(
    ("text", "hosts"),
    [
        ("", ()),
        ("(null)", ()),
        ("bait1", ("bait1",)),
        ("vwn[001-003,7],bait1", ("vwn001", "vwn002", "vwn003", "vwn7", "bait1")),
        ("r[1-2]n[1-2]", ("r1n1", "r1n2", "r2n1", "r2n2")),
    ],
)
def test_host_lists_expand(text: str, hosts: tuple[str, ...]) -> None:
    assert expand_hostlist(text) == hosts


@pytest.mark.parametrize("text", ["vwn[1-", "vwn]1", "vwn[a-b]", "vwn[3-1]", "a,,b", "vwn[[1]]", "vwn[1-99999999]"])
def test_bad_host_lists_are_refused(text: str) -> None:
    with pytest.raises(Garbled):
        expand_hostlist(text)


def test_nodes_read_state_flags_and_registration() -> None:
    text = json.dumps({"nodes": [
        {"name": "vwn001", "state": "idle", "state_flags": ["DRAIN"], "reason": "wnod: closed",
         "slurmd_start_time": 5, "partitions": ["wnod"]},
        {"name": "vwn002", "state": "unknown", "state_flags": [], "slurmd_start_time": 0},
        {"name": "vwn003", "state": ["IDLE", "NOT_RESPONDING"], "slurmd_start_time": 5},
    ]})
    one, two, three = nodes_from_json(text)
    assert one.responding and one.closed and not one.accepting and one.shown_state == "idle+drain"
    assert not two.responding and not three.responding


# -- garbage -------------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=6),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_any_text_is_read_or_refused_never_a_crash(text: str) -> None:
    for reader in (jobs_from_json, nodes_from_json, jobs_from_text, expand_hostlist):
        try:
            reader(text)
        except Garbled as exc:
            assert str(exc)


@settings(max_examples=300, deadline=None)
@given(job=st.fixed_dictionaries({}, optional={k: json_values for k in JOB_0038}), extra=json_values)
def test_jobs_of_any_json_shape_are_read_or_refused(job: dict, extra: object) -> None:
    for text in (doc(job), doc(job, extra), json.dumps({"jobs": extra}), json.dumps(extra)):
        try:
            for read in jobs_from_json(text):
                try:
                    read.state  # noqa: B018
                except Garbled as exc:
                    assert str(exc)
        except Garbled as exc:
            assert str(exc)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=len(json.dumps({"jobs": [JOB_0038]}))))
def test_truncated_json_is_refused_with_a_reason(cut: int) -> None:
    text = doc(JOB_0038)[:cut]
    with pytest.raises(Garbled, match="not JSON|no 'jobs'"):
        jobs_from_json(text)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=string.ascii_letters + string.digits + "=() _-:/[],+", max_size=200))
def test_key_value_text_of_any_shape_is_read_or_refused(text: str) -> None:
    try:
        fields_from_text(text)
        jobs_from_text(text)
    except Garbled as exc:
        assert str(exc)


# -- the adapter's errors name the command and quote the output ----------------------------------


@attrs.frozen
class Canned(Tools):
    """Slurm's commands, each answered with one canned output."""

    stdout: str = ""
    returncode: int = 0
    stderr: str = ""
    argvs: list[tuple[str, ...]] = attrs.Factory(list)

    def run(self, tool: str, *args: str, input: str | None = None) -> Result:
        argv = (self.path(tool), *args)
        self.argvs.append(argv)
        if argv[-1] == "--version":
            return Result(argv, 0, "slurm-wlm 22.05.8\n", "")
        return Result(argv, self.returncode, self.stdout, self.stderr)


def adapter_answering(stdout: str, returncode: int = 0, stderr: str = "") -> SlurmBatchSystem:
    return SlurmBatchSystem(SlurmOptions(), runner=Canned(stdout=stdout, returncode=returncode, stderr=stderr))


def test_garbled_job_output_is_an_error_naming_the_command_and_quoting_it() -> None:
    with pytest.raises(BatchSystemError) as err:
        adapter_answering('{"jobs": [{"job_id": 5, "user_name": 3').job_facts("5")
    assert "/usr/bin/squeue --all --json --jobs 5" in str(err.value)
    assert '"user_name": 3' in str(err.value)


def test_an_unknown_job_is_job_not_found_in_either_way_slurm_says_it() -> None:
    with pytest.raises(JobNotFound):
        adapter_answering(doc()).job_facts("5")
    with pytest.raises(JobNotFound):
        adapter_answering("", 1, "slurm_load_jobs error: Invalid job id specified").job_facts("5")


def test_a_refusal_quotes_slurm() -> None:
    with pytest.raises(BatchSystemError, match="Zap: access denied"):
        adapter_answering("", 1, "Zap: access denied").job_facts("5")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200), st.integers(min_value=0, max_value=3))
def test_any_answer_to_any_call_is_a_result_or_a_batch_system_error(stdout: str, code: int) -> None:
    batch = adapter_answering(stdout, code)
    for call in (lambda: batch.job_facts("5"), lambda: batch.host_ready("vwn001", 0.0), batch.hosts,
                 lambda: batch.close_host("vwn001")):
        try:
            call()
        except BatchSystemError as exc:
            assert str(exc)


def test_the_vm_type_a_job_asks_for_is_a_word_of_its_comment() -> None:
    batch = adapter_answering(doc({**JOB_0038, "job_id": 5, "comment": "run fast, vmtype:cms please"}))
    assert batch.job_facts("5").requested_vm_type == "cms"
    batch = adapter_answering(doc({**JOB_0038, "job_id": 5, "comment": "vmtype:"}))
    assert batch.job_facts("5").requested_vm_type is None


def test_a_bound_job_reports_the_partition_it_came_from() -> None:
    job = {**JOB_0038, "job_id": 5, "admin_comment": "wnod: migrated to VWN vwn001 [from=short]"}
    facts = adapter_answering(doc(job)).job_facts("5")
    assert facts.queue == "short"
    assert "wnod: migrated to VWN vwn001" in facts.reason and "[from=" not in facts.reason


def test_a_job_still_completing_is_not_said_held_before_slurm_can_hold_it() -> None:
    # Reviewer's find: hold returned as done, and the job went on to pending unheld.
    completing = {**JOB_0039, "job_id": 5, "job_state": ["RUNNING", "COMPLETING"], "nodes": "bait01"}
    batch = adapter_answering(doc(completing))
    with pytest.raises(BatchSystemError, match="job 5 is still completing on bait01"):
        batch.hold("5", "wnod: no VWN could be made for this job")
    runner = batch.runner
    assert not [a for a in runner.argvs if "hold" in a or "requeuehold" in a], runner.argvs  # type: ignore[attr-defined]


def test_a_job_submitted_not_to_be_requeued_reads_as_not_movable_in_text_and_json() -> None:
    """``sbatch --no-requeue``: Slurm refuses to requeue it, so it can never leave its bait."""
    [text] = jobs_from_text(TEXT.replace("Requeue=1", "Requeue=0"))
    [json_job] = jobs_from_json(doc({**JOB_0038, "requeue": False}))
    assert (text.requeue, json_job.requeue) == (False, False)
    [shown] = jobs_from_text(TEXT)
    [unshown] = jobs_from_json(doc(JOB_0038))
    assert (shown.requeue, unshown.requeue) == (True, None)
    with pytest.raises(Garbled, match="Requeue='maybe'"):
        jobs_from_text(TEXT.replace("Requeue=1", "Requeue=maybe"))
    with pytest.raises(Garbled, match=r"jobs\[0\].requeue"):
        jobs_from_json(doc({**JOB_0038, "requeue": "yes"}))
