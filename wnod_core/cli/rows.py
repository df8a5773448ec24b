"""The columns of a VWN and of a job, as `wnod vms`, `wnod jobs` and their farm views show them."""

import time
from datetime import datetime
from typing import Any

from ..model import format_duration, format_size

VWN_COLUMNS = ["ID", "TYPE", "SIZE", "VERSION", "STATE", "HOSTNAME", "JOB", "AGE", "REUSES"]
JOB_COLUMNS = ["JOB", "USER", "TYPE", "STEP", "VWN", "SINCE", "DETAIL"]


def vwn_row(v: dict[str, Any], now: float | None = None) -> list[Any]:
    """One VWN of the API's ``/v1/vwns``."""
    age = format_duration(int((time.time() if now is None else now) - v["created_at"]))
    # An older daemon's answer has no size: "-", as for a VWN recorded before sizes were.
    size = f"{v['vcpus']}c/{format_size(v['memory'])}" if v.get("vcpus") else "-"
    return [v["id"], v["vm_type"], size, v.get("image_version") or "-", v["state"], v["hostname"],
            v["job_id"] or "-", age, v["reuse_count"]]


def job_row(j: dict[str, Any]) -> list[Any]:
    """One job of the API's ``/v1/jobs``."""
    stuck = bool(j.get("stuck_since"))
    return [j["job_id"], j["user"], j["vm_type"] or "-", j["step"] + (" STUCK" if stuck else ""),
            j["vwn_id"] or "-", datetime.fromtimestamp(j["updated_at"]).strftime("%H:%M:%S"),
            j["detail"] + (f" (the batch system: {j['stuck_why']})" if stuck else "")]
