"""Building a plugin's object the way the core does, from a TOML-shaped options table."""

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..config.convert import structure
from ..model import VmType
from ..records import Dirs, Setup


def structure_options(record: Any, table: Mapping[str, Any], path: str = "test") -> Any:
    """The plugin's options from a table, exactly as the config loader structures them."""
    if record.options is None:
        if table:
            raise ValueError(f"plugin {record.name} takes no options, got {dict(table)}")
        return None
    return structure(dict(table), record.options, path)


def build_plugin(
    record: Any,
    table: Mapping[str, Any],
    vm_types: Mapping[str, VmType],
    base_dir: Path,
    host: str = "hv-test",
    path: str = "test",
) -> Any:
    """Call the record's factory as the core would, with directories under `base_dir`."""
    dirs = Dirs(state=base_dir / "state", cache=base_dir / "cache", runtime=base_dir / "run")
    setup = Setup(
        options=structure_options(record, table, path), path=path, vm_types=vm_types, host=host, dirs=dirs
    )
    return record.factory(setup)
