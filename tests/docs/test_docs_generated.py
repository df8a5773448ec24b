"""The docs made from the code are the ones committed: they cannot drift from what wnod does."""

import difflib
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from wnod_core.testing.requirements import require

REGENERATE = "run `.venv/bin/python docs/generate.py` and commit the result"


def _diff(expected: str, actual: str, name: str) -> str:
    lines = difflib.unified_diff(
        actual.splitlines(), expected.splitlines(), f"{name} (committed)", f"{name} (from the code)", lineterm=""
    )
    return "\n".join(list(lines)[:60])


@pytest.mark.parametrize("name", ["configuration.md", "hooks.md", "cli.md"])
def test_generated_doc_is_up_to_date(docs_generator: ModuleType, repo_root: Path, name: str) -> None:
    path = repo_root / "docs" / name
    expected = docs_generator.expected_files()[path]
    actual = path.read_text()
    assert actual == expected, f"docs/{name} is out of date: {REGENERATE}.\n{_diff(expected, actual, name)}"


def test_configuration_md_is_what_the_installed_command_prints(repo_root: Path) -> None:
    """The real console script, in a clean environment, prints docs/configuration.md byte for byte."""
    script = Path(sys.executable).parent / "wnod"
    if not script.exists():
        require(f"no wnod console script beside {sys.executable} (dev/setup installs it)")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WNOD_", "XDG_"))}
    result = subprocess.run(
        [str(script), "--no-plugins", "config", "reference"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    committed = (repo_root / "docs" / "configuration.md").read_text()
    assert result.stdout == committed, (
        "docs/configuration.md differs from `wnod --no-plugins config reference`: run"
        " `.venv/bin/wnod --no-plugins config reference > docs/configuration.md` (or"
        f" `.venv/bin/python docs/generate.py`) and commit it.\n{_diff(result.stdout, committed, 'configuration.md')}"
    )


def test_generator_check_mode_agrees(repo_root: Path) -> None:
    """`docs/generate.py --check` is what a developer runs; it must pass on a fresh checkout too."""
    result = subprocess.run(
        [sys.executable, str(repo_root / "docs" / "generate.py"), "--check"],
        capture_output=True,
        text=True,
        cwd=repo_root,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"{result.stdout}{result.stderr}\n{REGENERATE}."


def test_every_core_section_of_the_config_is_in_the_reference() -> None:
    """A section the loader reads but the reference leaves out is a section no admin can find."""
    import attrs

    from wnod_core.config.load import Config
    from wnod_core.reference import core_reference

    text = core_reference()
    sections = [f.name for f in attrs.fields(Config) if attrs.has(f.type) if isinstance(f.type, type)]
    assert {"host", "engine", "daemon", "batch", "hypervisor", "images"} <= set(sections), sections
    missing = [name for name in sections if f"## `[{name}]`" not in text]
    assert not missing, f"config sections missing from `wnod config reference`: {missing}"
