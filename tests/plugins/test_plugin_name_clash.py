"""Two distributions providing one resolver name: neither is used, and wnod says which two."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

RunWnod = Callable[..., Any]

CLASHING = """
    from wnod_core import hookimpl
    from wnod_core.records import ResolverPlugin


    @hookimpl
    def wnod_resolvers():
        yield ResolverPlugin(name="{name}", factory=lambda setup: None)
"""


def config_using(name: str, tmp_path: Path) -> str:
    groups = tmp_path / "groups.csv"
    groups.write_text("group,vm_type\natlas,alpha\n")
    return f'[vm_types.alpha]\nimage = "alpha.qcow2"\n\n[[resolvers]]\nuse = "{name}"\npath = "{groups}"\n'


def assert_clash(wnod: RunWnod, name: str, first: str, second: str) -> None:
    plugins = wnod("plugins", "--json").plugins()
    for dist in (first, second):
        entry = plugins[dist]
        # Both stay loaded (their other features still work) but the clashing name is refused.
        assert entry["status"] == "loaded"
        (problem,) = entry["problems"]
        assert problem.startswith(f'resolver "{name}" is provided by ')
        assert problem.endswith("; none of them is used")
        assert first in problem and second in problem
    run = wnod("resolve", "--user", "alice", "--group", "atlas")
    assert run.returncode == 1, run.stdout
    assert f'resolvers[0].use: resolver "{name}" is provided by ' in run.stderr
    assert "uninstall all but one" in run.stderr


def test_a_plugin_clashing_with_an_installed_one_disables_the_name(
    groupfile_installed: None, install_fake: Callable[..., None], site_config, wnod: RunWnod, tmp_path: Path
) -> None:
    install_fake("wnod_clash_example", CLASHING.format(name="groupfile"), entry="clash")
    site_config(config_using("groupfile", tmp_path))
    assert_clash(wnod, "groupfile", "wnod-site-groupfile", "wnod-clash-example")


def test_two_new_plugins_clashing_with_each_other(
    install_fake: Callable[..., None], site_config, wnod: RunWnod, tmp_path: Path
) -> None:
    install_fake("wnod_twin_one", CLASHING.format(name="test-twin"), entry="one")
    install_fake("wnod_twin_two", CLASHING.format(name="test-twin"), entry="two")
    site_config(config_using("test-twin", tmp_path))
    assert_clash(wnod, "test-twin", "wnod-twin-one", "wnod-twin-two")


def test_a_plugin_may_import_wnod_core_by_name(install_fake: Callable[..., None], wnod: RunWnod) -> None:
    # The loader once took the module attribute `wnod_core` for a misspelled hook and refused the plugin.
    install_fake(
        "wnod_plain_import",
        """
        import wnod_core
        from wnod_core.records import ResolverPlugin


        @wnod_core.hookimpl
        def wnod_resolvers():
            yield ResolverPlugin(name="test-plain", factory=lambda setup: None)
        """,
    )
    entry = wnod("plugins", "--json").plugins()["wnod-plain-import"]
    assert (entry["status"], entry["error"]) == ("loaded", None)
