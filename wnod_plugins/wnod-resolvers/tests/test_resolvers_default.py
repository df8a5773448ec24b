"""default: one type for every job that reaches it."""

from collections.abc import Callable
from typing import Any

import pytest
from wnod_core.errors import ConfigError
from wnod_core.model import JobFacts, Resolved
from wnod_core.records import ResolverPlugin
from wnod_core.testing.contracts import ResolverContract


class TestDefault(ResolverContract):
    @pytest.fixture
    def resolver_plugin(self, record: Callable[[str], ResolverPlugin]) -> ResolverPlugin:
        return record("default")

    @pytest.fixture
    def resolver_options(self) -> dict[str, Any]:
        return {"vm_type": "beta"}

    @pytest.fixture
    def deciding_job(self, job: Callable[..., JobFacts]) -> tuple[JobFacts, Resolved]:
        return job("carol", "users", queue="short", requested="alpha"), Resolved("beta", "")

    @pytest.fixture
    def passing_job(self) -> None:
        return None  # it answers every job: that is its purpose

    @pytest.fixture
    def options_naming_unknown_type(self) -> dict[str, Any]:
        return {"vm_type": "gamma"}


@pytest.mark.parametrize(
    "facts",
    [("carol",), ("alice", "atlas"), ("bob", "cms", "users")],
)
def test_every_job_gets_the_default_and_is_told_so(
    build: Callable[..., Any], job: Callable[..., JobFacts], facts: tuple[str, ...]
) -> None:
    decision = build("default", {"vm_type": "sl6"}).resolve(job(*facts, queue="long", requested="cms"))
    assert decision == Resolved("sl6", f'user {facts[0]} gets this site\'s default VM type "sl6"')


def test_the_type_is_required(build: Callable[..., Any]) -> None:
    with pytest.raises(ConfigError) as err:
        build("default", {})
    assert [p.path for p in err.value.problems] == ["resolvers[1].vm_type"]
