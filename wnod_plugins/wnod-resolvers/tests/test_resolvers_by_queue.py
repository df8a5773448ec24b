"""by-queue: the queue (partition, pool) picks the type."""

from collections.abc import Callable
from typing import Any

import pytest
from wnod_core.model import JobFacts, Resolved
from wnod_core.records import ResolverPlugin
from wnod_core.testing.contracts import ResolverContract


class TestByQueue(ResolverContract):
    @pytest.fixture
    def resolver_plugin(self, record: Callable[[str], ResolverPlugin]) -> ResolverPlugin:
        return record("by-queue")

    @pytest.fixture
    def resolver_options(self) -> dict[str, Any]:
        return {"map": {"short": "alpha", "long": "beta"}}

    @pytest.fixture
    def deciding_job(self, job: Callable[..., JobFacts]) -> tuple[JobFacts, Resolved]:
        return job("bob", queue="long"), Resolved("beta", "")

    @pytest.fixture
    def passing_job(self, job: Callable[..., JobFacts]) -> JobFacts:
        return job("short", "long", queue="medium")

    @pytest.fixture
    def options_naming_unknown_type(self) -> dict[str, Any]:
        return {"map": {"short": "gamma"}}


def test_a_mapped_queue_picks_the_type_and_says_so(
    build: Callable[..., Any], job: Callable[..., JobFacts]
) -> None:
    resolver = build("by-queue", {"map": {"short": "sl6", "long": "el9"}})
    assert resolver.resolve(job("alice", queue="short")) == Resolved(
        "sl6", 'queue short is mapped to VM type "sl6"'
    )
    assert resolver.resolve(job("alice", queue="long")).vm_type == "el9"


def test_a_job_without_a_queue_is_passed_on(build: Callable[..., Any], job: Callable[..., JobFacts]) -> None:
    # Even a map with an empty key: "no queue" is not a queue name an admin can mean.
    resolver = build("by-queue", {"map": {"": "sl6", "short": "sl6"}})
    assert resolver.resolve(job("alice")) is None


def test_queue_names_are_case_sensitive(build: Callable[..., Any], job: Callable[..., JobFacts]) -> None:
    resolver = build("by-queue", {"map": {"short": "sl6"}})
    assert resolver.resolve(job("alice", queue="SHORT")) is None


def test_an_empty_map_passes_every_job(build: Callable[..., Any], job: Callable[..., JobFacts]) -> None:
    assert build("by-queue", {"map": {}}).resolve(job("alice", queue="short")) is None
