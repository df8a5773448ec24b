"""Reading SWF traces: the fields a study needs, gzip or plain, and malformed lines named."""

import gzip
from pathlib import Path

import pytest

from wnod_simulate.swf import TraceError, parse_lines, read_trace

LINE = "{n} {submit} 5 {run} 1 -1 -1 {cpus} 3600 -1 1 {user} {group} -1 {queue} {partition} -1 -1\n"


def line(n: int = 1, submit: int = 0, run: int = 60, cpus: int = 1, user: int = 7, group: int = 3,
         queue: int = -1, partition: int = 12) -> str:
    return LINE.format(n=n, submit=submit, run=run, cpus=cpus, user=user, group=group, queue=queue,
                       partition=partition)


def test_a_job_becomes_the_facts_a_site_names_in_its_config() -> None:
    trace = parse_lines(["; Version: 2.2\n", line(user=7, group=3, partition=12, cpus=4)])
    (job,) = trace.jobs
    assert (job.number, job.submit, job.run, job.cpus) == (1, 0, 60, 4)
    assert (job.user, job.group, job.queue) == ("user7", "group3", "partition12")


def test_the_queue_field_wins_over_the_partition() -> None:
    (job,) = parse_lines([line(queue=2, partition=12)]).jobs
    assert job.queue == "queue2"


def test_a_job_that_never_ran_is_counted_not_replayed() -> None:
    trace = parse_lines([line(1, run=60), line(2, run=-1)])
    assert [j.number for j in trace.jobs] == [1]
    assert trace.never_ran == 1


def test_jobs_are_replayed_in_order_of_submission() -> None:
    trace = parse_lines([line(1, submit=50), line(2, submit=10), line(3, submit=50)])
    assert [j.number for j in trace.jobs] == [2, 1, 3]


def test_processors_asked_for_else_allocated() -> None:
    asked = line(cpus=-1).split()
    asked[4] = "8"
    (job,) = parse_lines([" ".join(asked)]).jobs
    assert job.cpus == 8


def test_a_line_with_too_few_fields_is_named_by_its_number() -> None:
    with pytest.raises(TraceError, match=r"^t\.swf:3: expected 18 fields \(SWF\), got 3"):
        parse_lines(["; header\n", line(), "1 2 3\n"], "t.swf")


def test_a_field_that_is_no_number_is_named_by_its_line() -> None:
    with pytest.raises(TraceError, match=r"^t\.swf:2: every SWF field is a number"):
        parse_lines([line(), line().replace(" 3600 ", " soon ")], "t.swf")


def test_gzip_and_plain_read_alike(tmp_path: Path, small_trace: Path) -> None:
    packed = tmp_path / "small.swf.gz"
    packed.write_bytes(gzip.compress(small_trace.read_bytes()))
    plain, unpacked = read_trace(small_trace), read_trace(packed)
    assert len(plain.jobs) == 40 and plain.never_ran == 1
    assert plain.jobs == unpacked.jobs


def test_a_missing_trace_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(TraceError, match="cannot read the trace"):
        read_trace(tmp_path / "nope.swf")
