"""The daemon served for real on a Unix socket, driven through the client the CLI uses.

The daemon runs in this process (its own thread and event loop) with the in-memory fakes
registered as plugins, so the test drives the batch system and sees the hypervisor.
"""

import asyncio
import json
import os
import stat
import threading
from pathlib import Path

import pytest

from wnod_core.daemon.client import DaemonClient, DaemonRefused, DaemonUnreachable
from wnod_core.daemon.run import Daemon, StartupError, socket_path
from wnod_core.paths import resolve_dirs
from wnod_core.plugins import Plugins
from wnod_core.site import Site
from wnod_core.testing.fakes import FakePlugin

CONFIG = """
[host]
name = "hv01.farm.test"
vcpus = 4
memory = "8GiB"
max_vwns = 2

[engine]
poll_interval = "20ms"

[batch]
system = "fake"

[hypervisor]
backend = "fake"

[vm_types.blue]
image = "blue.img"
boot_timeout = "2s"

[[resolvers]]
use = "test-by-queue"
"""


class ByQueue:
    """A resolver plugin for these tests: queue "blue" → VM type blue; others refused."""

    from wnod_core import hookimpl

    @hookimpl
    def wnod_resolvers(self):
        from wnod_core.model import Refused, Resolved
        from wnod_core.records import ResolverPlugin

        class Resolver:
            def resolve(self, job):
                return Resolved("blue", "queue blue") if job.queue == "blue" else Refused(f"queue {job.queue} is closed")

        from wnod_core.interfaces import Resolver as Base

        yield ResolverPlugin(name="test-by-queue", factory=lambda setup: type("R", (Resolver, Base), {})())


class Running:
    """A daemon serving in a thread until `stop`."""

    def __init__(self, site: Site):
        self.daemon = Daemon(site)
        self.loop = asyncio.new_event_loop()
        self.started = threading.Event()
        self.failure: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)

        async def main() -> None:
            self.daemon.stop = asyncio.Event()
            try:
                await self.daemon.start()
            except BaseException as exc:
                self.failure = exc
                self.started.set()
                return
            self.started.set()
            await self.daemon.stop.wait()
            await self.daemon.shutdown()

        self.loop.run_until_complete(main())

    def __enter__(self) -> "Running":
        self.thread.start()
        assert self.started.wait(10)
        if self.failure:
            raise self.failure
        return self

    def __exit__(self, *exc: object) -> None:
        if self.thread.is_alive():
            self.loop.call_soon_threadsafe(self.daemon.stop.set)
            self.thread.join(10)


@pytest.fixture
def fakes() -> FakePlugin:
    fakes = FakePlugin()
    fakes.hypervisor._on_create = lambda spec: fakes.batch.register_host(spec.hostname)
    return fakes


@pytest.fixture
def site(tmp_path: Path, fakes: FakePlugin, monkeypatch: pytest.MonkeyPatch) -> Site:
    config = tmp_path / "wnod.toml"
    config.write_text(CONFIG)
    plugins = Plugins.load(installed=False, extra=[("fakes", fakes), ("test-resolver", ByQueue())])
    dirs = resolve_dirs(state_dir=tmp_path / "state", cache_dir=tmp_path / "cache", runtime_dir=tmp_path / "run")
    return Site.open(config, plugins, dirs)


def test_a_bait_request_is_answered_once_the_job_is_migrated(site: Site, fakes: FakePlugin) -> None:
    job = fakes.batch.submit("alice", queue="blue")
    fakes.batch.dispatch_to_bait(job.job_id, "bait01")
    with Running(site):
        client = DaemonClient(socket_path(site))
        answer = client.post("/v1/bait", {"job_id": job.job_id, "bait_host": "bait01"})
        assert answer["outcome"] == "migrated" and answer["hostname"] == "hv01-vwn1"
        assert fakes.batch.bound_to(job.job_id) == "hv01-vwn1"
        [vwn] = client.get("/v1/vwns")["vwns"]
        assert (vwn["state"], vwn["job_id"], vwn["vm_type"]) == ("ready", job.job_id, "blue")
        [flight] = client.get("/v1/jobs")["jobs"]
        assert flight["step"] == "migrated"
        status = client.get("/v1/status")
        assert status["vwns"] == {"ready": 1} and status["capacity"]["vwns"] == {"used": 1, "total": 2}


def test_the_socket_is_not_open_to_everyone(site: Site) -> None:
    with Running(site):
        mode = stat.S_IMODE(os.stat(socket_path(site)).st_mode)
        assert mode & 0o007 == 0, oct(mode)
    assert not socket_path(site).exists()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("not json", "not JSON"),
        ("[1]", "JSON object"),
        ('{"job_id": "1"}', "missing field(s) bait_host"),
        ('{"job_id": "1", "bait_host": "b", "vm_type": "atlas"}', "unknown field(s) vm_type"),
        ('{"job_id": "1; rm -rf /", "bait_host": "b"}', "job_id must be"),
        ('{"job_id": 7, "bait_host": "b"}', "job_id must be"),
    ],
)
def test_bad_requests_get_a_4xx_with_a_clear_message(site: Site, body: str, message: str) -> None:
    import http.client
    import socket

    with Running(site):
        conn = http.client.HTTPConnection("localhost", timeout=10)
        conn.sock = socket.socket(socket.AF_UNIX)
        conn.sock.connect(str(socket_path(site)))
        conn.request("POST", "/v1/bait", body=body, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        data = json.loads(response.read())
    assert response.status == 400
    assert message in data["error"]


def test_unknown_routes_and_vwns_are_json_errors(site: Site) -> None:
    with Running(site):
        client = DaemonClient(socket_path(site))
        with pytest.raises(DaemonRefused) as err:
            client.get("/v1/nothing")
        assert err.value.status == 404
        with pytest.raises(DaemonRefused, match="no VWN"):
            client.delete("/v1/vwns/hv01-s1-abcdef")


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "message"),
    [
        ("GET", "/v1/images/el9", None, 409, "no image library on this host: set [images] library"),
        ("POST", "/v1/images/el9/publish", {"version": "1"}, 409, "no image library on this host"),
        ("POST", "/v1/images/el9/publish", {"version": "0"}, 400, "version must be a version number"),
        ("POST", "/v1/images/el9/publish", {"version": "latest"}, 400, "version must be a version number"),
        ("POST", "/v1/images/el9/publish", {"version": 3}, 400, "version must be"),
        ("POST", "/v1/images/El9/publish", {"version": "1"}, 400, "image name must be lowercase"),
        ("POST", "/v1/images/el9/rollback", {}, 400, "missing field(s) from"),
        ("POST", "/v1/images/el9/rollback", {"from": "2", "to": "1"}, 400, "unknown field(s) to"),
    ],
)
def test_image_routes_refuse_what_they_cannot_do_saying_why(site: Site, method: str, path: str, body: dict | None,
                                                             status: int, message: str) -> None:
    with Running(site):
        with pytest.raises(DaemonRefused) as err:
            DaemonClient(socket_path(site)).request(method, path, body)
    assert err.value.status == status
    assert message in str(err.value)


def test_drain_and_resume(site: Site, fakes: FakePlugin) -> None:
    job = fakes.batch.submit("alice", queue="blue")
    fakes.batch.dispatch_to_bait(job.job_id, "bait01")
    with Running(site):
        client = DaemonClient(socket_path(site))
        client.post("/v1/drain")
        answer = client.post("/v1/bait", {"job_id": job.job_id, "bait_host": "bait01"})
        assert answer["outcome"] == "retry" and "drained" in answer["reason"]
        assert client.get("/v1/status")["drained"] is True
        client.post("/v1/resume")
        assert client.get("/v1/status")["drained"] is False


def test_a_second_daemon_of_the_same_site_refuses_to_start(site: Site) -> None:
    with Running(site):
        with pytest.raises(StartupError, match="already uses the records"):
            with Running(site):
                pass


def test_a_stale_socket_of_a_killed_daemon_is_replaced(site: Site) -> None:
    path = socket_path(site)
    path.parent.mkdir(parents=True, exist_ok=True)
    import socket as sk

    stale = sk.socket(sk.AF_UNIX)
    stale.bind(str(path))
    stale.close()  # bound, never listening: what a SIGKILLed daemon leaves
    with Running(site):
        assert DaemonClient(socket_path(site)).get("/v1/status")["host"] == "hv01.farm.test"


def test_no_daemon_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DaemonUnreachable, match="is `wnod daemon` running"):
        DaemonClient(tmp_path / "nothing.sock").get("/v1/status")


def test_accounting_gets_a_line_per_finished_job(site: Site, fakes: FakePlugin) -> None:
    job = fakes.batch.submit("mallory", queue="red")
    fakes.batch.dispatch_to_bait(job.job_id, "bait01")
    with Running(site):
        answer = DaemonClient(socket_path(site)).post("/v1/bait", {"job_id": job.job_id, "bait_host": "bait01"})
    assert answer["outcome"] == "refused"
    [line] = (site.dirs.state / "accounting.jsonl").read_text().splitlines()
    record = json.loads(line)
    assert (record["job_id"], record["user"], record["outcome"]) == (job.job_id, "mallory", "refused")


def invoke(site: Site, *args: str, env: dict[str, str] | None = None):
    from click.testing import CliRunner

    from wnod_core.cli.context import CliContext
    from wnod_core.cli.main import cli

    obj = CliContext(config_file=str(site.config.files[0]), preloaded=site.plugins)
    dirs = {  # the test's directories, not the XDG ones
        "WNOD_STATE_DIR": str(site.dirs.state),
        "WNOD_CACHE_DIR": str(site.dirs.cache),
        "WNOD_RUNTIME_DIR": str(site.dirs.runtime),
    }
    return CliRunner().invoke(cli, list(args), obj=obj, env={**dirs, **(env or {})})


def test_wnod_bait_exits_with_the_batch_systems_code_for_the_outcome(site: Site, fakes: FakePlugin) -> None:
    from wnod_core.interfaces import BaitOutcome
    from wnod_core.testing.fakes import EXIT_CODES

    job = fakes.batch.submit("alice", queue="blue")
    environ = fakes.batch.dispatch_to_bait(job.job_id, "bait01")
    with Running(site):
        result = invoke(site, "bait", env=environ)
        assert result.exit_code == EXIT_CODES[BaitOutcome.MIGRATED], result.output
        assert f"job {job.job_id}: migrated" in result.output
        vms = invoke(site, "vms", "--json")
        assert json.loads(vms.output)["vwns"][0]["job_id"] == job.job_id
        table = invoke(site, "vms")
        assert "hv01-vwn1" in table.output and "ready" in table.output
        assert "migrated" in invoke(site, "jobs").output
        assert "1 ready" in invoke(site, "status").output
        assert "drained" in invoke(site, "drain").output and "DRAINED" in invoke(site, "status").output
        invoke(site, "resume")
        vwn_id = json.loads(vms.output)["vwns"][0]["id"]
        assert "destroyed" in invoke(site, "vm", "destroy", vwn_id).output


def test_wnod_bait_reads_stdin_and_prints_the_answer_for_a_bait_side_that_asks(fakes: FakePlugin, site: Site) -> None:
    """A hook that hands the job over on stdin and reads its answer on stdout (HTCondor's)."""
    from wnod_core.interfaces import BaitRequest, BaitSide, HookAnswer

    seen = []

    def read(hook):
        seen.append(hook)
        return BaitRequest(job_id=hook.stdin.split("=")[1].strip(), bait_host=hook.argv[0])

    fakes.bait = BaitSide(read=read, answer=lambda outcome, reason: HookAnswer(7, f"Answer = {outcome}\n"),
                          reads_stdin=True)
    from click.testing import CliRunner

    from wnod_core.cli.context import CliContext
    from wnod_core.cli.main import cli

    plugins = Plugins.load(installed=False, extra=[("fakes", fakes), ("test-resolver", ByQueue())])
    obj = CliContext(config_file=str(site.config.files[0]), preloaded=plugins)
    dirs = {"WNOD_STATE_DIR": str(site.dirs.state), "WNOD_CACHE_DIR": str(site.dirs.cache),
            "WNOD_RUNTIME_DIR": str(site.dirs.runtime)}
    result = CliRunner().invoke(cli, ["bait", "--timeout", "0.3", "bait01"], obj=obj, env=dirs,
                                 input="JobId = 4711\n")
    assert result.exit_code == 7, result.output
    assert result.stdout == "Answer = retry\n", "the answer as is, and nothing else, on stdout"
    assert "job 4711: retry: no answer from the daemon" in result.stderr
    assert seen[0].stdin == "JobId = 4711\n" and seen[0].argv == ("bait01",)


def test_wnod_bait_outside_a_hook_says_what_is_missing(site: Site) -> None:
    with Running(site):
        result = invoke(site, "bait")
    assert result.exit_code == 1
    assert "not called by the batch system's hook" in result.output


def test_wnod_bait_without_a_daemon_puts_the_job_back_when_time_is_up(site: Site, fakes: FakePlugin) -> None:
    from wnod_core.interfaces import BaitOutcome
    from wnod_core.testing.fakes import EXIT_CODES

    job = fakes.batch.submit("alice", queue="blue")
    environ = fakes.batch.dispatch_to_bait(job.job_id, "bait01")
    result = invoke(site, "bait", "--timeout", "0.3", env=environ)
    assert result.exit_code == EXIT_CODES[BaitOutcome.RETRY]
    assert "no answer from the daemon" in result.output


def test_a_dying_vwn_reported_by_the_hypervisor_is_dealt_with_before_the_next_poll(
    site: Site, fakes: FakePlugin, tmp_path: Path
) -> None:
    slow = tmp_path / "slow.toml"
    slow.write_text(CONFIG.replace('poll_interval = "20ms"', 'poll_interval = "1h"'))
    site = Site.open(slow, site.plugins, site.dirs)
    job = fakes.batch.submit("alice", queue="blue")
    fakes.batch.dispatch_to_bait(job.job_id, "bait01")
    with Running(site):
        client = DaemonClient(socket_path(site))
        answer = client.post("/v1/bait", {"job_id": job.job_id, "bait_host": "bait01"})
        fakes.batch.start(job.job_id)
        fakes.hypervisor.crash(answer["vwn_id"])
        import time

        deadline = time.monotonic() + 5
        while client.get("/v1/vwns")["vwns"] and time.monotonic() < deadline:
            time.sleep(0.02)
        assert client.get("/v1/vwns")["vwns"] == []
    assert fakes.batch.bound_to(job.job_id) is None


def test_sighup_reload_takes_new_vm_types_and_keeps_the_old_config_when_the_new_is_wrong(
    site: Site, fakes: FakePlugin
) -> None:
    config = Path(site.config.files[0])
    with Running(site) as running:
        engine = running.daemon.engine
        config.write_text(CONFIG + '\n[vm_types.red]\nimage = "red.img"\n')
        running.daemon.config_file = str(config)
        running.loop.call_soon_threadsafe(running.daemon.reload)
        import time

        deadline = time.monotonic() + 5
        while "red" not in engine.parts.policy.vm_types and time.monotonic() < deadline:
            time.sleep(0.02)
        assert set(engine.parts.policy.vm_types) == {"blue", "red"}
        # Mixed mode's node is read at the start only: the reservations made on the node it named
        # then, and the batch system's check, are the start's.
        config.write_text(CONFIG.replace('max_vwns = 2', 'max_vwns = 2\nbare_metal_node = "hv01"'))
        running.loop.call_soon_threadsafe(running.daemon.reload)
        deadline = time.monotonic() + 5
        while "red" in engine.parts.policy.vm_types and time.monotonic() < deadline:
            time.sleep(0.02)
        assert "red" not in engine.parts.policy.vm_types, "reloaded"
        assert engine.parts.policy.bare_metal_node == "", "but not the node of bare-metal jobs"
        config.write_text(CONFIG.replace('image = "blue.img"', 'image = "../etc/passwd"'))
        running.loop.call_soon_threadsafe(running.daemon.reload)
        time.sleep(0.2)
        assert engine.parts.policy.vm_types["blue"].image == "blue.img"


def test_the_tcp_listener_demands_the_bearer_token(site: Site, tmp_path: Path) -> None:
    import http.client
    import socket as sk

    with sk.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    token = tmp_path / "token"
    token.write_text("s3cret-token-of-32-characters!!!\n")
    token.chmod(0o600)
    config = tmp_path / "tcp.toml"
    config.write_text(CONFIG + f'\n[daemon]\nlisten = "127.0.0.1:{port}"\ntoken_file = "{token}"\n')
    site = Site.open(config, site.plugins, site.dirs)

    def get(headers: dict[str, str]) -> tuple[int, dict]:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/v1/status", headers=headers)
        response = conn.getresponse()
        return response.status, json.loads(response.read())

    with Running(site):
        assert get({})[0] == 401
        assert get({"Authorization": "Bearer wrong"}) == (401, {"error": "missing or wrong bearer token"})
        status, body = get({"Authorization": "Bearer s3cret-token-of-32-characters!!!"})
        assert status == 200 and body["host"] == "hv01.farm.test"


def test_a_token_file_others_may_read_stops_the_start(site: Site, tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("s3cret-token-of-32-characters!!!\n")
    token.chmod(0o644)
    config = tmp_path / "tcp.toml"
    config.write_text(CONFIG + f'\n[daemon]\nlisten = "127.0.0.1:1"\ntoken_file = "{token}"\n')
    with pytest.raises(StartupError, match="chmod 600"):
        with Running(Site.open(config, site.plugins, site.dirs)):
            pass


def test_wnod_render_prints_what_the_backend_would_create_and_creates_nothing(site: Site, fakes: FakePlugin) -> None:
    result = invoke(site, "render", "--type", "blue", "--slot", "2")
    assert result.exit_code == 0, result.output
    assert "hv01-s2-render" in result.output and "hv01-vwn2" in result.output and "blue" in result.output
    assert fakes.hypervisor.calls_to("create") == [] and fakes.hypervisor.domains() == []
    wrong = invoke(site, "render", "--type", "bleu")
    assert wrong.exit_code == 2 and 'did you mean "blue"' in wrong.output
    assert invoke(site, "render", "--type", "blue", "--slot", "3").exit_code == 2


def test_wnod_batch_show_and_hosts_read_the_batch_system_through_the_adapter(site: Site, fakes: FakePlugin) -> None:
    job = fakes.batch.submit("alice", groups=("physics",), queue="blue")
    fakes.batch.register_host("hv01-vwn1")
    shown = invoke(site, "batch", "show", job.job_id, "--json")
    assert shown.exit_code == 0, shown.output
    data = json.loads(shown.output)
    assert (data["facts"]["user"], data["facts"]["queue"], data["facts"]["groups"]) == ("alice", "blue", ["physics"])
    assert data["decision"] == {"outcome": "resolved", "vm_type": "blue", "resolver": "test-by-queue (resolvers[0])",
                                "reason": "queue blue"}
    assert "wnod would give:    VM type blue" in invoke(site, "batch", "show", job.job_id).output
    missing = invoke(site, "batch", "show", "999999")  # main() prints it as "wnod: error: ..." and exits 1
    assert type(missing.exception).__name__ == "JobNotFound" and "999999" in str(missing.exception)
    hosts = json.loads(invoke(site, "batch", "hosts", "--json").output)["hosts"]
    assert [h["name"] for h in hosts] == ["hv01-vwn1"]
    assert "hv01-vwn1" in invoke(site, "batch", "hosts").output


def test_a_hypervisor_that_cannot_list_its_domains_stops_the_start(site: Site, fakes: FakePlugin) -> None:
    from wnod_core.errors import HypervisorError

    fakes.hypervisor.fail_next("domains", HypervisorError("connection refused"))
    with pytest.raises(StartupError, match="reconciling with the hypervisor failed: .*connection refused"):
        with Running(site):
            pass
    assert not socket_path(site).exists()


@pytest.mark.parametrize("timeout", ["nan", "inf", "-inf", "1e308", "0", "-5", "soon", "400d"])
def test_wnod_bait_refuses_a_timeout_no_clock_can_wait_saying_so(site: Site, fakes: FakePlugin, timeout: str) -> None:
    job = fakes.batch.submit("alice", queue="blue")
    environ = fakes.batch.dispatch_to_bait(job.job_id, "bait01")
    result = invoke(site, "bait", "--timeout", timeout, env=environ)
    assert result.exit_code == 2, result.output
    assert "Invalid value for '--timeout'" in result.output and "Traceback" not in result.output


def test_wnod_bait_takes_its_timeout_as_the_config_spells_durations(site: Site, fakes: FakePlugin) -> None:
    from wnod_core.interfaces import BaitOutcome
    from wnod_core.testing.fakes import EXIT_CODES

    job = fakes.batch.submit("alice", queue="blue")
    environ = fakes.batch.dispatch_to_bait(job.job_id, "bait01")
    result = invoke(site, "bait", "--timeout", "300ms", env=environ)
    assert result.exit_code == EXIT_CODES[BaitOutcome.RETRY], result.output


@pytest.mark.parametrize("suffix", ["?junk", "#x", "/../drain", "é"])
def test_vm_destroy_of_a_garbled_id_destroys_nothing_and_says_why(site: Site, fakes: FakePlugin, suffix: str) -> None:
    job = fakes.batch.submit("alice", queue="blue")
    fakes.batch.dispatch_to_bait(job.job_id, "bait01")
    with Running(site):
        vwn_id = DaemonClient(socket_path(site)).post("/v1/bait", {"job_id": job.job_id, "bait_host": "bait01"})["vwn_id"]
        result = invoke(site, "vm", "destroy", vwn_id + suffix)
        assert result.exit_code == 1, result.output
        # The daemon's refusal, which `wnod`'s main prints as one line (CliRunner hands it back).
        assert isinstance(result.exception, DaemonRefused) and "VWN id must be" in str(result.exception)
        states = {v["id"]: v["state"] for v in DaemonClient(socket_path(site)).get("/v1/vwns")["vwns"]}
        assert states[vwn_id] != "destroyed"
        assert DaemonClient(socket_path(site)).get("/v1/status")["drained"] is False


def test_what_a_job_carries_reaches_the_admins_terminal_escaped(site: Site, fakes: FakePlugin) -> None:
    """A job's owner and queue, as the batch system reports them, and the reasons made of them."""
    placed = fakes.batch.submit("ev\x1b]0;pwned\x07il", queue="blue")
    refused = fakes.batch.submit("alice", queue="no\x1b[2Jpe")  # refused: "queue ... is closed"
    with Running(site):
        moved = invoke(site, "bait", env=fakes.batch.dispatch_to_bait(placed.job_id, "bait01"))
        bait = invoke(site, "bait", env=fakes.batch.dispatch_to_bait(refused.job_id, "bait01"))
        jobs = invoke(site, "jobs")
    assert "migrated" in moved.output
    for out in (bait.output, jobs.output):
        assert "\x1b" not in out and "\x07" not in out, repr(out)
    assert "ev\\x1b]0;pwned\\x07il" in jobs.output
    assert "queue no\\x1b[2Jpe is closed" in bait.output


def test_mixed_mode_on_a_batch_system_that_cannot_reserve_stops_the_start(site: Site, fakes: FakePlugin,
                                                                          monkeypatch) -> None:
    from wnod_core.interfaces import BatchSystem

    monkeypatch.setattr(type(fakes.batch), "reserve_cpus", BatchSystem.reserve_cpus)
    config = Path(site.config.files[0])
    config.write_text(CONFIG.replace("max_vwns = 2", 'max_vwns = 2\nbare_metal_node = "hv01"'))
    mixed = Site.open(config, site.plugins, site.dirs)
    with pytest.raises(StartupError, match="host.bare_metal_node: the .* batch system cannot reserve"):
        with Running(mixed):
            pass
    assert not socket_path(mixed).exists()
