"""What the daemon checks before it starts, which ``wnod config check`` checks too: the files,
names and addresses its ``[daemon]`` section points at.

A mistake here is found by ``wnod config check`` on the admin's terminal rather than by a
daemon that exits 3 under systemd.
"""

import grp
import hmac
import os
import socket
import stat
from pathlib import Path

from ..errors import Problem
from ..site import Site

SOCKET_NAME = "wnod.sock"
MAX_SOCKET_PATH = 107
"""Bytes of a Unix socket's path, at most (sun_path holds 108 with the final NUL)."""
MIN_TOKEN = 16


def socket_path(site: Site) -> Path:
    return Path(site.config.daemon.socket) if site.config.daemon.socket else site.dirs.runtime / SOCKET_NAME


def read_token(path: Path) -> str:
    """The bearer token in `path`, or ValueError saying what is wrong with the file."""
    try:
        st = path.stat()
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror}") from None
    if stat.S_ISDIR(st.st_mode):
        raise ValueError(f"{path} is a directory, not a file holding the token")
    if not stat.S_ISREG(st.st_mode):
        raise ValueError(f"{path} is not a regular file")
    if st.st_mode & 0o077:
        raise ValueError(f"{path} may be read by others; chmod 600 it")
    try:
        token = path.read_bytes().decode("utf-8").strip()
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not UTF-8 text: the token is one line of printable characters") from None
    if len(token) < MIN_TOKEN:
        raise ValueError(f"the token in {path} is shorter than {MIN_TOKEN} characters")
    if any(not c.isprintable() or c.isspace() for c in token):
        raise ValueError(f"the token in {path} must be one word of printable characters")
    return token


def daemon_problems(site: Site) -> list[Problem]:
    """Every mistake in what ``[daemon]`` names that can be seen without starting anything."""
    daemon = site.config.daemon
    problems: list[Problem] = []

    def problem(key: str, message: str) -> None:
        path = f"daemon.{key}"
        problems.append(Problem(path, message, site.config.source_of(path)))

    path = socket_path(site)
    if len(os.fsencode(path)) > MAX_SOCKET_PATH:
        problem("socket", f"{path} is too long for a Unix socket ({len(os.fsencode(path))} bytes, at most"
                          f" {MAX_SOCKET_PATH}): choose a shorter daemon.socket or runtime directory")
    for key in ("socket_group", "admin_group", "bait_group"):
        group = getattr(daemon, key)
        if group:
            try:
                grp.getgrnam(group)
            except KeyError:
                problem(key, f"no group {group!r} on this host")
    if daemon.listen:
        address, _, port = daemon.listen.rpartition(":")
        try:
            socket.getaddrinfo(address.strip("[]"), int(port), type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            problem("listen", f"cannot listen on {daemon.listen}: {getattr(exc, 'strerror', None) or exc}")
        tokens: dict[str, str] = {}
        for key in ("token_file", "bait_token_file", "read_token_file"):
            if getattr(daemon, key):
                try:
                    token = read_token(Path(getattr(daemon, key)))
                except ValueError as exc:
                    problem(key, str(exc))
                    continue
                for other, known in tokens.items():
                    if hmac.compare_digest(token, known):
                        problem(key, f"the same token as daemon.{other}: each role needs a token of its own")
                tokens[key] = token
    return problems
