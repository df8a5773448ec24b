"""The --json fields documented in docs/cli.md are exactly the fields the commands print."""

import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from wnod_core.cli.main import cli

ROOT = Path(__file__).resolve().parents[2]

CONFIG = """
[vm_types.atlas]
image = "atlas.img"
"""

# Where a value's keys are names the site chose (VM types, config keys, plugin kinds),
# the docs describe the value, not each key.
OPEN_ENDED = {"plugins[].provides", "sources"}


def documented_fields(command: str) -> set[str]:
    text = (ROOT / "docs" / "cli.md").read_text()
    match = re.search(rf"^### `{re.escape(command)}`\n(.*?)(?=^#)", text, re.M | re.S)
    assert match, f"docs/cli.md has no section ### `{command}`"
    return set(re.findall(r"^\| `([^`]+)` \|", match.group(1), re.M))


def fields(value: Any, prefix: str = "", stop: frozenset[str] = frozenset()) -> set[str]:
    """Dotted paths of every field; `name[]` for the items of an array of objects."""
    out: set[str] = set()
    if isinstance(value, dict):
        for key, inner in value.items():
            path = f"{prefix}.{key}" if prefix else key
            out.add(path)
            if path not in stop:
                out |= fields(inner, path, stop)
    elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        for item in value:
            out |= fields(item, f"{prefix}[]", stop)
    return out


def run(*args: str) -> Any:
    result = CliRunner().invoke(cli, ["--no-plugins", *args], prog_name="wnod")
    assert result.exit_code in (0, 3), result.output
    return json.loads(result.stdout)


@pytest.fixture(autouse=True)
def host(site_config: Any) -> None:
    site_config(CONFIG)


def test_plugins_json_fields() -> None:
    data = run("-v", "plugins", "--json")
    assert fields(data, stop=frozenset(OPEN_ENDED)) == documented_fields("wnod plugins --json")


def test_config_show_json_fields() -> None:
    data = run("config", "show", "--json")
    # config.<section> is documented per section; its keys are in configuration.md.
    stop = frozenset({"sources", *(f"config.{k}" for k in data["config"])})
    assert fields(data, stop=stop) == documented_fields("wnod config show --json")


def test_vm_types_json_fields() -> None:
    data = run("vm-types", "--json")
    assert fields(data) == documented_fields("wnod vm-types --json")


@pytest.mark.parametrize("user", ["alice"])
def test_resolve_json_fields(user: str) -> None:
    data = run("resolve", "--user", user, "--json")
    assert data["outcome"] == "refused"  # no resolvers here; the fields are the same either way
    assert fields(data) == documented_fields("wnod resolve --json")
