"""The docs build as a site with MkDocs in strict mode: every link and anchor leads somewhere and
every page is in the navigation, or the build fails (and so does this test)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def build(config: Path, site: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}  # the theme's notice about its own future
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(config), "--site-dir", str(site)],
        capture_output=True, text=True, timeout=300, env=env, check=False,
    )


def test_the_docs_site_builds_strictly_with_every_page(tmp_path: Path) -> None:
    done = build(ROOT / "mkdocs.yml", tmp_path / "site")
    assert done.returncode == 0, done.stderr
    for page in (ROOT / "docs").glob("*.md"):
        assert (tmp_path / "site" / page.stem / "index.html").is_file(), f"{page.name} is not in the site"
    home = (tmp_path / "site" / "index.html").read_text()
    assert "Worker Nodes On Demand" in home and 'href="e2e/"' in home, "the README is the home page, links and all"
    slurm = (tmp_path / "site" / "slurm" / "index.html").read_text()
    assert 'href="../repo/contrib/slurm/wnod-prolog"' in slurm
    assert (tmp_path / "site" / "repo" / "contrib" / "slurm" / "wnod-prolog").read_bytes() == (
        ROOT / "contrib" / "slurm" / "wnod-prolog").read_bytes()


@pytest.fixture
def small_site(tmp_path: Path) -> Path:
    """A site of two pages with the project's own MkDocs settings and hooks, and a README and a
    script beside them, as in the repository."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "tools").mkdir()
    (tmp_path / "tools" / "run.sh").write_text("#!/bin/sh\n")
    (tmp_path / "README.md").write_text("# Home\n\nSee [a](docs/a.md).\n")
    (tmp_path / "docs" / "a.md").write_text("# A\n\n## Part one\n\n[b](b.md), [the script](../tools/run.sh).\n")
    (tmp_path / "docs" / "b.md").write_text("# B\n\nBack to [part one](a.md#part-one).\n")
    shutil.copy(ROOT / "docs" / "site_hooks.py", tmp_path / "docs" / "site_hooks.py")
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    config.update(hooks=["docs/site_hooks.py"], nav=[{"Home": "index.md"}, {"A": "a.md"}, {"B": "b.md"}])
    (tmp_path / "mkdocs.yml").write_text(yaml.safe_dump(config))
    return tmp_path


def test_a_small_site_like_ours_builds(small_site: Path) -> None:
    done = build(small_site / "mkdocs.yml", small_site / "site")
    assert done.returncode == 0, done.stderr
    assert (small_site / "site" / "repo" / "tools" / "run.sh").is_file()


@pytest.mark.parametrize(
    ("page", "text", "complaint"),
    [
        ("a.md", "[gone](../tools/gone.sh)\n", "gone.sh"),
        ("a.md", "[gone](c.md)\n", "c.md"),
        ("b.md", "[nowhere](a.md#part-two)\n", "part-two"),
        ("c.md", "# C, in no navigation\n", "c.md"),
    ],
    ids=["broken link out of docs", "broken link in docs", "missing anchor", "page not in the navigation"],
)
def test_each_mistake_fails_the_build(small_site: Path, page: str, text: str, complaint: str) -> None:
    path = small_site / "docs" / page
    path.write_text((path.read_text() if path.exists() else "") + text)
    done = build(small_site / "mkdocs.yml", small_site / "site")
    assert done.returncode != 0, f"built despite: {text}"
    assert complaint in done.stderr
