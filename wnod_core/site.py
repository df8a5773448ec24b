"""This host's wnod as a program sees it: configuration, plugins, directories, and the
objects built from them. The CLI and the daemon are thin layers over this."""

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from .chain import Link, ResolverChain
from .config import Config, load_config
from .errors import ConfigError, Problem
from .interfaces import BaitSide, BatchSystem, Hypervisor
from .paths import config_files
from .plugins import Plugins
from .records import BatchSystemPlugin, Dirs, Setup
from .text import one_line

T = TypeVar("T")


class Site:
    def __init__(self, config: Config, plugins: Plugins, dirs: Dirs):
        self.config = config
        self.plugins = plugins
        self.dirs = dirs

    @classmethod
    def open(cls, config_file: str | os.PathLike[str] | None, plugins: Plugins, dirs: Dirs) -> "Site":
        """The site as configured: `config_file` alone if given, else the XDG config files."""
        files = [Path(config_file)] if config_file else config_files()
        return cls(load_config(files, plugins), plugins, dirs)

    def setup(self, options: Any, path: str) -> Setup[Any]:
        return Setup(
            options=options,
            path=path,
            vm_types=self.config.vm_types,
            host=self.config.host.name,
            dirs=self.dirs,
        )

    @functools.cached_property
    def resolver_chain(self) -> ResolverChain:
        links, problems = [], []
        for link in self.config.resolvers:
            try:
                links.append(
                    Link(link.label, self._build(link.plugin.factory, self.setup(link.options, link.path), link.path))
                )
            except ConfigError as exc:  # every broken link at once, not one per run
                problems.extend(exc.problems)
        if problems:
            raise ConfigError(problems)
        return ResolverChain(links, self.config.vm_types)

    def _build(self, factory: Callable[[Setup[Any]], T], setup: Setup[Any], path: str) -> T:
        try:
            return _build(factory, setup, path)
        except ConfigError as exc:
            raise ConfigError([p if p.source else _sourced(p, self.config) for p in exc.problems]) from None

    @functools.cached_property
    def batch_system(self) -> BatchSystem:
        name = self.config.batch.system
        if name is None:
            raise ConfigError([Problem("batch.system", "required here: which batch system does this host use?")])
        plugin = self.plugins.lookup("batch_systems", name)
        path = f"batch.{name}"
        return self._build(plugin.factory, self.setup(self.config.batch_options, path), path)

    @functools.cached_property
    def bait_side(self) -> BaitSide:
        """What ``wnod bait`` reads from the batch system's hook and answers it: the plugin's
        record, with no adapter built and no ``[batch.<name>]`` read."""
        name = self.config.batch.system
        if name is None:
            raise ConfigError([Problem("batch.system", "required here: which batch system does this host use?")])
        return self.plugins.lookup(BatchSystemPlugin, name).bait

    @functools.cached_property
    def hypervisor(self) -> Hypervisor:
        name = self.config.hypervisor.backend
        if name is None:
            raise ConfigError([Problem("hypervisor.backend", "required here: which hypervisor backend makes VWNs?")])
        plugin = self.plugins.lookup("hypervisors", name)
        path = f"hypervisor.{name}"
        return self._build(plugin.factory, self.setup(self.config.hypervisor_options, path), path)

    def check(self) -> None:
        """Build every configured object, so mistakes only the plugins can see are found now.

        Factories validate and must not connect to anything, so this is safe on a live host.
        """
        problems: list[Problem] = []
        for build, selected in (
            (lambda: self.resolver_chain, True),
            (lambda: self.batch_system, self.config.batch.system is not None),
            (lambda: self.hypervisor, self.config.hypervisor.backend is not None),
        ):
            if not selected:
                continue
            try:
                build()
            except ConfigError as exc:
                problems.extend(exc.problems)
        if problems:
            raise ConfigError([p if p.source else _sourced(p, self.config) for p in problems])


def _build(factory: Callable[[Setup[Any]], T], setup: Setup[Any], path: str) -> T:
    """Run a plugin's factory; its complaints about the config become path-qualified problems."""
    try:
        return factory(setup)
    except ConfigError:
        raise
    except (ValueError, TypeError) as exc:
        raise ConfigError([Problem(path, str(exc))]) from None
    except Exception as exc:  # a plugin's bug must read as one clear line, not a traceback
        raise ConfigError([Problem(path, f"plugin failed to start: {one_line(exc)}")]) from exc


def _sourced(problem: Problem, config: Config) -> Problem:
    return Problem(problem.path, problem.message, config.source_of(problem.path))
