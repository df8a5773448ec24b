"""Text from batch systems and users reaches an admin's terminal escaped (`wnod_core.text.shown`).

A job's name, comment or owner, a resolver's reason, a batch command's error: any of them can
carry terminal escapes (retitle the window, rewrite the screen, hide a line) or a bidirectional
override that makes a name read backwards. wnod writes every such character as its escape.
"""

import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wnod_core.cli.output import emit_table
from wnod_core.text import ShownFormatter, shown


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("\x1b]0;owned\x07", "\\x1b]0;owned\\x07"),  # retitles the terminal
        ("\x1b[2J\x1b[H", "\\x1b[2J\\x1b[H"),  # clears the screen
        ("\x9b31m", "\\x9b31m"),  # the one-byte CSI of C1
        ("ok\rFAILED", "ok\\rFAILED"),  # a carriage return rewrites the line
        ("two\nlines\tand a tab", "two\\nlines\\tand a tab"),
        ("alice\u202egnp.exe", "alice\\u202egnp.exe"),  # a right-to-left override
        ("zero\u200bwidth", "zero\\u200bwidth"),
        ("\x00\x7f", "\\x00\\x7f"),
    ],
)
def test_control_and_formatting_characters_are_written_as_escapes(text: str, expected: str) -> None:
    assert shown(text) == expected


def test_ordinary_text_in_any_script_is_left_as_it_is() -> None:
    text = "Jürgen's job 1234 on vwn-01 (日本語, ελληνικά, עברית) — 100% done"
    assert shown(text) == text


@given(st.text())
def test_nothing_shown_can_move_the_cursor_or_break_a_line(text: str) -> None:
    out = shown(text)
    assert not any(ord(c) < 0x20 or 0x7f <= ord(c) <= 0x9f for c in out)
    assert "\u202e" not in out and "\u2066" not in out


def test_a_table_shows_its_cells_escaped(capsys: pytest.CaptureFixture[str]) -> None:
    emit_table(["JOB", "USER"], [["1001", "ev\x1b]0;pwned\x07il"]])
    out = capsys.readouterr().out
    assert "\x1b" not in out and "ev\\x1b]0;pwned\\x07il" in out
    assert len(out.splitlines()) == 2


def test_a_log_line_is_shown_escaped_but_a_traceback_keeps_its_lines() -> None:
    formatter = ShownFormatter("wnod: %(levelname)s: %(message)s")
    record = logging.LogRecord("wnod", logging.WARNING, __file__, 1, "job %s: %s", ("1001", "bad\x1b[31m\nreason"), None)
    assert formatter.format(record) == "wnod: WARNING: job 1001: bad\\x1b[31m\\nreason"
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        record = logging.LogRecord("wnod", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    lines = formatter.format(record).splitlines()
    assert lines[0] == "wnod: ERROR: failed" and lines[1].startswith("Traceback") and lines[-1] == "ValueError: boom"
