"""``wnod farm web``: one read-only page that draws the farm, and the JSON it is drawn from.

- ``GET /``: the page (``static/index.html``, with ``farm.css`` and ``farm.js`` beside it),
  shipped inside wnod_core: nothing is fetched from elsewhere, and the page's Content Security
  Policy forbids it (no inline script, no other origin).
- ``GET /farm.json``: the farm now (``snapshot.farm_snapshot``). The page asks for it every few
  seconds; however many pages ask, the daemons are asked at most once per ``FRESH_FOR``.

Nothing here changes anything on a host: only GET routes, and the daemons are asked with the
farm file's tokens, which the farm's docs give the read role.
"""

import asyncio
import json
import logging
import math
import signal
import ssl
import time
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any

from aiohttp import web

from ..errors import WnodError
from .config import FarmFile
from .snapshot import Notes, farm_snapshot
from .webauth import Gate

log = logging.getLogger("wnod.farm.web")

FRESH_FOR = 1.0
"""Seconds one snapshot of the farm serves every page that asks."""

STATIC = {"/": ("index.html", "text/html"), "/farm.css": ("farm.css", "text/css"),
          "/farm.js": ("farm.js", "text/javascript"), "/favicon.svg": ("favicon.svg", "image/svg+xml")}
"""Route -> the file of ``static/`` it serves, and its type."""

HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self';"
                               " img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
"""On every answer: a second line of defence should a daemon's text ever reach the page as
markup, no framing by another site, and a token in an address never passed on."""


class Snapshots:
    """The farm's latest snapshot, taken again when it is older than `fresh_for` seconds; one
    taking at a time, off the event loop (the hosts are asked on threads)."""

    def __init__(self, take: Callable[[], dict[str, Any]], fresh_for: float = FRESH_FOR):
        self.take, self.fresh_for = take, fresh_for
        self._lock = asyncio.Lock()
        self._last: dict[str, Any] = {}
        self._taken = -math.inf

    async def latest(self) -> dict[str, Any]:
        async with self._lock:
            if time.monotonic() - self._taken >= self.fresh_for:
                self._last = await asyncio.get_running_loop().run_in_executor(None, self.take)
                self._taken = time.monotonic()
            return self._last


def make_app(farm: FarmFile, token: str | None, notes: Notes) -> web.Application:
    """The dashboard's app; `token` None: open to whoever asks under a loopback name."""
    files = {route: (_static(name), kind) for route, (name, kind) in STATIC.items()}
    snapshots = Snapshots(lambda: farm_snapshot(farm, notes))
    gate = Gate(token)

    @web.middleware
    async def guard(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                    ) -> web.StreamResponse:
        answer = gate.refusal(request)
        if answer is None:
            try:
                answer = await handler(request)
            except web.HTTPException as exc:  # aiohttp's 404 and 405: with the headers below too
                answer = web.Response(status=exc.status, reason=exc.reason, text=exc.text, headers=exc.headers)
        answer.headers.update(HEADERS)
        return answer

    async def static(request: web.Request) -> web.Response:
        body, kind = files[request.path]
        return web.Response(body=body, content_type=kind, charset="utf-8")

    async def farm_json(_request: web.Request) -> web.Response:
        try:
            data = await snapshots.latest()
        except Exception as exc:  # a bug: said on the page, with its traceback in the log
            log.exception("cannot take the farm's snapshot")
            return web.json_response({"error": f"cannot take the farm's snapshot: {type(exc).__name__}: {exc}"},
                                     status=500)
        return web.json_response(data, dumps=lambda d: json.dumps(d, separators=(",", ":")))

    app = web.Application(middlewares=[guard])
    for route in files:
        app.router.add_get(route, static)
    app.router.add_get("/farm.json", farm_json)
    return app


def _static(name: str) -> bytes:
    return resources.files(__package__).joinpath("static", name).read_bytes()


def host_port(address: str, port: int) -> str:
    """``address:port``, an IPv6 address in brackets."""
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def serve(app: web.Application, address: str, port: int, ready: Callable[[str], None],
          tls: ssl.SSLContext | None = None) -> None:
    """Serve `app` on `address`:`port` (over HTTPS with `tls`) until SIGTERM or SIGINT;
    `ready(url)` once it listens. WnodError when it cannot listen there."""
    asyncio.run(_serve(app, address, port, ready, tls))


async def _serve(app: web.Application, address: str, port: int, ready: Callable[[str], None],
                 tls: ssl.SSLContext | None) -> None:
    # No access log: a first visit's address carries ?token=, which must not land in a log.
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    try:
        try:
            await web.TCPSite(runner, address, port, ssl_context=tls).start()
        except OSError as exc:
            raise WnodError(f"--listen {host_port(address, port)}: cannot listen there: {exc.strerror or exc}"
                            ) from None
        ready(f"{'https' if tls else 'http'}://{host_port(*runner.addresses[0][:2])}/")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
    finally:
        await runner.cleanup()
