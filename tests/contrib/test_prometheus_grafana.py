"""contrib/prometheus and contrib/grafana: the alert rules pass promtool and fire when they should;
every metric the rules and the dashboard name is one the daemon serves (docs/metrics.md)."""

import json
import re
import shutil
import subprocess
from pathlib import Path

from wnod_core.testing.requirements import require

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "contrib" / "prometheus" / "wnod-alerts.yml"
DASHBOARD = ROOT / "contrib" / "grafana" / "wnod.json"
METRIC = re.compile(r"\bwnod_[a-z_]+")


def documented() -> set[str]:
    lines = (ROOT / "docs" / "metrics.md").read_text().splitlines()
    return {line.split("`")[1] for line in lines if line.startswith("| `wnod_")}


def served(name: str) -> str:
    """A series' name as docs/metrics.md lists it: a histogram's series by the histogram."""
    return re.sub(r"_(bucket|count|sum)$", "", name)


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    require("" if shutil.which("promtool") else "no promtool (Debian package prometheus)")
    return subprocess.run(["promtool", *args], capture_output=True, text=True, timeout=60, check=False,
                          cwd=RULES.parent)


def test_the_alert_rules_are_valid() -> None:
    done = promtool("check", "rules", RULES.name)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 6 rules found" in done.stdout


def test_the_alert_rules_fire_when_they_should_and_only_then() -> None:
    done = promtool("test", "rules", "wnod-alerts.test.yml")
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_broken_rule_is_caught_by_the_check(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(RULES.read_text().replace("wnod_stuck_jobs > 0", "wnod_stuck_jobs >"))
    done = promtool("check", "rules", str(broken))
    assert done.returncode != 0


def test_the_rules_and_the_dashboard_name_only_served_metrics() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    assert len(exprs) >= 10
    named = {served(m) for text in [RULES.read_text(), *exprs] for m in METRIC.findall(text)}
    assert named <= documented(), sorted(named - documented())
    assert {"wnod_vwns", "wnod_vwn_assignments_total", "wnod_vwn_boot_seconds"} <= named
