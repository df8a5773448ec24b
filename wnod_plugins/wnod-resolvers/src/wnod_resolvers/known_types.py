"""What every resolver checks when it is built: the VM types its options name exist.

A map value naming a type that is not configured would otherwise surface only when
a job of that user arrives, as a refused job; found at start-up it is one line in
``wnod config check``, at the exact key the admin has to fix.
"""

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

from wnod_core.errors import ConfigError, Problem
from wnod_core.model import VmType
from wnod_core.records import Setup
from wnod_core.text import did_you_mean


def unknown_type(name: str, vm_types: Mapping[str, VmType]) -> str:
    """Why `name` is not a VM type of this site, with the likely intended one."""
    if not vm_types:
        return f'unknown VM type "{name}": no VM types are configured (add a [vm_types.{name}] table)'
    known = ", ".join(sorted(vm_types))
    return f'unknown VM type "{name}"{did_you_mean(name, vm_types)}; configured: {known}'


def type_problems(named: Iterable[tuple[str, str]], vm_types: Mapping[str, VmType]) -> list[Problem]:
    """One problem for every ``(path, type name)`` pair whose type is not configured."""
    return [Problem(path, unknown_type(name, vm_types)) for path, name in named if name not in vm_types]


def check_types(named: Iterable[tuple[str, str]], vm_types: Mapping[str, VmType]) -> None:
    """Raise one ConfigError listing every ``(path, type name)`` pair whose type is not configured."""
    problems = type_problems(named, vm_types)
    if problems:
        raise ConfigError(problems)


def checked_map(setup: Setup[Any], mapping: Mapping[str, str]) -> Mapping[str, str]:
    """`mapping` (the ``map`` option of `setup`), its types checked, as a read-only view.

    Read-only because a resolver is shared by worker threads and must give the same
    answer for the same facts for as long as it lives.
    """
    check_types(((f"{setup.path}.map.{key}", name) for key, name in mapping.items()), setup.vm_types)
    return MappingProxyType(dict(mapping))
