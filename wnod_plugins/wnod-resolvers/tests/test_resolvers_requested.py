"""requested: a job gets the type it asks for only if the site lets its owner ask; else it is refused."""

from collections.abc import Callable
from typing import Any

import pytest
from wnod_core.errors import ConfigError
from wnod_core.model import JobFacts, Refused, Resolved
from wnod_core.records import ResolverPlugin
from wnod_core.testing.contracts import ResolverContract

POLICY = {
    "allow": {
        "atlas": {"users": ["alice"], "groups": ["atlas", "atlas-prod"]},
        "cms": {"groups": ["cms"]},
        "el9": {"users": ["*"]},
    }
}


class TestRequested(ResolverContract):
    @pytest.fixture
    def resolver_plugin(self, record: Callable[[str], ResolverPlugin]) -> ResolverPlugin:
        return record("requested")

    @pytest.fixture
    def resolver_options(self) -> dict[str, Any]:
        return {"allow": {"alpha": {"groups": ["physics"]}}}

    @pytest.fixture
    def deciding_job(self, job: Callable[..., JobFacts]) -> tuple[JobFacts, Resolved]:
        return job("bob", "users", "physics", requested="alpha"), Resolved("alpha", "")

    @pytest.fixture
    def passing_job(self, job: Callable[..., JobFacts]) -> JobFacts:
        return job("bob", "physics", queue="alpha")

    @pytest.fixture
    def options_naming_unknown_type(self) -> dict[str, Any]:
        return {"allow": {"gamma": {"users": ["*"]}}}


class TestRequestedRefusing(TestRequested):
    """The contract again, with a forbidden request as the deciding job."""

    @pytest.fixture
    def deciding_job(self, job: Callable[..., JobFacts]) -> tuple[JobFacts, Refused]:
        return job("bob", "users", requested="alpha"), Refused("")


@pytest.fixture
def policy(build: Callable[..., Any]) -> Any:
    return build("requested", POLICY)


def test_a_job_asking_for_nothing_is_passed_on(policy: Any, job: Callable[..., JobFacts]) -> None:
    assert policy.resolve(job("alice", "atlas")) is None
    assert policy.resolve(job("alice", "atlas", requested="")) is None


@pytest.mark.parametrize(
    ("facts", "wanted", "who"),
    [
        (("alice", "users"), "atlas", "user alice"),
        (("dave", "users", "atlas-prod"), "atlas", "group atlas-prod"),
        (("bob", "cms"), "cms", "group cms"),
        (("erin",), "el9", "every user"),
    ],
)
def test_an_allowed_request_is_honoured_and_says_who_allows_it(
    policy: Any, job: Callable[..., JobFacts], facts: tuple[str, ...], wanted: str, who: str
) -> None:
    decision = policy.resolve(job(*facts, requested=wanted))
    assert decision == Resolved(
        wanted, f'user {facts[0]} asked for VM type "{wanted}", which {who} may ask for'
    )


def test_a_forbidden_request_is_refused_naming_user_type_and_choices(
    policy: Any, job: Callable[..., JobFacts]
) -> None:
    decision = policy.resolve(job("bob", "cms", requested="atlas"))
    assert decision == Refused('user bob may not ask for VM type "atlas"; bob may ask for: cms, el9')


def test_a_configured_type_not_in_allow_may_not_be_asked_for(
    policy: Any, job: Callable[..., JobFacts]
) -> None:
    decision = policy.resolve(job("alice", "atlas", requested="sl6"))
    assert isinstance(decision, Refused)
    assert 'user alice may not ask for VM type "sl6"' in decision.reason


def test_a_user_who_may_ask_for_nothing_is_told_so(
    build: Callable[..., Any], job: Callable[..., JobFacts]
) -> None:
    decision = build("requested", {"allow": {"cms": {"groups": ["cms"]}}}).resolve(
        job("bob", requested="cms")
    )
    assert decision == Refused('user bob may not ask for VM type "cms"; bob may not ask for any VM type here')


def test_an_empty_policy_refuses_every_request(
    build: Callable[..., Any], job: Callable[..., JobFacts]
) -> None:
    resolver = build("requested", {"allow": {}})
    assert isinstance(resolver.resolve(job("alice", "atlas", requested="atlas")), Refused)
    assert resolver.resolve(job("alice", "atlas")) is None


def test_a_type_the_site_lacks_is_refused_with_a_hint_among_the_users_choices(
    policy: Any, job: Callable[..., JobFacts]
) -> None:
    decision = policy.resolve(job("bob", "cms", requested="cm"))
    assert decision == Refused(
        'user bob asked for VM type "cm", which this site does not have (did you mean "cms"?);'
        " bob may ask for: cms, el9"
    )


def test_the_hint_never_points_at_a_type_the_user_may_not_ask_for(
    policy: Any, job: Callable[..., JobFacts]
) -> None:
    decision = policy.resolve(job("bob", "cms", requested="atlsa"))
    assert isinstance(decision, Refused)
    assert "atlas" not in decision.reason


def test_requests_are_case_sensitive(policy: Any, job: Callable[..., JobFacts]) -> None:
    assert isinstance(policy.resolve(job("alice", requested="Atlas")), Refused)
    assert isinstance(policy.resolve(job("Alice", requested="atlas")), Refused)
    assert isinstance(policy.resolve(job("carol", "CMS", requested="cms")), Refused)


def test_a_policy_problem_is_reported_at_its_key_all_at_once(build: Callable[..., Any]) -> None:
    with pytest.raises(ConfigError) as err:
        build(
            "requested",
            {
                "allow": {
                    "atlsa": {"users": ["alice"]},
                    "cms": {},
                    "el9": {"groups": ["physics", "*"]},
                }
            },
        )
    problems = {p.path: p.message for p in err.value.problems}
    assert set(problems) == {
        "resolvers[1].allow.atlsa",
        "resolvers[1].allow.cms",
        "resolvers[1].allow.el9.groups[1]",
    }
    assert 'unknown VM type "atlsa" (did you mean "atlas"?)' in problems["resolvers[1].allow.atlsa"]
    assert "nobody could ask" in problems["resolvers[1].allow.cms"]
    assert 'users = ["*"]' in problems["resolvers[1].allow.el9.groups[1]"]


def test_a_misspelt_permit_key_gets_a_hint(build: Callable[..., Any]) -> None:
    with pytest.raises(ConfigError) as err:
        build("requested", {"allow": {"cms": {"group": ["cms"]}}})
    assert [(p.path, p.message) for p in err.value.problems] == [
        ("resolvers[1].allow.cms.group", 'unknown key (did you mean "groups"?)')
    ]
