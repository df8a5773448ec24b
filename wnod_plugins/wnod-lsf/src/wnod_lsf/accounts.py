"""A job owner's uid and unix groups, from this host's account database (NSS).

LSF reports the owner's name but not their unix groups (its USER_GROUP is the fair-share
group given with ``bsub -G``, not a unix group). LSF itself runs the job with the groups
NSS gives the user on the execution host; the hypervisor hosts share the farm's NSS, so
wnod asks it the same question.
"""

import grp
import os
import pwd
from typing import Protocol

import attrs


@attrs.frozen
class Account:
    uid: int | None = None
    groups: tuple[str, ...] = ()
    """Primary group first."""


class Accounts(Protocol):
    def __call__(self, user: str) -> Account: ...


def system_accounts(user: str) -> Account:
    """The user's uid and groups from NSS; an empty ``Account`` for a user NSS does not know."""
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        return Account()
    names = [_group_name(entry.pw_gid)]
    try:
        gids = os.getgrouplist(user, entry.pw_gid)
    except OSError:
        gids = []
    for gid in gids:
        name = _group_name(gid)
        if name not in names:
            names.append(name)
    return Account(uid=entry.pw_uid, groups=tuple(names))


def _group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)
