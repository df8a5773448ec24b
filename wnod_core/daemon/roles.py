"""Who may ask the daemon what.

Three roles, each route needing one: ``read`` (status, VWNs, jobs: monitoring), ``bait`` (the
batch system's hook: bait requests and job notices, and reads) and ``admin`` (destroying a VWN,
draining and resuming the host, and all else). On the Unix socket a caller's role comes from
the kernel's word on it (``SO_PEERCRED``), never from what it says: root and the daemon's own
user are admins, and so are members of ``[daemon] admin_group``; members of ``bait_group`` may
bait for any job; while it is unset, anyone who can open the socket may bait, for their own
jobs only (a hook running as the job's owner: HTCondor's); everyone else may read. On TCP it
comes from the token: one token per role (``token_file`` the admin's, ``bait_token_file``,
``read_token_file``), so a monitoring token can never drain a host.
"""

import enum
import grp
import hmac
import os
import pwd
import time
from collections.abc import Callable, Mapping

import attrs

from .listeners import Peer


class Role(enum.IntEnum):
    """A caller's role; each includes those below it."""

    READ = 1
    BAIT = 2
    ADMIN = 3

    def __str__(self) -> str:
        return self.name.lower()


GROUPS_KEPT_FOR = 60.0
"""Seconds a user's groups are remembered: looking them up may ask a directory (LDAP) per call."""


@attrs.define
class SocketRoles:
    """The role of a caller on the Unix socket, by its uid and groups."""

    admin_gid: int | None = None
    bait_gid: int | None = None
    own_uid: int = attrs.field(factory=os.geteuid)
    clock: Callable[[], float] = time.monotonic
    _groups: dict[tuple[int, int], tuple[float, frozenset[int]]] = attrs.field(factory=dict, init=False)

    @classmethod
    def of(cls, admin_group: str, bait_group: str) -> "SocketRoles":
        """Raises ValueError naming the setting whose group does not exist."""
        return cls(admin_gid=_gid("admin_group", admin_group), bait_gid=_gid("bait_group", bait_group))

    def role_of(self, peer: Peer) -> Role:
        if peer.uid is None:  # the kernel could not say who it is: the least
            return Role.READ
        if peer.uid in (0, self.own_uid):
            return Role.ADMIN
        if self.admin_gid is None and self.bait_gid is None:
            return Role.BAIT  # no group to look up: anyone who can open the socket may bait
        groups = self.groups_of(peer.uid, peer.gid)
        if self.admin_gid is not None and self.admin_gid in groups:
            return Role.ADMIN
        if self.bait_gid is None or self.bait_gid in groups:
            return Role.BAIT
        return Role.READ

    def knows(self, peer: Peer) -> bool:
        """Whether `peer`'s role needs no lookup of its groups now (they are remembered, or moot)."""
        if peer.uid is None or peer.uid in (0, self.own_uid) or (self.admin_gid is None and self.bait_gid is None):
            return True
        return self._kept(peer.uid, peer.gid) is not None

    def _kept(self, uid: int, gid: int | None) -> frozenset[int] | None:
        """`uid`'s groups as last looked up, while they are fresh enough."""
        kept = self._groups.get((uid, -1 if gid is None else gid))
        return kept[1] if kept is not None and self.clock() - kept[0] < GROUPS_KEPT_FOR else None

    def groups_of(self, uid: int, gid: int | None) -> frozenset[int]:
        kept = self._kept(uid, gid)
        if kept is not None:
            return kept
        key = (uid, -1 if gid is None else gid)
        groups = {gid} if gid is not None else set()
        try:
            entry = pwd.getpwuid(uid)
            groups.update(os.getgrouplist(entry.pw_name, entry.pw_gid if gid is None else gid))
        except (KeyError, OSError):  # a uid no directory knows: its own gid only
            pass
        self._groups[key] = (self.clock(), frozenset(groups))
        return self._groups[key][1]


def _gid(setting: str, group: str) -> int | None:
    if not group:
        return None
    try:
        return grp.getgrnam(group).gr_gid
    except KeyError:
        raise ValueError(f"daemon.{setting}: no group {group!r} on this host") from None


@attrs.frozen
class TokenRoles:
    """The role of a TCP caller, by the bearer token it sends."""

    tokens: Mapping[Role, str]

    def __attrs_post_init__(self) -> None:
        given = [t for t in self.tokens.values() if t]
        if len(set(given)) != len(given):
            raise ValueError("daemon: two roles have the same token: give each role a token of its own")

    def role_of(self, authorization: bytes) -> Role | None:
        """The role `authorization` (the header's bytes) carries; None for no or a wrong token.
        Every token is compared, in constant time: the answer tells nothing of the others."""
        found = None
        for role, token in sorted(self.tokens.items()):
            if token and hmac.compare_digest(authorization, f"Bearer {token}".encode()):
                found = role
        return found
