"""The daemon's HTTP API: JSON in, JSON out, served by aiohttp. A thin layer over the Engine.

Every error is a JSON object ``{"error": "..."}`` with a 4xx or 5xx status: a client — the
batch system's hook above all — never has to read a traceback. The routes and their fields
are documented in docs/api.md; tests check the two agree.
"""

import asyncio
import json
import logging
import re
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from .. import __version__
from ..accounting import read_ledger
from ..config.schema import DaemonSection
from ..engine import Engine, Reconciled
from ..engine.placement import size_of
from ..errors import ImageError, VwnNotFound, WnodError
from ..images import HostImages
from ..images.host import versions_in_use
from ..images.rolled_out import RolledOut
from ..model import Vwn
from ..model.flight import JobFlight
from ..model.vmtype import check_name
from ..text import one_line
from .listeners import GuardedHandler, Limits, Peer, RefusalLog, guard_middleware
from .metrics import CONTENT_TYPE, Metrics
from .roles import Role, SocketRoles, TokenRoles

LOG = logging.getLogger("wnod.daemon")

ENGINE: web.AppKey[Engine] = web.AppKey("engine", Engine)
STARTED: web.AppKey[dict[str, Any]] = web.AppKey("started", dict)
LIMITS: web.AppKey[Limits] = web.AppKey("limits", Limits)
REFUSALS: web.AppKey[RefusalLog] = web.AppKey("refusals", RefusalLog)
ROLES: web.AppKey[SocketRoles | TokenRoles] = web.AppKey("roles", object)  # type: ignore[arg-type]
METRICS: web.AppKey[Metrics] = web.AppKey("metrics", Metrics)
LEDGER: web.AppKey[Path | None] = web.AppKey("ledger", object)  # type: ignore[arg-type]
IMAGES: web.AppKey[Callable[[], HostImages]] = web.AppKey("images", object)  # type: ignore[arg-type]
"""This host's image library as its config says now (a reload may change it); ImageError if none."""

MAX_BODY = 64 * 1024
"""Bytes of a request's body, at most: every body of this API is a small JSON object."""
MAX_DEPTH = 32
"""Nesting of a request's JSON, at most: deeper documents are refused before they are parsed."""

_WORD = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@\[\]-]{0,254}\Z")
"""Job ids and host names as batch systems write them (Slurm array "123_4", PBS "12.server", ...)."""
_WORD_HINT = "a non-empty word of letters, digits and ._:@[]-"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def make_app(
    engine: Engine,
    started: dict[str, Any],
    limits: Limits | None = None,
    roles: SocketRoles | TokenRoles | None = None,
    metrics: Metrics | None = None,
    ledger: Path | None = None,
    images: Callable[[], HostImages] | None = None,
) -> web.Application:
    """The API for `engine`. `roles` tells each caller's role: by its credentials on the Unix
    socket (``SocketRoles``), by its bearer token on TCP (``TokenRoles``: a request without a
    known token is a 401). A route its role does not reach is a 403 naming the role needed."""
    middlewares = [guard_middleware(), _errors_as_json, _known_token]
    app = web.Application(middlewares=middlewares, client_max_size=MAX_BODY)
    app[ENGINE] = engine
    app[STARTED] = started
    app[LIMITS] = limits or Limits.of(DaemonSection())
    app[REFUSALS] = RefusalLog()
    app[ROLES] = roles or SocketRoles()
    if metrics is None:  # an app of its own (tests): metrics of its own, of this engine
        metrics = Metrics()
        if engine is not None:
            metrics.attach(engine)
    app[METRICS] = metrics
    app[LEDGER] = ledger
    app[IMAGES] = images or _no_library
    for method, path, handler, role in ROUTES:
        app.router.add_route(method, path, _needs(role, handler), expect_handler=_expect)
    # Last, so only what no route takes comes here: its 404 or 405 then passes our Expect handler
    # and the middlewares like any answer (aiohttp's own would not).
    app.router.add_route("*", "/{anything:.*}", _no_route, expect_handler=_expect)
    return app


# -- middlewares -------------------------------------------------------------------------------


async def _expect(request: web.Request) -> None:
    """``Expect:`` is answered before any middleware runs: its refusal must be JSON too, and must
    not choke on a header that is not UTF-8 (aiohttp's own answer then failed with a 500)."""
    expect = request.headers.get("Expect", "")
    if expect.lower() == "100-continue":
        await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        request.writer.output_size = 0  # the answer proper has not begun
        return
    shown = expect.encode("utf-8", "backslashreplace").decode("ascii", "backslashreplace")[:80]
    raise web.HTTPExpectationFailed(text=json.dumps({"error": f"unknown Expect: {shown}"}),
                                    content_type="application/json")


@web.middleware
async def _errors_as_json(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:  # aiohttp's own (404, 405, 413) and our 400s, as JSON
        return _error(exc.status, exc.text or exc.reason)
    except VwnNotFound as exc:
        return _error(404, str(exc))
    except WnodError as exc:
        return _error(409, str(exc))
    except Exception as exc:  # a bug: logged with its traceback here, one line for the client
        LOG.exception("%s %s failed", request.method, request.path)
        return _error(500, f"the daemon failed: {one_line(exc)}")


async def _role_of(request: web.Request) -> tuple[Role | None, str]:
    """The caller's role (None: no known token on TCP) and who it is, as logs say."""
    protocol = request.protocol
    peer = protocol.peer if isinstance(protocol, GuardedHandler) else Peer("unknown", "an unknown caller")
    roles = request.app[ROLES]
    if isinstance(roles, TokenRoles):
        # The header as its bytes: one that is not UTF-8 must be refused like any wrong token.
        return roles.role_of(request.headers.get("Authorization", "").encode("utf-8", "surrogateescape")), peer.name
    if roles.knows(peer):
        return roles.role_of(peer), peer.name
    # A user's groups may come from a directory (LDAP): asked in a thread, never on the loop.
    return await asyncio.get_running_loop().run_in_executor(None, roles.role_of, peer), peer.name


async def _on_behalf_of(request: web.Request) -> int | None:
    """The uid whose jobs a bait request may name: that of a socket caller who may bait only
    because ``bait_group`` is unset (anyone may then, as a hook running as the job's owner does);
    None for admins, members of ``bait_group`` and TCP token holders, who speak for any job."""
    roles, protocol = request.app[ROLES], request.protocol
    if not isinstance(roles, SocketRoles) or roles.bait_gid is not None or not isinstance(protocol, GuardedHandler):
        return None
    role, _ = await _role_of(request)
    return protocol.peer.uid if role is Role.BAIT else None


@web.middleware
async def _known_token(request: web.Request, handler: Handler) -> web.StreamResponse:
    """On TCP, nothing (not even which routes exist) without a known token."""
    if isinstance(request.app[ROLES], TokenRoles) and (await _role_of(request))[0] is None:
        return _error(401, "missing or wrong bearer token")
    return await handler(request)


def _needs(role: Role, handler: Handler) -> Handler:
    async def checked(request: web.Request) -> web.StreamResponse:
        have, caller = await _role_of(request)
        if have is None or have < role:
            what = f"{request.method} {request.match_info.route.resource.canonical}"
            message = f"{what} needs the {role} role; {caller} has the {have or 'no'} role"
            request.app[REFUSALS].refused(f"role:{caller}:{what}", f"refused: {message}")
            return _error(403, message)
        return await handler(request)

    return checked


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


# -- reading requests --------------------------------------------------------------------------


async def _body(request: web.Request, fields: dict[str, type]) -> dict[str, Any]:
    """The request's JSON object, with exactly `fields`, each a word."""
    timeout = request.app[LIMITS].body_timeout
    try:
        raw = await asyncio.wait_for(request.read(), timeout)
    except TimeoutError:
        raise web.HTTPRequestTimeout(
            text=f"the body did not come within {timeout:g}s (daemon.body_timeout)"
        ) from None
    except ConnectionError:  # the client hung up mid-body: nobody is left to answer
        raise web.HTTPBadRequest(text="the client closed the connection before its body was in") from None
    data = _json(raw)
    if not isinstance(data, dict):
        raise web.HTTPBadRequest(text="the body must be a JSON object")
    unknown = sorted(set(data) - set(fields))
    missing = sorted(set(fields) - set(data))
    if unknown or missing:
        parts = ([f"unknown field(s) {', '.join(unknown)}"] if unknown else []) + (
            [f"missing field(s) {', '.join(missing)}"] if missing else []
        )
        raise web.HTTPBadRequest(text="; ".join(parts))
    for name in fields:
        _word(data[name], name)
    return data


def _json(raw: bytes) -> Any:
    """`raw` parsed as JSON, or 400 saying why: never a 500 for what a client can send."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise web.HTTPBadRequest(text=f"the body is not UTF-8: {exc.reason} at byte {exc.start}") from None
    depth = deepest = 0
    for char in text:  # brackets inside strings count too: a bound on the work, not a parser
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    if deepest > MAX_DEPTH:
        raise web.HTTPBadRequest(text=f"the body nests deeper than {MAX_DEPTH} levels")
    try:
        return json.loads(text)
    except (json.JSONDecodeError, ValueError, RecursionError) as exc:  # ValueError: a number too long
        raise web.HTTPBadRequest(text=f"the body is not JSON: {one_line(exc)[:200]}") from None


def _word(value: object, what: str) -> str:
    if not isinstance(value, str) or not _WORD.match(value):
        raise web.HTTPBadRequest(text=f"{what} must be {_WORD_HINT}, got {json.dumps(value)[:80]}")
    return value


# -- the routes --------------------------------------------------------------------------------


async def bait(request: web.Request) -> web.Response:
    """Place a job dispatched to a bait; answers when it is migrated, refused or put back."""
    body = await _body(request, {"job_id": str, "bait_host": str})
    answer = await request.app[ENGINE].bait(body["job_id"], body["bait_host"], await _on_behalf_of(request))
    return web.json_response(
        {
            "outcome": answer.outcome.value,
            "reason": answer.reason,
            "vm_type": answer.vm_type,
            "vwn_id": answer.vwn_id,
            "hostname": answer.hostname,
        }
    )


async def notice(request: web.Request) -> web.Response:
    request.app[ENGINE].notice(_word(request.match_info["job_id"], "job id"))
    return web.json_response({"noticed": True}, status=202)


async def jobs(request: web.Request) -> web.Response:
    return web.json_response({"jobs": [job_json(f) for f in request.app[ENGINE].jobs()]})


async def vwns(request: web.Request) -> web.Response:
    return web.json_response({"vwns": [vwn_json(v) for v in request.app[ENGINE].vwns()]})


async def destroy_vwn(request: web.Request) -> web.Response:
    vwn = await request.app[ENGINE].destroy_vwn(_word(request.match_info["vwn_id"], "VWN id"))
    return web.json_response(vwn_json(vwn))


async def drain(request: web.Request) -> web.Response:
    await request.app[ENGINE].drain()
    return web.json_response({"drained": True})


async def resume(request: web.Request) -> web.Response:
    await request.app[ENGINE].resume()
    return web.json_response({"drained": False})


async def status(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    policy = engine.parts.policy
    alive = engine.vwns()
    sizes = [size_of(v, policy.vm_types) for v in alive]
    return web.json_response(
        {
            **request.app[STARTED],
            "version": __version__,
            "host": policy.host,
            "drained": engine.drained,
            "vwns": dict(Counter(v.state.value for v in alive)),
            "jobs_in_flight": len(engine.jobs()),
            "quarantined": {vwn_id: q.why for vwn_id, q in engine.parts.quarantine.items()},
            "stuck_jobs": {f.job_id: f.stuck_why for f in engine.jobs() if f.stuck_since},
            "breaker": engine.parts.breaker.report(),
            "capacity": {
                "vcpus": {"used": sum(c for c, _ in sizes), "total": policy.capacity.vcpus},
                "memory": {"used": sum(m for _, m in sizes), "total": policy.capacity.memory},
                "vwns": {"used": len(alive), "total": policy.capacity.max_vwns},
            },
        }
    )


async def accounting(request: web.Request) -> web.Response:
    """The accounting ledger's records from `since` (unix time) on: for the farm's accounting."""
    raw = request.query.get("since", "0")
    try:
        since = float(raw)
    except ValueError:
        raise web.HTTPBadRequest(text=f"since must be a unix time in seconds, got {raw[:40]!r}") from None
    path = request.app[LEDGER]
    if path is None:
        raise web.HTTPNotFound(text="this daemon keeps no accounting ledger (daemon.accounting = false)")
    # A file read, however long the ledger: on a worker thread, never on the loop.
    answer = await asyncio.get_running_loop().run_in_executor(None, read_ledger, path, since)
    return web.json_response(answer)


def _no_library() -> HostImages:
    raise ImageError("no image library on this host: set [images] library in wnod.toml")


def _image(request: web.Request) -> str:
    image = _word(request.match_info["image"], "image")
    try:
        return check_name(image, "image name")
    except ValueError as exc:
        raise web.HTTPBadRequest(text=str(exc)) from None


def _version(raw: str, what: str) -> int:
    if not raw.isdigit() or int(raw) < 1:
        raise web.HTTPBadRequest(text=f"{what} must be a version number (1, 2, ...), got {raw[:40]!r}")
    return int(raw)


async def image_status(request: web.Request) -> web.Response:
    """Each version of an image in this host's library: current, the rollback target, VWNs on it."""
    image = _image(request)
    engine = request.app[ENGINE]
    images = request.app[IMAGES]()

    def run() -> dict[str, Any]:
        rows = images.status(image, _in_use(engine, image))
        return {"image": image, "host": engine.parts.policy.host, "current": images.rollout(image).current,
                "versions": [r.as_dict() for r in rows]}

    return web.json_response(await asyncio.get_running_loop().run_in_executor(None, run))


async def publish_image(request: web.Request) -> web.Response:
    """Make a version of an image current for new VWNs on this host (pulled and verified first if
    it is not here yet), as ``wnod image publish`` does: the farm's publish, host by host."""
    image = _image(request)
    version = _version((await _body(request, {"version": str}))["version"], "version")
    return await _rolled(request, image, lambda images: images.publish(image, version))


async def rollback_image(request: web.Request) -> web.Response:
    """Make the version current before `from` current again, if `from` is current on this host."""
    image = _image(request)
    only_from = _version((await _body(request, {"from": str}))["from"], "from")
    return await _rolled(request, image, lambda images: images.rollback(image, only_from=only_from))


def _in_use(engine: Engine, image: str) -> dict[int, int]:
    alive = Counter((v.vm_type, v.image_version) for v in engine.vwns())
    return versions_in_use(engine.parts.policy.vm_types.values(), image, alive)


async def _rolled(request: web.Request, image: str, change: Callable[[HostImages], tuple[Any, Any]]) -> web.Response:
    engine = request.app[ENGINE]
    images = request.app[IMAGES]()

    def run() -> dict[str, Any]:
        before, after = change(images)
        pruned = images.prune(image, _in_use(engine, image))
        return {"image": image, "host": engine.parts.policy.host, "before": before.current, "after": after.current,
                "changed": before.current != after.current, "pruned": pruned}

    # A pull may copy a disk for minutes, a verify read it whole: never on the loop.
    answer = await asyncio.get_running_loop().run_in_executor(None, run)
    if answer["changed"]:
        LOG.info("image %s: current %s -> %s (asked over the API)", image, answer["before"], answer["after"])
        if isinstance(types := engine.parts.policy.vm_types, RolledOut):
            types.invalidate()
    return web.json_response(answer)


async def metrics(request: web.Request) -> web.Response:
    """The Prometheus text format (see docs/metrics.md)."""
    return web.Response(body=request.app[METRICS].text(), headers={"Content-Type": CONTENT_TYPE})


async def _no_route(request: web.Request) -> web.Response:
    allowed: set[str] = set()
    for resource in request.app.router.resources():
        if resource.canonical != NO_ROUTE:
            _match, methods = await resource.resolve(request)
            allowed |= methods
    if allowed:
        raise web.HTTPMethodNotAllowed(request.method, allowed)
    raise web.HTTPNotFound(text=f"no route {request.method} {request.path[:200]}")


NO_ROUTE = "/{anything}"

ROUTES = (
    ("POST", "/v1/bait", bait, Role.BAIT),
    ("POST", "/v1/jobs/{job_id}/notice", notice, Role.BAIT),
    ("GET", "/v1/jobs", jobs, Role.READ),
    ("GET", "/v1/vwns", vwns, Role.READ),
    ("GET", "/v1/accounting", accounting, Role.READ),
    ("GET", "/metrics", metrics, Role.READ),
    ("DELETE", "/v1/vwns/{vwn_id}", destroy_vwn, Role.ADMIN),
    ("GET", "/v1/images/{image}", image_status, Role.READ),
    ("POST", "/v1/images/{image}/publish", publish_image, Role.ADMIN),
    ("POST", "/v1/images/{image}/rollback", rollback_image, Role.ADMIN),
    ("POST", "/v1/drain", drain, Role.ADMIN),
    ("POST", "/v1/resume", resume, Role.ADMIN),
    ("GET", "/v1/status", status, Role.READ),
)
"""Every route of the API: method, path, handler, the role it needs (docs/api.md lists the
same; tests check)."""


def vwn_json(vwn: Vwn) -> dict[str, Any]:
    return {
        "id": vwn.id,
        "vm_type": vwn.vm_type,
        "state": vwn.state.value,
        "hostname": vwn.hostname,
        "job_id": vwn.job_id,
        "host": vwn.host,
        "slot": vwn.slot,
        "reuse_count": vwn.reuse_count,
        "image_version": vwn.image_version,
        "vcpus": vwn.vcpus,
        "memory": vwn.memory,
        "created_at": vwn.created_at,
        "updated_at": vwn.updated_at,
    }


def job_json(flight: JobFlight) -> dict[str, Any]:
    return {
        "job_id": flight.job_id,
        "step": flight.step.value,
        "user": flight.user,
        "vm_type": flight.vm_type,
        "vwn_id": flight.vwn_id,
        "bait_host": flight.bait_host,
        "attempts": flight.attempts,
        "reused": flight.reused,
        "detail": flight.detail,
        "times": dict(flight.times),
        "updated_at": flight.updated_at,
        "stuck_since": flight.stuck_since or None,
        "stuck_why": flight.stuck_why,
        "stray_on": flight.stray_on or None,
        "cpus": flight.cpus,
        "memory": flight.memory,
    }


def started_json(found: Reconciled) -> dict[str, Any]:
    return {
        "started_at": time.time(),
        "reconciled": {
            "adopted": list(found.adopted),
            "lost": list(found.lost),
            "strays": list(found.strays),
            "strays_adopted": list(found.strays_adopted),
            "quarantined": list(found.quarantined),
            "reaped": list(found.reaped),
            "destroyed_again": list(found.destroyed_again),
            "others": list(found.others),
        },
    }
