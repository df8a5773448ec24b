"""contrib/e2e/farm, quick: the files it writes, its verdict on a run, its refusal to run
without root or tools. The farm itself runs in tests/e2e/test_e2e_farm.py (slow)."""

import importlib.machinery
import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

FARM = Path(__file__).resolve().parents[2] / "contrib" / "e2e" / "farm"


def _load() -> ModuleType:
    loader = importlib.machinery.SourceFileLoader("wnod_e2e_farm", str(FARM))
    spec = importlib.util.spec_from_loader("wnod_e2e_farm", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


farm = _load()


def test_the_guests_slurm_conf_has_no_prolog_and_one_port_per_slot(tmp_path: Path) -> None:
    text = farm.slurm_conf(tmp_path, 6817, 6818, 7000, bait=False)
    assert "Prolog=" not in text
    assert "SlurmctldParameters=enable_configless" in text
    for slot in range(1, farm.MAX_VWNS + 1):
        assert f"NodeName=farm-vwn{slot} NodeAddr=127.0.0.1 Port={7000 + slot} " in text
    assert "PartitionName=wnod Nodes=farm-vwn1,farm-vwn2,farm-vwn3 Hidden=YES" in text
    assert "PartitionName=batch Nodes=farm-bait Default=YES" in text


def test_the_baits_slurm_conf_runs_the_wnod_prolog(tmp_path: Path) -> None:
    text = farm.slurm_conf(tmp_path, 6817, 6818, 7000, bait=True)
    assert f"Prolog={tmp_path / 'wnod-prolog'}" in text
    assert f"SlurmdSpoolDir={tmp_path / 'bait-spool'}" in text
    assert "SlurmdParameters=config_overrides" in text


def test_the_site_config_is_valid_for_wnod(tmp_path: Path) -> None:
    images = tmp_path / "images"
    images.mkdir()
    users = {"wnod-alice": (2001, 2001), "wnod-bob": (2002, 2002), "wnod-eve": (2003, 2003)}
    text = farm.wnod_toml(tmp_path, "qemu:///system?socket=/x", images, "vmlinux", "initrd.gz", 6817, 7000, users)
    assert "wnod.users=wnod-alice:2001:2001,wnod-bob:2002:2002,wnod-eve:2003:2003" in text
    assert "user_network_forward_port_base = 7000" in text
    config = tmp_path / "wnod.toml"
    config.write_text(text)
    wnod = Path(sys.executable).parent / "wnod"
    done = subprocess.run([str(wnod), "--config", str(config), "config", "check"], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    resolved = subprocess.run([str(wnod), "--config", str(config), "resolve", "--user", "wnod-bob"],
                              capture_output=True, text=True, check=False)
    assert "debian-science" in resolved.stdout, resolved.stdout + resolved.stderr
    refused = subprocess.run([str(wnod), "--config", str(config), "resolve", "--user", "wnod-eve"],
                             capture_output=True, text=True, check=False)
    assert refused.returncode == 3, refused.stdout + refused.stderr


def _row(label: str, user: str, **changes: object) -> dict:
    vm_type = farm.USERS.get(user)
    row = {"job": label, "label": label, "user": user, "vm_type": vm_type, "vwn": f"vwn-{user}",
           "reused": label.endswith("-2"), "outcome": "ended", "detail": "", "slurm_state": "COMPLETED",
           "slurm_reason": "", "ran_on": f"node-{user}", "cancelled": False,
           "seconds": {"run": 1.0}, "output": f"hostname: node-{user}\n"}
    row.update(changes)
    return row


LEFT = "found left behind: wnod-alice wnod-left-by-wnod-alice 3600\n"


def _good_run() -> list[dict]:
    return [
        _row("alice-1", "wnod-alice", output="hostname: node-wnod-alice\nfound left behind: nothing\n"
             "left behind: a daemonized process, running\n"),
        _row("bob-1", "wnod-bob"),
        _row("eve-1", "wnod-eve", vm_type=None, vwn=None, reused=None, outcome="refused", slurm_state="CANCELLED"),
        _row("alice-2", "wnod-alice", output="hostname: node-wnod-alice\nfound left behind: nothing\n"),
        _row("bob-2", "wnod-bob"),
        _row("carol-1", "wnod-carol", output="hostname: node-wnod-carol\nfound left behind: nothing\n"),
        _row("alice-3", "wnod-alice", reused=True),
        _row("alice-4", "wnod-alice", cancelled=True, slurm_state="CANCELLED", seconds={"run": None}),
    ]


def test_the_verdict_on_a_run_that_went_as_told() -> None:
    assert farm.Farm.verdict(None, _good_run()) == []


@pytest.mark.parametrize(
    ("label", "change", "complaint"),
    [
        ("alice-2", {"reused": False, "vwn": "another"}, "not reused"),
        ("bob-1", {"outcome": "failed", "slurm_state": "CANCELLED"}, "expected ended / COMPLETED"),
        ("eve-1", {"outcome": "ended", "vm_type": "debian-base"}, "expected refused"),
        ("alice-1", {"output": ""}, "output does not show its VWN"),
        ("alice-4", {"cancelled": False}, "nothing was cancelled"),
        ("carol-1", {"vwn": "vwn-wnod-alice"}, "was given alice's VWN"),
        ("carol-1", {"output": "hostname: node-wnod-carol\n" + LEFT}, "found a process another user's job left"),
        ("alice-2", {"output": "hostname: node-wnod-alice\n" + LEFT}, "found what her first left"),
        ("alice-1", {"output": "hostname: node-wnod-alice\n"}, "did not leave its process behind"),
    ],
)
def test_the_verdict_names_what_went_wrong(label: str, change: dict, complaint: str) -> None:
    rows = _good_run()
    for row in rows:
        if row["label"] == label:
            row.update(change)
    assert any(complaint in problem for problem in farm.Farm.verdict(None, rows)), farm.Farm.verdict(None, rows)


def test_it_says_what_it_needs_without_root(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    # As an ordinary user whoever runs the suite: the farm must refuse before it touches anything.
    monkeypatch.setattr(farm.os, "geteuid", lambda: 1000)
    monkeypatch.setattr(farm, "Farm", None)  # it must not get as far as making one
    assert farm.main([]) == 2
    assert "run it as root" in capsys.readouterr().out


def test_help() -> None:
    done = subprocess.run([sys.executable, str(FARM), "--help"], capture_output=True, text=True, check=False)
    assert done.returncode == 0 and "--json-summary" in done.stdout
