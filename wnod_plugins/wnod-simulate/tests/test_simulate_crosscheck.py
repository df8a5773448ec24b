"""check=True stops a simulation at the first decision its indexes make otherwise than wnod's own
``place()`` or ``worth_keeping()``: as they are, and if either of them changed without the
indexes following (the drift it exists to catch)."""

import pytest
from wnod_core.engine.placement import Full, Reuse, place

from wnod_simulate import crosscheck, index
from wnod_simulate.crosscheck import Disagreement
from wnod_simulate.run import run_policy

# 8 VWNs made and gone one after another (w keeps none), then two of b made at once, ending at
# once (1 160 s), and taken again one after the other: place() takes the one idle longest, and
# between two idle since the same second the smaller id, "vwn10" before "vwn9".
TIES = [(t * 100, 1, "w") for t in range(8)] + [(1000, 100, "b"), (1000, 100, "b"), (2000, 100, "b"),
                                                 (2001, 100, "b")]


@pytest.fixture
def ties(study, types):
    return study(TIES, types("w", max_reuses=0) | types("b"), vwns=2)


def test_two_vwns_idle_since_the_same_second_are_reused_in_the_order_of_their_ids(ties) -> None:
    result = run_policy(ties, "wnod", hosts=1, check=True)
    assert (result.boots, result.reuses) == (10, 2)


def test_indexes_that_ordered_them_as_they_went_idle_would_be_caught(ties, monkeypatch) -> None:
    monkeypatch.setattr(index, "_file_among_ties", lambda order, vwn: order.__setitem__(vwn, None))
    with pytest.raises(Disagreement, match=r"place\(\) answers \('reuse', 'vwn10'\), the simulation \('reuse', 'vwn9'\)"):
        run_policy(ties, "wnod", hosts=1, check=True)


def test_evicting_more_than_place_would_is_caught(study, types, monkeypatch) -> None:
    # Two idle VWNs of a on the only host, then a job of b: place() evicts the one idle longest.
    trace = study([(0, 100, "a"), (0, 100, "a"), (500, 100, "b")], types("a", "b"), vwns=2)
    assert run_policy(trace, "wnod", hosts=1, check=True).evictions == 1
    monkeypatch.setattr(index.Host, "victims", lambda host, kind: list(host.idle) if host.idle else None)
    with pytest.raises(Disagreement, match=r"place\(\) answers \('evict', 'vwn1'\)"):
        run_policy(trace, "wnod", hosts=1, check=True)


def test_place_no_longer_reusing_would_be_caught(study, types, monkeypatch) -> None:
    def engine_that_never_reuses(*args, **kwargs):
        answer = place(*args, **kwargs)
        return Full("no reuse any more") if isinstance(answer, Reuse) else answer

    monkeypatch.setattr(crosscheck, "place", engine_that_never_reuses)
    trace = study([(0, 100, "a"), (500, 100, "a")], types("a"))
    with pytest.raises(Disagreement, match=r"job 1 on host 0: place\(\) answers \('full',\), the simulation \('reuse'"):
        run_policy(trace, "wnod", hosts=1, check=True)


def test_worth_keeping_keeping_fewer_would_be_caught(study, types, monkeypatch) -> None:
    monkeypatch.setattr(crosscheck, "worth_keeping", lambda vwn, vm_type: (False, "keeps none any more"))
    trace = study([(0, 100, "a")], types("a"))
    with pytest.raises(Disagreement, match=r"VWN vwn1: worth_keeping\(\) says False \(keeps none any more\)"):
        run_policy(trace, "wnod", hosts=1, check=True)


def test_a_job_left_waiting_that_a_host_would_take_is_caught(study, types, monkeypatch) -> None:
    # The second job waits for the first's VWN to go; then its host alone is asked again, and a
    # host whose sums said it had no room would leave it waiting.
    monkeypatch.setattr(index.Host, "fits", lambda host, kind: False)
    trace = study([(0, 100, "a"), (0, 100, "b")], types("a", "b", max_reuses=0), vwns=1)
    with pytest.raises(Disagreement, match=r"job 1 waits, but host 0's place\(\) answers \('create', 1\)"):
        run_policy(trace, "wnod", hosts=1, check=True)
