"""One broken plugin must cost its own features only: wnod lists it, says why, and works on.

Each broken plugin is a real distribution on the subprocesses' PYTHONPATH, installed beside
a good one (and beside whatever good plugins this environment has installed).
"""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import pytest

# The fixtures' types; conftest.py is not importable under --import-mode=importlib.
InstallFake = Callable[..., None]
RunWnod = Callable[..., Any]


@attrs.frozen
class Broken:
    module: str
    source: str
    error: str
    """What `wnod plugins` must say about it, word for word (a prefix of its one-line error)."""

    @property
    def distribution(self) -> str:
        return self.module.replace("_", "-")


BROKEN = [
    Broken(
        "wnod_broken_import",
        """
        import wnod_no_such_dependency  # a requirement the site forgot to install
        """,
        "cannot be imported: ModuleNotFoundError: No module named 'wnod_no_such_dependency'",
    ),
    Broken(
        "wnod_broken_hook",
        """
        from wnod_core import hookimpl

        @hookimpl
        def wnod_resolvers():
            raise RuntimeError("cannot reach the site's LDAP server")
        """,
        "failed to register: RuntimeError: cannot reach the site's LDAP server",
    ),
    Broken(
        "wnod_broken_record",
        """
        from wnod_core import hookimpl

        @hookimpl
        def wnod_resolvers():
            yield {"name": "by-dict"}
        """,
        "failed to register: PluginError:"
        " wnod_resolvers yielded {'name': 'by-dict'}, expected ResolverPlugin records",
    ),
    Broken(
        "wnod_broken_hookname",
        """
        from wnod_core import hookimpl
        from wnod_core.records import ResolverPlugin

        @hookimpl
        def wnod_resolver():
            return []
        """,
        'implements unknown hooks: wnod_resolver (did you mean "wnod_resolvers"?)',
    ),
]

GOOD = """
    from wnod_core import hookimpl
    from wnod_core.interfaces import Resolver
    from wnod_core.model import Resolved
    from wnod_core.records import ResolverPlugin


    class Everyone(Resolver):
        def __init__(self, vm_type):
            self.vm_type = vm_type

        def resolve(self, job):
            return Resolved(self.vm_type, "every job runs in the first VM type")


    @hookimpl
    def wnod_resolvers():
        yield ResolverPlugin(name="test-everyone", factory=lambda setup: Everyone(min(setup.vm_types)))
"""

CONFIG = """
[vm_types.alpha]
image = "alpha.qcow2"

[[resolvers]]
use = "test-everyone"
"""


@pytest.fixture
def broken_site(install_fake: InstallFake, site_config, tmp_path: Path) -> Path:
    """Every broken plugin installed at once, beside a good one that the site's config uses."""
    for broken in BROKEN:
        install_fake(broken.module, broken.source)
    install_fake("wnod_good_example", GOOD, entry="good")
    return site_config(CONFIG)


@pytest.mark.parametrize("broken", BROKEN, ids=lambda b: b.module)
def test_json_lists_the_broken_plugin_as_failed_with_its_distribution(
    broken_site: Path, wnod: RunWnod, broken: Broken
) -> None:
    entry = wnod("plugins", "--json").plugins()[broken.distribution]
    assert entry["status"] == "failed"
    assert (entry["name"], entry["version"], entry["builtin"]) == ("example", "0.1.0", False)
    assert entry["error"].startswith(broken.error)
    assert entry["provides"] == {}, (
        "a failed plugin provides nothing, not even what it registered before failing"
    )
    assert "traceback" not in entry, "tracebacks are for -v"


def test_good_plugins_still_load_beside_broken_ones(
    broken_site: Path, wnod: RunWnod, optional_distributions: dict[str, str]
) -> None:
    plugins = wnod("plugins", "--json").plugins()
    core = plugins["wnod-core"]
    assert core["status"] == "loaded" and core["builtin"] is True
    assert {"config", "plugins", "resolve"} <= set(core["provides"]["commands"])
    good = plugins["wnod-good-example"]
    assert (good["status"], good["provides"], good["error"]) == (
        "loaded",
        {"resolvers": ["test-everyone"]},
        None,
    )
    for name, version in optional_distributions.items():
        assert (plugins[name]["status"], plugins[name]["version"], plugins[name]["error"]) == (
            "loaded",
            version,
            None,
        )


def test_table_lists_every_plugin_and_says_why_the_broken_ones_failed(
    broken_site: Path, wnod: RunWnod
) -> None:
    run = wnod("plugins")
    assert run.returncode == 0, run.stderr
    header, *lines = run.stdout.splitlines()
    assert header.split() == ["NAME", "DISTRIBUTION", "VERSION", "STATUS", "PROVIDES"]
    rows = {line.split()[1]: line.split() for line in lines}
    assert rows["wnod-good-example"] == [
        "good",
        "wnod-good-example",
        "0.1.0",
        "loaded",
        "resolvers:",
        "test-everyone",
    ]
    for broken in BROKEN:
        assert rows[broken.distribution] == ["example", broken.distribution, "0.1.0", "failed"]
        assert f"example ({broken.distribution}) failed: {broken.error}" in run.stderr
    assert "Traceback" not in run.stderr


def test_verbose_shows_where_a_broken_plugin_failed(broken_site: Path, wnod: RunWnod) -> None:
    table = wnod("-v", "plugins")
    assert table.returncode == 0, table.stderr
    assert "Traceback (most recent call last)" in table.stderr
    assert "wnod_broken_import.py" in table.stderr
    plugins = wnod("-v", "plugins", "--json").plugins()
    assert "ModuleNotFoundError" in plugins["wnod-broken-import"]["traceback"]
    hook_traceback = plugins["wnod-broken-hook"]["traceback"]
    assert "wnod_broken_hook.py" in hook_traceback and "in wnod_resolvers" in hook_traceback
    assert plugins["wnod-good-example"]["traceback"] is None


def test_resolve_and_config_check_still_work(broken_site: Path, wnod: RunWnod) -> None:
    resolved = wnod("resolve", "--user", "alice", "--json")
    assert resolved.json() == {
        "outcome": "resolved",
        "vm_type": "alpha",
        "resolver": "test-everyone (resolvers[0])",
        "reason": "every job runs in the first VM type",
    }
    check = wnod("config", "check")
    assert check.returncode == 0, check.stderr
    assert check.stdout.startswith("configuration OK")


def test_a_broken_plugins_resolver_is_unknown_to_the_config(
    broken_site: Path, wnod: RunWnod, site_config
) -> None:
    site_config(CONFIG.replace("test-everyone", "by-dict"))
    run = wnod("config", "check")
    assert run.returncode == 1
    assert 'resolvers[0].use: no resolver plugin named "by-dict"' in run.stderr


@pytest.mark.parametrize(
    ("args", "env"),
    [(("plugins", "--json"), {"WNOD_LOAD_PLUGINS": ""}), (("--no-plugins", "plugins", "--json"), {})],
    ids=["empty-WNOD_LOAD_PLUGINS", "--no-plugins"],
)
def test_installed_plugins_can_be_left_out(
    broken_site: Path, wnod: RunWnod, args: tuple[str, ...], env: dict[str, str]
) -> None:
    run = wnod(*args, env=env)
    plugins = run.plugins()
    assert plugins["wnod-core"]["status"] == "loaded", "the core's own plugin is never left out"
    left_out = {name: entry for name, entry in plugins.items() if name != "wnod-core"}
    assert {b.distribution for b in BROKEN} | {"wnod-good-example"} <= set(left_out)
    for entry in left_out.values():
        assert (entry["status"], entry["error"], entry["provides"]) == ("disabled", None, {})
    assert "wnod_no_such_dependency" not in run.stderr, "a left-out plugin is not even imported"


def test_load_plugins_picks_plugins_by_distribution_name(broken_site: Path, wnod: RunWnod) -> None:
    plugins = wnod("plugins", "--json", env={"WNOD_LOAD_PLUGINS": "wnod-good-example"}).plugins()
    assert plugins["wnod-good-example"]["status"] == "loaded"
    assert {plugins[b.distribution]["status"] for b in BROKEN} == {"disabled"}
