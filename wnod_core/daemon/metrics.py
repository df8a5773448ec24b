"""The daemon's Prometheus metrics, served at ``GET /metrics`` (the read role).

Two kinds, in one registry of the daemon's own (never the process-wide default one):

- what the engine holds now, read at each scrape: VWNs by state, type and image version, jobs
  in flight by step, capacity used, the boot breaker, whether the host is drained;
- what happened since the daemon started, counted as it happens (a listener of the engine's
  broadcasts, and the observer of its plugin calls): steps jobs reached, how jobs ended, VWNs
  reused or made, boot and placement seconds, plugin calls and their failures.

Names and labels follow Prometheus's conventions (``wnod_`` prefix, ``_total`` counters,
``_seconds`` durations); docs/metrics.md lists them, and a test checks that list against
this registry.
"""

from collections import Counter
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Histogram, disable_created_metrics, generate_latest
from prometheus_client import Counter as PromCounter
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from .. import __version__, hookimpl
from ..engine.placement import size_of
from ..model.events import JobStep, JobStepped, VwnChanged
from ..model.flight import FINAL_STEPS
from ..model.vwn import VwnState

if TYPE_CHECKING:
    from ..engine import Engine

BOOT_BUCKETS = (5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 600)
"""Seconds from a VWN's record to its joining the batch system: tens of seconds for a real guest."""
PLACEMENT_BUCKETS = (0.1, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600)
"""Seconds from a job's bait to its being bound to a VWN: sub-second for a reuse, a boot otherwise."""
CALL_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
"""Seconds of one plugin call: milliseconds for a query, a minute for a slow create."""

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Metrics:
    """One daemon's metrics: its registry, the listener that counts, the engine's state read at scrape."""

    def __init__(self) -> None:
        disable_created_metrics()  # no *_created series: a restart shows in the counters' resets
        self.registry = CollectorRegistry(auto_describe=True)
        self.engine: "Engine | None" = None
        r = self.registry
        self.steps = PromCounter("wnod_job_steps", "Steps jobs reached on this host (bait outcomes among them).",
                                 ["step"], registry=r)
        self.ended = PromCounter("wnod_jobs_finished", "Jobs wnod is done with on this host, by how it ended.",
                                 ["outcome"], registry=r)
        self.assigned = PromCounter("wnod_vwn_assignments", "VWNs given to jobs: reused (an idle one) or new.",
                                    ["vm_type", "reused"], registry=r)
        self.boot = Histogram("wnod_vwn_boot_seconds", "Seconds from a new VWN's record to its joining the batch"
                              " system.", ["vm_type"], buckets=BOOT_BUCKETS, registry=r)
        self.placement = Histogram("wnod_placement_seconds", "Seconds from a job's bait to its being bound to its"
                                   " VWN.", ["vm_type", "reused"], buckets=PLACEMENT_BUCKETS, registry=r)
        self.calls = Histogram("wnod_plugin_call_seconds", "Seconds of the engine's calls into its plugins.",
                               ["plugin", "operation"], buckets=CALL_BUCKETS, registry=r)
        self.errors = PromCounter("wnod_plugin_call_errors", "The engine's calls into its plugins that failed or"
                                  " timed out.", ["plugin", "operation"], registry=r)
        r.register(_EngineState(self))

    def attach(self, engine: "Engine") -> None:
        """Read `engine`'s state at each scrape, and time its plugin calls."""
        self.engine = engine
        engine.parts.calls.observer = self.plugin_call

    def text(self) -> bytes:
        return generate_latest(self.registry)

    def plugin_call(self, plugin: str, operation: str, seconds: float, failed: bool) -> None:
        self.calls.labels(plugin, operation).observe(seconds)
        if failed:
            self.errors.labels(plugin, operation).inc()

    # -- the engine's broadcasts (a listener among the plugins) ---------------------------------

    @hookimpl
    def wnod_job_step(self, event: JobStepped) -> None:
        self.steps.labels(event.step.value).inc()
        if event.step in FINAL_STEPS:
            self.ended.labels(event.step.value).inc()
        reused = "true" if event.reused else "false"
        if event.step is JobStep.VWN_ASSIGNED and event.vm_type:
            self.assigned.labels(event.vm_type, reused).inc()
        if event.step is JobStep.MIGRATED:
            entered = next((at for name, at in event.times if name == JobStep.BAIT_ENTERED.value), None)
            if entered is not None:
                self.placement.labels(event.vm_type, reused).observe(max(0.0, event.at - entered))

    @hookimpl
    def wnod_vwn_changed(self, event: VwnChanged) -> None:
        vwn = event.vwn
        if vwn.state is VwnState.READY and event.previous is VwnState.BOOTING:
            self.boot.labels(vwn.vm_type).observe(max(0.0, event.at - vwn.created_at))


class _EngineState(Collector):
    """What the engine holds at the moment of the scrape."""

    def __init__(self, metrics: Metrics):
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        engine = self.metrics.engine
        info = GaugeMetricFamily("wnod_host_info", "This daemon: its host and wnod's version (always 1).",
                                 labels=["host", "version"])
        if engine is None:
            yield info
            return
        p = engine.parts
        info.add_metric([p.policy.host, __version__], 1)
        yield info
        vwns = GaugeMetricFamily("wnod_vwns", "VWNs of this host by state, VM type and image version.",
                                 labels=["state", "vm_type", "image_version"])
        alive = engine.vwns()
        for (state, vm_type, version), n in sorted(Counter((v.state.value, v.vm_type, v.image_version)
                                                           for v in alive).items()):
            vwns.add_metric([state, vm_type, version], n)
        yield vwns
        jobs = GaugeMetricFamily("wnod_jobs_in_flight", "Jobs this host's daemon places or follows, by step.",
                                 labels=["step"])
        for step, n in sorted(Counter(f.step.value for f in engine.jobs()).items()):
            jobs.add_metric([step], n)
        yield jobs
        sizes = [size_of(v, p.policy.vm_types) for v in alive]
        capacity = p.policy.capacity
        for name, used, total, what in (
            ("vcpus", sum(c for c, _ in sizes), capacity.vcpus, "vCPUs"),
            ("memory_bytes", sum(m for _, m in sizes), capacity.memory, "bytes of memory"),
            ("slots", len(alive), capacity.max_vwns, "VWN slots"),
        ):
            yield GaugeMetricFamily(f"wnod_{name}_used", f"The {what} this host's VWNs take.", value=used)
            yield GaugeMetricFamily(f"wnod_{name}_total", f"The {what} this host gives to VWNs.", value=total)
        yield GaugeMetricFamily("wnod_host_drained", "1 while the admin has drained this host.",
                                value=1 if engine.drained else 0)
        breaker = p.breaker.report()
        family = GaugeMetricFamily("wnod_boot_breaker_open", "1 while boots are held back after failing"
                                   " (scope: the host, or one VM type), with the breaker's state.",
                                   labels=["scope", "state"])
        family.add_metric(["host", str(breaker["host"])], 0 if breaker["host"] == "closed" else 1)
        for vm_type, state in dict(breaker.get("types", {})).items():  # type: ignore[call-overload]
            family.add_metric([f"vm_type:{vm_type}", str(state)], 1)
        yield family
        yield GaugeMetricFamily("wnod_quarantined_vwns", "Running VWNs this host has no record of (no new job until"
                                " settled).", value=len(p.quarantine))
        yield GaugeMetricFamily("wnod_stuck_jobs", "Jobs the batch system has not taken back for longer than"
                                " engine.bait_timeout.", value=sum(1 for f in engine.jobs() if f.stuck_since))
