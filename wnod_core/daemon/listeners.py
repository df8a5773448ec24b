"""The daemon's listening sockets and the connections they take: one owner for both.

Anyone who reaches the TCP port (and every user who may use the Unix socket) can open
connections without a token: the token is read only once a request's headers are in. So
every connection is held to limits before it costs the daemon anything:

- a whole request's headers within ``daemon.header_timeout`` of connecting, or of the previous
  answer on that connection (a silent or dripping client is cut off then);
- at most ``daemon.max_connections`` open at once, and ``daemon.max_connections_per_peer``
  from one TCP address or one Unix user; more are answered 503 and closed at once;
- errors of the HTTP parser itself (not HTTP, a header too long, a bad Content-Length)
  answered with the same JSON as every other error, and logged as one line.

What is refused is logged once, then counted: a flood of bad clients cannot flood the log.
"""

import asyncio
import json
import logging
import socket
import ssl
import struct
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import attrs
from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from ..config.schema import DaemonSection

LOG = logging.getLogger("wnod.daemon")

QUIET_FOR = 60.0
"""Seconds during which further refusals of one kind are counted, not logged."""


@attrs.frozen
class Peer:
    """Who is on the other end of a connection."""

    kind: str
    """ "unix" or "tcp"."""
    name: str
    """What limits count by and logs say: "uid 0" on the Unix socket, the address on TCP."""
    uid: int | None = None
    gid: int | None = None
    pid: int | None = None


def peer_of(transport: asyncio.BaseTransport) -> Peer:
    sock: socket.socket | None = transport.get_extra_info("socket")
    if sock is not None and sock.family == socket.AF_UNIX:
        try:
            # The kernel's word on the caller, not the caller's: SO_PEERCRED is (pid, uid, gid).
            pid, uid, gid = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))
        except OSError:
            return Peer("unix", "an unknown user")
        return Peer("unix", f"uid {uid}", uid=uid, gid=gid, pid=pid)
    address = transport.get_extra_info("peername")
    host = address[0] if isinstance(address, tuple) and address else str(address)
    return Peer("tcp", host)


class RefusalLog:
    """Logs the first refusal of each kind at once, then only how many more came, once a minute."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._quiet_until: dict[str, float] = {}
        self._more: Counter[str] = Counter()

    def refused(self, kind: str, message: str) -> None:
        now = self._clock()
        if now < self._quiet_until.get(kind, 0.0):
            self._more[kind] += 1
            return
        more = self._more.pop(kind, 0)
        suffix = f" ({more} more like it since the last such line)" if more else ""
        LOG.warning("%s%s", message, suffix)
        self._quiet_until[kind] = now + QUIET_FOR


@attrs.frozen
class Limits:
    header_timeout: float
    body_timeout: float
    max_connections: int
    max_connections_per_peer: int

    @classmethod
    def of(cls, daemon: DaemonSection) -> "Limits":
        return cls(
            header_timeout=daemon.header_timeout,
            body_timeout=daemon.body_timeout,
            max_connections=daemon.max_connections,
            max_connections_per_peer=daemon.max_connections_per_peer,
        )


class Guard:
    """Counts the open connections of every listener, in all and per peer."""

    def __init__(self, limits: Limits, log: RefusalLog | None = None):
        self.limits = limits
        self.log = log or RefusalLog()
        self.open = 0
        self.by_peer: Counter[str] = Counter()

    def admit(self, peer: Peer) -> str:
        """"" when `peer` may open one more connection (counted), else why not."""
        limits = self.limits
        if self.open >= limits.max_connections:
            return f"the daemon has {self.open} connections open (daemon.max_connections)"
        if self.by_peer[peer.name] >= limits.max_connections_per_peer:
            count = self.by_peer[peer.name]
            return f"{peer.name} has {count} connections open (daemon.max_connections_per_peer)"
        self.open += 1
        self.by_peer[peer.name] += 1
        return ""

    def release(self, peer: Peer) -> None:
        self.open -= 1
        self.by_peer[peer.name] -= 1
        if self.by_peer[peer.name] <= 0:
            del self.by_peer[peer.name]


def _plain_answer(status: int, reason: str, message: str) -> bytes:
    body = json.dumps({"error": message}).encode()
    head = (f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n")
    return head.encode() + body


class GuardedHandler(RequestHandler):
    """aiohttp's connection handler, held to the guard's limits and answering its own errors as JSON."""

    __slots__ = ("_guard", "_peer", "_admitted", "_deadline", "_in_request")

    def __init__(self, manager: web.Server, guard: Guard, **kwargs: Any):
        super().__init__(manager, **kwargs)
        self._guard = guard
        self._peer = Peer("unknown", "unknown")
        self._admitted = False
        self._deadline: asyncio.TimerHandle | None = None
        self._in_request = False

    @property
    def peer(self) -> Peer:
        return self._peer

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._peer = peer_of(transport)
        why = self._guard.admit(self._peer)
        if why:
            name = self._peer.name
            self._guard.log.refused(f"full:{name}", f"refused connections from {name}: {why}")
            assert isinstance(transport, asyncio.WriteTransport)
            transport.write(_plain_answer(503, "Service Unavailable", f"too many connections: {why}"))
            self.force_close()
            return
        self._admitted = True
        self._arm()

    def connection_lost(self, exc: BaseException | None) -> None:
        self._disarm()
        if self._admitted:
            self._admitted = False
            self._guard.release(self._peer)
        super().connection_lost(exc)

    # -- the time a client has to send a request ---------------------------------------------------

    def _arm(self) -> None:
        self._disarm()
        loop = asyncio.get_running_loop()
        self._deadline = loop.call_later(self._guard.limits.header_timeout, self._too_slow)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        if self._in_request:
            return
        self._guard.log.refused(
            f"slow:{self._peer.name}",
            f"closed a connection from {self._peer.name}: no whole request within"
            f" {self._guard.limits.header_timeout:g}s (daemon.header_timeout)",
        )
        self.force_close()

    def request_started(self) -> None:
        self._in_request = True
        self._disarm()

    def request_done(self) -> None:
        self._in_request = False
        if self.transport is not None:
            self._arm()  # keep-alive: the next request has the same time to come

    # -- errors of the HTTP parser -----------------------------------------------------------------

    def handle_error(
        self, request: Any, status: int = 500, exc: BaseException | None = None, message: str | None = None
    ) -> web.StreamResponse:
        if status >= 500:
            LOG.error("request from %s failed: %s", self._peer.name, exc, exc_info=exc)
            text = "the daemon failed on this request"
        else:
            text = message or (str(exc) if exc else "bad request")
            self._guard.log.refused(f"bad:{self._peer.name}", f"bad request from {self._peer.name}: {text}")
        response = web.json_response({"error": text}, status=status)
        response.force_close()
        return response


def guard_middleware() -> Callable[..., Awaitable[web.StreamResponse]]:
    """Tells the connection's handler when a request is being answered: its header deadline is off then."""

    @web.middleware
    async def guarded(request: web.Request, handler: Callable[..., Awaitable[web.StreamResponse]]) -> Any:
        protocol = request.protocol
        if not isinstance(protocol, GuardedHandler):
            return await handler(request)
        protocol.request_started()
        try:
            return await handler(request)
        finally:
            protocol.request_done()

    return guarded


class Listeners:
    """The daemon's listening sockets. Every connection they take goes through one Guard."""

    def __init__(self, guard: Guard):
        self.guard = guard
        self._servers: list[asyncio.AbstractServer] = []
        self._runners: list[web.AppRunner] = []

    async def _runner(self, app: web.Application) -> web.AppRunner:
        runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await runner.setup()
        self._runners.append(runner)
        return runner

    def _factory(self, runner: web.AppRunner) -> Callable[[], GuardedHandler]:
        server = runner.server
        assert server is not None
        loop = asyncio.get_running_loop()
        return lambda: GuardedHandler(server, self.guard, loop=loop, access_log=None)

    async def unix(self, app: web.Application, path: str, backlog: int) -> None:
        runner = await self._runner(app)
        loop = asyncio.get_running_loop()
        self._servers.append(await loop.create_unix_server(self._factory(runner), path, backlog=backlog))

    async def tcp(self, app: web.Application, host: str, port: int, backlog: int,
                  tls: ssl.SSLContext | None = None) -> None:
        runner = await self._runner(app)
        loop = asyncio.get_running_loop()
        # A client that opens a connection and never completes the handshake is cut off as one
        # that never sends its headers.
        handshake = {"ssl_handshake_timeout": self.guard.limits.header_timeout} if tls else {}
        self._servers.append(
            await loop.create_server(self._factory(runner), host, port, backlog=backlog, reuse_address=True,
                                     ssl=tls, **handshake)
        )

    async def close(self) -> None:
        """Stop accepting, then close every connection (answered requests are done)."""
        for server in self._servers:
            server.close()
        for runner in self._runners:
            await runner.cleanup()  # closes the connections its handlers have open
        self._runners.clear()
        for server in self._servers:
            await server.wait_closed()
        self._servers.clear()
