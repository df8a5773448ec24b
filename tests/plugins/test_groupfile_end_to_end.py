"""A site's config using the installed contrib example, through the real `wnod` script."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

RunWnod = Callable[..., Any]

pytestmark = pytest.mark.usefixtures("groupfile_installed")


@pytest.fixture
def groups(tmp_path: Path) -> Path:
    path = tmp_path / "groups.csv"
    path.write_text("# who runs where; first row that fits wins\ngroup,vm_type\natlas,atlas\ncms,cms\n")
    return path


@pytest.fixture
def config(tmp_path: Path, groups: Path) -> Callable[..., Path]:
    """Write a site config using groupfile, with `key` as the name of its path option."""

    def write(key: str = "path") -> Path:
        path = tmp_path / "wnod.toml"
        path.write_text(
            f"""
[vm_types.atlas]
image = "atlas-el9.qcow2"

[vm_types.cms]
image = "cms-el8.qcow2"
memory = "4G"

[[resolvers]]
use = "groupfile"
{key} = "{groups}"
"""
        )
        return path

    return write


def test_resolve_picks_the_type_from_the_group_file(
    config: Callable[..., Path], groups: Path, wnod: RunWnod
) -> None:
    run = wnod("--config", str(config()), "resolve", "--user", "bob", "--group", "users", "--group", "cms")
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == [
        "VM type: cms",
        "decided by: groupfile (resolvers[0])",
        f"because: group cms is mapped to VM type cms ({groups}:4)",
    ]


def test_the_file_order_decides_for_members_of_two_groups(config: Callable[..., Path], wnod: RunWnod) -> None:
    run = wnod(
        "--config", str(config()), "resolve", "--user", "u", "--group", "cms", "--group", "atlas", "--json"
    )
    assert (run.json()["outcome"], run.json()["vm_type"]) == ("resolved", "atlas")


def test_a_job_of_no_listed_group_is_refused(config: Callable[..., Path], wnod: RunWnod) -> None:
    run = wnod("--config", str(config()), "resolve", "--user", "u", "--group", "users")
    assert run.returncode == 3
    assert run.stdout.startswith("refused: no VM type for user u (groups users)")


def test_an_edited_file_is_used_by_the_next_run(
    config: Callable[..., Path], groups: Path, wnod: RunWnod
) -> None:
    path = config()
    groups.write_text("group,vm_type\ncms,atlas\n")
    run = wnod("--config", str(path), "resolve", "--user", "u", "--group", "cms", "--json")
    assert run.json()["vm_type"] == "atlas"


def test_a_misspelled_option_is_a_path_qualified_error(config: Callable[..., Path], wnod: RunWnod) -> None:
    path = config(key="pth")
    run = wnod("--config", str(path), "resolve", "--user", "u", "--group", "cms")
    assert run.returncode == 1
    assert 'resolvers[0].pth: unknown key (did you mean "path"?)' in run.stderr
    assert "resolvers[0].path: required, but missing" in run.stderr
    assert str(path) in run.stderr, "the error names the config file"


def test_config_check_names_the_group_files_line_and_a_suggestion(
    config: Callable[..., Path], groups: Path, wnod: RunWnod
) -> None:
    path = config()
    ok = wnod("--config", str(path), "config", "check")
    assert ok.returncode == 0, ok.stderr
    groups.write_text("group,vm_type\natlas,atlas\ncms,cmss\n")
    bad = wnod("--config", str(path), "config", "check")
    assert bad.returncode == 1
    assert f'resolvers[0]: {groups}:3: unknown VM type "cmss" (did you mean "cms"?)' in bad.stderr


def test_a_missing_group_file_fails_the_check(
    config: Callable[..., Path], groups: Path, wnod: RunWnod
) -> None:
    path = config()
    groups.unlink()
    run = wnod("--config", str(path), "config", "check")
    assert run.returncode == 1
    assert f"resolvers[0]: group file {groups} does not exist" in run.stderr


def test_the_xdg_config_is_used_without_config_flag(
    site_config: Callable[[str], Path], config: Callable[..., Path], wnod: RunWnod
) -> None:
    site_config(config().read_text())
    run = wnod("resolve", "--user", "u", "--group", "atlas", "--json")
    assert run.json()["vm_type"] == "atlas"
