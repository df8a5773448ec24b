"""by-group: the owner's groups pick the type, and the admin's order of the map is the priority."""

import tomllib
from collections.abc import Callable
from typing import Any

import pytest
from wnod_core.model import JobFacts, Resolved
from wnod_core.records import ResolverPlugin
from wnod_core.testing.contracts import ResolverContract


class TestByGroup(ResolverContract):
    @pytest.fixture
    def resolver_plugin(self, record: Callable[[str], ResolverPlugin]) -> ResolverPlugin:
        return record("by-group")

    @pytest.fixture
    def resolver_options(self) -> dict[str, Any]:
        return {"map": {"atlas": "alpha", "cms": "beta"}}

    @pytest.fixture
    def deciding_job(self, job: Callable[..., JobFacts]) -> tuple[JobFacts, Resolved]:
        return job("bob", "users", "cms"), Resolved("beta", "")

    @pytest.fixture
    def passing_job(self, job: Callable[..., JobFacts]) -> JobFacts:
        return job("atlas", "users", queue="cms")

    @pytest.fixture
    def options_naming_unknown_type(self) -> dict[str, Any]:
        return {"map": {"atlas": "alpha", "cms": "gamma"}}


@pytest.mark.parametrize(
    ("mapping", "expected"),
    [
        ({"atlas": "atlas", "cms": "cms"}, "atlas"),
        ({"cms": "cms", "atlas": "atlas"}, "cms"),
    ],
)
@pytest.mark.parametrize("users_groups", [("atlas", "cms"), ("cms", "atlas")])
def test_the_first_listed_group_wins_whatever_the_users_order(
    build: Callable[..., Any],
    job: Callable[..., JobFacts],
    mapping: dict[str, str],
    expected: str,
    users_groups: tuple[str, ...],
) -> None:
    resolver = build("by-group", {"map": mapping})
    assert resolver.resolve(job("bob", *users_groups)).vm_type == expected


def test_the_toml_order_is_the_priority(build: Callable[..., Any], job: Callable[..., JobFacts]) -> None:
    # The admin writes TOML, in either form; both must keep the order they wrote.
    inline = 'map = { zeus = "sl6", cms = "cms", atlas = "atlas" }'
    table = '[map]\nzeus = "sl6"\ncms = "cms"\natlas = "atlas"\n'
    for text in (inline, table):
        resolver = build("by-group", tomllib.loads(text))
        assert resolver.resolve(job("bob", "atlas", "cms")).vm_type == "cms"
        assert resolver.resolve(job("bob", "atlas", "cms", "zeus")).vm_type == "sl6"


def test_any_group_counts_not_only_the_primary(
    build: Callable[..., Any], job: Callable[..., JobFacts]
) -> None:
    resolver = build("by-group", {"map": {"cms": "cms"}})
    assert resolver.resolve(job("bob", "users", "physics", "cms")) == Resolved(
        "cms", 'group cms (of user bob) is mapped to VM type "cms"'
    )


def test_users_in_no_listed_group_are_passed_on(
    build: Callable[..., Any], job: Callable[..., JobFacts]
) -> None:
    resolver = build("by-group", {"map": {"cms": "cms"}})
    assert resolver.resolve(job("bob", "users")) is None
    assert resolver.resolve(job("bob")) is None


def test_group_names_are_case_sensitive(build: Callable[..., Any], job: Callable[..., JobFacts]) -> None:
    resolver = build("by-group", {"map": {"cms": "cms"}})
    assert resolver.resolve(job("bob", "CMS")) is None


def test_an_empty_map_passes_every_job(build: Callable[..., Any], job: Callable[..., JobFacts]) -> None:
    assert build("by-group", {"map": {}}).resolve(job("bob", "cms")) is None
