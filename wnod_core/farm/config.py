"""The farm file: which hosts' daemons make the farm, where their TCP API is, with which token.

::

    [farm]
    timeout = "5s"                              # per host; one that does not answer is shown so
    token_file = "/etc/wnod/farm-read.token"    # the read role's token of every host, unless
                                                # a host names its own
    [[farm.hosts]]
    name = "hv01"
    address = "10.1.0.1:8470"                   # the daemon's [daemon] listen
    [[farm.hosts]]
    name = "hv02"
    address = "10.1.0.2:8470"
    token_file = "/etc/wnod/hv02-read.token"

The read role's token is enough for every view, and can never drain a host or destroy a VWN.
``admin_token_file`` (the farm's, or a host's own) is read only by what changes the hosts (the
farm's ``wnod image publish`` and ``rollback``): a farm file for monitoring leaves it out.
With ``ca_file`` (the farm's, or a host's own) the host is asked over TLS, its certificate
checked against that CA and against the address asked for.
"""

import os
import ssl
import tomllib
from collections.abc import Collection
from pathlib import Path

import attrs

from ..config.checks import longer_than_zero
from ..config.convert import join, structure
from ..daemon.preflight import read_token
from ..daemon.tls import client_context
from ..errors import ConfigError, Problem, WnodError
from ..model.fields import documented
from ..model.units import Seconds, parse_duration
from ..model.vmtype import Name
from ..paths import farm_file_candidates

FARM_ENV = "WNOD_FARM"
"""The farm file, when ``--farm`` is not given."""


def _check_address(_instance: object, _attribute: object, value: str) -> None:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f'expected "address:port" like "10.1.0.1:8470", got {value!r}')


@attrs.frozen
class FarmHost:
    """`[[farm.hosts]]`: one hypervisor host of the farm."""

    name: Name = documented("The host's name in the views (its `[host] name`, or a short one).")
    address: str = documented('Its daemon\'s TCP API, "address:port" (its `[daemon] listen`).',
                              validator=_check_address)
    token_file: str = documented("A file holding a token of its daemon (the read role's); empty: `farm.token_file`.",
                                 default="")
    ca_file: str = documented("Ask it over TLS, trusting the CA (or certificate) in this PEM file; empty:"
                              " `farm.ca_file`.", default="")
    admin_token_file: str = documented("A file holding its daemon's admin token, for what changes the host"
                                       " (publishing an image); empty: `farm.admin_token_file`.", default="")


@attrs.frozen
class FarmSection:
    """`[farm]`: the hosts of the farm, and how long each may take to answer."""

    hosts: tuple[FarmHost, ...] = documented("The farm's hosts, one `[[farm.hosts]]` table each.")
    timeout: Seconds = documented("How long each host's daemon may take to answer, before it is shown unreachable.",
                                  default=Seconds(5), converter=parse_duration, validator=longer_than_zero)
    token_file: str = documented("A file holding the token of every host that names none of its own.", default="")
    ca_file: str = documented("Ask every host that names no CA of its own over TLS, trusting the CA in this PEM"
                              " file (the daemons' `tls_cert_file` is signed by it). Empty: plain HTTP.", default="")
    admin_token_file: str = documented("A file holding the admin token of every host that names none of its own:"
                                       " only what changes the hosts reads it.", default="")

    def __attrs_post_init__(self) -> None:
        names = [h.name for h in self.hosts]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"hosts named twice: {', '.join(twice)}")
        if not names:
            raise ValueError("no hosts: add a [[farm.hosts]] table per host")


@attrs.frozen
class FarmFile:
    """A farm file, read and checked, with each host's token."""

    path: Path
    farm: FarmSection
    tokens: dict[str, str]
    """Host name -> its token."""
    tls: dict[str, ssl.SSLContext | None] = attrs.field(factory=dict)
    """Host name -> the TLS context it is asked with (None: plain HTTP)."""

    def admin_tokens(self, hosts: Collection[str]) -> dict[str, str]:
        """Host name -> its admin token, for each of `hosts`; ConfigError naming every host that
        has none or whose file cannot be read. Read when asked, not at load: the views never need it."""
        tokens, problems = _tokens(self.farm, "admin_token_file", "admin token", self.path, hosts)
        if problems:
            raise ConfigError(problems)
        return tokens


def _tokens(farm: FarmSection, key: str, what: str, path: Path,
            hosts: Collection[str] | None = None) -> tuple[dict[str, str], list[Problem]]:
    """Host name -> the token its `key` names (its own, else the farm's), for each host (or
    each of `hosts`), and the problems met: a host naming no file, a file that cannot be read."""
    tokens, problems = {}, []
    for index, host in enumerate(farm.hosts):
        if hosts is not None and host.name not in hosts:
            continue
        own = join(join("farm.hosts", index), key)
        file, where = (getattr(host, key), own) if getattr(host, key) else (getattr(farm, key), f"farm.{key}")
        if not file:
            problems.append(Problem(own, f"host {host.name} has no {what}: set it, or farm.{key}", str(path)))
            continue
        try:
            tokens[host.name] = read_token(Path(file))
        except ValueError as exc:
            problems.append(Problem(where, str(exc), str(path)))
    return tokens, problems


def find_farm(named: str | None) -> FarmFile:
    """The farm file `named` (``--farm``), else ``$WNOD_FARM``, else ``farm.toml`` in the XDG
    config directories; WnodError saying where it looked when there is none."""
    named = named or os.environ.get(FARM_ENV)
    if named:
        return load_farm(Path(named))
    for candidate in farm_file_candidates():
        if candidate.is_file():
            return load_farm(candidate)
    looked = ", ".join(str(p) for p in farm_file_candidates())
    raise WnodError(f"no farm file: give --farm FILE or {FARM_ENV}, or write one at {looked} (see docs/farm.md)")


def load_farm(path: Path) -> FarmFile:
    """Read and check the farm file at `path`; ConfigError naming every mistake and where."""
    try:
        with open(path, "rb") as fh:
            raw = tomllib.load(fh)
    except OSError as exc:
        raise ConfigError([Problem("", f"cannot read the farm file: {exc.strerror or exc}", str(path))]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([Problem("", f"not valid TOML: {exc}", str(path))]) from None
    problems = [Problem(key, "unknown section (a farm file has [farm] only)") for key in raw if key != "farm"]
    table = raw.get("farm", {})
    listed = table.get("hosts", []) if isinstance(table, dict) else []
    if not isinstance(listed, list):
        problems.append(Problem("farm.hosts", "expected an array of tables like [[farm.hosts]]"))
        listed = []
    hosts = []
    for index, item in enumerate(listed):  # one by one: a mistake is named at its host's key
        try:
            hosts.append(structure(item, FarmHost, join("farm.hosts", index)))
        except ConfigError as exc:
            problems.extend(exc.problems)
    farm = None
    if not problems:
        try:
            farm = structure({**table, "hosts": [attrs.asdict(h) for h in hosts]}, FarmSection, "farm")
        except ConfigError as exc:
            problems.extend(exc.problems)
    if farm is None:
        raise ConfigError([attrs.evolve(p, source=str(path)) for p in problems])
    tokens, problems = _tokens(farm, "token_file", "token", path)
    tls: dict[str, ssl.SSLContext | None] = {}
    for index, host in enumerate(farm.hosts):
        ca, where = (host.ca_file, join(join("farm.hosts", index), "ca_file")) if host.ca_file else (
            farm.ca_file, "farm.ca_file")
        try:
            tls[host.name] = client_context(ca) if ca else None
        except ValueError as exc:
            problems.append(Problem(where, str(exc), str(path)))
    if problems:
        raise ConfigError(problems)
    return FarmFile(path=path, farm=farm, tokens=tokens, tls=tls)
