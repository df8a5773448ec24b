"""A job owner's uid and groups from this host's NSS: the kit the batch adapters share."""

import grp
import os
import pwd

from wnod_core.kits.accounts import Account, account, group_name

ME = pwd.getpwuid(os.getuid())


def test_a_known_user_has_their_uid_and_their_primary_group_first() -> None:
    found = account(ME.pw_name)
    assert found.uid == ME.pw_uid
    assert found.groups[0] == group_name(ME.pw_gid)
    assert len(set(found.groups)) == len(found.groups)


def test_the_batch_systems_group_comes_first_in_place_of_the_primary_one() -> None:
    found = account(ME.pw_name, "the-jobs-group", ME.pw_gid)
    assert found.groups[0] == "the-jobs-group"
    assert found.uid == ME.pw_uid


def test_an_unknown_user_has_no_uid_and_only_the_batch_systems_word() -> None:
    assert account("no-such-user-wnod") == Account()
    assert account("no-such-user-wnod", "atlas", 4242) == Account(groups=("atlas",))


def test_a_gid_without_a_name_is_its_number() -> None:
    unnamed = next(gid for gid in range(2**31 - 100, 2**31) if gid not in {g.gr_gid for g in grp.getgrall()})
    assert group_name(unnamed) == str(unnamed)
