"""Fixtures of the wnod-pbs tests: the PBS emulator (tests/pbs_emulator.py) installed as
qstat, pbsnodes, qrun, ... in a temporary bin directory, the adapter built through the
core's plugin loader and pointed at it, and the contract suite's driver acting on it.

Test modules use these as fixtures only: with ``--import-mode=importlib`` nothing here
can be imported.
"""

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from wnod_core.errors import BatchSystemError
from wnod_core.plugins import Plugins
from wnod_core.plugins.report import Status
from wnod_core.records import BatchSystemPlugin
from wnod_core.testing import build_plugin
from wnod_core.testing.contracts.batch import BatchDriver, HookCall, JobOwner

from wnod_pbs import plugin

EMULATOR = Path(__file__).with_name("pbs_emulator.py")
COMMANDS = ("qstat", "pbsnodes", "qrun", "qrerun", "qhold", "qrls", "qalter", "qdel", "qsub", "pbs-emu")
BAIT = "bait-1"
VWNS = ("vwn-1", "vwn-2")

FLAVOURS = {
    "openpbs": {"flavour": "openpbs"},
    "torque-xml": {"flavour": "torque"},
    "torque-text": {"flavour": "torque", "torque_format": "text"},
}


@attrs.define
class Emulator:
    """The emulated PBS of one test: its bin directory, and the commands a user or its daemons run."""

    bin: Path
    flavour: str

    def run(self, command: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(self.bin / command), *args], capture_output=True, text=True, timeout=30,
            env={**os.environ, **(env or {})}, check=False,
        )

    def ctl(self, *args: str) -> str:
        done = self.run("pbs-emu", *args)
        if done.returncode != 0:
            raise BatchSystemError(f"pbs-emu {' '.join(args)}: {done.stderr.strip()}")
        return done.stdout

    def qsub(self, *args: str, user: str = "alice", group: str = "users") -> str:
        done = self.run("qsub", *args, "--", "/bin/sleep", "60", env={"PBS_EMU_USER": user, "PBS_EMU_GROUP": group})
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    def state(self) -> dict[str, Any]:
        return json.loads((self.bin / "state.json").read_text())

    def job(self, job_id: str) -> dict[str, Any]:
        return self.state()["jobs"][job_id]

    def calls(self, command: str | None = None) -> list[list[str]]:
        return [c for c in self.state()["calls"] if command is None or c[0] == command]

    def garble(self, command: str, text: str, tmp: Path, code: int = 0) -> None:
        path = tmp / f"garble-{command}.txt"
        path.write_text(text)
        self.ctl("garble", command, str(path), str(code))


def install_emulator(where: Path, flavour: str) -> Emulator:
    where.mkdir(parents=True, exist_ok=True)
    script = where / "pbs_emulator.py"
    body = EMULATOR.read_text().split("\n", 1)[1]
    script.write_text(f"#!{sys.executable}\n{body}")
    script.chmod(0o755)
    for name in COMMANDS:
        (where / name).symlink_to(script.name)
    emu = Emulator(bin=where, flavour=flavour)
    emu.ctl("init", flavour, "pbs-server.example.org")
    for node in (BAIT, *VWNS):
        emu.ctl("node", node)
    emu.ctl("join", BAIT)
    return emu


@pytest.fixture(params=list(FLAVOURS))
def flavour_options(request: pytest.FixtureRequest) -> dict[str, str]:
    return FLAVOURS[request.param]


@pytest.fixture
def emulator(tmp_path: Path, flavour_options: dict[str, str]) -> Emulator:
    return install_emulator(tmp_path / "pbs-bin", flavour_options["flavour"])


@pytest.fixture
def record() -> BatchSystemPlugin:
    loaded = Plugins.load(installed=False, extra=[("wnod-pbs", plugin)])
    failed = [f"{r.name}: {r.error}" for r in loaded.reports() if r.status is not Status.LOADED or r.problems]
    assert not failed, failed
    return loaded.lookup("batch_systems", "pbs")


@pytest.fixture
def build(record: BatchSystemPlugin, tmp_path: Path) -> Callable[..., Any]:
    """``build({"flavour": "torque", ...})``: the adapter as the core builds ``[batch.pbs]``."""
    return lambda options: build_plugin(record, options, {}, tmp_path, path="batch.pbs")


@pytest.fixture
def batch_system(build: Callable[..., Any], emulator: Emulator, flavour_options: dict[str, str]) -> Any:
    return build({**flavour_options, "bin_dir": str(emulator.bin), "timeout": 20, "requeue_timeout": 5})


class PbsDriver(BatchDriver):
    """The contract suite's hands on the emulated PBS: users' qsub and qdel, MOMs joining, the scheduler."""

    settle_timeout = 5.0
    unknown_job_id = "987654321"

    def __init__(self, emu: Emulator):
        self.emu = emu

    def submit(self, owner: JobOwner) -> str:
        # The emulated scheduler runs only when asked (start): a queued job waits.
        return self.emu.qsub("-q", owner.queue, user=owner.user, group=(owner.groups or ("users",))[0])

    def vwn_hostnames(self) -> tuple[str, ...]:
        return VWNS

    def register_host(self, hostname: str) -> None:
        self.emu.ctl("join", hostname)

    def start(self, job_id: str) -> str:
        return self.emu.ctl("schedule", job_id).strip()

    def cancel(self, job_id: str) -> None:
        done = self.emu.run("qdel", job_id)
        assert done.returncode == 0, done.stderr

    def hook_call(self, job_id: str) -> HookCall:
        call = json.loads(self.emu.ctl("bait", job_id, BAIT))
        environ = dict(call["env"])
        if self.emu.flavour == "openpbs":
            environ["WNOD_PBS_BAIT_HOST"] = call["host"]  # what contrib/pbs/prologue adds
        return HookCall(environ=environ, argv=tuple(call["argv"]), bait_host=call["host"])


@pytest.fixture
def batch_driver(emulator: Emulator) -> PbsDriver:
    return PbsDriver(emulator)


@pytest.fixture
def emu(emulator: Emulator) -> Iterator[Emulator]:
    yield emulator
