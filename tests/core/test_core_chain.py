"""The resolver chain: the first resolver that answers decides; nobody answering is a refusal."""

import pytest

from wnod_core.chain import Link, ResolverChain
from wnod_core.errors import PluginError, WnodError
from wnod_core.interfaces import Resolver
from wnod_core.model import JobFacts, Refused, Resolved, VmType

VM_TYPES = {name: VmType(name=name, image=f"{name}.img") for name in ("atlas", "cms")}


class Answers(Resolver):
    """Answers the same thing for every job, and counts how often it was asked."""

    def __init__(self, answer: object):
        self.answer = answer
        self.asked = 0

    def resolve(self, job: JobFacts):
        self.asked += 1
        if isinstance(self.answer, BaseException):
            raise self.answer
        return self.answer


def chain(*answers: object) -> tuple[ResolverChain, list[Answers]]:
    resolvers = [Answers(a) for a in answers]
    links = [Link(f"r{i} (resolvers[{i}])", r) for i, r in enumerate(resolvers)]
    return ResolverChain(links, VM_TYPES), resolvers


JOB = JobFacts(batch_system="slurm", job_id="42", user="alice", groups=("atlas", "users"), queue="long")


def test_the_first_answer_wins_and_later_links_are_not_asked() -> None:
    rules, resolvers = chain(None, Resolved("atlas", "user alice"), Resolved("cms", "never"))
    assert rules.resolve(JOB) == Resolved("atlas", "user alice", resolver="r1 (resolvers[1])")
    assert [r.asked for r in resolvers] == [1, 1, 0]


def test_a_refusal_stops_the_chain_and_names_its_resolver() -> None:
    rules, resolvers = chain(Refused("queue long is closed"), Resolved("atlas", "x"))
    assert rules.resolve(JOB) == Refused("queue long is closed", resolver="r0 (resolvers[0])")
    assert resolvers[1].asked == 0


def test_a_resolver_whose_source_fails_refuses_the_job_with_its_error() -> None:
    rules, resolvers = chain(WnodError("cannot read /etc/wnod/users.csv"), Resolved("atlas", "x"))
    decision = rules.resolve(JOB)
    assert isinstance(decision, Refused)
    assert decision.resolver == "r0 (resolvers[0])"
    assert decision.reason == "resolver r0 (resolvers[0]) could not decide: cannot read /etc/wnod/users.csv"
    assert resolvers[1].asked == 0


def test_a_resolver_bug_is_not_turned_into_a_refusal() -> None:
    rules, _ = chain(KeyError("oops"))
    with pytest.raises(KeyError):
        rules.resolve(JOB)


def test_choosing_an_unconfigured_type_is_a_plugin_error() -> None:
    rules, _ = chain(Resolved("lhcb", "x"))
    with pytest.raises(
        PluginError, match=r'^resolver r0 \(resolvers\[0\]\) chose VM type "lhcb", which is not configured$'
    ):
        rules.resolve(JOB)


@pytest.mark.parametrize("garbage", ["atlas", 1, VM_TYPES["atlas"], True])
def test_a_garbage_answer_is_a_plugin_error(garbage: object) -> None:
    rules, _ = chain(garbage)
    with pytest.raises(PluginError) as err:
        rules.resolve(JOB)
    assert str(err.value) == (
        f"resolver r0 (resolvers[0]) answered {garbage!r}, expected Resolved, Refused or None"
    )


def test_nobody_answering_refuses_with_the_facts_that_were_looked_at() -> None:
    rules, resolvers = chain(None, None)
    job = JobFacts(
        batch_system="slurm",
        job_id="42",
        user="alice",
        groups=("atlas", "users"),
        queue="long",
        requested_vm_type="gpu",
    )
    decision = rules.resolve(job)
    assert decision == Refused(
        'no VM type for user alice (groups atlas, users) in queue long asking for VM type "gpu":'
        " no resolver of this site maps such jobs to a VM type"
    )
    assert [r.asked for r in resolvers] == [1, 1]


def test_nobody_answering_a_bare_job_mentions_only_the_user() -> None:
    rules, _ = chain(None)
    decision = rules.resolve(JobFacts(batch_system="slurm", job_id="1", user="bob"))
    assert isinstance(decision, Refused)
    assert decision.reason.startswith("no VM type for user bob: ")


def test_an_empty_chain_says_no_resolvers_are_configured() -> None:
    rules = ResolverChain([], VM_TYPES)
    decision = rules.resolve(JOB)
    assert decision == Refused(
        "no VM type for user alice (groups atlas, users) in queue long: this host has no resolvers configured"
    )
    assert decision.resolver == ""
