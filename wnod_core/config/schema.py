"""The core's own config sections. Plugins describe theirs with their own options classes."""

import enum
import os
import re
import socket

import attrs

from ..model.fields import documented
from ..model.units import Bytes, Seconds, parse_duration, parse_size
from ..model.vmtype import Name
from .checks import longer_than_zero


def _this_host() -> str:
    return socket.gethostname()


def _this_hosts_cpus() -> int:
    return os.cpu_count() or 1


def _this_hosts_memory() -> Bytes:
    return Bytes(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))


@attrs.frozen
class HostSection:
    """`[host]`: this hypervisor host and the share of it wnod may give to VWNs."""

    name: str = documented(
        "This hypervisor host's name, recorded on every VWN it runs.",
        factory=_this_host,
        metadata={"default": "this machine's host name"},
    )
    vcpus: int = documented(
        "Virtual CPUs wnod may hand out to VWNs on this host.",
        factory=_this_hosts_cpus,
        validator=attrs.validators.ge(1),
        metadata={"default": "this machine's CPU count"},
    )
    memory: Bytes = documented(
        "Memory wnod may hand out to VWNs on this host.",
        factory=_this_hosts_memory,
        converter=parse_size,
        metadata={"default": "this machine's physical memory"},
    )
    max_vwns: int = documented(
        "Most VWNs alive on this host at once.", default=8, validator=attrs.validators.ge(1)
    )
    baits: tuple[str, ...] = documented(
        "This host's bait nodes, as the batch system names them. A bait request naming any other"
        " node is refused, nothing done (unset: any node the job really runs on is taken for a"
        " bait; set it). While this host's VWN boots keep failing (see `engine.breaker_failures`)"
        " wnod closes them, so that jobs go to other hosts, and opens them again once a boot works.",
        factory=tuple,
        converter=tuple,
        validator=lambda _i, _a, v: _check_hostnames(v),
        metadata={"default": "none"},
    )
    bare_metal_node: str = documented(
        "Mixed mode: the batch system's node through which this host also runs ordinary jobs, bare"
        " metal. Each VWN with a job reserves its vCPUs of that node's CPUs for as long as the job"
        " runs (Slurm: a reservation of its CPUs), so that no bare-metal job is given them; a VWN whose CPUs"
        " the node's jobs use is not started, and its job goes back to pending. Unset: the host runs"
        " VWNs only. Memory is not shared: give that node's jobs what `memory` leaves. Read at the"
        " daemon's start: a reload keeps the running one.",
        default="",
        validator=lambda _i, _a, v: _check_hostnames((v,)) if v else None,
    )


@attrs.frozen
class BatchSection:
    """`[batch]`: which batch-system plugin this host works with.

    Its options go in `[batch.<system>]`, described by the plugin."""

    system: Name | None = documented(
        'Name of the batch-system plugin, e.g. "slurm" (see `wnod plugins`). Required by the daemon.',
        default=None,
    )


@attrs.frozen
class HypervisorSection:
    """`[hypervisor]`: which hypervisor backend creates this host's VWNs.

    Its options go in `[hypervisor.<backend>]`, described by the plugin."""

    backend: Name | None = documented(
        'Name of the hypervisor plugin, e.g. "libvirt" (see `wnod plugins`). Required by the daemon.',
        default=None,
    )


@attrs.frozen
class ResolverEntry:
    """`[[resolvers]]`: one link of the VM-type resolver chain; the first that answers wins.

    The table's other keys are the options of the resolver plugin it uses."""

    use: Name = documented('Name of the resolver plugin, e.g. "by-user" (see `wnod plugins`).')


class BootFailure(enum.StrEnum):
    """What becomes of a job whose VWN failed to boot on every try. A boot fails for a reason of
    the host or of the image, never of the job: the job is not ended for it."""

    REQUEUE = "requeue"
    """Put it back to pending, for the batch system to send it elsewhere (or here again later)."""
    RELEASE = "release"
    """Let it run on the bait as an ordinary job, outside any VWN."""
    HOLD = "hold"
    """Hold it in the batch system, with the reason, until its admin looks and releases it."""


@attrs.frozen
class EngineSection:
    """`[engine]`: how this host's daemon places jobs and copes when VWNs fail."""

    vwn_hostname: str = documented(
        "The batch-system host name of the VWN in each slot of this host: `{host}` is this host's"
        " short name, `{slot}` the slot number, 1 to `host.max_vwns`. The batch system must know these names.",
        default="{host}-vwn{slot}",
        validator=lambda _i, _a, v: _check_hostname_pattern(v),
    )
    boot_retries: int = documented(
        "How many more VWNs to try for a job after the first fails to boot or to join the batch system.",
        default=2,
        validator=attrs.validators.ge(0),
    )
    on_boot_failure: BootFailure = documented(
        "What to do with a job once every try to boot its VWN has failed: `requeue` it (back to"
        " pending, for another host), `release` it to run outside a VWN, or `hold` it in the batch"
        " system, with the reason, until its admin releases it. A boot fails for a reason of the host"
        " or its image: the job is never ended for it.",
        default=BootFailure.REQUEUE,
    )
    breaker_failures: int = documented(
        "Boots in a row, of any VM type, that may fail on this host before it takes no new VWN (and"
        " closes `host.baits`) for `breaker_backoff`; then one boot is tried, and the host opens again"
        " if it works.",
        default=5,
        validator=attrs.validators.ge(1),
    )
    breaker_type_failures: int = documented(
        "Boots in a row of one VM type that may fail before that type gets no new VWN here for"
        " `breaker_backoff` (its idle VWNs are still reused).",
        default=3,
        validator=attrs.validators.ge(1),
    )
    breaker_backoff: Seconds = documented(
        "How long a host (or a VM type) whose boots keep failing waits before it tries one again; it"
        " doubles while the tries fail, up to an hour.",
        default=Seconds(300),
        converter=parse_duration,
        validator=longer_than_zero,
    )
    job_retention: Seconds = documented(
        "How long the records keep a job wnod is done with (`wnod jobs` no longer lists it at once);"
        " the accounting ledger keeps every job's history for good.",
        default=Seconds(7 * 86400),
        converter=parse_duration,
        validator=longer_than_zero,
    )
    poll_interval: Seconds = documented(
        "How often the batch system and the hypervisor are asked how jobs and VWNs are doing.",
        default=Seconds(2),
        converter=parse_duration,
        validator=longer_than_zero,
    )
    bait_timeout: Seconds = documented(
        "How long a job may wait for a VWN before it is put back to pending (covers every boot try);"
        " also how long a job moved to its VWN may take to start there before it is put back to pending"
        " and the VWN freed, and how long wnod keeps asking the batch system to take back a job it gives up on.",
        default=Seconds(1800),
        converter=parse_duration,
        validator=longer_than_zero,
    )
    full_wait: Seconds = documented(
        "How long a job that finds this host full waits for room — a VWN whose job has just ended, not yet"
        " seen by wnod, or being cleaned — before it is put back to pending: a job put back may wait"
        " minutes for the batch system to send it again (Slurm: about two), and a job dispatched to a"
        " bait the moment another ended on this host finds it full only for an instant. 0: at once.",
        default=Seconds(10),
        converter=parse_duration,
    )
    steer_baits: bool = documented(
        "Give `host.baits` a scheduling weight from this host's VWNs, so that the batch system sends a job"
        " first where an idle VWN and room for a new one are, then where there is room, then where an idle"
        " VWN would have to be evicted, last where the host is full (Slurm: the node's Weight, set with"
        " scontrol; an adapter whose batch system has no such order leaves its baits as they are). Off:"
        " the site's own weights stand (on Slurm, once slurmctld reads slurm.conf again: restarted, or"
        " `scontrol reconfigure`; until then the weight wnod set last).",
        default=True,
    )
    plugin_timeout: Seconds = documented(
        "How long one call into a plugin (the batch system's adapter, the hypervisor's backend, a resolver)"
        " may take before wnod takes it as failed, as if the plugin had reported an error; the step is then"
        " retried or given up as for any error of that plugin. The call itself cannot be stopped: it finishes"
        " on its own in the background. A plugin with 32 such calls still running is not called again"
        " (its error at once) until one ends, so that it cannot take every thread.",
        default=Seconds(300),
        converter=parse_duration,
        validator=longer_than_zero,
    )


def _check_hostnames(names: tuple[str, ...]) -> None:
    for name in names:
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,252}", name):
            raise ValueError(f"expected host names (letters, digits, '.', '_', '-'), got {name!r}")


def _check_hostname_pattern(value: str) -> None:
    try:
        sample = value.format(host="hv01", slot=1)
    except (KeyError, IndexError, ValueError) as exc:
        raise ValueError(f"only {{host}} and {{slot}} may appear in it, got {value!r} ({exc})") from None
    if "{slot}" not in value:
        raise ValueError(f"must contain {{slot}}, or every VWN of this host gets the same name: {value!r}")
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9.-]{0,252}", sample):
        raise ValueError(f"must make a host name (letters, digits, '.', '-'), got {value!r}")


@attrs.frozen
class DaemonSection:
    """`[daemon]`: where this host's daemon listens, and who may talk to it."""

    socket: str = documented(
        "The Unix socket of the daemon's API. Empty: `wnod.sock` in the runtime directory.", default=""
    )
    socket_group: str = documented(
        "The group that may use the socket (mode 0660), e.g. the group the batch system's hook runs as."
        " Empty: the daemon's own group.",
        default="",
    )
    admin_group: str = documented(
        "Members of this group may use the admin routes on the socket (destroy a VWN, drain, resume),"
        " besides root and the daemon's own user. Empty: only those two.",
        default="",
    )
    bait_group: str = documented(
        "Only members of this group (and admins) may send bait requests and job notices on the"
        " socket, for any job: the group of the account the batch system's hook runs as, where that"
        " is not root (e.g. HTCondor's condor user). Empty: anyone who can open the socket may, but"
        " for jobs of their own only — what a hook running as the job's user needs (HTCondor, LSF"
        " without a root pre-exec).",
        default="",
    )
    listen: str = documented(
        'Also serve the API on TCP at "address:port" (e.g. "127.0.0.1:8470"); requires a token'
        " (`token_file`, `bait_token_file` or `read_token_file`). Empty: Unix socket only.",
        default="",
        validator=lambda _i, _a, v: _check_listen(v),
    )
    token_file: str = documented(
        "A file holding the admin role's bearer token on TCP: every route.", default=""
    )
    bait_token_file: str = documented(
        "A file holding the bait role's bearer token on TCP: bait requests, job notices and reads.",
        default="",
    )
    read_token_file: str = documented(
        "A file holding the read role's bearer token on TCP: status, VWNs and jobs only (monitoring).",
        default="",
    )
    tls_cert_file: str = documented(
        "Serve the TCP API over TLS with this certificate (PEM, its chain after it): the tokens and"
        " answers cross the network encrypted. Needs `tls_key_file`. Empty: plain HTTP.",
        default="",
    )
    tls_key_file: str = documented(
        "The private key of `tls_cert_file` (PEM, readable by the daemon's user only).", default=""
    )
    accounting: bool = documented(
        "Write one JSON line per job to `accounting.jsonl` in the state directory.", default=True
    )
    header_timeout: Seconds = documented(
        "How long a client may take to send a whole request's headers, from when it connects or from"
        " its previous answer: a connection that sends nothing, or too slowly, is closed then.",
        default=Seconds(10),
        converter=parse_duration,
        validator=longer_than_zero,
    )
    body_timeout: Seconds = documented(
        "How long a client may take to send a request's body once its headers are in.",
        default=Seconds(30),
        converter=parse_duration,
        validator=longer_than_zero,
    )
    max_connections: int = documented(
        "Connections the daemon keeps open at once, on its socket and TCP port together; more are"
        " answered 503 and closed. Every `wnod bait` waiting for its VWN holds one.",
        default=4096,
        validator=attrs.validators.ge(1),
    )
    max_connections_per_peer: int = documented(
        "Connections one client keeps open at once: one TCP address, or one user on the Unix socket"
        " (the batch system's hook calls as one user: give it room for every bait of this host).",
        default=1024,
        validator=attrs.validators.ge(1),
    )

    def __attrs_post_init__(self) -> None:
        if self.listen and not (self.token_file or self.bait_token_file or self.read_token_file):
            raise ValueError("listen needs a token (token_file, bait_token_file or read_token_file): the TCP"
                             " API is never open without one")
        if bool(self.tls_cert_file) != bool(self.tls_key_file):
            raise ValueError("TLS needs both tls_cert_file and tls_key_file")
        if self.tls_cert_file and not self.listen:
            raise ValueError("tls_cert_file is for the TCP API: set listen too")


def _check_listen(value: str) -> None:
    if not value:
        return
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f'expected "address:port" like "127.0.0.1:8470", got {value!r}')


@attrs.frozen
class ImagesSection:
    """`[images]`: this host's image library — immutable, verified image versions (see docs/images.md)."""

    library: str = documented(
        "Absolute directory of this host's image library: one directory per image, one per version"
        " (`IMAGE/N/disk.raw` with its `manifest.json`), and which version is current here. Empty:"
        ' no library; no VM type may have `image_source = "library"`.',
        default="",
        validator=lambda _i, _a, v: _check_absolute_or_empty(v, "library"),
    )
    source: str = documented(
        "Where versions are pulled from: an absolute directory (e.g. a shared file system) or an"
        " http(s):// URL serving the same layout. Empty: versions are only the ones built here.",
        default="",
        validator=lambda _i, _a, v: _check_source(v),
    )
    allowed_signers: str = documented(
        "An ssh-keygen allowed-signers file naming who may sign image versions (`ssh-keygen -Y verify`)."
        " Set: a version without a good signature from one of them is refused, never booted.",
        default="",
        validator=lambda _i, _a, v: _check_absolute_or_empty(v, "allowed_signers"),
    )
    signing_key: str = documented(
        "An SSH private key that signs the versions built on this host (`wnod image update`), for"
        " the hosts whose `allowed_signers` names it. Empty: versions are built unsigned.",
        default="",
        validator=lambda _i, _a, v: _check_absolute_or_empty(v, "signing_key"),
    )
    keep: int = documented(
        "Versions of each image kept in the library; older ones are pruned when a version is pulled,"
        " built or published — never the current one, the one a rollback goes back to, one a VWN uses,"
        " or the newest.",
        default=3,
        validator=attrs.validators.ge(2),
    )
    update_timeout: Seconds = documented(
        "How long an update VM (`wnod image update`) may run its script before it is stopped and the"
        " update failed.",
        default=Seconds(3600),
        converter=parse_duration,
        validator=longer_than_zero,
    )
    tool_timeout: Seconds = documented(
        "How long one disk tool (cp, mke2fs, e2fsck, debugfs, ssh-keygen) may take.",
        default=Seconds(600),
        converter=parse_duration,
        validator=longer_than_zero,
    )


def _check_absolute_or_empty(value: str, what: str) -> None:
    if value and not os.path.isabs(value):
        raise ValueError(f"{what} must be an absolute path, got {value!r}")


def _check_source(value: str) -> None:
    if value and not (os.path.isabs(value) or re.match(r"https?://[^/\s]+", value)):
        raise ValueError(f"expected an absolute directory or an http(s):// URL, got {value!r}")
