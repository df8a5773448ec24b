"""A job owner's groups, from this host's user database.

Slurm reports one group per job (the group it runs as, normally the user's primary
group). The others come from the name service of the host the daemon runs on, which
in a batch farm serves the same users as the worker nodes: never from the job's
environment, which its owner controls.
"""

import grp
import os
import pwd


def groups_of(user: str, group: str, gid: int | None) -> tuple[str, ...]:
    """The job's group first, then the user's other groups as this host knows them."""
    names = [group] if group else []
    try:
        base = gid if gid is not None else pwd.getpwnam(user).pw_gid
        ids = os.getgrouplist(user, base)
    except (KeyError, OSError):
        return tuple(names)  # a user this host does not know: Slurm's word is all there is
    for i in ids:
        try:
            name = grp.getgrgid(i).gr_name
        except KeyError:
            continue
        if name not in names:
            names.append(name)
    return tuple(names)
