"""MkDocs hooks (mkdocs.yml ``hooks:``): the site is the repository's own pages, links and all.

The pages are written to be read on a forge as well: they link to files outside docs/ (glue
scripts, config snippets, plugin READMEs) and the README links into docs/. For the site:

- the README becomes the home page (index.md);
- every repository file a page links to is copied into the site under ``repo/`` and the link
  is rewritten to that copy, so it works in the site too; markdown files copied that way are
  pages themselves, their own links treated alike;
- a link to a directory leads to its README.md;
- a link to a file that does not exist is left alone, so that MkDocs (``--strict``) fails on it.
"""

import posixpath
import re
from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

REPO_DIR = "repo"
"""Where copies of repository files outside docs/ go in the site."""

_LINK = re.compile(r"(?<!!)(\[[^\]]*\]\()([^)\s#]+)((?:#[^)\s]*)?(?:\s+\"[^\"]*\")?\))")
_FENCE = re.compile(r"^(```|~~~).*?^\1", re.M | re.S)
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:")


def _repo_root(config: Any) -> Path:
    return Path(config["docs_dir"]).resolve().parent


def _source_of(site_uri: str) -> str:
    """The repository path a site page comes from: "slurm.md" -> "docs/slurm.md"."""
    if site_uri == "index.md":
        return "README.md"
    if site_uri.startswith(REPO_DIR + "/"):
        return site_uri[len(REPO_DIR) + 1 :]
    return "docs/" + site_uri


def _site_uri_of(repo_path: str) -> str:
    """Where a repository file is in the site: "docs/slurm.md" -> "slurm.md"."""
    if repo_path == "README.md":
        return "index.md"
    if repo_path.startswith("docs/"):
        return repo_path[len("docs/") :]
    return f"{REPO_DIR}/{repo_path}"


def _target(root: Path, page_source: str, link: str) -> str | None:
    """The repository path `link` on the page from `page_source` leads to, if it is a relative
    link to something that exists (a directory: its README.md); else None."""
    if _SCHEME.match(link) or link.startswith("/"):
        return None
    path = posixpath.normpath(posixpath.join(posixpath.dirname(page_source), link))
    if path.startswith(".."):
        return None
    if (root / path).is_dir() and (root / path / "README.md").is_file():
        path = posixpath.join(path, "README.md")
    return path if (root / path).is_file() else None


def _links(text: str) -> list[str]:
    text = _FENCE.sub("", text)
    text = re.sub(r"`[^`\n]*`", "", text)  # a link inside inline code is an example, not a link
    return [m.group(2) for m in _LINK.finditer(text)]


def on_files(files: Files, config: Any) -> Files:
    root = _repo_root(config)
    readme = root / "README.md"
    files.append(File.generated(config, "index.md", abs_src_path=str(readme)))
    pending = [f.src_uri for f in files if f.src_uri.endswith(".md")]
    have = {f.src_uri for f in files}
    while pending:
        source = _source_of(pending.pop())
        for link in _links((root / source).read_text()):
            target = _target(root, source, link)
            if target is None or target.startswith("docs/"):
                continue
            uri = _site_uri_of(target)
            if uri in have:
                continue
            files.append(File.generated(config, uri, abs_src_path=str(root / target)))
            have.add(uri)
            if uri.endswith(".md"):
                pending.append(uri)
    return files


def on_page_markdown(markdown: str, page: Any, config: Any, files: Files) -> str:
    root = _repo_root(config)
    source = _source_of(page.file.src_uri)
    here = posixpath.dirname(page.file.src_uri)
    fenced = [m.span() for m in _FENCE.finditer(markdown)]

    def rewrite(match: re.Match[str]) -> str:
        if any(a <= match.start() < b for a, b in fenced):
            return match.group(0)
        target = _target(root, source, match.group(2))
        if target is None:
            return match.group(0)
        uri = _site_uri_of(target)
        return match.group(1) + posixpath.relpath(uri, here or ".") + match.group(3)

    return _LINK.sub(rewrite, markdown)
