"""A job owner's uid and unix groups, from the account database (NSS) of the host wnod runs on.

Batch systems name a job's owner, but few show their uid or every unix group (Slurm gives
one group, LSF and PBS none or only their own kind). The batch system runs the job with what
NSS gives that name on the execution host; the hypervisor hosts share the farm's NSS, so wnod
asks it the same question. Never from the job's environment, which its owner controls.
"""

import grp
import os
import pwd

import attrs


@attrs.frozen
class Account:
    """A user as NSS knows them; empty for a user it does not know."""

    uid: int | None = None
    groups: tuple[str, ...] = ()
    """Primary group first, each once; a group NSS has no name for as its number."""


def account(user: str, group: str = "", gid: int | None = None) -> Account:
    """`user`'s uid and groups from NSS.

    A batch system that says which group the job runs as (Slurm) passes it as `group` and
    `gid`: that group comes first, in place of the user's primary group. A user NSS does not
    know has no uid and only that group (none without it): the batch system's word is all
    there is.
    """
    try:
        entry = pwd.getpwnam(user)
    except (KeyError, OSError):
        return Account(groups=(group,) if group else ())
    primary = entry.pw_gid if gid is None else gid
    names = [group or group_name(primary)]
    try:
        gids = os.getgrouplist(user, primary)
    except OSError:
        gids = []
    for other in gids:
        name = group_name(other)
        if name not in names:
            names.append(name)
    return Account(uid=entry.pw_uid, groups=tuple(names))


def group_name(gid: int) -> str:
    """The name NSS gives `gid`, else the number itself."""
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)
