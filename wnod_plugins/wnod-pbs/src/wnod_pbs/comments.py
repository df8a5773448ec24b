"""wnod's reasons in a job's ``comment``, which PBS also writes itself.

OpenPBS's server and scheduler write their own comment on every job: when they send and run
it ("Job was sent for execution at ...", "Job run at ..."), at each scheduling cycle it
waits through ("Not Running: Not enough free nodes available"), when it is held ("Job held
by ..."); qrls removes the comment; and the server appends how the job ended ("... and
terminated by root@host", "and finished", "and failed") as it goes to history
(src/server/req_runjob.c, src/scheduler/job_info.cpp, src/server/req_holdjob.c,
src/server/svr_jobfunc.c). So wnod writes its reason last, on a job that is held or being
ended, where nothing of PBS's comes after; marks it ``wnod:`` to tell it from PBS's own; and
reads it back without what PBS added: the space qalter leaves for the closing quote of
``comment="..."`` (src/lib/Libcmds/parse_equal.c) and the end-of-job words.
"""

import re

from wnod_core.text import on_one_line

MARK = "wnod:"
"""How every comment wnod writes begins."""

MAX_LENGTH = 240
"""Characters of a reason wnod writes: the owner reads it on one line of qstat -f."""

# PBS's end-of-job words, after the space qalter left: two blanks at least. One blank and the
# words are wnod's own ("... booted and failed"), kept.
_ENDED = re.compile(r" \s+and (terminated( by \S+)?|finished|failed|exceeded resource \S+( \([a-z]+\))?)\Z")


def written(reason: str, note: str = "") -> str:
    """``comment="wnod: REASON (NOTE)"``, for ``qalter -W``: quoted, since qalter splits -W values
    at commas, on one line, with no quote of the kind that would end it early; the reason cut
    short, never the note."""
    def line(text: str) -> str:
        return on_one_line(text.replace('"', "'"))

    text, tail = line(reason), f" ({line(note)})" if note.strip() else ""
    if not text.startswith(MARK):
        text = f"{MARK} {text}"
    return f'comment="{text[:max(len(MARK), MAX_LENGTH - len(tail))]}{tail}"'


def read_back(comment: str) -> str:
    """The reason a job's comment gives: wnod's own without what PBS added, or PBS's as it says it."""
    text = comment.strip()
    if text.startswith(MARK):
        text = _ENDED.sub("", text).strip()
    return text
