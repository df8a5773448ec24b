"""Clients that do not play by the rules cost the daemon nothing: they are cut off in time,
counted against limits, answered in JSON and logged once — and everyone else is still served.

The daemon runs in this process (a thread of its own) with the in-memory fakes; clients are
raw sockets on its TCP port and its Unix socket, doing what a careless or hostile one does.
"""

import json
import logging
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from wnod_core.daemon.client import DaemonClient
from wnod_core.daemon.run import socket_path
from wnod_core.paths import resolve_dirs
from wnod_core.plugins import Plugins
from wnod_core.site import Site
from wnod_core.testing.fakes import FakePlugin

from .test_daemon_api import CONFIG, ByQueue, Running

TOKEN = "a-token-of-enough-length-0123456789"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def port() -> int:
    return _free_port()


@pytest.fixture
def site(tmp_path: Path, port: int) -> Site:
    token = tmp_path / "token"
    token.write_text(TOKEN + "\n")
    token.chmod(0o600)
    config = tmp_path / "wnod.toml"
    config.write_text(CONFIG + f"""
[daemon]
listen = "127.0.0.1:{port}"
token_file = "{token}"
header_timeout = "400ms"
body_timeout = "400ms"
max_connections = 40
max_connections_per_peer = 12
""")
    fakes = FakePlugin()
    plugins = Plugins.load(installed=False, extra=[("fakes", fakes), ("test-resolver", ByQueue())])
    dirs = resolve_dirs(state_dir=tmp_path / "state", cache_dir=tmp_path / "cache", runtime_dir=tmp_path / "run")
    return Site.open(config, plugins, dirs)


@pytest.fixture
def daemon(site: Site) -> Iterator[Running]:
    with Running(site) as running:
        yield running


def tcp(port: int) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    return s


def unix(site: Site) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(str(socket_path(site)))
    return s


def answer_of(s: socket.socket) -> tuple[int, dict, bytes]:
    """(status, headers, body) of the one answer on `s`, read until the daemon closes."""
    data = b""
    while chunk := s.recv(65536):
        data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        if b"\r\n\r\n" in data and (length := _length(head)) is not None and len(body) >= length:
            break
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    return status, {k.lower(): v for k, v in headers.items()}, body


def _length(head: bytes) -> int | None:
    for line in head.decode("latin-1").split("\r\n"):
        if line.lower().startswith("content-length:"):
            return int(line.split(":", 1)[1])
    return None


def closed_within(s: socket.socket, seconds: float) -> bool:
    s.settimeout(seconds)
    try:
        while s.recv(4096):
            pass
    except TimeoutError:
        return False
    except ConnectionError:
        return True
    return True


def request(method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: wnod", f"Authorization: Bearer {TOKEN}",
             f"Content-Length: {len(body)}", "Content-Type: application/json",
             *(f"{k}: {v}" for k, v in (headers or {}).items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


# -- silent and slow clients --------------------------------------------------------------------------


def test_a_connection_that_never_sends_a_request_is_closed_after_the_header_timeout(daemon: Running, port: int) -> None:
    silent = tcp(port)
    started = time.monotonic()
    assert closed_within(silent, 5)
    assert 0.3 < time.monotonic() - started < 3


def test_a_client_dripping_its_headers_is_cut_off_too(daemon: Running, port: int) -> None:
    drip = tcp(port)
    started = time.monotonic()
    with pytest.raises(OSError):
        for byte in b"GET /v1/status HTTP/1.1\r\nHost: wnod\r\nX-Slow: " + b"a" * 200:
            drip.sendall(bytes([byte]))
            time.sleep(0.05)
    assert time.monotonic() - started < 5


def test_a_body_that_does_not_come_is_answered_408(daemon: Running, port: int) -> None:
    s = tcp(port)
    s.sendall(request("POST", "/v1/bait", b"").replace(b"Content-Length: 0", b"Content-Length: 50"))
    status, headers, body = answer_of(s)
    assert status == 408 and headers["content-type"].startswith("application/json")
    assert "daemon.body_timeout" in json.loads(body)["error"]


def test_connections_beyond_a_peers_share_are_answered_503_and_others_still_served(
    daemon: Running, site: Site, port: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="wnod.daemon")
    held = [tcp(port) for _ in range(12)]  # this peer's whole share, all silent
    refused = [tcp(port) for _ in range(30)]
    for s in refused:
        status, headers, body = answer_of(s)
        assert status == 503 and headers["content-type"].startswith("application/json")
        assert "daemon.max_connections_per_peer" in json.loads(body)["error"]
    # Another peer — the admin on the Unix socket — is served all the while.
    assert DaemonClient(socket_path(site), timeout=5).get("/v1/status")["host"] == "hv01.farm.test"
    lines = [r.getMessage() for r in caplog.records if "refused connections from 127.0.0.1" in r.getMessage()]
    assert len(lines) == 1, lines  # said once, not thirty times
    for s in held:
        s.close()


def test_the_whole_daemon_has_a_cap_too(daemon: Running, port: int) -> None:
    # Three peers' whole shares and four more: the daemon's cap of 40. The next is refused, whoever asks.
    held = [tcp_from(port, f"127.0.0.{n}") for n in (1, 2, 3) for _ in range(12)]
    held += [tcp_from(port, "127.0.0.4") for _ in range(4)]
    status, _headers, body = answer_of(tcp_from(port, "127.0.0.9"))
    assert status == 503 and "(daemon.max_connections)" in json.loads(body)["error"]
    for s in held:
        s.close()


def tcp_from(port: int, source: str) -> socket.socket:
    s = socket.socket()
    s.settimeout(5)
    s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    return s


# -- what a client can send ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"BREW /v1/status HTTP/1.1\r\nHost: wnod\r\n\r\n", 400),
        (b"GET /v1/status HTTP/1.1\r\nHost: wnod\r\nContent-Length: nope\r\n\r\n", 400),
        (b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\nHost: wnod\r\n\r\n", 400),
        (b"GET /v1/status HTTP/1.1\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(300)) + b"\r\n", 400),
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64, 400),  # a TLS hello on the plain port
    ],
    ids=["unknown method", "bad Content-Length", "a long line", "too many headers", "TLS"],
)
def test_what_the_http_parser_refuses_is_answered_in_json(
    daemon: Running, port: int, raw: bytes, status: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="aiohttp")
    s = tcp(port)
    s.sendall(raw)
    got, headers, body = answer_of(s)
    assert got == status and headers["content-type"].startswith("application/json"), body
    assert "error" in json.loads(body)
    assert not [r for r in caplog.records if r.exc_info], "a client's mistake logged a traceback"


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (b"[" * 30000 + b"]" * 30000, "nests deeper"),
        (b'{"job_id": ' + b"9" * 60000 + b', "bait_host": "b"}', "not JSON"),
        (b'{"job_id": "\xff", "bait_host": "b"}', "not UTF-8"),
        (b'{"job_id": "1\\n", "bait_host": "b"}', "job_id must be"),
    ],
    ids=["deep", "long number", "not UTF-8", "a newline in a word"],
)
def test_a_body_no_parser_should_choke_on_is_a_400(daemon: Running, port: int, body: bytes, said: str) -> None:
    s = tcp(port)
    s.sendall(request("POST", "/v1/bait", body))
    status, headers, raw = answer_of(s)
    assert status == 400 and said in json.loads(raw)["error"]


def test_a_token_that_is_not_utf8_is_a_wrong_token(daemon: Running, port: int) -> None:
    s = tcp(port)
    s.sendall(b"GET /v1/status HTTP/1.1\r\nHost: wnod\r\nAuthorization: Bearer \xff\xfe\r\n\r\n")
    status, _headers, body = answer_of(s)
    assert status == 401 and "bearer token" in json.loads(body)["error"]


def test_a_client_hanging_up_mid_body_leaves_the_daemon_serving(
    daemon: Running, site: Site, port: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    s = tcp(port)
    s.sendall(request("POST", "/v1/bait", b'{"job_id": "1", "bait').replace(b"Content-Length: 21",
                                                                           b"Content-Length: 40"))
    s.close()
    time.sleep(0.3)
    assert DaemonClient(socket_path(site), timeout=5).get("/v1/status")["jobs_in_flight"] == 0
    assert not [r for r in caplog.records if r.exc_info], [r.getMessage() for r in caplog.records if r.exc_info]
