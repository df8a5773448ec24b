"""A test that lacks something of the machine skips on a developer's machine and fails under CI."""

import pytest

from wnod_core.testing.requirements import missing_commands, missing_file, missing_module, require


def test_under_ci_a_missing_requirement_fails_the_test(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI must run this test, but: not installed: nothing-here"):
        require(missing_commands("nothing-here"))


@pytest.mark.parametrize("ci", ["", "false", "0"])
def test_elsewhere_it_skips_with_the_reason(monkeypatch: pytest.MonkeyPatch, ci: str) -> None:
    monkeypatch.setenv("CI", ci)
    with pytest.raises(pytest.skip.Exception, match="no /nonexistent/key \\(make it\\)"):
        require(missing_file("/nonexistent/key", "make it"))


def test_nothing_missing_lets_the_test_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    require(missing_commands("sh") or missing_module("json", "the standard library") or missing_file(__file__, ""))


def test_the_reasons_name_what_is_missing_and_where_it_comes_from() -> None:
    assert missing_commands("sh", "nothing-a", "nothing-b", hint="see x.txt") == "not installed: nothing-a, nothing-b (see x.txt)"
    assert missing_module("no_such_module_here", "wnod-nothing") == (
        "wnod-nothing is not installed in this environment (dev/setup installs it)")
