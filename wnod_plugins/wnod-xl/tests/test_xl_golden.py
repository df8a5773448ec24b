"""Golden files: the exact xl config wnod-xl writes for each case, reviewed like code.

After an intended change, regenerate them with ``WNOD_REGENERATE_GOLDEN=1 pytest
wnod_plugins/wnod-xl -k golden`` and read the diff before committing it.
"""

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

GOLDEN = Path(__file__).parent / "golden"


def test_xl_config_matches_its_golden_file(case: str, render_case: Callable[..., Any]) -> None:
    backend, spec = render_case(case)
    text = backend.render(spec)
    golden = GOLDEN / f"{case}.cfg"
    if os.environ.get("WNOD_REGENERATE_GOLDEN") == "1":
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(text)
    assert golden.exists(), f"no golden file {golden}; run with WNOD_REGENERATE_GOLDEN=1 to write it"
    assert text == golden.read_text()


def test_every_golden_file_has_its_case(case_names: list[str]) -> None:
    # A renamed or removed case must not leave a stale golden file behind.
    assert sorted(p.stem for p in GOLDEN.glob("*.cfg")) == case_names
