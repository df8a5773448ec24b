"""Who may ask the daemon what: roles by the caller's credentials on the socket, by token on TCP.

The socket callers here are real other users: a child process that became `nobody` (and its
group `nogroup`) before it connected, so the daemon learns who it is from the kernel
(SO_PEERCRED), as it would from the batch system's hook or a user's shell.
"""

import http.client
import json
import os
import pwd
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from wnod_core.daemon.run import StartupError, socket_path
from wnod_core.site import Site
from wnod_core.testing.fakes import FakePlugin

from .test_daemon_api import CONFIG, Running, fakes, site  # noqa: F401 - the fixtures

CALL_AS = """
import http.client, json, os, socket, sys
os.setgroups([]); os.setgid(int(sys.argv[2])); os.setuid(int(sys.argv[1]))
class Conn(http.client.HTTPConnection):
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX); self.sock.connect(sys.argv[3])
conn = Conn("wnod", timeout=10)
conn.request(sys.argv[4], sys.argv[5], body=sys.argv[6] or None, headers={"Content-Type": "application/json"})
answer = conn.getresponse()
print(json.dumps([answer.status, json.loads(answer.read())]))
"""


def nobody() -> tuple[int, int]:
    try:
        entry = pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no user nobody on this machine")
    if os.geteuid() != 0:
        pytest.skip("calling as another user needs root")
    return entry.pw_uid, entry.pw_gid


def call_as(site: Site, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    uid, gid = nobody()
    sock = socket_path(site)
    done = subprocess.run([sys.executable, "-c", CALL_AS, str(uid), str(gid), str(sock), method, path,
                           json.dumps(body) if body else ""], capture_output=True, text=True, timeout=30, check=True)
    status, answer = json.loads(done.stdout)
    return status, answer


def with_daemon(site: Site, tmp_path: Path, daemon: str) -> Site:
    config = tmp_path / "roles.toml"
    config.write_text(CONFIG + "\n[daemon]\n" + daemon)
    return Site.open(config, site.plugins, site.dirs)


def opened(site: Site) -> None:
    """Let any user connect (a test's stand-in for `socket_group`): what they may do is the roles'."""
    path = socket_path(site)
    os.chmod(path, 0o666)
    for parent in path.parents:  # pytest's directories are root's own (0700): let others pass through
        if parent == Path("/"):
            break
        os.chmod(parent, os.stat(parent).st_mode | 0o001)


def test_by_default_an_other_user_may_read_and_bait_but_not_drain_or_destroy(site: Site, fakes: FakePlugin) -> None:
    uid, _ = nobody()
    with Running(site):
        opened(site)
        assert call_as(site, "GET", "/v1/status")[0] == 200
        status, answer = call_as(site, "POST", "/v1/drain")
        assert status == 403 and answer["error"] == f"POST /v1/drain needs the admin role; uid {uid} has the bait role"
        assert call_as(site, "DELETE", "/v1/vwns/hv01-s1-000000")[0] == 403
        assert call_as(site, "POST", "/v1/resume")[0] == 403
        job = fakes.batch.submit("nobody", queue="blue").job_id
        fakes.batch.dispatch_to_bait(job, "bait01")
        status, answer = call_as(site, "POST", "/v1/bait", {"job_id": job, "bait_host": "bait01"})
        assert status == 200 and answer["outcome"] == "migrated", answer
    assert not [c for c in fakes.batch.calls if c.method in ("close_host",) and c.args[0] == "bait01"]


def test_an_other_user_baiting_by_default_may_name_only_jobs_of_their_own(site: Site, fakes: FakePlugin) -> None:
    # A hook running as the job's owner may ask for that job: not for another user's job on the bait.
    uid, _ = nobody()
    job = fakes.batch.submit("alice", queue="blue").job_id
    fakes.batch.dispatch_to_bait(job, "bait01")
    with Running(site):
        opened(site)
        status, answer = call_as(site, "POST", "/v1/bait", {"job_id": job, "bait_host": "bait01"})
        assert status == 200 and answer["outcome"] == "retry", answer
        assert answer["reason"].startswith(f"job {job} belongs to alice (")
        assert answer["reason"].endswith(f"not to the caller (uid {uid}): a hook running as a user asks for that"
                                         " user's job only")
        jobs = json.loads(call_as_root_get(site))
    assert jobs["jobs"] == [], "no record of the request"
    assert fakes.batch.job(job).exec_hosts == ("bait01",) and not fakes.hypervisor.running(), "nothing was done"
    assert [c.method for c in fakes.batch.calls] == ["job_facts"]


def test_a_member_of_bait_group_may_name_any_users_job(site: Site, fakes: FakePlugin, tmp_path: Path) -> None:
    import grp

    _, gid = nobody()
    site = with_daemon(site, tmp_path, f'bait_group = "{grp.getgrgid(gid).gr_name}"\n')
    job = fakes.batch.submit("alice", queue="blue").job_id
    fakes.batch.dispatch_to_bait(job, "bait01")
    with Running(site):
        opened(site)
        status, answer = call_as(site, "POST", "/v1/bait", {"job_id": job, "bait_host": "bait01"})
    assert status == 200 and answer["outcome"] == "migrated", answer


def call_as_root_get(site: Site) -> str:
    from wnod_core.daemon.client import DaemonClient

    return json.dumps(DaemonClient(socket_path(site)).get("/v1/jobs"))


def test_with_bait_group_set_an_other_user_may_only_read(site: Site, fakes: FakePlugin, tmp_path: Path) -> None:
    uid, _ = nobody()
    site = with_daemon(site, tmp_path, 'bait_group = "root"\n')
    job = fakes.batch.submit("alice", queue="blue").job_id
    fakes.batch.dispatch_to_bait(job, "bait01")
    with Running(site):
        opened(site)
        status, answer = call_as(site, "POST", "/v1/bait", {"job_id": job, "bait_host": "bait01"})
        assert status == 403 and answer["error"] == f"POST /v1/bait needs the bait role; uid {uid} has the read role"
        assert call_as(site, "POST", "/v1/jobs/1/notice")[0] == 403
        assert call_as(site, "GET", "/v1/jobs")[0] == 200
    assert fakes.batch.job(job).exec_hosts == ("bait01",) and not fakes.hypervisor.running(), "nothing was done"


def test_a_member_of_admin_group_may_drain(site: Site, tmp_path: Path) -> None:
    site = with_daemon(site, tmp_path, 'admin_group = "nogroup"\n')  # nobody's own group
    with Running(site) as running:
        opened(site)
        assert call_as(site, "POST", "/v1/drain")[0] == 200
        assert running.daemon.engine.parts.store.setting("drained") == "yes"


def test_a_group_that_does_not_exist_stops_the_start(site: Site, tmp_path: Path) -> None:
    with pytest.raises(StartupError, match="daemon.admin_group: no group 'no-such-group'"):
        with Running(with_daemon(site, tmp_path, 'admin_group = "no-such-group"\n')):
            pass


def tokens(tmp_path: Path, *roles: str) -> str:
    lines = []
    for role in roles:
        path = tmp_path / f"{role}.token"
        path.write_text(f"{role}-token-{'x' * 32}\n")
        path.chmod(0o600)
        lines.append(f'{"token_file" if role == "admin" else role + "_token_file"} = "{path}"')
    return "\n".join(lines) + "\n"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_on_tcp_each_token_has_its_role(site: Site, fakes: FakePlugin, tmp_path: Path) -> None:
    port = free_port()
    site = with_daemon(site, tmp_path, f'listen = "127.0.0.1:{port}"\n' + tokens(tmp_path, "admin", "bait", "read"))

    def ask(role: str, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request(method, path, body=json.dumps(body) if body else None,
                     headers={"Authorization": f"Bearer {role}-token-{'x' * 32}", "Content-Type": "application/json"})
        answer = conn.getresponse()
        return answer.status, json.loads(answer.read())

    with Running(site):
        assert ask("read", "GET", "/v1/status")[0] == 200
        status, answer = ask("read", "POST", "/v1/drain")
        assert status == 403 and "needs the admin role" in answer["error"] and "has the read role" in answer["error"]
        assert ask("read", "POST", "/v1/bait", {"job_id": "1", "bait_host": "bait01"})[0] == 403
        assert ask("read", "DELETE", "/v1/vwns/hv01-s1-000000")[0] == 403
        assert ask("bait", "POST", "/v1/drain")[0] == 403
        status, answer = ask("bait", "POST", "/v1/bait", {"job_id": "404", "bait_host": "bait01"})
        assert status == 200 and answer["outcome"] == "refused", answer  # let in; the job is unknown
        assert ask("admin", "POST", "/v1/drain")[0] == 200
        assert ask("wrong", "GET", "/v1/status")[0] == 401


def test_two_roles_with_one_token_stop_the_start(site: Site, tmp_path: Path) -> None:
    same = tmp_path / "same.token"
    same.write_text("s" * 40 + "\n")
    same.chmod(0o600)
    daemon = f'listen = "127.0.0.1:{free_port()}"\ntoken_file = "{same}"\nread_token_file = "{same}"\n'
    with pytest.raises(StartupError, match="token"):
        with Running(with_daemon(site, tmp_path, daemon)):
            pass


def test_a_users_groups_are_looked_up_once_a_minute_at_most() -> None:
    from wnod_core.daemon.listeners import Peer
    from wnod_core.daemon.roles import GROUPS_KEPT_FOR, Role, SocketRoles

    now = [1000.0]
    roles = SocketRoles(admin_gid=4242, bait_gid=4243, own_uid=1, clock=lambda: now[0])
    caller = Peer("unix", "uid 65534", uid=65534, gid=4243)  # its own gid counts, whatever the directory says
    assert not roles.knows(caller)
    assert roles.role_of(caller) is Role.BAIT
    assert roles.knows(caller), "looked up once, then remembered"
    now[0] += GROUPS_KEPT_FOR + 1
    assert not roles.knows(caller), "asked again after a while: group changes reach the daemon"
    assert roles.role_of(Peer("unix", "uid 65534", uid=65534, gid=65534)) is Role.READ
    assert roles.role_of(Peer("unix", "uid 0", uid=0, gid=0)) is Role.ADMIN and roles.knows(Peer("unix", "x", uid=1))
    assert roles.role_of(Peer("unix", "an unknown user")) is Role.READ
