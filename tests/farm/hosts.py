"""A farm of real `wnod daemon` processes on one machine, for the farm's tests: each host its own
state, socket and loopback address (127.0.0.N), one shared batch system and hypervisor."""

import socket
import subprocess
from pathlib import Path

from wnod_core.testing.daemons import WNOD, DaemonProcess
from wnod_core.testing.fakes.shared import SharedFakeBatchSystem
from wnod_core.testing.fakes.shared_plugin import shared_fakes_config

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
{daemon_lines}

{shared_fakes}

[vm_types.el9]
{el9_image}
boot_timeout = "20s"

[[resolvers]]
use = "default"
vm_type = "el9"
{extra}
"""

STORE_IMAGE = 'image = "el9.img"'
"""The VM type's image, from the fake hypervisor's store."""


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
        self.daemons: dict[str, DaemonProcess] = {}
        self.batch = SharedFakeBatchSystem(fakes)

    def home(self, name: str) -> Path:
        return self.tmp / name

    def environ(self, name: str) -> dict[str, str]:
        return self.daemons[name].environ

    def config(self, name: str, daemon_lines: str = "", el9_image: str = STORE_IMAGE, extra: str = "") -> str:
        """Host `name`'s wnod.toml: `daemon_lines` more lines of its [daemon] section, `el9_image`
        the image lines of its VM type, `extra` more sections."""
        return CONFIG.format(name=name, address=self.addresses[name], token=self.token, daemon_lines=daemon_lines,
                             el9_image=el9_image, extra=extra,
                             shared_fakes=shared_fakes_config(self.fakes, auto_join=True, join_delay="100ms"))

    def start(self, name: str, daemon_lines: str = "", **config: str) -> None:
        self.daemons[name] = DaemonProcess(self.home(name), self.config(name, daemon_lines, **config), self.env)
        self.daemons[name].start()

    def stop(self, name: str) -> None:
        self.daemons[name].stop()

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
