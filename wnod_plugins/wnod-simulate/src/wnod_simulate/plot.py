"""The PNG of ``--plot``: utilisation and queue length over time, one line per policy."""

from collections.abc import Sequence
from pathlib import Path

from wnod_core.errors import WnodError

from .results import PolicyResult


def draw(results: Sequence[PolicyResult], path: Path, host_vcpus: int) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")  # a file, never a window: this runs on farm hosts without a display
        import matplotlib.pyplot as plt
    except ImportError:
        raise WnodError("--plot needs matplotlib: pip install 'wnod-simulate[plot]'") from None
    figure, (busy, queued) = plt.subplots(2, 1, sharex=True, figsize=(10, 6))
    for r in results:
        if not r.ran or r.timeline is None or not r.timeline.times:
            continue
        t = r.timeline
        start = t.times[0]
        hours = [(x - start) / 3600 for x in t.times]
        total = host_vcpus * r.hosts
        busy.step(hours, [b / total for b in t.busy_vcpus], where="post", label=r.policy, linewidth=0.8)
        queued.step(hours, t.queued, where="post", label=r.policy, linewidth=0.8)
    busy.set_ylabel("utilisation (busy vCPUs)")
    busy.set_ylim(0, 1.05)
    queued.set_ylabel("jobs waiting")
    queued.set_xlabel("hours from the first submission")
    busy.legend(loc="upper right")
    busy.set_title(f"{results[0].hosts} hosts" if results else "")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
