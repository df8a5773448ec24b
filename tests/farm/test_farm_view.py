"""`wnod farm`: three real `wnod daemon` processes, each its own host on its own loopback address,
one shared batch system and hypervisor (the shared fakes), asked at once over their TCP APIs with
the read role's token; and hosts that cannot answer: nothing listening, one that never answers,
a wrong token, a daemon stopped meanwhile.
"""

import json
import subprocess
import time
from pathlib import Path

import pytest

from .hosts import HOSTS, WNOD, Farm, free_port, token_file

pytestmark = pytest.mark.slow

def test_the_farm_view_shows_every_hosts_vwns_and_jobs_with_their_host(farm: Farm) -> None:
    jobs = {}
    for name in ("hv01", "hv02"):
        job = farm.batch.submit("alice", queue="batch").job_id
        done = farm.bait(name, job)
        assert "migrated" in done.stderr, done.stderr
        jobs[name] = job
    done = farm.wnod_farm(farm.farm_file(), "vms", "--json")
    assert done.returncode == 0, done.stderr
    hosts = {h["name"]: h for h in json.loads(done.stdout)["hosts"]}
    assert set(hosts) == set(HOSTS) and all(h["error"] is None for h in hosts.values())
    for name, job in jobs.items():
        [vwn] = hosts[name]["vwns"]
        assert (vwn["job_id"], vwn["hostname"]) == (job, f"{name}-vwn1")
    assert hosts["hv03"]["vwns"] == []

    table = farm.wnod_farm(farm.farm_file(), "jobs")
    assert table.returncode == 0, table.stderr
    rows = [line.split() for line in table.stdout.splitlines()[1:]]
    assert sorted((r[0], r[1]) for r in rows) == sorted(jobs.items())

    status = farm.wnod_farm(farm.farm_file(), "status")
    assert "farm: 3 of 3 hosts answered; VWNs: 2 ready" in status.stdout, status.stdout


def test_hosts_that_cannot_answer_are_shown_why_and_never_hold_up_the_others(
    farm: Farm, silent: str, tmp_path: Path
) -> None:
    wrong = token_file(tmp_path / "wrong.token", "wrong-token-" + "w" * 32)
    nothing = f"127.0.0.10:{free_port('127.0.0.10')}"
    farm.stop("hv03")  # stopped meanwhile: its address in the farm file, nothing behind it
    path = farm.farm_file(
        "[[farm.hosts]]", 'name = "hv04"', f'address = "{nothing}"',
        "[[farm.hosts]]", 'name = "hv05"', f'address = "{silent}"',
        "[[farm.hosts]]", 'name = "hv06"', f'address = "{farm.addresses["hv01"]}"', f'token_file = "{wrong}"',
    )
    started = time.monotonic()
    done = farm.wnod_farm(path, "status", "--json")
    took = time.monotonic() - started
    assert done.returncode == 1, "a host did not answer: said by the exit code"
    hosts = {h["name"]: h for h in json.loads(done.stdout)["hosts"]}
    assert hosts["hv01"]["error"] is None and hosts["hv02"]["error"] is None
    assert hosts["hv01"]["status"]["host"] == "hv01.farm.test"
    assert hosts["hv03"]["error"].startswith("unreachable: no wnod daemon answers on 127.0.0.4:")
    assert hosts["hv04"]["error"].startswith(f"unreachable: no wnod daemon answers on {nothing}")
    assert hosts["hv05"]["error"] == f"unreachable: the daemon on {silent} did not answer within 1s"
    assert hosts["hv06"]["error"] == "refused (HTTP 401): missing or wrong bearer token"
    assert took < 20, f"one host's silence held the view up for {took:.1f}s"

    table = farm.wnod_farm(path, "status")
    assert table.returncode == 1
    lines = {line.split()[0]: line for line in table.stdout.splitlines()[1:] if line.startswith("hv")}
    assert " up " in lines["hv01"] and "UNREACHABLE" in lines["hv05"] and "did not answer within 1s" in lines["hv05"]
    assert "farm: 2 of 6 hosts answered" in table.stdout
    assert "Traceback" not in table.stdout + table.stderr


def test_a_read_token_sees_the_farm_but_cannot_drain_a_host(farm: Farm) -> None:
    from wnod_core.daemon.client import DaemonClient, DaemonRefused

    client = DaemonClient(address=farm.addresses["hv01"], token=farm.token.read_text().strip(), timeout=5)
    assert client.get("/v1/status")["drained"] is False
    with pytest.raises(DaemonRefused, match="needs the admin role"):
        client.post("/v1/drain")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[farm]\nhosts = []\n", "farm: no hosts: add a [[farm.hosts]] table per host"),
        ('[farm]\n[[farm.hosts]]\nname = "a"\naddress = "nowhere"\n',
         "farm.hosts[0].address: expected \"address:port\""),
        ('[farm]\n[[farm.hosts]]\nname = "a"\naddress = "127.0.0.1:1"\n',
         "farm.hosts[0].token_file: host a has no token: set it, or farm.token_file"),
        ('[farm]\ntoken_file = "/nonexistent"\n[[farm.hosts]]\nname = "a"\naddress = "127.0.0.1:1"\n',
         "farm.token_file: cannot read /nonexistent"),
        ('[farm]\nhostz = 1\n', "farm.hostz: unknown key"),
        ("[frm]\n", "frm: unknown section"),
        ("[farm\n", "not valid TOML"),
    ],
)
def test_a_wrong_farm_file_says_what_and_where(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "farm.toml"
    path.write_text(text)
    done = subprocess.run([str(WNOD), "farm", "--farm", str(path), "status"], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 1
    assert expected in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_no_farm_file_says_where_it_was_looked_for(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "XDG_CONFIG_HOME": str(tmp_path / "config"), "XDG_CONFIG_DIRS": str(tmp_path / "etc")}
    done = subprocess.run([str(WNOD), "farm", "vms"], capture_output=True, text=True, timeout=60, check=False, env=env)
    assert done.returncode == 1
    assert f"no farm file: give --farm FILE or WNOD_FARM, or write one at {tmp_path}/config/wnod/farm.toml" in done.stderr


def test_over_tls_the_farm_trusts_its_ca_and_no_other(farm: Farm, tmp_path: Path) -> None:
    from .certs import make_ca, make_server_cert

    ca = make_ca(tmp_path)
    cert, key = make_server_cert(tmp_path, ca, ["127.0.0.2", "127.0.0.3", "127.0.0.4"])
    for name in HOSTS:  # the same daemons, now serving their TCP API over TLS
        farm.stop(name)
        farm.start(name, daemon_lines=f'tls_cert_file = "{cert}"\ntls_key_file = "{key}"')
    trusted = farm.wnod_farm(farm.farm_file(head=(f'ca_file = "{ca[0]}"',)), "status", "--json")
    assert trusted.returncode == 0, trusted.stdout + trusted.stderr
    assert [h["status"]["host"] for h in json.loads(trusted.stdout)["hosts"]] == [f"{n}.farm.test" for n in HOSTS]

    other, _, _ = make_ca(tmp_path, "another CA")
    untrusted = farm.wnod_farm(farm.farm_file(head=(f'ca_file = "{other}"',)), "status", "--json")
    assert untrusted.returncode == 1
    errors = [h["error"] for h in json.loads(untrusted.stdout)["hosts"]]
    assert all(e.startswith("unreachable: the daemon on 127.0.0.") and "is not the one trusted" in e for e in errors), errors

    plain = farm.wnod_farm(farm.farm_file(), "status", "--json")  # no ca_file: plain HTTP to a TLS port
    assert plain.returncode == 1
    assert all(h["error"] for h in json.loads(plain.stdout)["hosts"])
    assert "Traceback" not in trusted.stderr + untrusted.stderr + plain.stderr


def test_a_tls_key_others_may_read_stops_the_daemon_saying_so(farm: Farm, tmp_path: Path) -> None:
    from .certs import make_ca, make_server_cert

    cert, key = make_server_cert(tmp_path, make_ca(tmp_path), ["127.0.0.2"])
    key.chmod(0o644)
    farm.stop("hv01")
    home = farm.home("hv01")
    config = home / "wnod.toml"
    config.write_text(farm.config("hv01", daemon_lines=f'tls_cert_file = "{cert}"\ntls_key_file = "{key}"'))
    done = subprocess.run([str(WNOD), "--config", str(config), "daemon"], env=farm.environ("hv01"),
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 3, done.stdout + done.stderr
    assert f"daemon.tls_key_file: {key} may be read by others; chmod 600 it" in done.stdout + done.stderr
