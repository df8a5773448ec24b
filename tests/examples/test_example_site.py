"""The example site configuration that dev/demo and the README use stays valid and says what it claims."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from wnod_core.testing.requirements import missing_module, require

EXAMPLE = Path(__file__).resolve().parents[2] / "contrib" / "examples" / "wnod.toml"
WNOD = Path(sys.executable).parent / "wnod"


def wnod(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(WNOD), "--config", str(EXAMPLE), *args], capture_output=True, text=True, timeout=60, check=False
    )


@pytest.fixture(autouse=True)
def _resolvers_installed(wnod_home: Path) -> None:
    require(missing_module("wnod_resolvers", "wnod-resolvers"))


def test_the_example_configuration_is_valid() -> None:
    result = wnod("config", "check")
    assert result.returncode == 0, result.stderr
    assert "3 VM type(s), 5 resolver(s)" in result.stdout


@pytest.mark.parametrize(
    ("args", "vm_type", "resolver"),
    [
        (["--user", "prod-atlas", "--group", "atlas"], "atlas", "by-user"),
        (["--user", "alice", "--group", "atlas", "--group", "physics"], "atlas", "by-group"),
        (["--user", "bob", "--group", "legacy", "--group", "physics"], "sl6", "by-group"),
        (["--user", "carol", "--group", "physics", "--queue", "legacy"], "sl6", "by-queue"),
        (["--user", "erin", "--group", "physics", "--type", "el9"], "el9", "requested"),
        (["--user", "dave", "--group", "physics", "--queue", "short"], "el9", "default"),
    ],
)
def test_the_example_chain_decides_as_its_comments_say(args: list[str], vm_type: str, resolver: str) -> None:
    result = wnod("resolve", "--json", *args)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert (answer["vm_type"], answer["resolver"].split(" ")[0]) == (vm_type, resolver)


def test_asking_for_a_type_one_may_not_have_is_refused() -> None:
    result = wnod("resolve", "--json", "--user", "erin", "--group", "physics", "--type", "atlas")
    assert result.returncode == 3
    assert "may not ask for" in json.loads(result.stdout)["reason"]
