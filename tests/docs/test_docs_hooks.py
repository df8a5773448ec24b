"""Every hook is in the hook reference with its exact signature, and every hook has a test."""

import inspect
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from wnod_core import hookspecs

REGENERATE = "run `.venv/bin/python docs/generate.py` and commit docs/hooks.md"

# Module prefixes are dropped the way the source spells annotations (VwnChanged, not
# wnod_core.model.events.VwnChanged; click.Command, not click.core.Command).
_PREFIX = re.compile(r"\b(?:wnod_core(?:\.\w+)*|collections\.abc|typing|pathlib)\.(?=[A-Za-z_])")


def _specs() -> list[Callable[..., Any]]:
    return [f for n, f in vars(hookspecs).items() if n.startswith("wnod_") and inspect.isfunction(f)]


def spelled(function: Callable[..., Any]) -> str:
    text = f"{function.__name__}{inspect.signature(function)}"
    return _PREFIX.sub("", text).replace("click.core.", "click.")


def test_there_are_hooks_to_check() -> None:
    names = {f.__name__ for f in _specs()}
    assert {"wnod_resolvers", "wnod_vwn_changed", "wnod_job_step"} <= names


@pytest.mark.parametrize("spec", _specs(), ids=lambda f: f.__name__)
def test_hook_is_documented_with_its_exact_signature(spec: Callable[..., Any], repo_root: Path) -> None:
    text = (repo_root / "docs" / "hooks.md").read_text()
    heading = f"### `{spelled(spec)}`"
    assert heading in text, f"docs/hooks.md has no heading {heading}: {REGENERATE}."


@pytest.mark.parametrize("spec", _specs(), ids=lambda f: f.__name__)
def test_hook_docstring_states_its_call_semantics_and_an_example(spec: Callable[..., Any]) -> None:
    doc = inspect.getdoc(spec) or ""
    assert re.search(r"collect-all|first result|broadcast", doc, re.I), f"{spec.__name__}: say how it is called"
    assert "Example::" in doc and "@hookimpl" in doc, f"{spec.__name__}: give a short example"


def _test_files(root: Path) -> list[Path]:
    me = Path(__file__).resolve()
    files = []
    for folder in ("tests", "wnod_plugins", "contrib"):
        for path in (root / folder).rglob("*.py"):
            if path.name.startswith("test_") and path.resolve() != me and ".venv" not in path.parts:
                files.append(path)
    return files


@pytest.mark.parametrize("spec", _specs(), ids=lambda f: f.__name__)
def test_every_hook_has_a_test(spec: Callable[..., Any], repo_root: Path) -> None:
    """A hook no test mentions is a hook nobody has seen work."""
    users = [p for p in _test_files(repo_root) if spec.__name__ in p.read_text(errors="replace")]
    assert users, (
        f"no test file under tests/, wnod_plugins/ or contrib/ mentions {spec.__name__}:"
        " add a test that implements it and checks what the core does with it"
    )
