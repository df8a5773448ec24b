"""What a batch system's hook writes on ``wnod bait``'s stdin (HTCondor's job ClassAd), read
with bounds: a hook that never closes stdin, or floods it, must not hold its job on the bait
past the time ``wnod bait`` has, nor fill its memory."""

import io
import os
import select
import sys
import time

from ..errors import BatchSystemError

STDIN_LIMIT = 1 << 20
"""Bytes read at most: a job ClassAd is a few kilobytes; a megabyte is no hook's."""
STDIN_WAIT = 30.0
"""Seconds at most until the hook has closed stdin: it writes what it has at once."""


def read_hook_stdin(seconds: float = STDIN_WAIT, limit: int = STDIN_LIMIT) -> str:
    """All the hook wrote on stdin, decoded (undecodable bytes replaced); ``BatchSystemError``
    when it is not closed within `seconds` or is longer than `limit` bytes."""
    stream = sys.stdin
    if stream is None:
        return ""
    try:
        fd = stream.fileno()
    except (AttributeError, ValueError, io.UnsupportedOperation):
        # Not a file (a test runner's stream): what it holds, bounded all the same.
        data = stream.read(limit + 1)
        return _checked(data.encode() if isinstance(data, str) else data, limit).decode("utf-8", "replace")
    return _checked(_read_fd(fd, seconds, limit), limit).decode("utf-8", "replace")


def _read_fd(fd: int, seconds: float, limit: int) -> bytes:
    deadline = time.monotonic() + seconds
    chunks: list[bytes] = []
    size = 0
    while size <= limit:
        left = deadline - time.monotonic()
        if left <= 0:
            raise BatchSystemError(f"the hook did not close wnod bait's stdin within {seconds:g}s"
                                   f" ({size} bytes read)")
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _checked(data: bytes, limit: int) -> bytes:
    if len(data) > limit:
        raise BatchSystemError(f"the hook wrote more than {limit} bytes on wnod bait's stdin")
    return data
