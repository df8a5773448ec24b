"""Fixtures of the wnod-site-toyq tests: the emulated toyq (``toyq`` beside this file) in a
temporary bin directory, the adapter wired to it, and the contract suite's driver.

Test modules use these as fixtures only: with ``--import-mode=importlib`` nothing here can be
imported. Nothing needs root: toyq's state is a SQLite file in the test's temporary directory.
"""

import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from wnod_core.kits.accounts import Account
from wnod_core.testing.contracts.batch import FakeBatchDriver, HookCall
from wnod_core.testing.fakes.shared import SharedFakeBatchSystem

from wnod_site_toyq.adapter import ToyqBatchSystem
from wnod_site_toyq.options import ToyqOptions

EMULATOR = Path(__file__).parent / "toyq"
BAIT = "bait-1.toyq.test"
ACCOUNTS = {"alice": Account(uid=20001, groups=("atlas", "users"))}
"""The account database the tests' adapter asks instead of this host's NSS."""


def accounts(user: str) -> Account:
    return ACCOUNTS.get(user, Account())


def install(bin_dir: Path, script: str) -> Path:
    """`script` as the command ``toyq`` in `bin_dir`, run by the tests' own Python."""
    bin_dir.mkdir(exist_ok=True)
    path = bin_dir / "toyq"
    path.write_text(script.replace("#!/usr/bin/env python3", f"#!{sys.executable}", 1))
    path.chmod(0o755)
    return path


@pytest.fixture
def toyq_state(shared_fakes_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where the emulated toyq keeps its state: passed to it as $TOYQ_STATE, as a real toyq's
    server would be; the adapter's commands see the daemon's environment."""
    monkeypatch.setenv("TOYQ_STATE", str(shared_fakes_dir))
    return shared_fakes_dir


@pytest.fixture
def toyq_bin(tmp_path: Path, toyq_state: Path) -> Path:
    install(tmp_path / "bin", EMULATOR.read_text())
    return tmp_path / "bin"


@pytest.fixture
def batch_system(toyq_bin: Path) -> ToyqBatchSystem:
    return ToyqBatchSystem(ToyqOptions(bin_dir=str(toyq_bin), timeout=20), accounts=accounts)


@pytest.fixture
def lying_toyq(tmp_path: Path) -> Callable[[str, int], ToyqBatchSystem]:
    """``lying_toyq(stdout, exit_code)``: the adapter over a toyq that prints `stdout` whatever it is asked."""

    def make(stdout: str, exit_code: int = 0) -> ToyqBatchSystem:
        (tmp_path / "said").write_text(stdout)
        install(tmp_path / "lying-bin", f"#!/bin/sh\ncat '{tmp_path / 'said'}'\nexit {exit_code}\n")
        return ToyqBatchSystem(ToyqOptions(bin_dir=str(tmp_path / "lying-bin"), timeout=20), accounts=accounts)

    return make


class ToyqDriver(FakeBatchDriver):
    """The contract suite's hands on toyq: its users and daemons, acting on their own instance of
    the fake behind it (submit, register_host, start, cancel), never through the adapter."""

    def vwn_hostnames(self) -> tuple[str, str]:
        return ("vwn-1.toyq.test", "vwn-2.toyq.test")

    def hook_call(self, job_id: str) -> HookCall:
        # toyq runs its start_hook, `wnod bait`, with no arguments and the job in the environment.
        environ = {"TOYQ_JOB_ID": job_id, "TOYQ_HOST": BAIT, "TOYQ_QUEUE": "short", "PATH": "/usr/bin:/bin"}
        return HookCall(environ=environ, argv=(), bait_host=BAIT)


@pytest.fixture
def batch_driver(toyq_state: Path) -> ToyqDriver:
    return ToyqDriver(SharedFakeBatchSystem(toyq_state))
