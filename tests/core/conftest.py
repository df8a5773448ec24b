"""In-process plugins for the core's tests, so they never depend on what happens to be installed.

Test modules run with --import-mode=importlib and cannot import each other, so the
shared pieces are handed out as fixtures.
"""

import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

import wnod_core
from wnod_core.interfaces import Resolver
from wnod_core.model import JobFacts, Refused, Resolved
from wnod_core.model.fields import documented
from wnod_core.plugins import Plugins
from wnod_core.records import ResolverPlugin, Setup


@attrs.frozen
class UserMapOptions:
    """Options of the in-test ``by-user`` resolver."""

    users: dict[str, str] = documented("Unix user name to VM type.", factory=dict)
    note: str = documented("A free text that proves plugin options reach the reference.", default="")


class UserMap(Resolver):
    """Maps a job's user to a VM type; refuses to build when it names an unconfigured type."""

    def __init__(self, setup: Setup[UserMapOptions]):
        for user, vm_type in setup.options.users.items():
            if vm_type not in setup.vm_types:
                raise ValueError(f'user {user} is mapped to VM type "{vm_type}", which is not configured')
        self.users = dict(setup.options.users)

    def resolve(self, job: JobFacts) -> Resolved | None:
        vm_type = self.users.get(job.user)
        return Resolved(vm_type, f"user {job.user} is mapped to {vm_type}") if vm_type else None


class RefuseAll(Resolver):
    def __init__(self, setup: Setup[None]):
        pass

    def resolve(self, job: JobFacts) -> Refused:
        return Refused(f"user {job.user} may not run here")


class SiteResolvers:
    """An in-process plugin: resolvers ``by-user`` (with options) and ``refuse-all`` (without)."""

    @wnod_core.hookimpl
    def wnod_resolvers(self) -> Iterator[ResolverPlugin]:
        yield ResolverPlugin(
            name="by-user", factory=UserMap, options=UserMapOptions, summary="Map users to types."
        )
        yield ResolverPlugin(name="refuse-all", factory=RefuseAll, summary="Refuse every job.")


def namespace_plugin(**hooks: Callable[..., Any]) -> types.SimpleNamespace:
    """A plugin object with the given functions as hook implementations."""
    return types.SimpleNamespace(**{hook: wnod_core.hookimpl(fn) for hook, fn in hooks.items()})


@pytest.fixture
def site_resolvers() -> SiteResolvers:
    return SiteResolvers()


@pytest.fixture
def make_plugin() -> Callable[..., types.SimpleNamespace]:
    """``make_plugin(wnod_resolvers=fn, ...)``: a plugin object implementing those hooks."""
    return namespace_plugin


@pytest.fixture
def load_plugins() -> Callable[..., Plugins]:
    """``load_plugins(name=obj, ...)``: the built-ins plus those in-process plugins, nothing installed."""
    return lambda **named: Plugins.load(installed=False, extra=list(named.items()))


@pytest.fixture
def with_plugins(site_resolvers: SiteResolvers, load_plugins: Callable[..., Plugins]) -> Plugins:
    """Built-ins plus the in-test ``site`` plugin."""
    return load_plugins(site=site_resolvers)


@pytest.fixture
def write_config(wnod_home: Path) -> Callable[[str, str], Path]:
    """``write_config(relative_path, toml)``: a file under the isolated home."""

    def write(relative: str, text: str) -> Path:
        path = wnod_home / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    return write
