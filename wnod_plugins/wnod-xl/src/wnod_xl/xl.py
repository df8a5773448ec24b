"""Running the ``xl`` command and reading what it prints.

Every call goes through ``wnod_core.commands``: an argument list (never a shell) with a
timeout; a failing xl is reported as a ``HypervisorError`` naming the command and quoting
xl's own words verbatim.

What xl prints, as read here:

- ``xl list``: a header, then one line per domain ``NAME ID MEM VCPUS STATE TIME``; STATE
  is six flag letters ``rbpscd`` (running, blocked, paused, shutdown, crashed, dying),
  ``-`` where a flag is off.
- ``xl list -l``: a JSON array, one ``{"domid": N, "config": {...}}`` per domain whose
  configuration libxl can give back, ``config`` being libxl's domain config
  (``c_info.name``, ``c_info.uuid``, ``b_info``, ``disks``, ...). It carries no state.
"""

import json
from collections.abc import Sequence

import attrs
from wnod_core import commands
from wnod_core.errors import HypervisorError
from wnod_core.interfaces import DomainState


@attrs.frozen
class LiveDomain:
    """A domain xl lists now."""

    name: str
    domid: int
    flags: str
    """xl's six state letters, e.g. "-b----"."""
    uuid: str | None = None
    """From ``xl list -l``; None when xl gave no configuration for it (a dying domain)."""

    @property
    def state(self) -> DomainState:
        return state_of(self.flags)


def state_of(flags: str) -> DomainState:
    """wnod's state for xl's flag letters. A domain shut down or dying is on its way out."""
    if "c" in flags:
        return DomainState.CRASHED
    if "s" in flags or "d" in flags:
        return DomainState.SHUTOFF
    if "p" in flags:
        return DomainState.PAUSED
    return DomainState.RUNNING  # "r", "b", or none: it has a vCPU running or ready to run


class XlFailed(HypervisorError):
    """xl ran and failed (non-zero exit); ``stderr`` is what it said."""

    def __init__(self, message: str, stderr: str) -> None:
        super().__init__(message)
        self.stderr = stderr


class Xl:
    """The xl command at `command`, each call given at most `timeout` seconds."""

    def __init__(self, command: str, timeout: float) -> None:
        self.command = command
        self.timeout = timeout

    def run(self, *args: str, timeout: float | None = None) -> str:
        """xl's stdout. Raises ``XlFailed`` on a non-zero exit, ``HypervisorError`` otherwise."""
        try:
            # On a timeout xl's whole process group is killed; xl create's domain monitor
            # daemonizes into a session of its own and is kept.
            result = commands.run(
                [self.command, *args], timeout=self.timeout if timeout is None else timeout, error=HypervisorError
            )
        except HypervisorError as e:
            if isinstance(e.__cause__, FileNotFoundError):
                raise HypervisorError(f"{e} (is Xen's xl installed? see [hypervisor.xl] xl)") from None
            raise
        if result.returncode != 0:
            raise XlFailed(result.message("failed"), result.stderr)
        return result.stdout

    # -- the commands wnod uses --------------------------------------------------------------------

    def create(self, config_file: str) -> None:
        self.run("create", config_file)

    def shutdown_wait(self, domid: int, timeout: float) -> None:
        self.run("shutdown", "-w", str(domid), timeout=timeout)

    def destroy(self, domid: int) -> None:
        self.run("destroy", str(domid))

    def domains(self) -> dict[str, LiveDomain]:
        """Every domain xl lists now, by name, with its UUID where ``xl list -l`` gives one."""
        flags = _parse_list(self.run("list"))
        uuids = _parse_list_long(self.run("list", "-l"))
        out: dict[str, LiveDomain] = {}
        for name, (domid, state) in flags.items():
            long_name, uuid = uuids.get(domid, (None, None))
            # The two calls are a moment apart: trust a UUID only for the same domid and name.
            out[name] = LiveDomain(name, domid, state, uuid if long_name == name else None)
        return out


def _parse_list(text: str) -> dict[str, tuple[int, str]]:
    lines = text.splitlines()
    if not lines or not lines[0].startswith("Name"):
        raise HypervisorError(f"xl list printed no table wnod can read: {text[:200]!r}")
    out: dict[str, tuple[int, str]] = {}
    for line in lines[1:]:
        if not line.strip():
            continue
        fields = line.rsplit(None, 5)
        if len(fields) != 6 or not fields[1].isdigit() or len(fields[4]) != 6:
            raise HypervisorError(f"xl list printed a line wnod cannot read: {line!r}")
        out[fields[0].strip()] = (int(fields[1]), fields[4])
    return out


def _parse_list_long(text: str) -> dict[int, tuple[str, str | None]]:
    """domid -> (name, uuid) from ``xl list -l``."""
    if not text.strip():
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise HypervisorError(f"xl list -l printed no JSON wnod can read ({e}): {text[:200]!r}") from None
    if not isinstance(data, Sequence) or isinstance(data, str):
        raise HypervisorError(f"xl list -l printed {type(data).__name__}, not a list of domains")
    out: dict[int, tuple[str, str | None]] = {}
    for item in data:
        try:
            c_info = item["config"]["c_info"]
            out[int(item["domid"])] = (str(c_info["name"]), c_info.get("uuid"))
        except (KeyError, TypeError, ValueError):
            raise HypervisorError(f"xl list -l printed a domain wnod cannot read: {item!r}") from None
    return out
