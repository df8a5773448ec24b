"""``run(...)``: the host daemon as a program. ``wnod daemon`` is a thin shim over it.

Start-up either succeeds whole or fails with exit code 3 and one line saying why:
records, plugins, reconciliation and the socket must all be ready before the first
bait is served. SIGTERM/SIGINT stop it gracefully (placements under way are left to
the records; VWNs and their jobs keep running); SIGHUP reloads the configuration.
"""

import asyncio
import contextlib
import fcntl
import grp
import logging
import os
import resource
import signal
import socket
import stat
from collections.abc import Callable
from pathlib import Path

import attrs
from aiohttp import web

from ..accounting import AccountingLedger
from ..config.schema import ImagesSection
from ..engine import Engine, HostPolicy, Parts, Store, StrayDecision, StraysNeedDecision
from ..engine.mixed import cannot_reserve
from ..errors import ConfigError, Problem, WnodError
from ..images import HostImages
from ..site import Site
from ..text import one_line
from .api import make_app, started_json
from .listeners import Guard, Limits, Listeners
from .metrics import Metrics
from .preflight import SOCKET_NAME, daemon_problems, read_token, socket_path  # noqa: F401 - SOCKET_NAME for the unit's test
from .roles import Role, SocketRoles, TokenRoles
from .tls import server_context

LOG = logging.getLogger("wnod.daemon")

EXIT_STARTUP_FAILED = 3
STORE_NAME = "wnod.db"
LOCK_NAME = "daemon.lock"
"""In the state directory: held (flock) by the one daemon that owns these records, with its PID."""
LEDGER_NAME = "accounting.jsonl"
BACKLOG = 1024
"""Connections waiting to be accepted: a farm may dispatch hundreds of jobs to baits at once."""
FILES_KEPT = 256
"""Open files kept for everything but client connections: the store, plugins' commands, logs."""


def _open_files() -> int:
    """How many files this process may open, once its soft limit is raised to the hard one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 1 << 20
    if soft != resource.RLIM_INFINITY and soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    return hard if soft == resource.RLIM_INFINITY else soft


class StartupError(WnodError):
    """The daemon cannot start; the message says what to fix."""


def run(
    open_site: Callable[[], Site], config_file: str | None = None, strays: StrayDecision = StrayDecision.NONE
) -> int:
    """Open the site (`open_site` reads the configuration) and serve until stopped; 0 after a
    graceful stop, 3 when it cannot start, whatever the reason: systemd's unit does not restart
    a daemon that exits 3, which would only fail again."""
    try:
        site = open_site()
        return asyncio.run(Daemon(site, config_file, strays=strays).serve())
    except ConfigError as exc:
        LOG.error("cannot start: %d configuration error(s):", len(exc.problems))
        for problem in exc.problems:
            LOG.error("  %s", problem)
    except (StartupError, WnodError) as exc:
        LOG.error("cannot start: %s", exc)
    return EXIT_STARTUP_FAILED


@attrs.define
class Daemon:
    site: Site
    config_file: str | None = None
    engine: Engine | None = None
    strays: StrayDecision = StrayDecision.NONE
    """What the admin said to do with domains no record explains (``--adopt``, ``--reap-strays``)."""
    stop: asyncio.Event = attrs.Factory(asyncio.Event)
    listeners: Listeners = attrs.field(init=False)
    metrics: Metrics = attrs.Factory(Metrics)
    """Its Prometheus metrics (``GET /metrics``): counted from its start, one registry per daemon."""
    rounds: "asyncio.Task[None] | None" = attrs.field(default=None, init=False)
    lock: "int | None" = attrs.field(default=None, init=False)
    """The open file descriptor of the state directory's lock, while this daemon holds it."""
    images_section: ImagesSection | None = attrs.field(default=None, init=False)
    """[images] as the last reload took it (None: as it started): the API's publish and the
    engine's boots must use the one library."""

    def __attrs_post_init__(self) -> None:
        limits = Limits.of(self.site.config.daemon)
        room = _open_files() - FILES_KEPT
        if limits.max_connections > room:
            # Past the open-file limit accept() fails, and every client with it: refuse in time instead.
            LOG.warning(
                "daemon.max_connections is %d, but this process may open only %d files: %d connections at"
                " most (raise LimitNOFILE)", limits.max_connections, room + FILES_KEPT, room,
            )
            limits = attrs.evolve(limits, max_connections=max(room, 1))
        self.listeners = Listeners(Guard(limits))

    async def serve(self) -> int:
        # Signals belong to the program, not to start(): a daemon embedded in a test thread has none.
        # Taken before starting: a stop that comes during reconciliation (which may destroy strays
        # the admin asked to reap) waits for it to end, then shuts down like any stop, instead of
        # the default action killing the process between two of its steps.
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self.stop.set)
        loop.add_signal_handler(signal.SIGHUP, self.reload)
        loop.set_exception_handler(self._loop_trouble)
        await self.start()
        if self.stop.is_set():
            LOG.info("asked to stop while starting")
        try:
            await self.stop.wait()
        finally:
            await self.shutdown()
        return 0

    async def start(self) -> None:
        site = self.site
        # First the records, then the socket: a second daemon must touch neither, nor the plugins.
        self._lock_records()
        try:
            self._claim_socket()
            problems = daemon_problems(site)
            if problems:
                raise ConfigError(problems)
            socket_roles, token_roles = self._roles()
            site.check()
            batch, hypervisor = site.batch_system, site.hypervisor  # [batch] and [hypervisor]: required here
            if site.config.host.bare_metal_node and (why := cannot_reserve(batch)):
                raise ConfigError([Problem("host.bare_metal_node", why, site.config.source_of("host.bare_metal_node"))])
            store = Store(site.dirs.state / STORE_NAME)
        except WnodError as exc:
            self._unlock_records()
            raise StartupError(str(exc)) from None
        if not site.config.host.baits:
            LOG.warning("host.baits is not set: a bait request naming any node the job runs on is taken for"
                        " one of this host's baits; list them (see docs/api.md)")
        if site.config.daemon.accounting:
            site.plugins.add_listener("wnod-accounting", AccountingLedger(site.dirs.state / LEDGER_NAME))
        site.plugins.add_listener("wnod-metrics", self.metrics)
        parts = Parts(
            policy=HostPolicy.from_config(site.config),
            store=store,
            batch=batch,
            hypervisor=hypervisor,
            chain=site.resolver_chain,
            listeners=site.plugins,
        )
        self.engine = Engine(parts)
        self.metrics.attach(self.engine)
        try:
            found = await self.engine.start(self.strays)
        except Exception as exc:  # any failure to reconcile: serving on unknown state would be worse
            self.engine.close()  # its plugin threads too: nothing of a failed start is left
            store.close()
            self._unlock_records()
            if isinstance(exc, StraysNeedDecision):
                raise StartupError(str(exc)) from None
            raise StartupError(f"reconciling with the hypervisor failed: {one_line(exc)}") from exc
        LOG.info(
            "reconciled: %d VWN(s) kept, %d lost; %d without a record: %d adopted, %d quarantined, %d destroyed"
            " as the admin asked; %d recorded destroyed but running, destroyed again", len(found.adopted),
            len(found.lost), len(found.strays), len(found.strays_adopted), len(found.quarantined), len(found.reaped),
            len(found.destroyed_again),
        )
        started = started_json(found)
        try:
            limits = self.listeners.guard.limits
            await self._listen_unix(make_app(self.engine, started, limits, roles=socket_roles, metrics=self.metrics,
                                              ledger=self._ledger(), images=self._images))
            if token_roles is not None:
                await self._listen_tcp(make_app(self.engine, started, limits, roles=token_roles, metrics=self.metrics,
                                                 ledger=self._ledger(), images=self._images))
        except StartupError:
            await self.shutdown()  # nothing half-started is left behind
            raise
        loop = asyncio.get_running_loop()
        self.rounds = loop.create_task(self.engine.run_rounds(self.stop))
        # A backend that reports domain events wakes the rounds at once (a VWN died); others are polled.
        engine = self.engine
        if parts.hypervisor.watch(lambda _event: loop.call_soon_threadsafe(engine.notice, _event.vwn_id)):
            LOG.info("the hypervisor reports domain events")
        LOG.info("serving on %s", socket_path(site))

    def _loop_trouble(self, loop: asyncio.AbstractEventLoop, context: dict[str, object]) -> None:
        """asyncio's own errors: the accept loop's, when files run out, are said once a minute."""
        message = str(context.get("message", ""))
        if "socket.accept() out of system resource" in message:
            trouble = context.get("exception")
            self.listeners.guard.log.refused("accept", f"cannot accept connections: {trouble}")
            return
        loop.default_exception_handler(context)

    def _lock_records(self) -> None:
        """Hold the state directory's lock for as long as this daemon runs, or say who holds it."""
        state = self.site.dirs.state
        try:
            state.mkdir(parents=True, exist_ok=True, mode=0o750)
            fd = os.open(state / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o640)
        except OSError as exc:
            raise StartupError(f"cannot use the state directory {state}: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise StartupError(
                f"another wnod daemon (PID {holder}) already uses the records in {state}; one daemon per"
                " state directory"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self.lock = fd

    def _unlock_records(self) -> None:
        if self.lock is not None:
            os.close(self.lock)  # closing the descriptor lets go of the flock
            self.lock = None

    def _claim_socket(self) -> None:
        """Make sure the socket path is free: nothing there, or the stale socket of a dead daemon.
        Never a live daemon's socket, and never anything else (a file, a link, a directory)."""
        path = socket_path(self.site)
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
        except OSError as exc:
            raise StartupError(f"cannot make {path.parent}: {exc.strerror}") from None
        try:
            st = path.lstat()
        except FileNotFoundError:
            return
        except OSError as exc:
            raise StartupError(f"daemon.socket: cannot look at {path}: {exc.strerror}") from None
        if not stat.S_ISSOCK(st.st_mode):
            kind = ("a symbolic link" if stat.S_ISLNK(st.st_mode)
                    else "a directory" if stat.S_ISDIR(st.st_mode) else "a file")
            raise StartupError(
                f"daemon.socket: {path} exists and is not a socket ({kind}); wnod replaces only the stale"
                " socket of a daemon that is gone: remove it, or choose another path"
            )
        if socket_answers(path):
            raise StartupError(f"another wnod daemon already listens on {path}")
        path.unlink()  # left by a daemon that was killed

    async def _listen_unix(self, app: web.Application) -> None:
        path = socket_path(self.site)
        old_umask = os.umask(0o117)  # the socket is born 0660: never a moment open to all
        try:
            await self.listeners.unix(app, str(path), BACKLOG)
        except OSError as exc:
            raise StartupError(f"daemon.socket: cannot listen on {path}: {exc.strerror or exc}") from None
        finally:
            os.umask(old_umask)
        group = self.site.config.daemon.socket_group
        if group:
            try:
                os.chown(path, -1, grp.getgrnam(group).gr_gid)
            except (KeyError, PermissionError) as exc:
                raise StartupError(
                    f"daemon.socket_group: cannot give {path} to group {group!r}: {exc}"
                ) from None

    async def _listen_tcp(self, app: web.Application) -> None:
        daemon = self.site.config.daemon
        address, _, port = daemon.listen.rpartition(":")
        try:
            context = server_context(daemon.tls_cert_file, daemon.tls_key_file) if daemon.tls_cert_file else None
        except ValueError as exc:
            raise StartupError(str(exc)) from None
        try:
            await self.listeners.tcp(app, address.strip("[]"), int(port), BACKLOG, tls=context)
        except OSError as exc:
            raise StartupError(
                f"daemon.listen: cannot listen on {self.site.config.daemon.listen}: {exc.strerror or exc}"
            ) from None

    def _ledger(self) -> Path | None:
        return self.site.dirs.state / LEDGER_NAME if self.site.config.daemon.accounting else None

    def _images(self) -> HostImages:
        """This host's image library as the config says now: a SIGHUP takes a new [images] too."""
        return HostImages.of(self.images_section or self.site.config.images)

    def _roles(self) -> tuple[SocketRoles, TokenRoles | None]:
        """Who may ask what: on the socket by the callers' groups, on TCP by one token per role."""
        daemon = self.site.config.daemon
        try:
            socket_roles = SocketRoles.of(daemon.admin_group, daemon.bait_group)
        except ValueError as exc:
            raise StartupError(str(exc)) from None
        if not daemon.listen:
            return socket_roles, None
        tokens = {}
        for role, setting in ((Role.ADMIN, "token_file"), (Role.BAIT, "bait_token_file"), (Role.READ, "read_token_file")):
            path = getattr(daemon, setting)
            if path:
                try:
                    tokens[role] = read_token(Path(path))
                except ValueError as exc:
                    raise StartupError(f"daemon.{setting}: {exc}") from None
        try:
            return socket_roles, TokenRoles(tokens)
        except ValueError as exc:
            raise StartupError(str(exc)) from None

    def reload(self) -> None:
        """SIGHUP: take the new VM types, resolvers and policy; keep the old ones if it is wrong."""
        if self.engine is None or self.rounds is None:
            LOG.error("reload refused: the daemon is still starting; send SIGHUP again once it serves")
            return
        try:
            fresh = Site.open(self.config_file, self.site.plugins, self.site.dirs)
            fresh.check()
            chain = fresh.resolver_chain
        except WnodError as exc:
            LOG.error("reload refused, the running configuration stays: %s", exc)
            return
        policy = HostPolicy.from_config(fresh.config)
        running = self.engine.parts.policy.bare_metal_node
        if policy.bare_metal_node != running:
            # The reservations on the node it names now are not the ones made on the old, and the
            # new batch system check is the start's: kept until then.
            LOG.warning("host.bare_metal_node changed: it takes effect at the next restart")
            policy = attrs.evolve(policy, bare_metal_node=running)
        self.engine.reconfigure(policy, chain)
        self.images_section = fresh.config.images
        for section in ("batch", "hypervisor", "daemon"):
            if getattr(fresh.config, section) != getattr(self.site.config, section):
                LOG.warning("[%s] changed: it takes effect at the next restart", section)
        LOG.info("configuration reloaded")

    async def shutdown(self) -> None:
        await self.listeners.close()  # stop accepting; answered requests are done
        if self.rounds is not None:
            self.rounds.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.rounds
        if self.engine is not None:
            self.engine.close()  # placements under way resume from the records at the next start
            await asyncio.sleep(0)
            self.engine.parts.store.close()
            self.engine.parts.hypervisor.close()
        with contextlib.suppress(FileNotFoundError):
            socket_path(self.site).unlink()
        self._unlock_records()  # last: until the socket is gone, a new daemon must not start
        LOG.info("stopped")


def socket_answers(path: Path) -> bool:
    """Whether a daemon listens on the Unix socket at `path` (a killed one leaves the file behind)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(1)
        try:
            probe.connect(str(path))
        except OSError:
            return False
        return True
