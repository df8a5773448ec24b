"""A job owner's uid, from the account database (NSS) of the host wnod runs on.

Neither OpenPBS's nor Torque's ``qstat -f`` shows a uid: only the owner's name (``euser``,
``Job_Owner``). The MOM runs the job as the uid its own host's NSS gives that name; the
hypervisor hosts share the farm's NSS, so wnod asks it the same question. Never from the
job's environment, which its owner controls.
"""

import pwd


def uid_of(user: str) -> int | None:
    """The uid NSS gives `user`; None for a name it does not know."""
    try:
        return pwd.getpwnam(user).pw_uid
    except (KeyError, OSError):
        return None
