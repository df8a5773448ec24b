"""The systemd unit in contrib/ starts the daemon the way the code expects it."""

import configparser
from pathlib import Path

from wnod_core.daemon.run import EXIT_STARTUP_FAILED, SOCKET_NAME

UNIT = Path(__file__).resolve().parents[2] / "contrib" / "systemd" / "wnod.service"


def unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read_string(UNIT.read_text())
    return parser


def test_the_unit_runs_the_daemon_and_reloads_it_with_sighup() -> None:
    service = unit()["Service"]
    assert service["ExecStart"].split()[1:] == ["daemon"]
    assert "-HUP" in service["ExecReload"]


def test_the_unit_gives_wnod_the_directories_it_reads_from_systemd() -> None:
    service = unit()["Service"]
    # wnod reads $STATE_DIRECTORY, $CACHE_DIRECTORY and $RUNTIME_DIRECTORY (wnod_core/paths.py).
    assert (service["StateDirectory"], service["CacheDirectory"], service["RuntimeDirectory"]) == ("wnod",) * 3
    assert SOCKET_NAME in UNIT.read_text()


def test_a_start_up_failure_is_not_restarted_in_a_loop() -> None:
    assert unit()["Service"]["RestartPreventExitStatus"] == str(EXIT_STARTUP_FAILED)


def test_the_unit_leaves_room_for_every_connection_the_daemon_takes() -> None:
    from wnod_core.config.schema import DaemonSection
    from wnod_core.daemon.run import FILES_KEPT

    assert int(unit()["Service"]["LimitNOFILE"]) >= DaemonSection().max_connections + FILES_KEPT
