"""A farm of real `wnod daemon` processes on one machine, for the farm's tests: each host its own
state, socket and loopback address (127.0.0.N), one shared batch system and hypervisor."""

import socket
import subprocess
import sys
import time
from pathlib import Path

from wnod_core.daemon.run import socket_answers
from wnod_core.testing.fakes.shared import SharedFakeBatchSystem
from wnod_core.testing.processes import stop

WNOD = Path(sys.executable).parent / "wnod"
HOSTS = ("hv01", "hv02", "hv03")

CONFIG = """
[host]
name = "{name}.farm.test"
vcpus = 4
memory = "8GiB"
max_vwns = 2
baits = ["{name}-bait"]

[engine]
poll_interval = "50ms"

[daemon]
listen = "{address}"
read_token_file = "{token}"
{tls}

[batch]
system = "shared-fake"

[batch.shared-fake]
dir = "{fakes}"

[hypervisor]
backend = "shared-fake"

[hypervisor.shared-fake]
dir = "{fakes}"
auto_join = true
join_delay = "100ms"

[vm_types.el9]
image = "el9.img"
boot_timeout = "20s"

[[resolvers]]
use = "default"
vm_type = "el9"
"""


def free_port(address: str) -> int:
    with socket.socket() as probe:
        probe.bind((address, 0))
        return probe.getsockname()[1]


def token_file(path: Path, text: str) -> Path:
    path.write_text(text + "\n")
    path.chmod(0o600)
    return path


class Farm:
    """Three hosts' daemons, each on 127.0.0.N; stopped after the test, by PID."""

    def __init__(self, tmp: Path, fakes: Path, env: dict[str, str]):
        self.tmp, self.fakes, self.env = tmp, fakes, env
        self.token = token_file(tmp / "read.token", "read-token-" + "r" * 32)
        self.addresses = {name: f"127.0.0.{i + 2}:{free_port(f'127.0.0.{i + 2}')}" for i, name in enumerate(HOSTS)}
        self.daemons: dict[str, subprocess.Popen[bytes]] = {}
        self.batch = SharedFakeBatchSystem(fakes)

    def home(self, name: str) -> Path:
        return self.tmp / name

    def environ(self, name: str) -> dict[str, str]:
        home = self.home(name)
        return {**self.env, "WNOD_STATE_DIR": str(home / "state"), "WNOD_RUNTIME_DIR": str(home / "run"),
                "WNOD_CACHE_DIR": str(home / "cache")}

    def start(self, name: str, tls: str = "") -> None:
        home = self.home(name)
        home.mkdir(exist_ok=True)
        config = home / "wnod.toml"
        config.write_text(CONFIG.format(name=name, address=self.addresses[name], token=self.token, fakes=self.fakes,
                                        tls=tls))
        log = open(home / "daemon.log", "ab")  # noqa: SIM115 - the child's for its life
        self.daemons[name] = subprocess.Popen([str(WNOD), "--config", str(config), "daemon"], env=self.environ(name),
                                              stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        log.close()
        deadline = time.monotonic() + 30
        while not socket_answers(home / "run" / "wnod.sock"):
            assert self.daemons[name].poll() is None, (home / "daemon.log").read_text()
            assert time.monotonic() < deadline, (home / "daemon.log").read_text()
            time.sleep(0.05)

    def stop(self, name: str) -> None:
        stop(self.daemons.pop(name))

    def bait(self, name: str, job_id: str) -> subprocess.CompletedProcess[str]:
        environ = self.batch.dispatch_to_bait(job_id, f"{name}-bait")
        return subprocess.run([str(WNOD), "--config", str(self.home(name) / "wnod.toml"), "bait", "--timeout", "60"],
                              env={**self.environ(name), **environ}, capture_output=True, text=True, timeout=90,
                              check=False)

    def farm_file(self, *extra: str, head: tuple[str, ...] = ()) -> Path:
        lines = ["[farm]", 'timeout = "1s"', f'token_file = "{self.token}"', *head]
        for name in HOSTS:
            lines += ["[[farm.hosts]]", f'name = "{name}"', f'address = "{self.addresses[name]}"']
        lines += extra
        path = self.tmp / "farm.toml"
        path.write_text("\n".join(lines) + "\n")
        return path

    def wnod_farm(self, farm: Path, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(WNOD), "farm", "--farm", str(farm), *args], env=self.env, capture_output=True,
                              text=True, timeout=60, check=False)
