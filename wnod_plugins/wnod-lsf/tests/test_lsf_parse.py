"""The parsers against LSF's documented formats, and against garbage: a clear error, never a crash."""

import json

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lsfemu import Cluster
from wnod_core.errors import BatchSystemError, Garbled
from wnod_core.interfaces import BaitOutcome, HookInput
from wnod_core.model import JobState

from wnod_lsf import parse
from wnod_lsf.adapter import LsfBatchSystem
from wnod_lsf.bait import BAIT_SIDE

# bjobs -o ... -json as LSF 10.1 prints it; the values are those of real output quoted in a public
# test fixture (DKFZ Roddy, LSFJobManagerSpec): a finished two-slot job and a pending one.
BJOBS_DONE = """{
  "COMMAND":"bjobs",
  "JOBS":1,
  "RECORDS":[
    {
      "JOBID":"22005",
      "STAT":"DONE",
      "USER":"otptest",
      "QUEUE":"short-dmg",
      "EXEC_HOST":"tbi-cn019:tbi-cn019",
      "MAX_MEM":"5.2 Gbytes",
      "RUNTIMELIMIT":"00:10:00",
      "PEND_REASON":"",
      "EXEC_CWD":"\\/home\\/otptest",
      "SLOTS":"1"
    }
  ]
}
"""
BJOBS_PENDING = """{
  "COMMAND":"bjobs",
  "JOBS":1,
  "RECORDS":[
    {
      "JOBID":"22006",
      "STAT":"PEND",
      "USER":"otptest",
      "QUEUE":"short-dmg",
      "EXEC_HOST":"",
      "SWAP":"0 Mbytes",
      "MAX_MEM":"522 MBytes",
      "PEND_REASON":"Job dependency condition not satisfied;"
    }
  ]
}
"""
# What a client may print before the JSON (clients of bjobs -json strip it the same way).
NOISE = "Cannot connect to LSF. Please wait ...\n"


def test_documented_bjobs_records() -> None:
    (done,) = parse.json_records(BJOBS_DONE, "bjobs")
    assert parse.record_job_id(done) == "22005"
    assert parse.job_state(done["STAT"]) is JobState.FINISHED
    assert parse.exec_hosts(done["EXEC_HOST"]) == ("tbi-cn019",)
    assert parse.size(done["MAX_MEM"], "KB") == int(5.2 * 2**30)
    assert parse.duration(done["RUNTIMELIMIT"]) == 600
    assert done["EXEC_CWD"] == "/home/otptest"
    (pending,) = parse.json_records(NOISE + BJOBS_PENDING, "bjobs")
    assert parse.exec_hosts(pending["EXEC_HOST"]) == ()
    assert parse.size(pending["MAX_MEM"], "KB") == 522 * 2**20
    assert pending["PEND_REASON"] == "Job dependency condition not satisfied;"


@pytest.mark.parametrize(
    ("text", "hosts"),
    [
        ("hostA", ("hostA",)),
        ("hostA:hostA:hostB", ("hostA", "hostB")),
        ("4*hostA:2*hostB", ("hostA", "hostB")),
        ("-", ()),
        ("node-1.farm.example.org", ("node-1.farm.example.org",)),
    ],
)
def test_exec_host_strings(text: str, hosts: tuple[str, ...]) -> None:
    assert parse.exec_hosts(text) == hosts


def test_lsb_mcpu_hosts_and_lsb_hosts() -> None:
    # lsf(5) "Environment variables": LSB_MCPU_HOSTS="hostA 2 hostB 1", LSB_HOSTS="hostA hostA hostB".
    assert parse.mcpu_hosts("hostA 2 hostB 1") == (("hostA", 2), ("hostB", 1))
    assert parse.lsb_hosts("hostA hostA hostB") == ("hostA", "hostA", "hostB")
    for bad in ("hostA", "hostA two", "hostA 0", ""):
        with pytest.raises(Garbled):
            parse.mcpu_hosts(bad)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("00:10:00", 600), ("10:00", 600), ("100:00:00", 360000), ("60.0", 3600), ("60.0 min", 3600),
     ("30.0/hostA", 1800), ("", None), ("-", None), ("00:09:49 L", 589)],
)
def test_run_limits(text: str, seconds: int | None) -> None:
    assert parse.duration(text) == seconds


@pytest.mark.parametrize(
    ("text", "unit", "size"),
    [("2 G", "KB", 2 * 2**30), ("10 Gbytes", "KB", 10 * 2**30), ("512", "MB", 512 * 2**20),
     ("512", "KB", 512 * 2**10), ("1.5 TB", "KB", int(1.5 * 2**40)), ("-", "KB", None)],
)
def test_memory_limits(text: str, unit: str, size: int | None) -> None:
    assert parse.size(text, unit) == size


def test_job_ids() -> None:
    assert parse.job_spec("123[4]") == ("123", 4)
    assert parse.record_job_id({"JOBID": "123", "JOBINDEX": "4"}) == "123[4]"
    assert parse.record_job_id({"JOBID": "123", "JOBINDEX": "0"}) == "123"
    assert parse.record_job_id({"JOBID": "123[4]"}) == "123[4]"


def test_every_lsf_state_has_a_meaning() -> None:
    for stat in ("PEND", "PSUSP", "RUN", "USUSP", "SSUSP", "DONE", "EXIT", "UNKWN", "WAIT", "ZOMBI", "PROV"):
        parse.job_state(stat)
    with pytest.raises(Garbled, match="expected a job state"):
        parse.job_state("HAPPY")


# -- garbage -----------------------------------------------------------------------------------------

PARSERS = [
    lambda t: parse.json_records(t, "bjobs"),
    parse.exec_hosts,
    parse.mcpu_hosts,
    parse.lsb_hosts,
    parse.duration,
    lambda t: parse.size(t, "KB"),
    parse.count,
    parse.job_spec,
    parse.job_state,
]


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=200), which=st.integers(0, len(PARSERS) - 1))
def test_parsers_answer_or_say_what_they_expected(text: str, which: int) -> None:
    try:
        PARSERS[which](text)
    except Garbled as exc:
        assert str(exc).startswith("expected") or "JSON" in str(exc) or "RECORDS" in str(exc) or "record" in str(exc)


@settings(max_examples=200, deadline=None)
@given(cut=st.integers(0, len(BJOBS_DONE) - 1))
def test_truncated_bjobs_output_is_garbled_not_a_crash(cut: int) -> None:
    try:
        records = parse.json_records(BJOBS_DONE[:cut], "bjobs")
    except Garbled:
        return
    assert records == [] or records[0]["JOBID"] == "22005"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None)
@given(document=json_values)
def test_any_json_document_is_records_or_garbled(document: object) -> None:
    try:
        records = parse.json_records(json.dumps(document), "bjobs")
    except Garbled:
        return
    assert all(isinstance(v, str) for r in records for v in r.values())


# -- garbage from the commands themselves ------------------------------------------------------------

GARBAGE = [
    "",
    "Segmentation fault\n",
    '{"COMMAND":"bjobs","JOBS":1,"RECORDS":[{"JOBID":"1001","STAT":"HAPPY","USER":"alice"}]}',
    ('{"COMMAND":"bjobs","JOBS":1,"RECORDS":[{"JOBID":"1001","STAT":"RUN","USER":"alice",'
     '"EXEC_HOST":"host with spaces!"}]}'),
    '{"COMMAND":"bjobs","JOBS":1,"RECORDS":[{"JOBID":"1001","STAT":"PEND","USER":""}]}',
    '{"COMMAND":"bjobs","JOBS":1,"RECORDS":[{"JOBID":"1001","STAT":"PEND","USER":"alice","NREQ_SLOT":"-3"}]}',
    '{"COMMAND":"bjobs","JOBS":1,"RECORDS":[{"JOBID":"abc","STAT":"PEND"}]}',
    '{"COMMAND":"bjobs","JOBS":1,"RECORDS":[{"JOBID":"1001","STAT":"PEND","USER":"alice","MEMLIMIT":"lots"}]}',
    '{"COMMAND":"bjobs","JOBS":1,"RECORDS":"none"}',
    '{"COMMAND":"bjobs","JOBS":1,"RECORDS":[{"JOBID":"1001",',
    '[1, 2, 3]',
    '{"COMMAND":"bjobs","JOBS":1,"RECORDS":[{"ERROR":"mbatchd is down"}]}',
    '{"COMMAND":"bjobs","JOBS":1,"RECORDS":[{"JOBID":"7","STAT":"PEND","USER":"x"}]}',
]


@pytest.mark.parametrize("garbage", GARBAGE)
def test_garbled_bjobs_output_is_a_batch_system_error_naming_the_command(
    lsf: LsfBatchSystem, cluster: Cluster, garbage: str
) -> None:
    (job,) = cluster.submit("alice", "short")
    cluster.set(garble={"bjobs": garbage})
    with pytest.raises(BatchSystemError, match="bjobs"):
        lsf.job_facts(job)


@pytest.mark.parametrize("garbage", ["", "<html>", '{"COMMAND":"bhosts","HOSTS":1,"RECORDS":[{"HOST_NAME":"a b"}]}'])
def test_garbled_bhosts_output_is_a_batch_system_error(lsf: LsfBatchSystem, cluster: Cluster, garbage: str) -> None:
    cluster.add_host("hv01-vwn1")
    cluster.set(garble={"bhosts": garbage})
    with pytest.raises(BatchSystemError, match="bhosts"):
        lsf.hosts()


def test_a_command_that_hangs_is_an_error_naming_it(make_lsf, tmp_path) -> None:
    slow = tmp_path / "slow-bin"
    slow.mkdir()
    (slow / "bjobs").write_text("#!/bin/sh\nexec sleep 5\n")
    (slow / "bjobs").chmod(0o755)
    lsf = make_lsf(timeout=0.3)
    lsf.runner = attrs.evolve(lsf.runner, bin_dir=str(slow))
    with pytest.raises(BatchSystemError, match=r"bjobs.*did not finish within 0.3s"):
        lsf.job_facts("1001")


def test_missing_commands_are_an_error_naming_them(make_lsf, tmp_path) -> None:
    lsf = make_lsf()
    lsf.runner = attrs.evolve(lsf.runner, bin_dir=str(tmp_path / "nowhere"))
    with pytest.raises(BatchSystemError, match="cannot run .*bjobs"):
        lsf.job_facts("1001")


@settings(max_examples=60, deadline=None)
@given(env=st.dictionaries(
    st.sampled_from(["LSB_JOBID", "LSB_JOBINDEX", "LSB_HOSTS", "LSB_MCPU_HOSTS"]), st.text(max_size=30)))
def test_the_bait_side_reads_any_environment_as_a_request_or_a_batch_system_error(env: dict[str, str]) -> None:
    try:
        request = BAIT_SIDE.read(HookInput(environ=env))
    except BatchSystemError:
        return
    assert request.job_id.split("[")[0].isdigit() and request.bait_host


def test_the_bait_side_reads_an_array_element_on_a_parallel_dispatch() -> None:
    env = {"LSB_JOBID": "4711", "LSB_JOBINDEX": "12", "LSB_MCPU_HOSTS": "bait03 4 bait04 4",
           "LSB_HOSTS": " ".join(["bait03"] * 4 + ["bait04"] * 4)}
    request = BAIT_SIDE.read(HookInput(environ=env))
    assert (request.job_id, request.bait_host) == ("4711[12]", "bait03")
    del env["LSB_MCPU_HOSTS"]
    assert BAIT_SIDE.read(HookInput(environ=env)).bait_host == "bait03"
    assert BAIT_SIDE.answer(BaitOutcome.REFUSED, "why").exit_code == 99
