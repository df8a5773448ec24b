"""LSF's commands as the emulator runs them: what each prints, on which stream, with which exit code.

Sources of the formats (IBM Spectrum LSF 10.1 documentation unless said otherwise):

- ``bjobs -o "..." -json`` / ``bhosts -o "..." -json``: an object ``{"COMMAND": ..., "JOBS"|"HOSTS":
  n, "RECORDS": [...]}``, two-space indent, no space after ``:``, every value a string, ``""``
  for none (bjobs -json; the customised-output pages). The record values follow real
  output quoted in public test fixtures: EXEC_HOST one name per slot joined by ``:``
  (``"tbi-cn019:tbi-cn019"``), RUNTIMELIMIT ``"00:10:00"``, sizes ``"5.2 Gbytes"``.
- An unknown job: a record holding only ``ERROR`` ("Job <N> is not found", LSF's wording),
  exit 255; clients of bjobs -json test for a record without STAT for this.
- An unknown host: ``bhosts``/``badmin`` print "<name>: Bad host name, host group name or
  cluster name" on stderr, exit 255.
- Action commands: "Job <N> is being stopped" (bstop), "... resumed", "... terminated"
  (bkill), "... requeued", "Parameters of job <N> are being changed" (bmod), "Close <host>
  ...... done" / "Open <host> ...... done" (badmin). Refusals: "Job <N>: <why>" on stderr,
  exit 255; wnod does not read their wording, only the exit code and then bjobs.
"""

import json
import shlex
import sys
from collections.abc import Callable, Sequence
from typing import Any

from .cluster import DISPATCHED, UNFINISHED, Cluster, LsfError, _start, job_key

JOB_FIELDS: dict[str, Callable[[dict[str, Any]], str]] = {
    "jobid": lambda j: j["base"],
    "jobindex": lambda j: str(j["index"]),
    "stat": lambda j: j["stat"],
    "user": lambda j: j["user"],
    "queue": lambda j: j["queue"],
    "application": lambda j: j["app"],
    "exec_host": lambda j: ":".join(j["exec"]),
    "nreq_slot": lambda j: str(j["slots"]),
    "memlimit": lambda j: j["memlimit"],
    "runtimelimit": lambda j: j["runlimit"],
    "pend_reason": lambda j: j["pend_reason"] if j["stat"] in ("PEND", "PSUSP") else "",
}
ALIASES = {"id": "jobid", "app": "application"}
HOST_FIELDS = ("host_name", "status", "comments")


def main(name: str, argv: Sequence[str]) -> int:
    cluster = Cluster.from_environ()
    with cluster.state() as data:
        data["calls"].append([name, *argv])
        garbled = data["settings"]["garble"].get(name)
    if garbled is not None:
        sys.stdout.write(garbled)
        return 0
    try:
        out = COMMANDS[name](cluster, list(argv))
    except LsfError as exc:
        if str(exc):
            print(exc, file=sys.stderr)
        return 255
    if out:
        print(out)
    return 0


def _options(argv: list[str], flags: str, valued: str) -> tuple[dict[str, str], list[str]]:
    """LSF-style options: `flags` take no value, `valued` take one; the rest are operands."""
    opts: dict[str, str] = {}
    rest: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg.lstrip("-") in flags.split() and arg.startswith("-"):
            opts[arg.lstrip("-")] = ""
        elif arg.lstrip("-") in valued.split() and arg.startswith("-"):
            if i + 1 >= len(argv):
                raise LsfError(f"{arg}: option requires an argument")
            opts[arg.lstrip("-")] = argv[i + 1]
            i += 1
        elif arg.startswith("-"):
            raise LsfError(f"{arg}: illegal option")
        else:
            rest.append(arg)
        i += 1
    return opts, rest


def _dump(command: str, count_key: str, records: list[dict[str, str]]) -> str:
    return json.dumps({"COMMAND": command, count_key: len(records), "RECORDS": records},
                      indent=2, separators=(",", ":"))


def _spec_keys(data: dict[str, Any], spec: str) -> list[str]:
    if spec in data["jobs"]:
        return [spec]
    return sorted((k for k, j in data["jobs"].items() if j["base"] == spec and j["index"]), key=lambda k: data["jobs"][k]["index"])


def _seen(job: dict[str, Any], lag: int) -> dict[str, Any]:
    """The job as bjobs shows it: a requeued job still shows RUN for `lag` reads."""
    if job["lag"] > 0:
        job["lag"] -= 1
        if job["lag"] == 0:
            job.update(stat=job["after_lag"], exec=[], pend_reason="Job was requeued;")
            return job
        return {**job, "stat": "RUN"}
    return job


def bjobs(cluster: Cluster, argv: list[str]) -> str:
    opts, specs = _options(argv, "a json r p", "o u")
    fields = [ALIASES.get(f, f) for f in opts.get("o", "jobid stat user queue exec_host").split()]
    for field in fields:
        if field not in JOB_FIELDS:
            raise LsfError(f"{field}: Illegal field name")
    with cluster.state() as data:
        records = []
        if specs:
            for spec in specs:
                keys = _spec_keys(data, spec)
                if not keys:
                    records.append({"ERROR": f"Job <{spec}> is not found"})
                for key in keys:
                    job = _seen(data["jobs"][key], data["settings"]["requeue_lag"])
                    records.append({f.upper(): JOB_FIELDS[f](job) for f in fields})
        else:
            for key in sorted(data["jobs"]):
                job = _seen(data["jobs"][key], data["settings"]["requeue_lag"])
                if job["stat"] in UNFINISHED:
                    records.append({f.upper(): JOB_FIELDS[f](job) for f in fields})
            if not records:
                raise LsfError("No unfinished job found")
    if "json" not in opts:
        raise LsfError("the emulator prints only -json output")
    text = _dump("bjobs", "JOBS", records)
    if any("ERROR" in r for r in records):
        print(text)
        raise LsfError("")
    return text


def bhosts(cluster: Cluster, argv: list[str]) -> str:
    opts, names = _options(argv, "json w", "o")
    fields = opts.get("o", "host_name status").split()
    with cluster.state() as data:
        hosts = data["hosts"]
        for name in names:
            if name not in hosts:
                raise LsfError(f"{name}: Bad host name, host group name or cluster name")
        chosen = names or sorted(hosts)
        values = {"host_name": lambda n: n, "status": lambda n: hosts[n]["status"],
                  "comments": lambda n: hosts[n]["comment"]}
        records = [{f.upper(): values[f](n) for f in fields} for n in chosen]
    return _dump("bhosts", "HOSTS", records)


def badmin(cluster: Cluster, argv: list[str]) -> str:
    if not argv or argv[0] not in ("hclose", "hopen"):
        raise LsfError(f"badmin: emulated only for hclose and hopen, got {shlex.join(argv)}")
    opts, names = _options(argv[1:], "", "C")
    with cluster.state() as data:
        lines = []
        for name in names:
            host = data["hosts"].get(name)
            if host is None:
                raise LsfError(f"{name}: Bad host name, host group name or cluster name")
            if argv[0] == "hclose":
                host.update(closed=True, comment=opts.get("C", ""))
                if host["status"] == "ok":
                    host["status"] = "closed_Adm"
                lines.append(f"Close <{name}> ...... done")
            else:
                host.update(closed=False, comment="")
                if host["status"] == "closed_Adm":
                    host["status"] = "ok"
                lines.append(f"Open <{name}> ...... done")
    return "\n".join(lines)


def _one_job(data: dict[str, Any], specs: list[str]) -> dict[str, Any]:
    if len(specs) != 1:
        raise LsfError("the emulator takes one job id")
    keys = _spec_keys(data, specs[0])
    if keys != [specs[0]]:
        raise LsfError(f"Job <{specs[0]}>: No matching job found")
    return data["jobs"][specs[0]]


def bmod(cluster: Cluster, argv: list[str]) -> str:
    opts, specs = _options(argv, "mn", "m")
    with cluster.state() as data:
        job = _one_job(data, specs)
        key = job_key(job["base"], job["index"])
        if job["stat"] not in ("PEND", "PSUSP"):
            raise LsfError(f"Job <{key}>: Change job options for a {job['stat']} job is not allowed")
        if "mn" in opts:
            job["asked"] = []
        elif "m" in opts:
            hosts = opts["m"].split()
            unknown = [h for h in hosts if h not in data["hosts"]]
            if unknown:
                raise LsfError(f"{unknown[0]}: Bad host name, host group name or cluster name")
            job["asked"] = hosts
    return f"Parameters of job <{key}> are being changed"


def brequeue(cluster: Cluster, argv: list[str]) -> str:
    opts, specs = _options(argv, "r H d e a", "")
    with cluster.state() as data:
        job = _one_job(data, specs)
        key = job_key(job["base"], job["index"])
        if job["stat"] not in DISPATCHED or job["lag"]:
            raise LsfError(f"Job <{key}>: Job is not running")
        after = "PSUSP" if "H" in opts else "PEND"
        lag = data["settings"]["requeue_lag"]
        if lag:
            job.update(lag=lag, after_lag=after)
        else:
            job.update(stat=after, exec=[], pend_reason="Job was requeued;")
        job["preexec"] = ""
    return f"Job <{key}> is being requeued"


def bresume(cluster: Cluster, argv: list[str]) -> str:
    _, specs = _options(argv, "", "")
    with cluster.state() as data:
        job = _one_job(data, specs)
        key = job_key(job["base"], job["index"])
        if job["stat"] == "PSUSP":
            job.update(stat="PEND", pend_reason="Job was resumed;")
        elif job["stat"] in ("USUSP", "SSUSP"):
            job["stat"] = "RUN"
        else:
            raise LsfError(f"Job <{key}>: Job is not suspended")
    return f"Job <{key}> is being resumed"


def bstop(cluster: Cluster, argv: list[str]) -> str:
    _, specs = _options(argv, "", "C")  # -C: the reason goes to bhist -l, which is not emulated
    with cluster.state() as data:
        job = _one_job(data, specs)
        key = job_key(job["base"], job["index"])
        if job["stat"] == "PEND":
            job.update(stat="PSUSP", pend_reason="The job was suspended by LSF admin or root while pending;")
        elif job["stat"] == "RUN":
            job["stat"] = "USUSP"
        else:
            raise LsfError(f"Job <{key}>: Job has already been suspended" if "SUSP" in job["stat"]
                           else f"Job <{key}>: Job has already finished")
    return f"Job <{key}> is being stopped"


def bkill(cluster: Cluster, argv: list[str]) -> str:
    opts, specs = _options(argv, "", "C")
    with cluster.state() as data:
        job = _one_job(data, specs)
        key = job_key(job["base"], job["index"])
        if job["stat"] not in UNFINISHED:
            raise LsfError(f"Job <{key}>: Job has already finished")
        job.update(stat="EXIT", kill_reason=opts.get("C", ""), pend_reason="", lag=0, preexec="")
    return f"Job <{key}> is being terminated"


def brun(cluster: Cluster, argv: list[str]) -> str:
    opts, specs = _options(argv, "b c f", "m")
    if "m" not in opts:
        raise LsfError("brun: -m is required")
    with cluster.state() as data:
        job = _one_job(data, specs)
        key = job_key(job["base"], job["index"])
        hosts = opts["m"].split()
        for name in hosts:
            host = data["hosts"].get(name)
            if host is None:
                raise LsfError(f"{name}: Bad host name, host group name or cluster name")
            if host["status"] in ("unavail", "unreach"):
                raise LsfError(f"Job <{key}>: Specified host is not available: {name}")
        if job["stat"] != "PEND":
            raise LsfError(f"Job <{key}>: Job is not in PEND state")
        _start(job, [hosts[0]] * job["slots"])
    return f"Job <{key}> is being forced to run or pending"


COMMANDS: dict[str, Callable[[Cluster, list[str]], str]] = {
    "bjobs": bjobs, "bhosts": bhosts, "badmin": badmin, "bmod": bmod, "brequeue": brequeue,
    "bresume": bresume, "bstop": bstop, "bkill": bkill, "brun": brun,
}
