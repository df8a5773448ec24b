"""End to end: a site's chain in a TOML file, dry-run by the real `wnod` console script."""

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

SITE = """\
[vm_types.sl6]
image = "sl6.qcow2"

[vm_types.atlas]
image = "atlas-el9.qcow2"

[vm_types.cms]
image = "cms-el9.qcow2"

[vm_types.el9]
image = "el9.qcow2"

[[resolvers]]
use = "by-user"
map = { alice = "atlas" }

[[resolvers]]
use = "by-group"
map = { cms = "cms", atlas = "atlas" }

[[resolvers]]
use = "requested"
allow.cms = { groups = ["cms"] }

[resolvers.allow.el9]
users = ["*"]

[[resolvers]]
use = "default"
vm_type = "sl6"
"""

# The script next to this interpreter: the one pip installed with wnod-core, in this venv.
WNOD = Path(sys.executable).parent / "wnod"


def wnod(*args: str, only_ours: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the script; `only_ours` keeps other installed plugins (a clashing "default", a
    broken one warning on stderr) out of what these tests prove."""
    env = {**os.environ, "WNOD_LOAD_PLUGINS": "wnod-resolvers"} if only_ours else None
    return subprocess.run(
        [str(WNOD), *args], capture_output=True, text=True, timeout=60, check=False, env=env
    )


@pytest.fixture
def site(site_config: Callable[[str], Path]) -> Path:
    return site_config(SITE)


def resolve_json(site: Path, *args: str) -> tuple[int, dict[str, object]]:
    done = wnod("--config", str(site), "resolve", *args, "--json")
    assert done.stderr == ""
    return done.returncode, json.loads(done.stdout)


def test_the_first_resolver_that_answers_decides(site: Path) -> None:
    done = wnod("--config", str(site), "resolve", "--user", "alice", "--group", "g1", "--queue", "q")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "VM type: atlas",
        "decided by: by-user (resolvers[0])",
        'because: user alice is mapped to VM type "atlas"',
    ]


@pytest.mark.parametrize(
    ("args", "vm_type", "resolver"),
    [
        (("--user", "alice", "--group", "g1", "--queue", "q"), "atlas", "by-user (resolvers[0])"),
        (("--user", "bob", "--group", "atlas", "--group", "cms"), "cms", "by-group (resolvers[1])"),
        (("--user", "carol", "--group", "g1", "--type", "el9"), "el9", "requested (resolvers[2])"),
        (("--user", "carol", "--group", "g1", "--queue", "q"), "sl6", "default (resolvers[3])"),
    ],
)
def test_each_link_decides_its_jobs(site: Path, args: tuple[str, ...], vm_type: str, resolver: str) -> None:
    code, answer = resolve_json(site, *args)
    assert code == 0
    assert answer["outcome"] == "resolved"
    assert (answer["vm_type"], answer["resolver"]) == (vm_type, resolver)
    assert answer["reason"]


def test_a_forbidden_request_is_refused_with_exit_code_3(site: Path) -> None:
    code, answer = resolve_json(site, "--user", "carol", "--group", "g1", "--type", "cms")
    assert code == 3
    assert answer == {
        "outcome": "refused",
        "vm_type": None,
        "resolver": "requested (resolvers[2])",
        "reason": 'user carol may not ask for VM type "cms"; carol may ask for: el9',
    }
    done = wnod("--config", str(site), "resolve", "--user", "carol", "--type", "cms")
    assert done.returncode == 3
    assert (
        done.stdout.splitlines()[0]
        == 'refused: user carol may not ask for VM type "cms"; carol may ask for: el9'
    )


def test_a_misspelt_type_is_a_config_error_at_its_key_and_file(site_config: Callable[[str], Path]) -> None:
    path = site_config(SITE.replace('map = { cms = "cms"', 'map = { cms = "cm"'))
    done = wnod("--config", str(path), "config", "check")
    assert done.returncode == 1
    assert 'resolvers[1].map.cms: unknown VM type "cm" (did you mean "cms"?)' in done.stderr
    assert str(path) in done.stderr
    assert wnod("--config", str(path), "resolve", "--user", "bob").returncode == 1


def test_the_site_config_checks_clean(site: Path) -> None:
    done = wnod("--config", str(site), "config", "check")
    assert done.returncode == 0, done.stderr
    assert "4 resolver(s)" in done.stdout


def test_wnod_plugins_lists_the_distribution(wnod_home: Path) -> None:
    done = wnod("plugins", "--json", only_ours=False)
    assert done.returncode == 0, done.stderr
    ours = [p for p in json.loads(done.stdout)["plugins"] if p["distribution"] == "wnod-resolvers"]
    assert len(ours) == 1
    assert ours[0]["version"] == "0.1.0"
    assert ours[0]["status"] == "loaded" and ours[0]["error"] is None and ours[0]["problems"] == []
    assert ours[0]["provides"] == {"resolvers": ["by-group", "by-queue", "by-user", "default", "requested"]}


def test_the_config_reference_documents_the_options(wnod_home: Path) -> None:
    done = wnod("config", "reference", "--plugin", "requested")
    assert done.returncode == 0, done.stderr
    assert '## `[[resolvers]] use = "requested"`' in done.stdout
    assert "| `allow` |" in done.stdout
