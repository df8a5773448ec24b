"""GET /metrics: the daemon's Prometheus metrics, read as Prometheus reads them (its own parser)."""

from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from wnod_core.daemon.client import DaemonClient, DaemonRefused
from wnod_core.daemon.run import socket_path
from wnod_core.site import Site
from wnod_core.testing.fakes import FakePlugin

from .test_daemon_api import Running, fakes, site  # noqa: F401 - the fixtures

DOCS = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(found: dict, name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_count_what_the_daemon_did_and_show_what_it_holds(site: Site, fakes: FakePlugin) -> None:
    client = DaemonClient(socket_path(site))
    with Running(site):
        jobs = []
        for _ in range(2):
            job = fakes.batch.submit("alice", queue="blue").job_id
            fakes.batch.dispatch_to_bait(job, "bait01")
            assert client.post("/v1/bait", {"job_id": job, "bait_host": "bait01"})["outcome"] == "migrated"
            jobs.append(job)
        refused = fakes.batch.submit("mallory", queue="red").job_id
        fakes.batch.dispatch_to_bait(refused, "bait01")
        assert client.post("/v1/bait", {"job_id": refused, "bait_host": "bait01"})["outcome"] == "refused"
        found = samples(client.text("/metrics"))
    assert value(found, "wnod_host_info", host="hv01.farm.test", version=__import__("wnod_core").__version__) == 1
    assert value(found, "wnod_vwns", state="ready", vm_type="blue", image_version="") == 2
    assert value(found, "wnod_jobs_in_flight", step="migrated") == 2
    assert value(found, "wnod_job_steps_total", step="migrated") == 2
    assert value(found, "wnod_job_steps_total", step="refused") == 1
    assert value(found, "wnod_jobs_finished_total", outcome="refused") == 1
    assert value(found, "wnod_vwn_assignments_total", vm_type="blue", reused="false") == 2
    assert value(found, "wnod_vwn_boot_seconds_count", vm_type="blue") == 2
    assert value(found, "wnod_placement_seconds_count", vm_type="blue", reused="false") == 2
    assert value(found, "wnod_slots_used") == 2 and value(found, "wnod_slots_total") == 2
    assert value(found, "wnod_boot_breaker_open", scope="host", state="closed") == 0
    assert value(found, "wnod_plugin_call_seconds_count", plugin="hypervisor", operation="create") == 2
    assert value(found, "wnod_plugin_call_seconds_count", plugin="resolvers", operation="resolve") == 3
    assert value(found, "wnod_plugin_call_errors_total", plugin="hypervisor", operation="create") == 0


def test_a_failing_plugin_call_is_counted_as_an_error(site: Site, fakes: FakePlugin) -> None:
    from wnod_core.errors import HypervisorError

    client = DaemonClient(socket_path(site))
    fakes.hypervisor.fail_next("create", HypervisorError("fake: no room on the pool"), times=None)
    with Running(site):
        job = fakes.batch.submit("alice", queue="blue").job_id
        fakes.batch.dispatch_to_bait(job, "bait01")
        assert client.post("/v1/bait", {"job_id": job, "bait_host": "bait01"})["outcome"] == "retry"
        found = samples(client.text("/metrics"))
    assert value(found, "wnod_plugin_call_errors_total", plugin="hypervisor", operation="create") >= 1
    assert value(found, "wnod_jobs_finished_total", outcome="requeued") == 1


def test_every_metric_is_in_the_docs_and_every_documented_one_exists(site: Site, fakes: FakePlugin) -> None:
    documented = {line.split("`")[1] for line in DOCS.read_text().splitlines() if line.startswith("| `wnod_")}
    with Running(site):
        text = DaemonClient(socket_path(site)).text("/metrics")
        families = {f.name + ("_total" if f.type == "counter" else "") for f in text_string_to_metric_families(text)}
    assert families == documented, (sorted(families - documented), sorted(documented - families))


def test_a_wrong_path_is_answered_as_json_not_as_metrics(site: Site) -> None:
    with Running(site):
        with pytest.raises(DaemonRefused, match="no route GET /metricz"):
            DaemonClient(socket_path(site)).text("/metricz")
