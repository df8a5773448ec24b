"""End to end: a site's wnod.toml and a trace, simulated by the real `wnod` console script."""

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

SITE = """\
[host]
name = "sim.farm.test"
vcpus = 4
memory = "16GiB"
max_vwns = 4

[vm_types.vo1]
image = "vo1.qcow2"
memory = "2GiB"
reuse = { max_reuses = 10, idle_ttl = "20m" }

[vm_types.grid]
image = "grid.qcow2"
memory = "2GiB"

[[resolvers]]
use = "by-group"
map = { group1 = "vo1" }

[[resolvers]]
use = "default"
vm_type = "grid"
"""

WNOD = Path(sys.executable).parent / "wnod"


def wnod(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "WNOD_LOAD_PLUGINS": "wnod-resolvers,wnod-simulate"}
    return subprocess.run([str(WNOD), *args], capture_output=True, text=True, timeout=120, check=False, env=env)


@pytest.fixture
def site(site_config: Callable[[str], Path]) -> Path:
    return site_config(SITE)


def simulate_json(site: Path, *args: str) -> dict:
    done = wnod("--config", str(site), "simulate", *args, "--json")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    return json.loads(done.stdout)


def test_the_sites_resolvers_type_the_jobs_and_every_policy_runs(site: Path, small_trace: Path) -> None:
    data = simulate_json(site, str(small_trace), "--hosts", "3")
    assert data["jobs"] == 40 and data["never_ran"] == 1
    assert data["host"] == {"vcpus": 4, "memory": 16 * 1024**3, "max_vwns": 4}
    assert [p["policy"] for p in data["policies"]] == ["wnod", "no-reuse", "static", "ideal"]
    wnod_run = data["policies"][0]
    # group1's jobs run in vo1 VWNs (by-group), every other in grid ones (default).
    assert set(wnod_run["wait_by_type"]) == {"vo1", "grid"}
    assert sum(w["jobs"] for w in wnod_run["wait_by_type"].values()) == 40
    assert wnod_run["boots"] + wnod_run["reuses"] == 40
    ideal = data["policies"][3]
    assert all(ideal["utilisation"] >= p["utilisation"] for p in data["policies"])
    assert data["policies"][2]["note"].startswith("hosts: ")


def test_policies_and_boot_times_are_chosen(site: Path, small_trace: Path) -> None:
    data = simulate_json(site, str(small_trace), "--hosts", "2", "--policy", "no-reuse", "--boot", "2m",
                         "--boot", "vo1=uniform:1m-3m")
    (only,) = data["policies"]
    assert only["policy"] == "no-reuse" and only["reuses"] == 0 and only["boots"] == 40
    assert data["boot"] == {"default": "2m", "by_type": {"vo1": "uniform:1m-3m"}}
    assert only["wait_by_type"]["grid"]["p50"] >= 120


def test_the_table_names_every_policy(site: Path, small_trace: Path) -> None:
    done = wnod("--config", str(site), "simulate", str(small_trace), "--hosts", "1")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"trace {small_trace}: 40 jobs replayed, 1 never ran")
    assert lines[2].split()[:3] == ["policy", "hosts", "utilisation"]
    assert [line.split()[0] for line in lines[3:7]] == ["wnod", "no-reuse", "static", "ideal"]
    assert "static: cannot run: needs at least one host per VM type with jobs (2)" in lines


def test_the_sweep_finds_the_fewest_hosts_under_the_bound(site: Path, small_trace: Path) -> None:
    data = simulate_json(site, str(small_trace), "--sweep", "--max-p95", "90s", "--policy", "wnod",
                         "--policy", "ideal", "--policy", "static")
    points = {p["policy"]: p for p in data["policies"]}
    assert data["max_p95"] == 90
    for point in points.values():
        assert point["hosts"] is not None and point["result"]["wait"]["p95"] <= 90
        assert point["result"]["hosts"] == point["hosts"]
    assert points["ideal"]["hosts"] <= points["wnod"]["hosts"]
    assert points["static"]["hosts"] >= 2
    # One host fewer breaks the bound (or cannot run): the sweep found the edge.
    for name, point in points.items():
        fewer = simulate_json(site, str(small_trace), "--hosts", str(max(1, point["hosts"] - 1)), "--policy", name)
        below = fewer["policies"][0]
        assert point["hosts"] == 1 or not below["ran"] or below["wait"]["p95"] > 90


def test_a_malformed_trace_is_one_line_naming_its_line(site: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.swf"
    bad.write_text("; header\n1 0 0 60 1\n")
    done = wnod("--config", str(site), "simulate", str(bad), "--hosts", "1")
    assert done.returncode == 1
    assert done.stderr == f"wnod: error: {bad}:2: expected 18 fields (SWF), got 5: '1 0 0 60 1'\n"


def test_an_unknown_type_in_a_boot_time_is_refused(site: Path, small_trace: Path) -> None:
    done = wnod("--config", str(site), "simulate", str(small_trace), "--hosts", "1", "--boot", "cms=30s")
    assert done.returncode == 2
    assert "no such VM type in the config: cms" in done.stderr


def test_the_plot_is_a_png(site: Path, small_trace: Path, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    png = tmp_path / "farm.png"
    done = wnod("--config", str(site), "simulate", str(small_trace), "--hosts", "2", "--plot", str(png))
    assert done.returncode == 0, done.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_check_asks_wnods_placement_beside_every_policy_that_places(site: Path, small_trace: Path) -> None:
    plain = simulate_json(site, str(small_trace), "--hosts", "3")
    checked = simulate_json(site, str(small_trace), "--hosts", "3", "--check")
    counts = {p["policy"]: p.pop("checked") for p in checked["policies"]}
    # Every job is at least one decision; ideal places by room alone, asking place() nothing.
    assert all(counts[name] >= 40 for name in ("wnod", "no-reuse", "static")) and counts["ideal"] is None
    assert [p.pop("checked") for p in plain["policies"]] == [None] * 4
    assert checked == plain  # checking changes nothing of the results

    done = wnod("--config", str(site), "simulate", str(small_trace), "--hosts", "3", "--policy", "wnod", "--check")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == (f"checked: every decision agreed with wnod's own place() and"
                                            f" worth_keeping() (decisions asked: wnod {counts['wnod']} at 3 hosts)")


def test_a_simulation_that_strays_from_the_engine_is_an_error_saying_where(
        site: Path, small_trace: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from wnod_core.cli.main import main
    from wnod_core.engine.placement import Full, Reuse, place

    from wnod_simulate import crosscheck

    def engine_that_never_reuses(*args, **kwargs):
        answer = place(*args, **kwargs)
        return Full("no reuse any more") if isinstance(answer, Reuse) else answer

    monkeypatch.setattr(crosscheck, "place", engine_that_never_reuses)
    monkeypatch.setenv("WNOD_LOAD_PLUGINS", "wnod-resolvers,wnod-simulate")
    with pytest.raises(SystemExit) as exited:
        main(["--config", str(site), "simulate", str(small_trace), "--hosts", "3", "--policy", "wnod", "--check"])
    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("wnod: error: the simulation decided otherwise than wnod's engine: job ")
    assert "place() answers ('full',), the simulation ('reuse'" in err
    assert err.endswith("That is a bug of wnod-simulate (its results would not predict the daemons'): please"
                        " report it, with this trace and config\n")
    # Without --check the same run goes through: nothing asks place().
    with pytest.raises(SystemExit) as exited:
        main(["--config", str(site), "simulate", str(small_trace), "--hosts", "3", "--policy", "wnod"])
    assert exited.value.code == 0
