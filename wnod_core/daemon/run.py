"""``run(...)``: the host daemon as a program. ``wnod daemon`` is a thin shim over it.

Start-up either succeeds whole or fails with exit code 3 and one line saying why:
records, plugins, reconciliation and the socket must all be ready before the first
bait is served. SIGTERM/SIGINT stop it gracefully (placements under way are left to
the records; VWNs and their jobs keep running); SIGHUP reloads the configuration.
"""

import asyncio
import contextlib
import grp
import logging
import os
import signal
import socket
from pathlib import Path

import attrs
from aiohttp import web

from ..accounting import AccountingLedger
from ..engine import Engine, HostPolicy, Parts, Store
from ..errors import WnodError
from ..site import Site
from ..text import one_line
from .api import make_app, started_json

LOG = logging.getLogger("wnod.daemon")

EXIT_STARTUP_FAILED = 3
SOCKET_NAME = "wnod.sock"
STORE_NAME = "wnod.db"
LEDGER_NAME = "accounting.jsonl"
BACKLOG = 1024
"""Connections waiting to be accepted: a farm may dispatch hundreds of jobs to baits at once."""


class StartupError(WnodError):
    """The daemon cannot start; the message says what to fix."""


def socket_path(site: Site) -> Path:
    return Path(site.config.daemon.socket) if site.config.daemon.socket else site.dirs.runtime / SOCKET_NAME


def run(site: Site, config_file: str | None = None) -> int:
    """Serve until stopped; 0 after a graceful stop, 3 when start-up failed."""
    try:
        return asyncio.run(Daemon(site, config_file).serve())
    except StartupError as exc:
        LOG.error("cannot start: %s", exc)
        return EXIT_STARTUP_FAILED


@attrs.define
class Daemon:
    site: Site
    config_file: str | None = None
    engine: Engine | None = None
    stop: asyncio.Event = attrs.Factory(asyncio.Event)
    runners: list[web.AppRunner] = attrs.Factory(list)
    rounds: "asyncio.Task[None] | None" = attrs.field(default=None, init=False)

    async def serve(self) -> int:
        await self.start()
        # Signals belong to the program, not to start(): a daemon embedded in a test thread has none.
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self.stop.set)
        loop.add_signal_handler(signal.SIGHUP, self.reload)
        try:
            await self.stop.wait()
        finally:
            await self.shutdown()
        return 0

    async def start(self) -> None:
        site = self.site
        self._claim_socket()  # first: a second daemon must not touch the records or the plugins
        token = self._token() if site.config.daemon.listen else None
        try:
            site.check()
            store = Store(site.dirs.state / STORE_NAME)
        except WnodError as exc:
            raise StartupError(str(exc)) from None
        if site.config.daemon.accounting:
            site.plugins.add_listener("wnod-accounting", AccountingLedger(site.dirs.state / LEDGER_NAME))
        parts = Parts(
            policy=HostPolicy.from_config(site.config),
            store=store,
            batch=site.batch_system,
            hypervisor=site.hypervisor,
            chain=site.resolver_chain,
            listeners=site.plugins,
        )
        self.engine = Engine(parts)
        try:
            found = await self.engine.start()
        except Exception as exc:  # any failure to reconcile: serving on unknown state would be worse
            self.engine.close()  # its plugin threads too: nothing of a failed start is left
            store.close()
            raise StartupError(f"reconciling with the hypervisor failed: {one_line(exc)}") from exc
        LOG.info(
            "reconciled: %d VWN(s) adopted, %d lost, %d stray domain(s) destroyed",
            len(found.adopted), len(found.lost), len(found.strays),
        )
        started = started_json(found)
        try:
            await self._listen_unix(make_app(self.engine, started))
            if token is not None:
                await self._listen_tcp(make_app(self.engine, started, token=token))
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

    def _claim_socket(self) -> None:
        path = socket_path(self.site)
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
        except OSError as exc:
            raise StartupError(f"cannot make {path.parent}: {exc.strerror}") from None
        if path.exists() or path.is_symlink():
            if _answers(path):
                raise StartupError(f"another wnod daemon already listens on {path}")
            path.unlink()  # left by a daemon that was killed

    async def _listen_unix(self, app: web.Application) -> None:
        path = socket_path(self.site)
        runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await runner.setup()
        old_umask = os.umask(0o117)  # the socket is born 0660: never a moment open to all
        try:
            await web.UnixSite(runner, str(path), backlog=BACKLOG).start()
        except OSError as exc:
            await runner.cleanup()
            raise StartupError(f"cannot listen on {path}: {exc.strerror}") from None
        finally:
            os.umask(old_umask)
        group = self.site.config.daemon.socket_group
        if group:
            try:
                os.chown(path, -1, grp.getgrnam(group).gr_gid)
            except (KeyError, PermissionError) as exc:
                await runner.cleanup()
                raise StartupError(f"daemon.socket_group: cannot give {path} to group {group!r}: {exc}") from None
        self.runners.append(runner)

    async def _listen_tcp(self, app: web.Application) -> None:
        address, _, port = self.site.config.daemon.listen.rpartition(":")
        runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, address.strip("[]"), int(port), backlog=BACKLOG).start()
        except OSError as exc:
            await runner.cleanup()
            raise StartupError(f"daemon.listen: cannot listen on {self.site.config.daemon.listen}: {exc.strerror}")
        self.runners.append(runner)

    def _token(self) -> str:
        path = Path(self.site.config.daemon.token_file)
        try:
            if path.stat().st_mode & 0o077:
                raise StartupError(f"daemon.token_file: {path} may be read by others; chmod 600 it")
            token = path.read_text().strip()
        except OSError as exc:
            raise StartupError(f"daemon.token_file: cannot read {path}: {exc.strerror}") from None
        if len(token) < 16:
            raise StartupError(f"daemon.token_file: the token in {path} is shorter than 16 characters")
        return token

    def reload(self) -> None:
        """SIGHUP: take the new VM types, resolvers and policy; keep the old ones if it is wrong."""
        assert self.engine is not None
        try:
            fresh = Site.open(self.config_file, self.site.plugins, self.site.dirs)
            fresh.check()
            chain = fresh.resolver_chain
        except WnodError as exc:
            LOG.error("reload refused, the running configuration stays: %s", exc)
            return
        parts = self.engine.parts
        parts.policy, parts.chain = HostPolicy.from_config(fresh.config), chain
        for section in ("batch", "hypervisor", "daemon"):
            if getattr(fresh.config, section) != getattr(self.site.config, section):
                LOG.warning("[%s] changed: it takes effect at the next restart", section)
        LOG.info("configuration reloaded")

    async def shutdown(self) -> None:
        for runner in self.runners:
            await runner.cleanup()  # stop accepting; answered requests are done
        self.runners.clear()
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
        LOG.info("stopped")


def _answers(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(1)
        try:
            probe.connect(str(path))
        except OSError:
            return False
        return True
