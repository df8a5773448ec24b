"""Who may see the dashboard of ``wnod farm web``: anyone on this machine when it listens on
loopback without a token; else only who shows its token.

The token comes as ``Authorization: Bearer <token>`` (a script, a proxy) or once as
``?token=<token>`` in the address a browser opens: that answers with a cookie and a redirect to
the same page without the token, so that the address shown, copied or bookmarked no longer holds it.
The cookie holds a value made from the token, never the token itself (which may be the farm's
read token for the daemons too), and is HttpOnly: no script of the page can read it.
"""

import hashlib
import hmac
import ipaddress
import socket
from urllib.parse import urlsplit

from aiohttp import web

COOKIE = "wnod_farm_web"


def parse_listen(text: str) -> tuple[str, int]:
    """``"address:port"`` (``"[::1]:8480"`` for IPv6; port 0: any free one) -> (address, port);
    ValueError saying what is wrong."""
    address, colon, port = text.rpartition(":")
    if not colon or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ValueError(f'expected "address:port" like "127.0.0.1:8480", got {text!r}')
    address = address.strip("[]")
    if not address:
        raise ValueError(f"{text!r} names no address: give one, e.g. 127.0.0.1 or 0.0.0.0 for every interface")
    return address, int(port)


def on_loopback(address: str) -> bool:
    """Whether `address` (an IP address or a name) is this machine's loopback only: every
    address the name stands for is; ValueError when the name stands for none."""
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        pass
    try:
        found = socket.getaddrinfo(address, None, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise ValueError(f"cannot resolve {address!r}: {getattr(exc, 'strerror', None) or exc}") from None
    return all(ipaddress.ip_address(str(info[4][0]).split("%")[0]).is_loopback for info in found)


class Gate:
    """The dashboard's door: `refusal(request)` for every request, None when it may pass."""

    def __init__(self, token: str | None):
        self.token = token
        self.session = hmac.new(token.encode(), b"wnod farm web session", hashlib.sha256).hexdigest() if token else ""

    def refusal(self, request: web.Request) -> web.StreamResponse | None:
        if self.token is None:
            # No token, so on loopback: asked under a loopback name only, or a web page the admin
            # visits could point a name of its own at 127.0.0.1 and read the farm (DNS rebinding).
            if _loopback_name(request.host):
                return None
            return _answer(request, 403, "this dashboard listens without a token, so it answers to a loopback name"
                                         " only: open it as http://127.0.0.1:PORT/ or http://localhost:PORT/")
        if "token" in request.query:
            return self._login(request)
        bearer = request.headers.get("Authorization", "")
        cookie = request.cookies.get(COOKIE, "")
        if _same(bearer, f"Bearer {self.token}") | _same(cookie, self.session):  # both compared, always
            return None
        return _answer(request, 401, "this dashboard needs its token: open it once as /?token=TOKEN (the browser"
                                     " then keeps a cookie), or send Authorization: Bearer TOKEN")

    def _login(self, request: web.Request) -> web.StreamResponse:
        """``?token=``: the same page without it, and the cookie; or 401."""
        if not _same(request.query["token"], self.token or ""):
            return _answer(request, 401, "wrong token in ?token=")
        query = [(k, v) for k, v in request.query.items() if k != "token"]
        answer = web.Response(status=303, headers={"Location": str(request.rel_url.with_query(query))})
        answer.set_cookie(COOKIE, self.session, httponly=True, samesite="Lax", path="/", secure=request.secure)
        return answer


def _answer(request: web.Request, status: int, why: str) -> web.Response:
    if request.path.endswith(".json"):
        return web.json_response({"error": why}, status=status)
    return web.Response(status=status, text=f"wnod farm web: {why}\n")


def _same(given: str, expected: str) -> bool:
    # Headers arrive as text decoded with surrogateescape: compared as the bytes they were.
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), expected.encode())


def _loopback_name(host: str) -> bool:
    try:
        name = urlsplit("//" + host).hostname or ""
    except ValueError:
        return False
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False
