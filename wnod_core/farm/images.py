"""An image version across the farm: published (or rolled back) on chosen hosts, and where each
version is current, cached and in use.

Each chosen host's daemon does it itself (``POST /v1/images/{image}/publish``), pulling the
version from the image source and verifying it first: the farm's command only chooses the hosts
and gathers the answers, so a host that cannot (unreachable, a bad download, a signature that
does not verify) is one row saying why and the others' change stands.

A phased rollout takes a fraction of the hosts in an order fixed per image (a hash of the image's
name and the host's), so ``--fraction 0.1`` then ``--fraction 0.5`` grows the same set, and the
hosts first to get a version are the same for each of its versions.
"""

import hashlib
import math
from collections.abc import Sequence
from urllib.parse import quote

from ..errors import WnodError
from .config import FarmFile
from .view import HostAnswer, ask_each

ALL = "all"
"""``--hosts all``: every host of the farm file."""


def rollout_order(farm: FarmFile, image: str) -> list[str]:
    """The farm's hosts in the order a phased rollout of `image` takes them."""
    return sorted((h.name for h in farm.farm.hosts),
                  key=lambda name: hashlib.sha256(f"{image}\0{name}".encode()).hexdigest())


def choose_hosts(farm: FarmFile, image: str, hosts: Sequence[str] = (), fraction: float | None = None) -> list[str]:
    """The hosts named (``all``: every one), or the first ``ceil(fraction * N)`` of the rollout
    order (at least one); in the farm file's order. WnodError for a name the farm file lacks."""
    names = [h.name for h in farm.farm.hosts]
    if fraction is not None:
        if hosts:
            raise WnodError("give either hosts or a fraction of them, not both")
        if not 0 < fraction <= 1:
            raise WnodError(f"a fraction of the hosts is more than 0 and at most 1, got {fraction:g}")
        taken = set(rollout_order(farm, image)[:max(1, math.ceil(fraction * len(names)))])
        return [n for n in names if n in taken]
    if list(hosts) == [ALL]:
        return names
    unknown = sorted(set(hosts) - set(names))
    if unknown:
        raise WnodError(f"not a host of {farm.path}: {', '.join(unknown)}")
    return [n for n in names if n in hosts]


def publish(farm: FarmFile, image: str, version: int, hosts: Sequence[str], wait: float) -> list[HostAnswer]:
    """Make `image@version` current on each of `hosts`, at once; each answer is the daemon's
    ``{"before", "after", "changed", "pruned"}``. `wait`: how long a host may take (a pull)."""
    return _change(farm, image, "publish", {"version": str(version)}, hosts, wait)


def rollback(farm: FarmFile, image: str, version: int, hosts: Sequence[str], wait: float) -> list[HostAnswer]:
    """Go back from `image@version` on each of `hosts` where it is current (``changed`` false on
    the others: a host that never had it keeps what it has)."""
    return _change(farm, image, "rollback", {"from": str(version)}, hosts, wait)


def status(farm: FarmFile, image: str, hosts: Sequence[str] = ()) -> list[HostAnswer]:
    """Each host's versions of `image`: ``{"current", "versions": [{version, current,
    rollback_target, in_use, ...}]}``."""
    return ask_each(farm, lambda client: client.get(_path(image)), hosts)


def _change(farm: FarmFile, image: str, verb: str, body: dict[str, str], hosts: Sequence[str],
            wait: float) -> list[HostAnswer]:
    if not hosts:
        raise WnodError("no host chosen")
    tokens = farm.admin_tokens(hosts)
    return ask_each(farm, lambda client: client.post(f"{_path(image)}/{verb}", body), hosts,
                    tokens=tokens, timeout=wait)


def _path(image: str) -> str:
    return f"/v1/images/{quote(image, safe='')}"
