"""`wnod farm web`: the farm's dashboard, served by a real `wnod farm web` process over three real
daemons (one of them stopped) and looked at by a real headless Chromium; and its door: off
loopback it does not start without a token, and with one it shows nothing to who has none.
"""

import http.client
import json
import os
import ssl
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from wnod_core.farm.config import FarmHost
from wnod_core.farm.snapshot import host_entry
from wnod_core.farm.view import HostAnswer
from wnod_core.testing.requirements import missing_file, missing_module, require

from .dashboard import CHROMIUM, chromium, dashboard
from .hosts import WNOD, Farm, free_port, token_file

HOSTILE = '<img src=x onerror="window.pwned=1"><script>window.pwned=2</script>'
"""A user name no batch system should allow, and the page must show as it is."""


def daemons_vwns(farm: Farm, farm_file: Path) -> dict[str, dict[str, Any]]:
    """VWN id -> the VWN as its daemon reports it, with the host it is on."""
    done = farm.wnod_farm(farm_file, "vms", "--json")
    return {v["id"]: {**v, "on": h["name"]} for h in json.loads(done.stdout)["hosts"] for v in h["vwns"] or ()}


def daemons_jobs(farm: Farm, farm_file: Path) -> dict[str, dict[str, Any]]:
    done = farm.wnod_farm(farm_file, "jobs", "--json")
    return {j["job_id"]: j for h in json.loads(done.stdout)["hosts"] for j in h["jobs"] or ()}


def tiles(page: Any) -> dict[str, tuple[str, str]]:
    """VWN id -> (its host, its state), as the page shows them."""
    found = page.eval_on_selector_all("#farm .vwn[data-vwn]",
                                      "els => els.map(e => [e.dataset.vwn, e.dataset.host, e.dataset.state])")
    return {vwn: (host, state) for vwn, host, state in found}


@pytest.mark.slow
def test_the_dashboard_draws_the_farm_live_and_shows_its_texts_as_text(farm: Farm, tmp_path: Path) -> None:
    require(missing_file(CHROMIUM, "Debian's chromium, in contrib/farm-web/system-packages.txt: dev/setup installs it")
            or missing_module("playwright", "playwright (wnod-core's test extra)"))
    alice = farm.batch.submit("alice", queue="batch").job_id
    hostile = farm.batch.submit(HOSTILE, queue="batch").job_id
    for name, job in (("hv01", alice), ("hv02", hostile)):
        done = farm.bait(name, job)
        assert "migrated" in done.stderr, done.stderr
    farm.stop("hv03")
    farm_file = farm.farm_file()
    with (dashboard(farm_file, tmp_path / "web.log", env=farm.env) as url,
          chromium(tmp_path / "profile", tmp_path / "chromium.log") as browser):
        page = browser.new_context(viewport={"width": 1280, "height": 720}).new_page()
        page.set_default_timeout(30_000)
        broken: list[str] = []  # the page's own errors: a script that threw, a policy that blocked
        page.on("pageerror", lambda error: broken.append(str(error)))
        page.on("console", lambda message: broken.append(message.text) if message.type == "error" else None)
        page.goto(url)
        page.wait_for_selector('.host[data-host="hv03"][data-state="UNREACHABLE"]')
        reported = daemons_vwns(farm, farm_file)
        assert {v: host for v, (host, _) in tiles(page).items()} == {v: r["on"] for v, r in reported.items()}
        assert len(reported) == 2
        unreachable = page.text_content('.host[data-host="hv03"]')
        assert f"unreachable: no wnod daemon answers on {farm.addresses['hv03']}" in unreachable
        assert page.get_attribute('.host[data-host="hv01"]', "data-state") == "up"

        [hostile_vwn] = [v for v, r in reported.items() if r["job_id"] == hostile]
        assert HOSTILE in page.text_content(f'.vwn[data-vwn="{hostile_vwn}"]')
        vcpus = reported[hostile_vwn]["vcpus"]
        assert vcpus and f"{vcpus} vCPU" in page.text_content(f'.vwn[data-vwn="{hostile_vwn}"]'), "its size"
        assert page.evaluate("window.pwned") is None, "a user's name ran as a script"
        assert page.locator("#farm img, #farm script").count() == 0

        [alice_vwn] = [v for v, r in reported.items() if r["job_id"] == alice]
        job = daemons_jobs(farm, farm_file)[alice]
        page.click(f'button.vwn[data-vwn="{alice_vwn}"]')
        page.wait_for_selector("#job-steps li")
        assert page.text_content("#job-title") == f"job {alice} on hv01"
        steps = page.eval_on_selector_all("#job-steps li", "els => els.map(e => e.dataset.step)")
        assert set(steps) == set(job["times"]) and steps[0] == "bait_entered", steps
        assert page.text_content("#job-detail") == job["detail"]

        page.evaluate("window.notReloaded = true")
        bob = farm.batch.submit("bob", queue="batch").job_id
        assert "migrated" in farm.bait("hv02", bob).stderr
        page.wait_for_function("() => document.querySelectorAll('.host[data-host=\"hv02\"] .vwn[data-vwn]').length == 2")
        farm.batch.start(alice)  # the job starts in its VWN: ready -> running
        page.wait_for_selector(f'.vwn[data-vwn="{alice_vwn}"][data-state="running"]')
        farm.batch.start(hostile)
        farm.batch.finish(hostile)  # its VWN is cleaned, and kept for the next job
        page.wait_for_selector(f'.vwn[data-vwn="{hostile_vwn}"]:is([data-state="cleaning"], [data-state="idle"])')
        assert page.evaluate("window.notReloaded") is True, "the page was reloaded rather than redrawn"
        page.wait_for_selector('#job-steps li[data-step="started"]')  # the panel follows its job too

        if os.environ.get("WNOD_SCREENSHOT"):  # docs/images/farm-web.png is made so
            page.wait_for_selector(f'.vwn[data-vwn="{hostile_vwn}"][data-state="idle"]')
            page.screenshot(path=os.environ["WNOD_SCREENSHOT"], full_page=True)
        assert not broken, broken
    assert "Traceback" not in (tmp_path / "web.log").read_text()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--listen", "0.0.0.0:8480"], ("--listen 0.0.0.0:8480 is not a loopback address: whoever reaches it would"
                                        " see the farm. Give --token-file FILE")),
        (["--listen", "[::]:8480"], "--listen [::]:8480 is not a loopback address"),
        (["--listen", "nowhere"], 'Invalid value for --listen: expected "address:port" like "127.0.0.1:8480"'),
        (["--listen", ":8480"], "Invalid value for --listen: ':8480' names no address"),
        (["--listen", "0.0.0.0:8480", "--token-file", "{open}"],
         "Invalid value for --token-file: {open} may be read by others; chmod 600 it"),
    ],
    ids=["any IPv4 address", "any IPv6 address", "no port", "no address", "a token others may read"],
)
def test_a_dashboard_open_to_the_network_needs_a_token_or_never_starts(
    tmp_path: Path, args: list[str], expected: str
) -> None:
    readable = tmp_path / "open.token"
    readable.write_text("t" * 32 + "\n")
    readable.chmod(0o644)
    args = [a.format(open=readable) for a in args]
    env = {"PATH": os.environ["PATH"], "XDG_CONFIG_HOME": str(tmp_path / "config")}  # and no farm file
    done = subprocess.run([str(WNOD), "farm", "web", *args], capture_output=True, text=True, timeout=60,
                          check=False, env=env)
    assert done.returncode == 2, done.stdout + done.stderr
    assert expected.format(open=readable) in done.stderr
    assert "Traceback" not in done.stderr


def ask(url: str, path: str, method: str = "GET", **headers: str) -> tuple[http.client.HTTPResponse, str]:
    """The answer to one request, and its body; redirects are not followed."""
    where = urlsplit(url)
    connection = http.client.HTTPConnection(where.hostname, where.port, timeout=30)
    try:
        connection.request(method, path, headers=headers)
        answer = connection.getresponse()
        return answer, answer.read().decode()
    finally:
        connection.close()


def nowhere_farm(tmp_path: Path) -> Path:
    """A farm file of two hosts that nothing answers for."""
    read = token_file(tmp_path / "read.token", "read-token-" + "r" * 32)
    lines = ["[farm]", 'timeout = "1s"', f'token_file = "{read}"']
    for name in ("hv01", "hv02"):
        lines += ["[[farm.hosts]]", f'name = "{name}"', f'address = "127.0.0.2:{free_port("127.0.0.2")}"']
    path = tmp_path / "farm.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_with_a_token_the_dashboard_shows_nothing_to_who_has_none(tmp_path: Path) -> None:
    token = "web-token-" + "w" * 32
    web_token = token_file(tmp_path / "web.token", token)
    log = tmp_path / "web.log"
    with dashboard(nowhere_farm(tmp_path), log, "--token-file", str(web_token)) as url:
        assert ask(url, "/")[0].status == 401
        refused, why = ask(url, "/farm.json", Authorization="Bearer " + "x" * 42)
        assert refused.status == 401 and json.loads(why)["error"].startswith("this dashboard needs its token")
        assert ask(url, "/?token=wrong")[0].status == 401

        login, _ = ask(url, f"/?view=all&token={token}")
        assert login.status == 303 and login.getheader("Location") == "/?view=all", "the token leaves the address"
        cookie = login.getheader("Set-Cookie")
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and token not in cookie
        session = cookie.split(";")[0]
        page, html = ask(url, "/", Cookie=session)
        assert page.status == 200 and '<script src="farm.js"' in html
        assert "script-src 'self'" in page.getheader("Content-Security-Policy")

        bearer = {"Authorization": f"Bearer {token}"}
        answer, text = ask(url, "/farm.json", **bearer)
        assert answer.status == 200, text
        farm = json.loads(text)
        assert [(h["name"], h["state"]) for h in farm["hosts"]] == [("hv01", "UNREACHABLE"), ("hv02", "UNREACHABLE")]
        assert farm["hosts"][0]["error"].startswith("unreachable: no wnod daemon answers on 127.0.0.2:")
        assert ask(url, "/farm.json", "POST", **bearer)[0].status == 405, "read-only: GET only"
    assert token not in log.read_text(), "the token is never logged"


def test_without_a_token_it_answers_to_loopback_names_only(tmp_path: Path) -> None:
    with dashboard(nowhere_farm(tmp_path), tmp_path / "web.log") as url:
        port = urlsplit(url).port
        assert ask(url, "/farm.json", Host=f"localhost:{port}")[0].status == 200
        # A page of another site that points its own name at 127.0.0.1 must not read the farm.
        rebound, why = ask(url, "/farm.json", Host=f"farm.attacker.example:{port}")
        assert rebound.status == 403 and "answers to a loopback name only" in json.loads(why)["error"]


def test_a_host_is_drawn_with_each_vwn_and_its_job_and_the_jobs_on_no_vwn() -> None:
    host = FarmHost(name="hv01", address="10.1.0.1:8470")
    booting = {"id": "hv01-vwn1", "state": "booting", "job_id": None}
    idle = {"id": "hv01-vwn2", "state": "idle", "job_id": None}
    placing = {"job_id": "17", "vwn_id": "hv01-vwn1", "user": "alice"}
    resolving = {"job_id": "18", "vwn_id": "", "user": "bob"}
    status = {"drained": True, "capacity": {"vwns": {"used": 2, "total": 2}}}
    entry = host_entry(HostAnswer(host, data={"status": status, "vwns": [booting, idle], "jobs": [placing, resolving]}),
                       notes=lambda s: ["1 job(s) stuck"])
    assert (entry["state"], entry["error"], entry["notes"]) == ("DRAINED", None, ["1 job(s) stuck"])
    assert [v["job"] for v in entry["vwns"]] == [placing, None], "a VWN booting for a job is named by the job"
    assert entry["waiting"] == [resolving]

    gone = host_entry(HostAnswer(host, error="unreachable: no wnod daemon answers on 10.1.0.1:8470"), notes=lambda s: [])
    assert (gone["state"], gone["vwns"], gone["capacity"]) == ("UNREACHABLE", [], None)
    assert gone["error"].startswith("unreachable:")


def test_over_tls_the_token_and_the_farm_cross_the_network_encrypted(tmp_path: Path) -> None:
    from .certs import make_ca, make_server_cert

    ca = make_ca(tmp_path)
    cert, key = make_server_cert(tmp_path, ca, ["127.0.0.1"], name="farm-web")
    token = "web-token-" + "w" * 32
    web_token = token_file(tmp_path / "web.token", token)
    log = tmp_path / "web.log"
    with dashboard(nowhere_farm(tmp_path), log, "--token-file", str(web_token), "--tls-cert-file", str(cert),
                   "--tls-key-file", str(key)) as url:
        assert url.startswith("https://127.0.0.1:")
        where = urlsplit(url)
        trusting = ssl.create_default_context(cafile=str(ca[0]))
        connection = http.client.HTTPSConnection(where.hostname, where.port, timeout=30, context=trusting)
        try:
            connection.request("GET", f"/?token={token}")
            login = connection.getresponse()
            login.read()
            assert login.status == 303
            assert "Secure" in login.getheader("Set-Cookie"), "the session cookie never goes over plain HTTP"
            connection.request("GET", "/farm.json", headers={"Authorization": f"Bearer {token}"})
            answer = connection.getresponse()
            assert answer.status == 200 and [h["name"] for h in json.loads(answer.read())["hosts"]] == ["hv01", "hv02"]
        finally:
            connection.close()
        # Plain HTTP to the TLS port gets no page; nor does a client that does not trust its CA.
        with pytest.raises((http.client.HTTPException, ConnectionError)):
            ask(url.replace("https://", "http://"), "/farm.json", Authorization=f"Bearer {token}")
        other = ssl.create_default_context(cafile=str(make_ca(tmp_path, "another CA")[0]))
        with pytest.raises(ssl.SSLCertVerificationError):
            http.client.HTTPSConnection(where.hostname, where.port, timeout=30, context=other).request("GET", "/")
    assert "warning" not in log.read_text()


@pytest.mark.parametrize(
    ("tls", "expected"),
    [
        (["--tls-cert-file", "{cert}"], "--tls-cert-file and --tls-key-file go together: give both, or neither"),
        (["--tls-cert-file", "{cert}", "--tls-key-file", "{open}"], "--tls-key-file: {open} may be read by others;"
                                                                    " chmod 600 it"),
        (["--tls-cert-file", "{key}", "--tls-key-file", "{key}"], "--tls-cert-file: {key} and {key} are not a PEM"
                                                                  " certificate and its key"),
    ],
    ids=["a certificate without its key", "a key others may read", "a key for a certificate"],
)
def test_a_tls_setting_that_cannot_serve_stops_it_saying_so(tmp_path: Path, tls: list[str], expected: str) -> None:
    from .certs import make_ca, make_server_cert

    cert, key = make_server_cert(tmp_path, make_ca(tmp_path), ["127.0.0.1"], name="farm-web")
    readable = tmp_path / "open.key"
    readable.write_bytes(key.read_bytes())
    readable.chmod(0o644)
    names = {"cert": cert, "key": key, "open": readable}
    done = subprocess.run([str(WNOD), "farm", "--farm", str(nowhere_farm(tmp_path)), "web", "--listen", "127.0.0.1:0",
                           *[a.format(**names) for a in tls]], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2, done.stdout + done.stderr
    assert expected.format(**names) in done.stderr
    assert "Traceback" not in done.stderr


def test_plain_http_off_loopback_says_the_token_crosses_in_clear(tmp_path: Path, monkeypatch) -> None:
    from click.testing import CliRunner

    from wnod_core.cli.main import cli
    from wnod_core.farm import web

    served = []
    monkeypatch.setattr(web, "serve", lambda app, address, port, ready, tls=None: served.append((address, tls)))
    web_token = token_file(tmp_path / "web.token", "web-token-" + "w" * 32)
    done = CliRunner().invoke(cli, ["farm", "--farm", str(nowhere_farm(tmp_path)), "web", "--listen", "10.1.0.9:8480",
                                    "--token-file", str(web_token)], catch_exceptions=False)
    assert done.exit_code == 0, done.output
    assert served == [("10.1.0.9", None)]  # never listened: serve() is the test's
    assert ("wnod farm web: warning: plain HTTP on 10.1.0.9:8480: the token and the farm's data cross the"
            " network in clear; give --tls-cert-file and --tls-key-file") in done.output
