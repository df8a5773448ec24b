"""The README's line counts are the files' own: a template's size is part of what it shows."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ROW = re.compile(r"^\| \[`(?P<file>[\w.]+\.py)`\]\((?P<path>[^)]+)\) \| .* \| (?P<lines>\d+) \|$", re.M)


def code_lines(source: str) -> int:
    """Lines that are neither blank, nor comments, nor docstrings (a string standing alone)."""
    docstrings: set[int] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            docstrings.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
    return sum(1 for number, line in enumerate(source.splitlines(), 1)
               if line.strip() and not line.lstrip().startswith("#") and number not in docstrings)


def test_the_readme_counts_the_lines_of_each_file_and_in_all() -> None:
    text = (ROOT / "README.md").read_text()
    rows = {m["file"]: (ROOT / m["path"], int(m["lines"])) for m in ROW.finditer(text)}
    assert set(rows) == {p.name for p in (ROOT / "src" / "wnod_site_toyq").glob("*.py")}
    counted = {name: len(path.read_text().splitlines()) for name, (path, _) in rows.items()}
    assert counted == {name: lines for name, (_, lines) in rows.items()}
    core = sum(counted[f] for f in ("adapter.py", "bait.py", "options.py", "plugin.py"))
    code = sum(code_lines(path.read_text()) for path, _ in rows.values())
    assert f"Adapter, bait side, options and plugin are {core} lines" in text
    assert f"with the reader of toyq's output, {core + counted['parse.py']}," in text
    assert f"and {sum(counted.values())} with `__init__.py`, of which {code} are code" in text
