"""Reading OpenPBS / PBS Professional JSON: ``qstat -f -F json`` and ``pbsnodes -F json``.

Shapes from OpenPBS's qstat(1B) and pbsnodes(8B) and the code that prints them
(src/cmds/qstat.c, src/cmds/pbsnodes.c): a root object with ``timestamp``, ``pbs_version``,
``pbs_server`` and ``Jobs`` (or ``nodes``) keyed by job id (or vnode name). Resource lists
are nested objects whose numeric values are JSON numbers. A vnode ``pbsnodes -v NAME``
cannot find comes back in ``nodes``, exit status 0, as ``{NAME: {"Error": <message>}}`` up to
OpenPBS 23.06 (add_json_node) and ``{NAME: {NAME: <message>}}`` after it (cJSON).
"""

import json
from collections.abc import Mapping

from wnod_core.errors import Garbled

from .formats import node_state_words
from .records import JobRecord, NodeRecord


def _root(text: str, what: str) -> dict:
    try:
        root = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise Garbled(f"not JSON ({exc})") from None
    if not isinstance(root, dict) or "pbs_server" not in root:
        raise Garbled(f"not {what}'s JSON: no pbs_server at its root")
    return root


def jobs(text: str) -> dict[str, JobRecord]:
    """Every job of ``qstat -f -F json`` output, by id; none when it has no ``Jobs`` (an unknown id)."""
    root = _root(text, "qstat")
    found = root.get("Jobs", {})
    if not isinstance(found, Mapping):
        raise Garbled(f"Jobs should be an object, got {found!r}")
    return {str(job_id): JobRecord.from_attributes(str(job_id), attrs) for job_id, attrs in found.items()}


def nodes(text: str) -> tuple[list[NodeRecord], set[str]]:
    """The vnodes of ``pbsnodes [-a] -v ... -F json``, and the names it says it does not know."""
    root = _root(text, "pbsnodes")
    found = root.get("nodes", {})
    if not isinstance(found, Mapping):
        raise Garbled(f"nodes should be an object, got {found!r}")
    records: list[NodeRecord] = []
    unknown: set[str] = set()
    for name, node in found.items():
        if not isinstance(node, Mapping):
            raise Garbled(f"node {name} should be an object, got {node!r}")
        if "state" not in node:
            if set(node) in ({name}, {"Error"}):  # the error entry of a name the server does not know
                unknown.add(str(name))
                continue
            raise Garbled(f"node {name} has no state")
        node_state_words(node["state"])
        jobs_ = node.get("jobs", [])
        if not isinstance(jobs_, list) or not all(isinstance(j, str) for j in jobs_):
            raise Garbled(f"node {name}: jobs should be a list of ids, got {jobs_!r}")
        changed = node.get("last_state_change_time")
        if changed is not None and (isinstance(changed, bool) or not isinstance(changed, int | float)):
            raise Garbled(f"node {name}: last_state_change_time should be a number, got {changed!r}")
        records.append(NodeRecord(
            name=str(name), state=str(node["state"]), comment=str(node.get("comment", "")), jobs=tuple(jobs_),
            since=None if changed is None else float(changed),
        ))
    return records, unknown
