"""Every way `wnod daemon` cannot start exits 3 with one clear line, never 1, never a traceback.

systemd's unit says ``RestartPreventExitStatus=3``: a daemon that exits 1 on a wrong config is
restarted every few seconds for ever. Real processes, run as the unit runs them, with the
shared fakes as batch system and hypervisor.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from wnod_core.daemon.run import socket_answers
from wnod_core.testing.fakes.shared_plugin import shared_fakes_config
from wnod_core.testing.processes import stop
from wnod_core.testing.requirements import missing_module, require

WNOD = Path(sys.executable).parent / "wnod"
EXIT_STARTUP_FAILED = 3

CONFIG = """
[host]
name = "hv01.farm.test"
max_vwns = 2
{daemon}
[engine]
poll_interval = "50ms"

{shared_fakes}

[vm_types.el9]
image = "el9.img"

[[resolvers]]
use = "default"
vm_type = "el9"
"""


class Daemons:
    """Starts `wnod daemon` with a config made from CONFIG; stops whatever it started, by PID."""

    def __init__(self, tmp: Path, fakes_dir: Path, env: dict[str, str]):
        self.tmp, self.fakes_dir = tmp, fakes_dir
        self.env = {**env, "WNOD_STATE_DIR": str(tmp / "state"), "WNOD_RUNTIME_DIR": str(tmp / "run"),
                    "WNOD_CACHE_DIR": str(tmp / "cache")}
        self.started: list[subprocess.Popen[str]] = []

    def config(self, daemon: str = "", text: str | None = None) -> Path:
        path = self.tmp / "wnod.toml"
        if text is None:
            text = CONFIG.format(shared_fakes=shared_fakes_config(self.fakes_dir),
                                 daemon=f"\n[daemon]\n{daemon}\n" if daemon else "")
        path.write_text(text) if isinstance(text, str) else path.write_bytes(text)
        return path

    def start(self, config: Path, *args: str) -> "subprocess.Popen[str]":
        process = subprocess.Popen([str(WNOD), "--config", str(config), "daemon", *args], env=self.env,
                                   stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   text=True)
        self.started.append(process)
        return process

    def fails(self, config: Path, *args: str) -> str:
        """Start a daemon that must not start: its exit code is 3; returns what it said."""
        process = self.start(config, *args)
        try:
            out, _ = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            out, _ = process.communicate()
            pytest.fail(f"the daemon started, or hung, instead of refusing:\n{out}")
        assert process.returncode == EXIT_STARTUP_FAILED, f"exit {process.returncode}:\n{out}"
        assert "Traceback" not in out, out
        return out

    def serving(self, config: Path, socket_file: Path | None = None) -> "subprocess.Popen[str]":
        process = self.start(config)
        socket_file = socket_file or self.tmp / "run" / "wnod.sock"
        deadline = time.monotonic() + 30
        while not socket_answers(socket_file):
            assert process.poll() is None, process.communicate()[0]
            assert time.monotonic() < deadline, "the daemon did not come up"
            time.sleep(0.05)
        return process

    def stop_all(self) -> None:
        for process in self.started:
            stop(process)


@pytest.fixture
def daemons(tmp_path: Path, shared_fakes_dir: Path, shared_fakes_env: dict[str, str]) -> Iterator[Daemons]:
    require(missing_module("wnod_resolvers", "wnod-resolvers"))
    d = Daemons(tmp_path, shared_fakes_dir, shared_fakes_env)
    yield d
    d.stop_all()


# -- the configuration ------------------------------------------------------------------------------


def _without(config: str, section: str) -> str:
    """`config` without the table `section` and its sub-tables."""
    name = section.strip("[]")
    kept, skipping = [], False
    for line in config.splitlines(keepends=True):
        if line.startswith("["):
            skipping = line.strip("[]\n").split(".")[0] == name
        if not skipping:
            kept.append(line)
    return "".join(kept)


@pytest.mark.parametrize(
    ("make", "said"),
    [
        (lambda c: c.replace("[vm_types.el9]", "[vm_types.el9"), "not valid TOML"),
        (lambda c: c.replace('image = "el9.img"', 'image = "el9.img"\nimgae = "x"'), "vm_types.el9.imgae"),
        (lambda c: _without(c, "[batch]"), "batch.system"),
        (lambda c: _without(c, "[hypervisor]"), "hypervisor.backend"),
        (lambda c: c.replace('poll_interval = "50ms"', "poll_interval = nan"), "engine.poll_interval"),
        (lambda c: c.replace('system = "shared-fake"', 'system = "no-such-system"'), "batch.system"),
    ],
    ids=["bad TOML", "unknown key", "no [batch]", "no [hypervisor]", "nan duration", "unknown plugin"],
)
def test_a_wrong_configuration_exits_3(daemons: Daemons, make: Callable[[str], str], said: str) -> None:
    text = make(CONFIG.format(shared_fakes=shared_fakes_config(daemons.fakes_dir), daemon=""))
    out = daemons.fails(daemons.config(text=text))
    assert said in out


def test_a_config_file_that_is_not_utf8_exits_3_naming_it(daemons: Daemons) -> None:
    text = CONFIG.format(shared_fakes=shared_fakes_config(daemons.fakes_dir), daemon="").encode() + b'\n# caf\xe9\n'
    config = daemons.config(text=text)  # type: ignore[arg-type]
    out = daemons.fails(config)
    assert str(config) in out and "UTF-8" in out


# -- the token file ---------------------------------------------------------------------------------


def _token(daemons: Daemons, content: bytes | None = b"s3cret-token-of-enough-length\n", mode: int = 0o600,
           directory: bool = False) -> Path:
    path = daemons.tmp / "token"
    if directory:
        path.mkdir()
    elif content is not None:
        path.write_bytes(content)
        path.chmod(mode)
    return path


@pytest.mark.parametrize(
    ("kind", "said"),
    [
        ("missing", "cannot read"),
        ("readable by others", "may be read by others"),
        ("a directory", "is a directory"),
        ("not UTF-8", "not UTF-8 text"),
        ("short", "shorter than 16 characters"),
    ],
)
def test_a_bad_token_file_exits_3_saying_what_is_wrong(daemons: Daemons, kind: str, said: str) -> None:
    token = {
        "missing": lambda: _token(daemons, None),
        "readable by others": lambda: _token(daemons, mode=0o644),
        "a directory": lambda: _token(daemons, directory=True),
        "not UTF-8": lambda: _token(daemons, b"\xff\xfe token of enough length\n"),
        "short": lambda: _token(daemons, b"short\n"),
    }[kind]()
    port = _free_port()
    out = daemons.fails(daemons.config(f'listen = "127.0.0.1:{port}"\ntoken_file = "{token}"'))
    assert "daemon.token_file" in out and said in out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_listen_address_in_use_exits_3(daemons: Daemons) -> None:
    token = _token(daemons)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = daemons.fails(daemons.config(f'listen = "127.0.0.1:{port}"\ntoken_file = "{token}"'))
    assert "daemon.listen" in out


def test_an_unknown_socket_group_exits_3(daemons: Daemons) -> None:
    out = daemons.fails(daemons.config('socket_group = "no-such-group-here"'))
    assert "daemon.socket_group" in out and "no-such-group-here" in out


# -- the socket -------------------------------------------------------------------------------------


def test_a_socket_path_too_long_for_unix_sockets_exits_3_saying_so(daemons: Daemons) -> None:
    deep = daemons.tmp / ("d" * 60) / ("e" * 60)
    out = daemons.fails(daemons.config(f'socket = "{deep}/wnod.sock"'))
    assert "too long" in out and "None" not in out


@pytest.mark.parametrize("kind", ["regular file", "symlink", "directory"])
def test_a_socket_path_naming_something_else_is_refused_and_left_alone(daemons: Daemons, kind: str) -> None:
    path = daemons.tmp / "there"
    victim = daemons.tmp / "precious"
    victim.write_text("keep me\n")
    if kind == "regular file":
        path.write_text("keep me too\n")
    elif kind == "symlink":
        path.symlink_to(victim)
    else:
        path.mkdir()
    out = daemons.fails(daemons.config(f'socket = "{path}"'))
    assert "daemon.socket" in out and "not a socket" in out
    assert victim.read_text() == "keep me\n"
    assert path.is_symlink() if kind == "symlink" else path.exists()
    if kind == "regular file":
        assert path.read_text() == "keep me too\n"


def test_the_stale_socket_of_a_killed_daemon_is_replaced(daemons: Daemons) -> None:
    config = daemons.config()
    first = daemons.serving(config)
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    assert (daemons.tmp / "run" / "wnod.sock").exists(), "a killed daemon leaves its socket"
    second = daemons.serving(config)
    assert second.poll() is None


# -- one daemon per state directory -----------------------------------------------------------------


def test_a_second_daemon_on_the_same_records_exits_3_naming_the_first(daemons: Daemons) -> None:
    config = daemons.config()
    first = daemons.serving(config)
    # Its own socket elsewhere: the state directory alone must keep it out.
    other = daemons.tmp / "other.sock"
    second_config = daemons.tmp / "second.toml"
    second_config.write_text(config.read_text().replace("[engine]", f'[daemon]\nsocket = "{other}"\n\n[engine]'))
    out = daemons.fails(second_config)
    assert f"PID {first.pid}" in out and "state" in out
    assert not other.exists()
    assert socket_answers(daemons.tmp / "run" / "wnod.sock"), "the first daemon's socket was touched"
    assert first.poll() is None


def test_a_second_daemon_on_the_same_socket_never_replaces_it(daemons: Daemons, tmp_path: Path) -> None:
    config = daemons.config()
    first = daemons.serving(config)
    second_env = {**daemons.env, "WNOD_STATE_DIR": str(tmp_path / "state-2")}
    process = subprocess.run([str(WNOD), "--config", str(config), "daemon"], env=second_env, capture_output=True,
                             text=True, timeout=60, stdin=subprocess.DEVNULL, check=False)
    assert process.returncode == EXIT_STARTUP_FAILED, process.stdout + process.stderr
    assert "already listens" in process.stdout + process.stderr
    assert socket_answers(daemons.tmp / "run" / "wnod.sock") and first.poll() is None


def test_the_daemon_says_it_started_and_stops_with_0(daemons: Daemons) -> None:
    process = daemons.serving(daemons.config())
    process.send_signal(signal.SIGTERM)
    out, _ = process.communicate(timeout=30)
    assert process.returncode == 0, out
    assert not (daemons.tmp / "run" / "wnod.sock").exists()
    assert os.path.isdir(daemons.tmp / "state")
