"""Garbled, truncated or unexpected output of HTCondor's tools: a BatchSystemError naming the
command and quoting the output, never a crash and never a silent wrong answer."""

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from wnod_core.errors import BatchSystemError, JobNotFound
from wnod_core.interfaces import HookInput
from wnod_core.model import JobFacts

from wnod_htcondor.adapter import HTCondorBatchSystem
from wnod_htcondor.ads import parse_ads
from wnod_htcondor.bait import read_hook

COMMAND = "condor_q -json 1.0"
GOOD_AD = {"ClusterId": 1, "ProcId": 0, "Owner": "alice", "JobStatus": 2, "RemoteHost": "slot1@vwn-1.example.org",
           "RequestCpus": 4, "RequestMemory": "\\/Expr(ifthenelse(MemoryUsage =!= undefined,MemoryUsage,1))\\/"}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)


@given(st.text(max_size=400))
def test_any_text_parses_or_is_a_batch_system_error(text: str) -> None:
    try:
        ads = parse_ads(COMMAND, text)
    except BatchSystemError as exc:
        assert COMMAND in str(exc)
    else:
        assert isinstance(ads, list)


@given(st.integers(min_value=0, max_value=len(json.dumps([GOOD_AD])) - 1))
def test_truncated_output_is_an_error_never_fewer_ads(cut: int) -> None:
    text = json.dumps([GOOD_AD], indent=2)[:cut]
    if not text.strip():
        assert parse_ads(COMMAND, text) == []  # nothing printed: nothing matched
        return
    with pytest.raises(BatchSystemError, match="condor_q"):
        parse_ads(COMMAND, text)


@settings(max_examples=300)
@given(st.dictionaries(st.sampled_from(sorted(GOOD_AD) + ["RemoteHosts", "HoldReason", "AcctGroup", "JobFlavour",
                                                          "WnodVmType", "AllowedExecuteDuration"]),
                       json_values, max_size=12))
def test_facts_from_any_ad_are_facts_or_a_batch_system_error(ad: dict[str, Any]) -> None:
    adapter = HTCondorBatchSystem()
    merged = {**GOOD_AD, **ad}
    try:
        (parsed,) = parse_ads(COMMAND, json.dumps([merged]))
        facts = adapter._facts("1.0", parsed)
    except BatchSystemError as exc:
        assert "condor_q" in str(exc) or "htcondor" in str(exc)
    else:
        assert isinstance(facts, JobFacts) and facts.user == merged["Owner"]


@given(st.dictionaries(st.text(max_size=20), st.text(max_size=20), max_size=4), st.lists(st.text(max_size=30), max_size=4))
def test_the_bait_side_reads_anything_as_a_request_or_a_batch_system_error(environ: dict[str, str], argv: list[str]) -> None:
    try:
        request = read_hook(HookInput(environ=environ, argv=tuple(argv)))
    except BatchSystemError as exc:
        assert "wnod bait" in str(exc) or "job id" in str(exc)
    else:
        assert request.job_id == argv[0] and request.bait_host == argv[1]


BAD_OUTPUTS = [
    pytest.param("[\n{\n  \"ClusterId\": 1,\n  \"ProcId\": 0,\n  \"Own", 0, id="truncated"),
    pytest.param("<?xml version=\"1.0\"?>\n<classads>", 0, id="xml"),
    pytest.param("-- Schedd: schedd.emu.test : <127.0.0.1:9618>\n ID OWNER\n", 0, id="table"),
    pytest.param("{\"ClusterId\": 1}", 0, id="object-not-list"),
    pytest.param("[1, 2]", 0, id="list-of-numbers"),
    pytest.param('[\n{\n  "ClusterId": 2,\n  "ProcId": 0,\n  "Owner": "x",\n  "JobStatus": 1\n}\n]\n', 0, id="other-job"),
    pytest.param('[\n{\n  "ClusterId": 1,\n  "ProcId": 0,\n  "JobStatus": 1\n}\n]\n', 0, id="no-owner"),
    pytest.param('[\n{\n  "ClusterId": 1,\n  "ProcId": 0,\n  "Owner": "x",\n  "JobStatus": "1"\n}\n]\n', 0,
                 id="status-as-string"),
    pytest.param("", 1, id="failed-silently"),
]


@pytest.mark.parametrize(("stdout", "code"), BAD_OUTPUTS)
def test_job_facts_on_bad_condor_q_output(pool: Any, batch_system: HTCondorBatchSystem, stdout: str, code: int) -> None:
    (job,) = pool.submit("alice")
    pool.fault("condor_q", stdout=stdout, code=code)
    with pytest.raises(BatchSystemError, match="condor_q") as err:
        batch_system.job_facts(job)
    assert not isinstance(err.value, JobNotFound)


def test_an_unreachable_schedd_is_an_error_naming_the_command(pool: Any, batch_system: HTCondorBatchSystem) -> None:
    (job,) = pool.submit("alice")
    pool.fault("condor_q", stderr="\n-- Failed to fetch ads from: <127.0.0.1:9618> : schedd.emu.test\n"
                                  "SECMAN:2007:Failed to end classad message.\n", code=1)
    with pytest.raises(BatchSystemError, match="Failed to fetch ads from"):
        batch_system.job_facts(job)


@pytest.mark.parametrize("stdout", ["[\n{\n  \"Machine\": \"vwn-1.emu.test\",\n  \"State", "[{\"Name\": 3}]",
                                    '[{"Machine": "other.emu.test", "State": "Unclaimed"}]'])
def test_host_ready_on_bad_condor_status_output(pool: Any, batch_system: HTCondorBatchSystem, stdout: str) -> None:
    pool.fault("condor_status", stdout=stdout)
    with pytest.raises(BatchSystemError, match="condor_status"):
        batch_system.host_ready("vwn-1.emu.test", 0.0)


@pytest.mark.parametrize("tool", ["condor_hold", "condor_rm"])
def test_an_unexpected_answer_to_hold_or_fail_is_an_error(pool: Any, batch_system: HTCondorBatchSystem, tool: str) -> None:
    (job,) = pool.submit("alice")
    pool.fault(tool, stdout="", stderr="Segmentation fault\n", code=139)
    call = batch_system.hold if tool == "condor_hold" else batch_system.fail
    with pytest.raises(BatchSystemError, match="Segmentation fault"):
        call(job, "why")


def test_a_hanging_tool_is_cut_off(pool: Any, condor_bin: Any) -> None:
    from wnod_htcondor.options import HTCondorOptions

    hang = condor_bin / "condor_q"
    hang.unlink()
    hang.write_text("#!/bin/sh\nexec sleep 30\n")
    hang.chmod(0o755)
    adapter = HTCondorBatchSystem(HTCondorOptions(bin_dir=str(condor_bin), timeout=0.5))
    with pytest.raises(BatchSystemError, match="did not finish within 0.5s"):
        adapter.job_facts("1.0")


def test_a_missing_tool_is_an_error(tmp_path: Any) -> None:
    from wnod_htcondor.options import HTCondorOptions

    adapter = HTCondorBatchSystem(HTCondorOptions(bin_dir=str(tmp_path)))
    with pytest.raises(BatchSystemError, match=r"cannot run it: no command '.*/condor_status'"):
        adapter.hosts()


@pytest.mark.parametrize("name", ['vwn" || true || "', "a b", "", "-pool"])
def test_host_names_never_reach_a_constraint_unchecked(batch_system: HTCondorBatchSystem, name: str) -> None:
    with pytest.raises(BatchSystemError, match="not a host name"):
        batch_system.host_ready(name, 0.0)


@pytest.mark.parametrize("job_id", ["1", "1.0.0", "-1.0", "abc", "1.0 2.0", ""])
def test_job_ids_are_cluster_dot_proc(batch_system: HTCondorBatchSystem, job_id: str) -> None:
    with pytest.raises(BatchSystemError, match="ClusterId.ProcId"):
        batch_system.job_facts(job_id)
