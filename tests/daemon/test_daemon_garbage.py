"""Generated garbage against the daemon's API: every answer is JSON, never a 500, and the daemon
keeps serving with every record it had.

Requests go over a raw socket, so anything a client can put on the wire is fair: methods,
paths, headers and bodies of every shape, valid or not.
"""

import json
import socket
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wnod_core.daemon.client import DaemonClient
from wnod_core.daemon.run import socket_path
from wnod_core.site import Site
from wnod_core.testing.fakes import FakePlugin

from .test_daemon_api import Running, fakes, site  # noqa: F401 - fixtures

ROUTES = ["/v1/bait", "/v1/jobs", "/v1/vwns", "/v1/status", "/v1/drain", "/v1/resume", "/v1/jobs/1/notice",
          "/v1/vwns/x", "/", "/v2/bait", "/v1/jobs/%ff/notice", "/v1/vwns/..%2F..%2Fetc", "/v1/images/el9",
          "/v1/images/el9/publish", "/v1/images/..%2F..%2Fetc/rollback"]
WORDS = st.sampled_from(["1", "999020\n", "", "bait01", "a" * 300, "é", "1 2", "[x]", "\x00", "${x}"])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20) | WORDS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10) | WORDS, inner, max_size=4),
    max_leaves=12,
)
bodies = st.one_of(
    json_values.map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries({"job_id": json_values, "bait_host": json_values}).map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=200),
    st.just(b"[" * 2000),
)
header_values = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=255), max_size=40)


@st.composite
def requests(draw) -> bytes:
    method = draw(st.sampled_from(["GET", "POST", "DELETE", "PUT", "PATCH", "HEAD", "OPTIONS", "BREW"]))
    path = draw(st.sampled_from(ROUTES) | st.text(alphabet="/abcv1%?#&=.", min_size=1, max_size=30).map(
        lambda p: "/" + p.lstrip("/")))
    body = draw(bodies)
    headers = draw(st.dictionaries(st.sampled_from(["X-A", "Content-Type", "Authorization", "Expect"]),
                                   header_values, max_size=3))
    lines = [f"{method} {path} HTTP/1.1", "Host: wnod", f"Content-Length: {len(body)}", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return "\r\n".join(lines).encode("latin-1") + b"\r\n\r\n" + body


def send(site: Site, raw: bytes) -> tuple[int, bytes, bytes]:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(str(socket_path(site)))
        s.sendall(raw)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, head, body


@pytest.fixture
def daemon(site: Site) -> Iterator[Running]:
    with Running(site) as running:
        yield running


def test_generated_garbage_gets_4xx_json_and_loses_no_record(daemon: Running, site: Site, fakes: FakePlugin) -> None:
    client = DaemonClient(socket_path(site), timeout=10)
    job = fakes.batch.submit("alice", queue="blue")
    fakes.batch.dispatch_to_bait(job.job_id, "bait01")
    placed = client.post("/v1/bait", {"job_id": job.job_id, "bait_host": "bait01"})
    assert placed["outcome"] == "migrated"

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(raw=requests())
    def one(raw: bytes) -> None:
        status, head, body = send(site, raw)
        assert status < 500, (raw[:200], head, body[:300])
        if status >= 400 and not raw.startswith(b"HEAD "):
            assert b"application/json" in head, (raw[:200], head)
            assert "error" in json.loads(body)
        vwn_ids = {v["id"] for v in client.get("/v1/vwns")["vwns"]}
        assert placed["vwn_id"] in vwn_ids, "the placed job's VWN is still on the record"

    one()
    assert client.get("/v1/status")["host"] == "hv01.farm.test", "the daemon still serves"
    assert any(j["job_id"] == job.job_id for j in client.get("/v1/jobs")["jobs"])
