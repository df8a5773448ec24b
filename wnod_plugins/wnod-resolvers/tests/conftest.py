"""Fixtures shared by the wnod-resolvers tests.

The records are looked up through the core's own plugin loader, as ``wnod`` would, so
a registration the core refuses fails these tests too. Test modules use these as
fixtures only: with ``--import-mode=importlib`` nothing here can be imported.
"""

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from wnod_core.model import JobFacts, VmType
from wnod_core.plugins import Plugins
from wnod_core.plugins.report import Status
from wnod_core.records import ResolverPlugin
from wnod_core.testing import build_plugin

from wnod_resolvers import plugin

SITE_TYPES = ("atlas", "cms", "el9", "sl6")


@pytest.fixture
def plugins() -> Plugins:
    loaded = Plugins.load(installed=False, extra=[("wnod-resolvers", plugin)])
    failed = [f"{r.name}: {r.error}" for r in loaded.reports() if r.status is not Status.LOADED or r.problems]
    assert not failed, failed
    return loaded


@pytest.fixture
def record(plugins: Plugins) -> Callable[[str], ResolverPlugin]:
    """``record("by-user")``: the registered record, as the config loader finds it."""
    return lambda name: plugins.lookup("resolvers", name)


@pytest.fixture
def site_types() -> Mapping[str, VmType]:
    return {name: VmType(name=name, image=f"{name}.qcow2") for name in SITE_TYPES}


@pytest.fixture
def build(
    record: Callable[[str], ResolverPlugin], site_types: Mapping[str, VmType], tmp_path: Path
) -> Callable[..., Any]:
    """``build("by-user", {"map": {...}})``: the resolver, built as the core builds link ``resolvers[1]``."""

    def make(name: str, options: Mapping[str, Any], vm_types: Mapping[str, VmType] | None = None) -> Any:
        types = site_types if vm_types is None else vm_types
        return build_plugin(record(name), options, types, tmp_path, path="resolvers[1]")

    return make


@pytest.fixture
def job() -> Callable[..., JobFacts]:
    """``job("alice", "atlas", "users", queue="short", requested="cms")``: a job of alice in those groups."""

    def make(user: str, *groups: str, queue: str = "", requested: str | None = None) -> JobFacts:
        return JobFacts(
            batch_system="test",
            job_id="42",
            user=user,
            groups=groups,
            queue=queue,
            requested_vm_type=requested,
        )

    return make
