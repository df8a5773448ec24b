"""A real ``wnod daemon`` process that a test starts, talks to and stops, by its PID.

Test tools, not product features. Each daemon has a home of its own: its config
(``wnod.toml``), its state, runtime and cache directories (through ``WNOD_STATE_DIR``,
``WNOD_RUNTIME_DIR`` and ``WNOD_CACHE_DIR``) and its log (``daemon.log``), so that several can
run side by side as the hosts of one farm.
"""

import contextlib
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from ..daemon.client import DaemonClient
from ..daemon.run import socket_answers
from .processes import stop

WNOD = Path(sys.executable).parent / "wnod"
"""The console script of the environment running the tests."""


class DaemonProcess:
    """``wnod --config HOME/wnod.toml daemon``, with `config` as its config and `env` (e.g. the
    ``shared_fakes_env`` fixture's) under its own directories in `home`."""

    def __init__(self, home: Path, config: str, env: Mapping[str, str]):
        self.home = home
        home.mkdir(parents=True, exist_ok=True)
        self.config = home / "wnod.toml"
        self.config.write_text(config)
        self.environ = {**env, "WNOD_STATE_DIR": str(home / "state"), "WNOD_RUNTIME_DIR": str(home / "run"),
                        "WNOD_CACHE_DIR": str(home / "cache")}
        self.socket = home / "run" / "wnod.sock"
        self.log = home / "daemon.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, *args: str, timeout: float = 30) -> None:
        """Start it, and return once its socket answers (a killed daemon leaves its socket file behind)."""
        with open(self.log, "ab") as log:  # the child keeps its own descriptor
            self.process = subprocess.Popen([str(WNOD), "--config", str(self.config), "daemon", *args],
                                            env=self.environ, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        deadline = time.monotonic() + timeout
        while not socket_answers(self.socket):
            assert self.process.poll() is None, f"the daemon exited {self.process.returncode}:\n{self.read_log()}"
            assert time.monotonic() < deadline, f"the daemon did not answer in {timeout} s:\n{self.read_log()}"
            time.sleep(0.05)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it lingers; reaped either way. Nothing if it never started."""
        if self.process is not None:
            stop(self.process)

    def client(self, timeout: float = 30.0) -> DaemonClient:
        return DaemonClient(self.socket, timeout)

    def read_log(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@contextlib.contextmanager
def running(daemons: Sequence[DaemonProcess], timeout: float = 30) -> Iterator[list[DaemonProcess]]:
    """Start each of `daemons` in turn; at the end stop every one, by PID, whatever happened
    meanwhile (one that failed to start included)."""
    try:
        for daemon in daemons:
            daemon.start(timeout=timeout)
        yield list(daemons)
    finally:
        for daemon in daemons:
            daemon.stop()
