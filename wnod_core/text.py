"""Small helpers for messages written to farm admins."""

import difflib
import logging
import re
from collections.abc import Iterable


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """' (did you mean "x"?)' when a choice is close to `name`, else ''."""
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f' (did you mean "{close[0]}"?)' if close else ""


def one_line(exc: BaseException) -> str:
    """An exception as one line: its type and the first line of its message."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def on_one_line(text: str, limit: int | None = None) -> str:
    """`text` as one line, for a batch system's one-line fields (a job's comment, a hold
    reason): each run of white space, line breaks included, one blank; at most `limit`
    characters."""
    line = " ".join(text.split())
    return line if limit is None else line[:limit]


_UNSHOWN = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")
"""What must not reach a terminal as it is: C0 and C1 control characters (a job could write
terminal escapes, or break a table's line), and the invisible and bidirectional formatting
characters that make text read otherwise than it is."""
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def shown(text: str) -> str:
    """`text` that came from a batch system or a user (job names, comments, reasons), safe to
    print on an admin's terminal: every control or formatting character written as its escape
    (``\\x1b``, ``\\n``, ``\\u202e``); everything else, any script included, as it is."""
    return _UNSHOWN.sub(_escape, text)


def _escape(match: "re.Match[str]") -> str:
    char = match.group()
    return _NAMED.get(char) or (f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}")


class ShownFormatter(logging.Formatter):
    """Log lines whose message is `shown`: a log read on a terminal is a terminal too. A
    traceback keeps its lines (it is wnod's own text)."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - logging's name
        record.message = shown(record.message)
        return super().formatMessage(record)
