"""Output of toyq that wnod cannot read: a BatchSystemError naming the command and saying what
was expected, never a crash and never a silent wrong answer."""

import json
from collections.abc import Callable

import pytest
from wnod_core.errors import BatchSystemError, Garbled, JobNotFound
from wnod_core.model import JobState

from wnod_site_toyq import parse
from wnod_site_toyq.adapter import ToyqBatchSystem

Lying = Callable[..., ToyqBatchSystem]

JOB = {"id": "42", "owner": "alice", "queue": "short", "state": "running", "cpus": 4, "memory_mb": 2048,
       "walltime_s": 3600, "vm_type": "atlas", "hosts": ["vwn-1"], "comment": ""}
HOST = {"name": "vwn-1", "state": "busy", "open": False, "joined": 1767225600, "jobs": ["42"]}


def test_a_job_as_toyq_documents_it() -> None:
    facts = parse.job(json.dumps(JOB))
    assert (facts.job_id, facts.user, facts.queue, facts.state) == ("42", "alice", "short", JobState.RUNNING)
    assert (facts.cpus, facts.memory, facts.walltime) == (4, 2048 * 1024 * 1024, 3600)
    assert (facts.requested_vm_type, facts.exec_hosts) == ("atlas", ("vwn-1",))


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"cpus": "4"}, "expected cpus to be a whole number"),
        ({"cpus": True}, "expected cpus to be a whole number"),
        ({"cpus": 0}, "at least one CPU"),
        ({"memory_mb": -1}, "expected memory_mb to be a whole number, 0 or more"),
        ({"owner": ""}, "expected an owner"),
        ({"state": "zombie"}, "expected state to be one of queued, held"),
        ({"id": "42.0"}, "expected a toyq job id"),
        ({"hosts": "vwn-1"}, "expected hosts to be a list"),
        ({"hosts": ["-rf"]}, "expected a host name"),
        ({"comment": None}, "expected comment to be a string"),
    ],
)
def test_a_job_field_of_the_wrong_shape_is_named(change: dict, complaint: str) -> None:
    with pytest.raises(Garbled, match=complaint):
        parse.job(json.dumps({**JOB, **change}))


@pytest.mark.parametrize("text", ["", "toyq: server not responding", "[]", '"42"', json.dumps(JOB)[:-1]])
def test_what_is_not_one_json_object_is_garbled(text: str) -> None:
    with pytest.raises(Garbled, match="expected"):
        parse.job(text)


def test_truncated_output_is_an_error_never_a_shorter_answer() -> None:
    text = json.dumps([HOST, {**HOST, "name": "vwn-2"}])
    for cut in range(len(text)):
        with pytest.raises(Garbled):
            parse.hosts(text[:cut])


def test_a_bad_host_entry_is_named_by_its_place() -> None:
    with pytest.raises(Garbled, match=r"^host 2: expected joined to be a whole number"):
        parse.hosts(json.dumps([HOST, {**HOST, "joined": "yesterday"}]))
    with pytest.raises(Garbled, match=r"^host 1: expected an object"):
        parse.hosts('["vwn-1"]')


def test_the_adapter_names_the_command_that_printed_garbage(lying_toyq: Lying) -> None:
    with pytest.raises(BatchSystemError, match=r"toyq show 42 --json` printed what wnod cannot read: expected JSON"):
        lying_toyq("toyq: server busy, try later\n").job_facts("42")
    with pytest.raises(BatchSystemError, match=r"toyq hosts --json` printed .*host 1: expected open"):
        lying_toyq(json.dumps([{**HOST, "open": "yes"}])).hosts()


def test_an_answer_for_another_job_is_not_taken(lying_toyq: Lying) -> None:
    with pytest.raises(BatchSystemError, match="answered for job 43, not 42"):
        lying_toyq(json.dumps({**JOB, "id": "43"})).job_facts("42")


def test_exit_codes_mean_what_toyq_documents(lying_toyq: Lying) -> None:
    with pytest.raises(JobNotFound, match="no such job"):
        lying_toyq("toyq: no such job 42\n", 2).hold("42", "why")
    with pytest.raises(JobNotFound, match="has ended"):
        lying_toyq("toyq: job 42 has ended (done)\n", 3).migrate("42", "vwn-1")
    lying_toyq("toyq: job 42 has ended (done)\n", 3).fail("42", "why")  # as asked: it has ended
    with pytest.raises(BatchSystemError, match=r"exit 1\): toyq: cannot hold job 42: it is running"):
        lying_toyq("toyq: cannot hold job 42: it is running\n", 1).hold("42", "why")


def test_what_toyq_could_not_know_is_refused_before_it_is_asked(lying_toyq: Lying) -> None:
    toyq = lying_toyq("", 99)  # any command run would fail with exit 99
    with pytest.raises(JobNotFound, match="toyq's job ids are numbers"):
        toyq.job_facts("42; rm -rf /")
    with pytest.raises(BatchSystemError, match="expected a host name"):
        toyq.close_host("--all")


def test_a_users_toyq_format_does_not_reach_toyq(lying_toyq: Lying, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOYQ_FORMAT", "table")
    environment = lying_toyq("").tools.environment()
    assert environment is not None and "TOYQ_FORMAT" not in environment
