"""A reason on the one line a batch system's comment or hold reason has (`wnod_core.text.on_one_line`)."""

from wnod_core.text import on_one_line


def test_a_reason_goes_on_one_line_cut_at_its_limit() -> None:
    assert on_one_line("no VWN:\n  image\tmissing ") == "no VWN: image missing"
    assert on_one_line("wnod: " + "x" * 50, 10) == "wnod: xxxx"
    assert on_one_line(" \n ") == ""
