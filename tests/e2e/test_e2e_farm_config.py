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


def _host(tmp_path: Path, name: str = "farm", index: int = 0, slots: int = 3, alone: bool = True,
          ports: tuple[int, int, int] = (6818, 7000, 8470)):
    h = farm.Host(tmp_path, name, index, slots, alone)
    h.bait_port, h.vwn_port_base, h.api_port = ports
    return h


def test_the_guests_slurm_conf_has_no_prolog_and_one_port_per_slot(tmp_path: Path) -> None:
    text = farm.slurm_conf(tmp_path, 6817, [_host(tmp_path)])
    assert "Prolog=" not in text
    assert "SlurmctldParameters=enable_configless" in text
    for slot in range(1, farm.MAX_VWNS + 1):
        assert f"NodeName=farm-vwn{slot} NodeAddr=127.0.0.1 Port={7000 + slot} " in text
    assert "PartitionName=wnod Nodes=farm-vwn1,farm-vwn2,farm-vwn3 Hidden=YES" in text
    assert "PartitionName=batch Nodes=farm-bait Default=YES" in text
    assert f"NodeName=farm-bait NodeAddr=127.0.0.1 Port=6818 CPUs={farm.MAX_VWNS + 2} " in text


def test_the_baits_slurm_conf_runs_the_wnod_prolog(tmp_path: Path) -> None:
    text = farm.slurm_conf(tmp_path, 6817, [h := _host(tmp_path)], bait=h)
    assert f"Prolog={tmp_path / 'wnod-prolog'}" in text
    assert f"SlurmdSpoolDir={tmp_path / 'bait-spool'}" in text
    assert "SlurmdParameters=config_overrides" in text


def test_several_hosts_have_a_bait_each_on_its_own_address_taking_a_job_per_slot(tmp_path: Path) -> None:
    hosts = [_host(tmp_path, f"hv{n + 1}", n, 2, False, (6820 + n, 7000 + 10 * n, 8470 + n)) for n in range(3)]
    text = farm.slurm_conf(tmp_path, 6817, hosts)
    for n, h in enumerate(hosts):
        assert f"NodeName=hv{n + 1}-bait NodeAddr=127.0.0.{n + 2} Port={6820 + n} CPUs=2 " in text
        assert f"NodeName=hv{n + 1}-vwn2 NodeAddr=127.0.0.1 Port={7000 + 10 * n + 2} " in text
    assert "PartitionName=batch Nodes=hv1-bait,hv2-bait,hv3-bait Default=YES" in text
    bait = farm.slurm_conf(tmp_path, 6817, hosts, bait=hosts[1])
    assert f"Prolog={tmp_path / 'hv2' / 'wnod-prolog'}" in bait and "slurmd-hv2-bait.log" in bait
    config = farm.wnod_toml(hosts[1], tmp_path, tmp_path, "vmlinux", "initrd.gz", 6817, {}, tmp_path / "t")
    assert 'name = "hv2"' in config and 'baits = ["hv2-bait"]' in config and "max_vwns = 2" in config
    assert 'listen = "127.0.0.3:8471"' in config and f'read_token_file = "{tmp_path / "t"}"' in config
    assert f'uri = "qemu:///system?socket={tmp_path / "hv2"}/libvirt-sock"' in config


def test_the_site_config_is_valid_for_wnod(tmp_path: Path) -> None:
    images = tmp_path / "images"
    images.mkdir()
    users = {"wnod-alice": (2001, 2001), "wnod-bob": (2002, 2002), "wnod-eve": (2003, 2003)}
    text = farm.wnod_toml(_host(tmp_path), tmp_path, images, "vmlinux", "initrd.gz", 6817, users)
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
    row = {"job": label, "label": label, "user": user, "host": "farm", "closed": [], "vm_type": vm_type,
           "vwn": f"vwn-{user}",
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


def _farm_row(label: str, user: str, host: str, vwn: str, reused: bool, closed: tuple[str, ...] = ()) -> dict:
    return _row(label, user, host=host, vwn=vwn, reused=reused, closed=list(closed), ran_on=vwn.rsplit("-", 1)[0],
                output=f"hostname: {vwn.rsplit('-', 1)[0]}\n")


def _good_farm_run() -> list[dict]:
    # VWN ids as "<hostname>-<n>": ran_on (the VWN's host name) is what the id starts with.
    return [
        _farm_row("alice-1", "wnod-alice", "hv1", "hv1-vwn1-a", False),
        _farm_row("bob-1", "wnod-bob", "hv1", "hv1-vwn2-b", False),
        _farm_row("carol-1", "wnod-carol", "hv2", "hv2-vwn1-c", False),
        _farm_row("carol-2", "wnod-carol", "hv2", "hv2-vwn1-c", True, ("hv1",)),
        _farm_row("alice-2", "wnod-alice", "hv3", "hv3-vwn1-d", False, ("hv1",)),
        _farm_row("alice-3", "wnod-alice", "hv3", "hv3-vwn1-d", True, ("hv2",)),
        _farm_row("bob-3", "wnod-bob", "hv1", "hv1-vwn2-b", True, ("hv2",)),
    ]


def test_the_farm_verdict_on_a_run_that_went_as_told() -> None:
    assert farm.farm_verdict(_good_farm_run(), {"hv1": 2, "hv2": 2, "hv3": 2}) == []


@pytest.mark.parametrize(
    ("label", "change", "complaint"),
    [
        ("carol-2", {"host": "hv1", "vwn": "hv1-vwn1-x", "ran_on": "hv1-vwn1", "output": "hostname: hv1-vwn1\n"},
         "ran on hv1, whose bait was closed"),
        ("carol-2", {"reused": False, "vwn": "hv2-vwn2-y", "ran_on": "hv2-vwn2", "output": "hostname: hv2-vwn2\n"},
         "where wnod-carol's VWN hv2-vwn1-c was idle, but not reused"),
        ("bob-3", {"outcome": "requeued", "slurm_state": "PENDING"}, "expected ended / COMPLETED"),
        ("alice-1", {"vm_type": "debian-science"}, "expected debian-base"),
        ("alice-1", {"output": ""}, "output does not show its VWN"),
        ("carol-1", {"host": "hv1", "vwn": "hv1-vwn3-c", "ran_on": "hv1-vwn3", "output": "hostname: hv1-vwn3\n"},
         "round 1 ran on hv1 only"),
    ],
)
def test_the_farm_verdict_names_what_went_wrong(label: str, change: dict, complaint: str) -> None:
    rows = _good_farm_run()
    for row in rows:
        if row["label"] == label:
            row.update(change)
    problems = farm.farm_verdict(rows, {"hv1": 2, "hv2": 2, "hv3": 2})
    assert any(complaint in problem for problem in problems), problems


def test_a_host_running_more_vwns_than_its_slots_is_named() -> None:
    rows = _good_farm_run()
    rows.insert(2, _farm_row("dave-1", "wnod-dave", "hv1", "hv1-vwn3-e", False))
    assert any("3 VWNs on hv1, which has 2 slots" in p for p in farm.farm_verdict(rows, {"hv1": 2, "hv2": 2, "hv3": 2}))


MARKED = "image marker: made by the update VM\nmarker package: 1.0\n"
UNMARKED = "image marker: none\nmarker package: none\n"


def _good_images_run() -> tuple[list[dict], dict]:
    rows = [_row("alice-1", "wnod-alice", host="hv1", image_version="1", output=UNMARKED),
            _row("carol-1", "wnod-carol", host="hv1", image_version="2", output=MARKED),
            _row("alice-2", "wnod-alice", host="hv2", image_version="1", output=UNMARKED),
            _row("carol-2", "wnod-carol", host="hv1", image_version="1", output=UNMARKED)]
    refused = "refused (HTTP 409): ... does not match its manifest (sha256 ...)"
    checks = {
        "update": "debian-base@2", "before_rollback": {"hv1": 2, "hv2": 1}, "at_the_end": {"hv1": 1, "hv2": 1},
        "rollback": "HOST  BEFORE  AFTER  PRUNED  NOTE\nhv1  debian-base@2  debian-base@1  -\n"
                    "hv2  debian-base@1  debian-base@1  -  debian-base@2 is not current here: left as it is\n",
        "tampered": f"HOST  BEFORE  AFTER  PRUNED  NOTE\nhv1  -  -  -  {refused}\nhv2  -  -  -  {refused}\n",
    }
    return rows, checks


def test_the_images_verdict_on_a_run_that_went_as_told() -> None:
    assert farm.images_verdict(*_good_images_run()) == []


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        (("alice-1", {"image_version": "2", "output": MARKED}), "expected hv1 under debian-base@1"),
        (("carol-1", {"output": UNMARKED}), "lacks the update's marker"),
        (("alice-2", {"output": MARKED}), "shows the update's marker"),
        (("alice-2", {"host": "hv1"}), "expected hv2"),
        (("carol-2", {"image_version": "2", "output": MARKED}), "expected hv1 under debian-base@1"),
        (("tampered", "HOST ...\nhv1  debian-base@1  debian-base@3  -\nhv2  -  -  -  refused (HTTP 409): sha256\n"),
         "was not refused on hv1"),
        (("at_the_end", {"hv1": 3, "hv2": 1}), "expected @1 on both hosts"),
        (("rollback", "HOST ...\nhv1  debian-base@2  debian-base@1  -\nhv2  debian-base@1  debian-base@0  -\n"),
         "did not go back on hv1 and leave hv2"),
    ],
)
def test_the_images_verdict_names_what_went_wrong(change: tuple, complaint: str) -> None:
    rows, checks = _good_images_run()
    key, value = change
    if key in checks:
        checks[key] = value
    else:
        next(r for r in rows if r["label"] == key).update(value)
    problems = farm.images_verdict(rows, checks)
    assert any(complaint in p for p in problems), problems
