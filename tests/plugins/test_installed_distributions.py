"""`wnod plugins --json` as the smoke test of every plugin distribution this environment installed."""

from collections.abc import Callable
from importlib.metadata import version
from typing import Any

RunWnod = Callable[..., Any]


def test_every_installed_plugin_loads_cleanly(wnod: RunWnod) -> None:
    for name, entry in wnod("plugins", "--json").plugins().items():
        assert (entry["status"], entry["error"], entry["problems"]) == ("loaded", None, []), name


def test_the_contrib_example_is_listed_with_what_it_provides(
    groupfile_installed: None, wnod: RunWnod
) -> None:
    entry = wnod("plugins", "--json").plugins()["wnod-site-groupfile"]
    assert entry == {
        "name": "site-groupfile",
        "distribution": "wnod-site-groupfile",
        "version": "0.1.0",
        "status": "loaded",
        "builtin": False,
        "provides": {"resolvers": ["groupfile"]},
        "error": None,
        "problems": [],
    }


def test_each_optional_distribution_reports_its_installed_version(
    wnod: RunWnod, optional_distributions: dict[str, str]
) -> None:
    plugins = wnod("plugins", "--json").plugins()
    for name, installed in optional_distributions.items():
        assert installed == version(name)
        assert plugins[name]["version"] == installed
        assert plugins[name]["provides"].get("resolvers"), f"{name} is a resolver distribution"


def test_the_contrib_examples_options_are_in_the_reference(groupfile_installed: None, wnod: RunWnod) -> None:
    run = wnod("config", "reference", "--plugin", "groupfile")
    assert run.returncode == 0, run.stderr
    assert '[[resolvers]] use = "groupfile"' in run.stdout
    assert "| `path` |" in run.stdout and "| `on_missing_file` |" in run.stdout
