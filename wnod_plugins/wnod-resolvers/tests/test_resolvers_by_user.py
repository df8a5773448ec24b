"""by-user: the owner's user name picks the type; everyone else is passed on."""

from collections.abc import Callable
from typing import Any

import pytest
from wnod_core.errors import ConfigError
from wnod_core.model import JobFacts, Resolved
from wnod_core.records import ResolverPlugin
from wnod_core.testing.contracts import ResolverContract


class TestByUser(ResolverContract):
    @pytest.fixture
    def resolver_plugin(self, record: Callable[[str], ResolverPlugin]) -> ResolverPlugin:
        return record("by-user")

    @pytest.fixture
    def resolver_options(self) -> dict[str, Any]:
        return {"map": {"alice": "alpha", "bob": "beta"}}

    @pytest.fixture
    def deciding_job(self, job: Callable[..., JobFacts]) -> tuple[JobFacts, Resolved]:
        return job("bob", "users"), Resolved("beta", "")

    @pytest.fixture
    def passing_job(self, job: Callable[..., JobFacts]) -> JobFacts:
        return job("carol", "alice", queue="alice")

    @pytest.fixture
    def options_naming_unknown_type(self) -> dict[str, Any]:
        return {"map": {"alice": "gamma"}}


def test_a_mapped_user_gets_their_type_and_is_told_why(
    build: Callable[..., Any], job: Callable[..., JobFacts]
) -> None:
    resolver = build("by-user", {"map": {"alice": "atlas", "bob": "cms"}})
    assert resolver.resolve(job("alice", "cms")) == Resolved(
        "atlas", 'user alice is mapped to VM type "atlas"'
    )
    assert resolver.resolve(job("bob")).vm_type == "cms"


def test_user_names_are_case_sensitive_as_in_unix(
    build: Callable[..., Any], job: Callable[..., JobFacts]
) -> None:
    resolver = build("by-user", {"map": {"alice": "atlas"}})
    assert resolver.resolve(job("Alice")) is None
    assert resolver.resolve(job("alice ")) is None


def test_an_empty_map_passes_every_job(build: Callable[..., Any], job: Callable[..., JobFacts]) -> None:
    assert build("by-user", {"map": {}}).resolve(job("alice", "atlas")) is None


def test_the_map_is_required(build: Callable[..., Any]) -> None:
    with pytest.raises(ConfigError) as err:
        build("by-user", {})
    assert [p.path for p in err.value.problems] == ["resolvers[1].map"]


def test_a_value_that_is_not_a_type_name_is_refused_at_its_key(build: Callable[..., Any]) -> None:
    with pytest.raises(ConfigError) as err:
        build("by-user", {"map": {"alice": 3}})
    assert [(p.path, p.message) for p in err.value.problems] == [
        ("resolvers[1].map.alice", "expected a string, got 3")
    ]
