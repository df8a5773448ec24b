"""A real Prometheus (Debian's) on loopback scrapes the three daemons of the farm with the read
token, as a site's would, and a PromQL query over its answers sees the farm's VWNs by state and
type; the daemon stopped meanwhile shows as down."""

import json
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from wnod_core.testing.requirements import require

from .hosts import HOSTS, Farm, free_port

pytestmark = pytest.mark.slow


class Prometheus:
    """`prometheus` on 127.0.0.1 with its own data directory; stopped by PID after the test."""

    def __init__(self, tmp: Path, farm: Farm):
        require("" if shutil.which("prometheus") else "no prometheus (Debian package prometheus)")
        self.port = free_port("127.0.0.1")
        config = tmp / "prometheus.yml"
        targets = ", ".join(f'"{farm.addresses[name]}"' for name in HOSTS)
        config.write_text(
            "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
            "scrape_configs:\n"
            "  - job_name: wnod\n"
            f"    authorization: {{credentials_file: {farm.token}}}\n"
            f"    static_configs: [{{targets: [{targets}]}}]\n"
        )
        self.log = open(tmp / "prometheus.log", "ab")  # noqa: SIM115 - the child's for its life
        self.process = subprocess.Popen(
            ["prometheus", f"--config.file={config}", f"--storage.tsdb.path={tmp / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--web.enable-lifecycle"],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log)
        self.tmp = tmp

    def query(self, promql: str) -> list[dict]:
        url = f"http://127.0.0.1:{self.port}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
        with urllib.request.urlopen(url, timeout=5) as answer:  # noqa: S310 - loopback, our own
            body = json.load(answer)
        assert body["status"] == "success", body
        return body["data"]["result"]

    def until(self, promql: str, check, what: str, timeout: float = 60):  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                last = self.query(promql)
                if check(last):
                    return last
            except OSError:
                pass  # not serving yet
            time.sleep(0.5)
        log = (self.tmp / "prometheus.log").read_text(errors="replace")[-2000:]
        pytest.fail(f"{what}: {promql} gave {last}\n{log}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.log.close()


@pytest.fixture
def prometheus(tmp_path: Path, farm: Farm) -> Iterator[Prometheus]:
    p = Prometheus(tmp_path, farm)
    try:
        yield p
    finally:
        p.stop()


def by_labels(result: list[dict], *labels: str) -> dict[tuple[str, ...], float]:
    return {tuple(r["metric"].get(label, "") for label in labels): float(r["value"][1]) for r in result}


def test_prometheus_sees_the_farms_vwns_by_state_and_type(farm: Farm, prometheus: Prometheus) -> None:
    for name in ("hv01", "hv02"):
        job = farm.batch.submit("alice", queue="batch").job_id
        assert "migrated" in farm.bait(name, job).stderr
    up = prometheus.until('up{job="wnod"}', lambda r: len(r) == 3 and all(x["value"][1] == "1" for x in r),
                          "the three daemons were never all scraped")
    assert {r["metric"]["instance"] for r in up} == set(farm.addresses.values())
    result = prometheus.until("sum by (state, vm_type) (wnod_vwns)", lambda r: bool(r), "no VWN seen")
    assert by_labels(result, "state", "vm_type") == {("ready", "el9"): 2.0}
    hosts = prometheus.until("wnod_host_info", lambda r: len(r) == 3, "not every host's info")
    assert sorted(r["metric"]["host"] for r in hosts) == [f"{n}.farm.test" for n in HOSTS]
    assigned = prometheus.query('sum(wnod_vwn_assignments_total{reused="false"})')
    assert float(assigned[0]["value"][1]) == 2.0

    farm.stop("hv03")
    down = prometheus.until('up{job="wnod"} == 0', lambda r: len(r) == 1, "the stopped daemon never showed down")
    assert down[0]["metric"]["instance"] == farm.addresses["hv03"]
