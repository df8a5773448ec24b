"""docs/plugins.md says which contract suites exist; it must agree with wnod_core.testing."""

from pathlib import Path

import wnod_core.testing.contracts as contracts

ROOT = Path(__file__).resolve().parents[2]


def test_guide_names_the_contract_suites_that_exist() -> None:
    text = (ROOT / "docs" / "plugins.md").read_text()
    for name in contracts.__all__:
        assert f"`{name}`" in text, f"docs/plugins.md does not describe {name} from wnod_core.testing.contracts"


def test_guide_does_not_call_an_existing_suite_missing() -> None:
    text = (ROOT / "docs" / "plugins.md").read_text()
    marker = "<!-- contracts-status"
    if marker not in text:
        return
    status = text.split(marker, 1)[1].split("\n\n", 1)[0]
    if "not available yet" not in status:
        return
    present = [n for n in ("BatchSystemContract", "HypervisorContract") if n in contracts.__all__]
    assert not present, (
        f"{', '.join(present)} now exist in wnod_core.testing.contracts, but docs/plugins.md still says they are"
        " not available: describe them (their fixtures and what they check) in the guide"
    )
