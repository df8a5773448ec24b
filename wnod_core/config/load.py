"""From config files to a validated ``Config``: every mistake found, each named by its path."""

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from ..errors import ConfigError, PluginError, Problem
from ..model import ImageSource, VmType
from ..model.vmtype import check_name
from ..plugins import Plugins
from ..records import ResolverPlugin
from ..text import did_you_mean
from .convert import join, structure
from .files import read_layers, source_of
from .schema import (
    BatchSection,
    DaemonSection,
    EngineSection,
    HostSection,
    HypervisorSection,
    ImagesSection,
    ResolverEntry,
)

SECTIONS = ("host", "engine", "daemon", "images", "batch", "hypervisor", "vm_types", "resolvers")


@attrs.frozen
class ResolverLink:
    """One configured link of the resolver chain."""

    use: str
    path: str
    """``resolvers[N]``, for messages."""
    plugin: ResolverPlugin
    options: Any

    @property
    def label(self) -> str:
        return f"{self.use} ({self.path})"


@attrs.frozen
class Config:
    """The site's configuration for this host, validated against the installed plugins."""

    files: tuple[Path, ...]
    sources: Mapping[str, str]
    """The file behind each dotted key; keys not listed have their default."""
    host: HostSection
    engine: EngineSection
    daemon: DaemonSection
    batch: BatchSection
    batch_options: Any
    hypervisor: HypervisorSection
    hypervisor_options: Any
    vm_types: Mapping[str, VmType]
    resolvers: tuple[ResolverLink, ...]
    images: ImagesSection = ImagesSection()

    def source_of(self, path: str) -> str:
        return source_of(path, dict(self.sources))


def load_config(files: Sequence[Path], plugins: Plugins) -> Config:
    """Read `files` (least important first) and validate them; ConfigError lists every mistake."""
    raw, sources = read_layers(files)
    problems: list[Problem] = []
    config = _build(raw, plugins, problems)
    if problems:
        raise ConfigError([attrs.evolve(p, source=p.source or source_of(p.path, sources)) for p in problems])
    return attrs.evolve(config, files=tuple(files), sources=sources)


def _build(raw: dict[str, Any], plugins: Plugins, problems: list[Problem]) -> Config:
    for key in raw:
        if key not in SECTIONS:
            problems.append(Problem(key, f"unknown section{did_you_mean(key, SECTIONS)}"))
    host = _collect(problems, lambda: structure(_table(raw, "host"), HostSection, "host")) or HostSection()
    engine = _collect(problems, lambda: structure(_table(raw, "engine"), EngineSection, "engine")) or EngineSection()
    daemon = _collect(problems, lambda: structure(_table(raw, "daemon"), DaemonSection, "daemon")) or DaemonSection()
    images = _collect(problems, lambda: structure(_table(raw, "images"), ImagesSection, "images")) or ImagesSection()
    batch, batch_options = _plugin_section(raw, "batch", "system", "batch_systems", BatchSection, plugins, problems)
    hypervisor, hypervisor_options = _plugin_section(
        raw, "hypervisor", "backend", "hypervisors", HypervisorSection, plugins, problems
    )
    return Config(
        files=(),
        sources={},
        host=host,
        engine=engine,
        daemon=daemon,
        batch=batch,
        batch_options=batch_options,
        hypervisor=hypervisor,
        hypervisor_options=hypervisor_options,
        vm_types=_library_images(_vm_types(raw.get("vm_types", {}), problems), images, problems),
        resolvers=_resolvers(raw.get("resolvers", []), plugins, problems),
        images=images,
    )


def _library_images(vm_types: dict[str, VmType], images: ImagesSection, problems: list[Problem]) -> dict[str, VmType]:
    """A VM type whose image comes from the library needs one, and takes its version from the rollout."""
    for name, vm_type in vm_types.items():
        if vm_type.image_source is not ImageSource.LIBRARY:
            continue
        path = join("vm_types", name)
        if not images.library:
            problems.append(Problem(join(path, "image_source"), '"library" needs [images] library, which is not set'))
        try:
            check_name(vm_type.image, "a library image's name")
        except ValueError as exc:
            problems.append(Problem(join(path, "image"), str(exc)))
        if vm_type.image_version:
            problems.append(Problem(join(path, "image_version"), 'the version of a "library" image is the one'
                                    " published on the host (wnod image publish): leave image_version unset"))
    return vm_types


def _collect(problems: list[Problem], make: Any) -> Any:
    try:
        return make()
    except ConfigError as exc:
        problems.extend(exc.problems)
        return None


def _table(raw: dict[str, Any], key: str) -> Any:
    return raw.get(key, {})


def _plugin_section(
    raw: dict[str, Any],
    section: str,
    selector: str,
    kind: str,
    section_cls: type,
    plugins: Plugins,
    problems: list[Problem],
) -> tuple[Any, Any]:
    """``[batch] system = "x"`` with ``[batch.x]`` options, and the same shape for ``[hypervisor]``."""
    table = raw.get(section, {})
    if not isinstance(table, dict):
        problems.append(Problem(section, "expected a table"))
        return section_cls(), None
    head = {k: v for k, v in table.items() if not isinstance(v, dict)}
    subtables = {k: v for k, v in table.items() if isinstance(v, dict)}
    parsed = _collect(problems, lambda: structure(head, section_cls, section)) or section_cls()
    chosen = getattr(parsed, selector)
    for name in subtables:
        if name != chosen:
            where = f'{section}.{selector} selects "{chosen}"' if chosen else f"{section}.{selector} is not set"
            problems.append(Problem(join(section, name), f"options for a plugin that is not used ({where})"))
    if chosen is None:
        return parsed, None
    try:
        record = plugins.lookup(kind, chosen)
    except PluginError as exc:
        problems.append(Problem(join(section, selector), str(exc)))
        return parsed, None
    return parsed, _options(record, subtables.get(chosen, {}), join(section, chosen), problems)


def _options(record: Any, table: dict[str, Any], path: str, problems: list[Problem]) -> Any:
    if record.options is None:
        problems.extend(Problem(join(path, k), f'unknown key: plugin "{record.name}" takes no options') for k in table)
        return None
    return _collect(problems, lambda: structure(table, record.options, path))


def _vm_types(raw: Any, problems: list[Problem]) -> dict[str, VmType]:
    if not isinstance(raw, dict) or not all(isinstance(v, dict) for v in raw.values()):
        problems.append(Problem("vm_types", "expected tables like [vm_types.NAME]"))
        return {}
    out = {}
    for name, table in raw.items():
        path = join("vm_types", name)
        try:
            check_name(name, "VM type name")
        except ValueError as exc:
            problems.append(Problem(path, str(exc)))
            continue
        if "name" in table:
            problems.append(Problem(join(path, "name"), "unknown key: the name is the table's key"))
            continue
        vm_type = _collect(problems, lambda: structure({**table, "name": name}, VmType, path))
        if vm_type is not None:
            out[name] = vm_type
    return out


def _resolvers(raw: Any, plugins: Plugins, problems: list[Problem]) -> tuple[ResolverLink, ...]:
    if not isinstance(raw, list) or not all(isinstance(v, dict) for v in raw):
        problems.append(Problem("resolvers", "expected an array of tables like [[resolvers]]"))
        return ()
    links = []
    for index, table in enumerate(raw):
        path = join("resolvers", index)
        head = {"use": table["use"]} if "use" in table else {}
        entry = _collect(problems, lambda: structure(head, ResolverEntry, path))
        if entry is None:
            continue
        try:
            record = plugins.lookup("resolvers", entry.use)
        except PluginError as exc:
            problems.append(Problem(join(path, "use"), str(exc)))
            continue
        rest = {k: v for k, v in table.items() if k != "use"}
        options = _options(record, rest, path, problems)
        if record.options is None or options is not None:
            links.append(ResolverLink(use=entry.use, path=path, plugin=record, options=options))
    return tuple(links)
