#!/usr/bin/env python3
"""An emulator of PBS's command-line tools, for testing wnod's PBS adapter (a test tool,
never shipped). One script, installed under each command's name; it acts on the name it
is called by (argv[0]) and keeps the batch system's state in ``state.json`` beside itself,
under an flock.

It prints what the real tools print, from their documentation and their public source
(facts only; no text or code copied), and, marked "(seen)", what a real OpenPBS 23.06.06
answered in review. Sources, per format:

- OpenPBS ``qstat -f -F json``: qstat(1B); openpbs/openpbs src/cmds/qstat.c (root object
  ``timestamp``/``pbs_version``/``pbs_server``/``Jobs``; resource lists as nested objects,
  numbers as JSON numbers; the root is printed even when the job is unknown; exit status is
  pbs_errno truncated to 8 bits: Unknown Job Id 15001 -> 153, Job has finished 15139 -> 35,
  with "use -x or -H to obtain historical job information"). No uid anywhere (seen).
- Messages name the full job id, ``999`` as ``999.<server>`` (src/lib/Libcmds/get_server.c,
  prt_job_err in src/lib/Libcmds/err_handling.c; seen); PBSE_* texts from
  src/lib/Liblog/pbs_messages.c, "Unknown node " with its trailing space.
- OpenPBS ``pbsnodes -F json``: pbsnodes(8B); src/cmds/pbsnodes.c (``nodes`` keyed by vnode;
  ``jobs`` a list of ids; an unknown vnode named with -v comes back, in 19.1 to 23.06, as
  ``{NAME: {"Error": msg}}``, exit 0; marking an unknown node: "Error marking node NAME -
  Unknown node ", exit 1, as pbsnodes exits 1 on any failure, seen); state words and their
  order from src/lib/Libattr/attr_node_func.c; a vnode whose MOM is lost gets the server's
  comment "node down: ...", which it clears when the MOM is back, never over a comment a
  manager set (src/server/node_manager.c); a suspended job's nodes are freed
  (src/server/req_signal.c, rel_resc).
- OpenPBS job comments, written over the job's own: "Job was sent for execution at ..." as
  the server sends it to its MOM (substate 41, PRERUN, while the prologue runs), "Job run at
  ..." once running (42) (src/server/req_runjob.c); "Not Running: Not enough free nodes
  available" from the scheduler, on a queued job only (src/scheduler/job_info.cpp); "Job
  held by USER on DATE" from qhold, and qrls removing the comment once no hold is left
  (src/server/req_holdjob.c); qdel of a running job appending " and terminated by
  USER@HOST" (src/server/req_delete.c) and the job's end appending " and finished", " and
  failed" or " and terminated" (src/server/svr_jobfunc.c, update_job_finish_comment); seen,
  but for "and finished" and "and failed".
- OpenPBS ``qrun -H``: qrun(8B) (runs on offline vnodes; errors exit 2); onto a down vnode
  the server counts a run, says it sent the job, and cannot reach the MOM: "Server could
  not connect to MOM" (src/server/req_runjob.c svr_strtjob2; seen).
- OpenPBS ``qrerun``: qrerun(1B), src/server/req_rerun.c: only a running job; without -W
  force, only a rerunnable one ("job is not rerunnable", 15038 -> 190), in substate 41 or
  42, whose MOM answers ("Server could not connect to MOM", 15070 -> 222); with -W force,
  any running job, rerunnable or not, its MOM up or down (seen). A requeue sets Exit_status
  JOB_EXEC_RERUN (-11) for qrerun and JOB_EXEC_RETRY (-3) for a prologue's (src/include/job.h,
  src/resmom/start_exec.c; seen).
- OpenPBS ``qhold``/``qrls``: qhold(1B) (a hold on a running, non-checkpointable job only
  sets Hold_Types until a rerun); ``qalter -W``: qalter(1B) and src/lib/Libcmds/parse_equal.c
  (values split at commas unless quoted; a closing quote becomes a space, kept at the end of
  the last value, seen); ``qdel``: src/cmds/qdel.c, src/server/req_delete.c (a job whose
  prologue runs stays R until the prologue exits, seen); job substates (91 deleted, 92
  finished, 93 failed) from src/include/job.h; prologue exit status (0 runs, 1 aborts, other
  requeues) from src/resmom/start_exec.c; prologue arguments (job id, user, group) from
  src/resmom/prolog.c.
- Torque ``qstat -f -x``: qstat(1); adaptivecomputing/torque src/cmds/qstat.c
  (``create_full_job_xml``: ``<Data><Job><Job_Id>``, resources nested; one line);
  ``qstat -f`` text: ``prt_attr`` (4-space indent, values wrapped at commas or mid-item onto
  lines starting with a tab); unknown job: "qstat: Unknown Job Id Error ID". Its qalter
  parses -W as OpenPBS's (src/lib/Libcmds/parse_equal.c); its server writes none of
  OpenPBS's run, scheduling and qdel comments. The emulated Torque's qhold and qrls still
  treat the comment as OpenPBS's do: stricter than Torque, never kinder.
- Torque ``qrerun``: src/server/req_rerun.c (a job that is not rerunnable is refused, -f or
  not; -f requeues a job whose MOM does not answer).
- Torque ``pbsnodes -x``: pbsnodes(8), src/cmds/pbsnodes.c ``addxmlnode`` (``<Data><Node>
  <name>``, ``<jobs>`` as "slot/jobid,..."), ``-o``/``-c``/``-N note``; ``qrun -H`` refusing
  offline nodes: src/server/node_manager.c; prologue arguments (job id, user, group, job
  name, resources, queue, account, script) and ``PBS_MSHOST`` from src/resmom/prolog.c.

Where no source fixes a message (Torque's qrun onto an offline or down node), the emulator
prints PBS's generic message for the error the server returns ("Resource temporarily
unavailable", PBSE_RESCUNAV) and says so here. Its exit statuses are OpenPBS's; Torque's
are not checked against a real one. The Exit_status of a job qdel'd while running (271,
SIGKILL + 256) is the emulator's choice.

The control command ``pbs-emu`` does what PBS's daemons would: declare and join nodes,
dispatch a job to a bait and report its prologue's exit, run the scheduler for one job,
suspend a job, finish jobs, and make a command answer garbage once.
"""

import contextlib
import fcntl
import getpass
import json
import os
import re
import socket
import sys
import time
from xml.sax.saxutils import escape

HERE = os.path.dirname(os.path.abspath(sys.argv[0]))
STATE = os.path.join(HERE, "state.json")
LOCK = os.path.join(HERE, "state.lock")

UNKJOBID, BADSTATE, NORERUN, UNKNODE, HISTJOBID, RESCUNAV = 15001, 15016, 15038, 15062, 15139, 15044
NORELYMOM = 15070
PRERUN, RUNNING, SUSPENDED = 41, 42, 43
"""OpenPBS job substates (src/include/job.h): sent to the MOM (its prologue runs), running, suspended."""
JOB_EXEC_FAIL2, JOB_EXEC_RETRY, JOB_EXEC_RERUN = -2, -3, -11
"""Exit_status of a job aborted by its prologue, requeued by its prologue, requeued by qrerun."""
KILLED = 271
"""Exit_status of a running job qdel killed (SIGKILL + 256)."""
MAX_PROLOGUE_REQUEUES = 20
"""After this many requeues by a failing prologue, the job gets a system hold (as PBS's server does)."""


class Exit(Exception):
    def __init__(self, code: int, stderr: str = "", stdout: str = ""):
        self.code, self.stderr, self.stdout = code, stderr, stdout


@contextlib.contextmanager
def state(write: bool = True):
    with open(LOCK, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX if write else fcntl.LOCK_SH)
        with open(STATE) as f:
            s = json.load(f)
        yield s
        if write:
            tmp = STATE + ".tmp"
            with open(tmp, "w") as f:
                json.dump(s, f, indent=1)
            os.replace(tmp, STATE)


def torque(s) -> bool:
    return s["flavour"] == "torque"


# -- jobs ----------------------------------------------------------------------------------------


def resolve(s, operand: str) -> str | None:
    """The full id of the job `operand` names (``123``, ``123.server``, ``123[4]``), if any."""
    seq = operand.split("@")[0].split(".")[0]
    for job_id in s["jobs"]:
        if job_id.split(".")[0] == seq:
            return job_id
    return None


def full_id(s, operand: str) -> str:
    """How a client names the job `operand` means in its messages (src/lib/Libcmds/get_server.c):
    ``999`` -> ``999.<server>``; an operand naming its server keeps it."""
    name = operand.split("@")[0]
    return name if "." in name else f"{name}.{s['server']}"


def unknown_job(s, cmd: str, operand: str) -> str:
    return f"{cmd}: {'Unknown Job Id Error' if torque(s) else 'Unknown Job Id'} {full_id(s, operand)}\n"


def stamp() -> str:
    """The time in the comments OpenPBS's server writes (src/server/req_runjob.c form_attr_comment)."""
    return time.strftime("%a %b %d at %H:%M")


def ctime(epoch: float) -> str:
    return time.strftime("%a %b %d %H:%M:%S %Y", time.localtime(epoch))


def job_attributes(s, job: dict) -> list[tuple[str, str | None, object]]:
    """(name, resource, value) in qstat -f order; value a str or an int (JSON numbers)."""
    server = s["server"]
    out: list[tuple[str, str | None, object]] = [
        ("Job_Name", None, job["name"]),
        ("Job_Owner", None, f"{job['user']}@submit.example.org"),
    ]
    if job.get("exec_host"):
        out.append(("resources_used", "cput", "00:00:00"))
        out.append(("resources_used", "walltime", "00:00:01"))
    out += [
        ("job_state", None, job["state"]),
        ("queue", None, job["queue"]),
        ("server", None, server),
        ("Checkpoint", None, "u"),
        ("ctime", None, ctime(job["ctime"])),
        ("Error_Path", None, f"submit.example.org:/home/{job['user']}/{job['name']}.e{job['id'].split('.')[0]}"),
    ]
    if job.get("exec_host"):
        out.append(("exec_host", None, job["exec_host"]))
        if not torque(s):
            out.append(("exec_vnode", None, job["exec_vnode"]))
    out += [("Hold_Types", None, job["hold"]), ("Join_Path", None, "n"), ("Keep_Files", None, "n"),
            ("Mail_Points", None, "a"), ("mtime", None, ctime(job["mtime"])),
            ("Output_Path", None, f"submit.example.org:/home/{job['user']}/{job['name']}.o{job['id'].split('.')[0]}"),
            ("Priority", None, 0), ("qtime", None, ctime(job["ctime"])),
            ("Rerunable", None, "True" if job["rerunable"] else "False")]
    for name, value in job["resources"].items():
        out.append(("Resource_List", name, int(value) if str(value).isdigit() else value))
    if job.get("stime"):
        out.append(("stime", None, ctime(job["stime"])))
    if not torque(s):
        out.append(("substate", None, job["substate"]))
    variables = {"PBS_O_HOME": f"/home/{job['user']}", "PBS_O_LOGNAME": job["user"],
                 "PBS_O_PATH": "/usr/local/bin:/usr/bin:/bin", "PBS_O_SHELL": "/bin/bash",
                 "PBS_O_WORKDIR": f"/home/{job['user']}", "PBS_O_SYSTEM": "Linux",
                 "PBS_O_QUEUE": job["queue"], "PBS_O_HOST": "submit.example.org"}
    out.append(("Variable_List", None, ",".join(f"{k}={v}" for k, v in variables.items())))
    if job.get("comment"):
        out.append(("comment", None, job["comment"]))
    out += [("euser", None, job["user"]), ("egroup", None, job["group"])]
    if job.get("array"):
        out.append(("array", None, "True"))
        out.append(("array_indices_submitted", None, job["array"]))
    out.append(("run_count", None, job["run_count"]))
    if "exit_status" in job:
        out.append(("Exit_status", None, job["exit_status"]))
    out.append(("Submit_arguments", None, job["submit_args"]))
    if not torque(s):
        out.append(("project", None, "_pbs_project_default"))
    return out


def json_root(s) -> dict:
    return {"timestamp": int(time.time()), "pbs_version": "23.06.06", "pbs_server": s["server"]}


def openpbs_job_json(s, job: dict) -> dict:
    obj: dict = {}
    for name, resource, value in job_attributes(s, job):
        if name == "Variable_List":
            obj[name] = dict(kv.split("=", 1) for kv in str(value).split(","))
        elif resource is not None:
            obj.setdefault(name, {})[resource] = value
        else:
            obj[name] = value
    return obj


def torque_job_xml(s, job: dict) -> str:
    parts = [f"<Job><Job_Id>{escape(job['id'])}</Job_Id>"]
    open_group = None
    for name, resource, value in job_attributes(s, job):
        if resource is None:
            if open_group:
                parts.append(f"</{open_group}>")
                open_group = None
            parts.append(f"<{name}>{escape(str(value))}</{name}>")
        else:
            if open_group != name:
                if open_group:
                    parts.append(f"</{open_group}>")
                parts.append(f"<{name}>")
                open_group = name
            parts.append(f"<{resource}>{escape(str(value))}</{resource}>")
    if open_group:
        parts.append(f"</{open_group}>")
    parts.append("</Job>")
    return "".join(parts)


LINESIZE = 77


def torque_text_attr(name: str, resource: str | None, value: str) -> str:
    """One attribute as Torque's qstat -f prints it: wrapped at commas, or mid-item when one is too long."""
    head = f"    {name}" + (f".{resource}" if resource else "") + " = "
    out = [head]
    start = len(name) + 7 + (len(resource) + 1 if resource else 0)
    items = value.split(",")
    for i, item in enumerate(items):
        if len(item) + start < LINESIZE:
            out.append(item)
            start += len(item)
        else:
            if i:
                out.append("\n\t")
                start = 9
            for ch in item:
                out.append(ch)
                start += 1
                if start > LINESIZE:
                    start = 8
                    out.append("\n\t")
        if i + 1 < len(items):
            out.append(",")
            start += 1
    return "".join(out)


def find_job(s, cmd: str, operand: str) -> dict:
    job_id = resolve(s, operand)
    if job_id is None:
        raise Exit(UNKJOBID & 0xFF, unknown_job(s, cmd, operand))
    return s["jobs"][job_id]


def job_is_history(s, job) -> bool:
    return job["state"] in ("F", "X", "C")


def cmd_qstat(s, args: list[str]) -> None:
    full = "-f" in args
    as_json = "-F" in args and args[args.index("-F") + 1] == "json"
    history = "-x" in args and not torque(s)
    xml = "-x" in args and torque(s)
    operands = [a for i, a in enumerate(args) if not a.startswith("-") and (i == 0 or args[i - 1] != "-F")]
    if not full:
        raise Exit(2, "pbs-emu: only qstat -f is emulated\n")
    if as_json and torque(s):
        raise Exit(2, "qstat: invalid option -- 'F'\n")
    jobs = [s["jobs"][j] for j in s["jobs"]] if not operands else []
    errors, code = [], 0
    for operand in operands:
        job_id = resolve(s, operand)
        if job_id is None:
            errors.append(unknown_job(s, "qstat", operand))
            code = UNKJOBID & 0xFF
        elif job_is_history(s, s["jobs"][job_id]) and not torque(s) and not history:
            errors.append(f"qstat: {job_id} Job has finished, use -x or -H to obtain historical job information\n")
            code = HISTJOBID & 0xFF
        else:
            jobs.append(s["jobs"][job_id])
    if as_json:
        root = json_root(s)
        if jobs:
            root["Jobs"] = {j["id"]: openpbs_job_json(s, j) for j in jobs}
        out = json.dumps(root, indent=4) + "\n"
    elif xml:
        out = ('<?xml version="1.0"?>\n<Data>' + "".join(torque_job_xml(s, j) for j in jobs) + "</Data>\n") if jobs else ""
    else:
        blocks = []
        for j in jobs:
            lines = [f"Job Id: {j['id']}"]
            lines += [torque_text_attr(n, r, str(v)) for n, r, v in job_attributes(s, j)]
            blocks.append("\n".join(lines) + "\n")
        out = "\n".join(blocks) + ("\n" if blocks else "")
    raise Exit(code, "".join(errors), out)


# -- nodes ---------------------------------------------------------------------------------------

UNKNOWN_NODE = "Unknown node "
"""PBSE_UNKNODE's text, its trailing space and all (src/lib/Liblog/pbs_messages.c)."""
MOM_GONE = "node down: communication closed"
"""The comment OpenPBS's server gives a vnode whose MOM it lost (src/server/node_manager.c)."""

STATE_ORDER = ("state-unknown", "down", "stale", "offline", "job-busy", "job-exclusive", "busy")


def node_state(s, name: str) -> str:
    node = s["nodes"][name]
    words = set()
    if not node["joined"]:
        words |= {"down"} if node.get("was_joined") or torque(s) else {"state-unknown", "down"}
    if node["offline"]:
        words.add("offline")
    if node_busy_cpus(s, name) >= node["ncpus"] and node["joined"]:
        words.add("job-exclusive" if torque(s) else "job-busy")
    if not words:
        return "free"
    return ",".join(w for w in STATE_ORDER if w in words)


def node_jobs(s, name: str) -> list[dict]:
    # Not a suspended job: OpenPBS's server frees its nodes (src/server/req_signal.c, rel_resc).
    return [j for j in s["jobs"].values() if j["state"] in ("R", "E") and name in j.get("hosts", [])]


def node_busy_cpus(s, name: str) -> int:
    return sum(int(j["resources"].get("ncpus", 1)) for j in node_jobs(s, name))


def openpbs_node_json(s, name: str) -> dict:
    node = s["nodes"][name]
    obj: dict = {"Mom": f"{name}.example.org", "Port": 15002, "pbs_version": "23.06.06", "ntype": "PBS",
                 "state": node_state(s, name), "pcpus": node["ncpus"]}
    jobs = node_jobs(s, name)
    if jobs:
        obj["jobs"] = [j["id"] for j in jobs]
    obj["resources_available"] = {"arch": "linux", "host": name, "mem": f"{node['mem_kb']}kb",
                                  "ncpus": node["ncpus"], "vnode": name}
    obj["resources_assigned"] = {"ncpus": node_busy_cpus(s, name)} if jobs else {}
    if node.get("comment"):
        obj["comment"] = node["comment"]
    obj["resv_enable"] = "True"
    obj["sharing"] = "default_shared"
    obj["last_state_change_time"] = int(node["changed"])
    return obj


def torque_node_xml(s, name: str) -> str:
    node = s["nodes"][name]
    fields = [("name", name), ("state", node_state(s, name)), ("power_state", "Running"),
              ("np", str(node["ncpus"])), ("ntype", "cluster")]
    slots = []
    for job in node_jobs(s, name):
        slots += [f"{i}/{job['id']}" for i in range(int(job["resources"].get("ncpus", 1)))]
    if slots:
        fields.append(("jobs", ",".join(slots)))
    if node.get("comment"):
        fields.append(("note", node["comment"]))
    if node["joined"]:
        now = int(time.time())
        uptime = now - int(node.get("joined_at", node["changed"]))
        fields.append(("status", f"rectime={now},uptime={uptime},state=free,ncpus={node['ncpus']}"))
    fields += [("mom_service_port", "15002"), ("mom_manager_port", "15003")]
    return "<Node>" + "".join(f"<{k}>{escape(v)}</{k}>" for k, v in fields) + "</Node>"


def cmd_pbsnodes(s, args: list[str]) -> None:
    flags = {a for a in args if a.startswith("-") and len(a) == 2}
    opts = {}
    rest = []
    i = 0
    while i < len(args):
        a = args[i]
        if a in ("-C", "-F", "-N"):
            opts[a] = args[i + 1]
            i += 2
            continue
        if not a.startswith("-"):
            rest.append(a)
        i += 1
    if torque(s):
        return torque_pbsnodes(s, flags, opts, rest)
    as_json = opts.get("-F") == "json"
    if flags & {"-o", "-r"} or ("-C" in opts and not flags & {"-a", "-v"}):
        code, errs = 0, []
        for name in rest:
            if name not in s["nodes"]:
                errs.append(f"Error marking node {name} - {UNKNOWN_NODE}\n")
                code = 1  # pbsnodes exits 1 for any failure, whatever pbs_errno
                continue
            node = s["nodes"][name]
            if "-o" in flags:
                node["offline"] = True
            if "-r" in flags:
                node["offline"] = False
            if "-C" in opts:
                node["comment"], node["comment_by_server"] = opts["-C"][:79], False
            node["changed"] = time.time()
        raise Exit(code, "".join(errs))
    if not s["nodes"]:
        raise Exit(0, "pbsnodes: No nodes found\n")
    root = json_root(s)
    nodes: dict = {}
    if as_json:
        root["nodes"] = nodes
    code, text = 0, []
    names = sorted(s["nodes"]) if "-a" in flags or not rest else rest
    for name in names:
        if name not in s["nodes"]:
            if as_json:
                nodes[name] = {"Error": UNKNOWN_NODE}  # 23.06's shape; later ones key it by the name
            else:
                text.append("")
                code = 1
                sys.stderr.write(f"Node: {name},  Error: {UNKNOWN_NODE}\n")
            continue
        if as_json:
            nodes[name] = openpbs_node_json(s, name)
        else:
            obj = openpbs_node_json(s, name)
            lines = [name]
            for k, v in obj.items():
                if isinstance(v, dict):
                    lines += [f"     {k}.{rk} = {rv}" for rk, rv in v.items()]
                elif isinstance(v, list):
                    lines.append(f"     {k} = {', '.join(v)}")
                else:
                    lines.append(f"     {k} = {v}")
            text.append("\n".join(lines) + "\n")
    out = json.dumps(root, indent=4) + "\n" if as_json else "\n".join(text)
    raise Exit(code, "", out)


def torque_pbsnodes(s, flags: set[str], opts: dict, rest: list[str]) -> None:
    unknown = "pbsnodes: Unknown node  MSG=cannot locate specified node\n"
    if flags & {"-o", "-c"} or "-N" in opts:
        for name in rest:
            if name not in s["nodes"]:
                raise Exit(1, unknown)
            node = s["nodes"][name]
            if "-N" in opts:
                node["comment"] = opts["-N"]
            if "-o" in flags:
                node["offline"] = True
            if "-c" in flags:
                node["offline"] = False
            node["changed"] = time.time()
        raise Exit(0)
    if "-x" not in flags:
        raise Exit(2, "pbs-emu: only pbsnodes -x is emulated for Torque\n")
    for name in rest:
        if name not in s["nodes"]:
            raise Exit(1, unknown)
    names = rest or sorted(s["nodes"])
    if not names:
        raise Exit(2, "pbsnodes: No nodes found\n")
    raise Exit(0, "", '<?xml version="1.0"?>\n<Data>' + "".join(torque_node_xml(s, n) for n in names) + "</Data>\n")


# -- acting on jobs ------------------------------------------------------------------------------


def exec_vnode(hosts: list[str], cpus: int) -> str:
    return "+".join(f"({h}:ncpus={cpus if i == 0 else 1})" for i, h in enumerate(hosts))


def server_comment(s, job: dict, text: str) -> None:
    """A comment OpenPBS's server writes itself, over whatever the job had (Torque's writes none)."""
    if not torque(s):
        job["comment"] = text


def start_job(s, job: dict, hosts: list[str], *, prologue: bool = False) -> None:
    cpus = int(job["resources"].get("ncpus", 1))
    first = hosts[0]
    if torque(s):
        job["exec_host"] = "+".join(f"{h}/0-{cpus - 1}" if cpus > 1 and h == first else f"{h}/0" for h in hosts)
    else:
        job["exec_host"] = "+".join(f"{h}/0*{cpus}" if cpus > 1 and h == first else f"{h}/0" for h in hosts)
        job["exec_vnode"] = exec_vnode(hosts, cpus)
    job["hosts"] = hosts
    job["stime"] = job["mtime"] = time.time()
    job["run_count"] += 1
    if prologue:
        # Sent to the MOM, whose prologue runs: PRERUN until the MOM reports it running.
        s["prologue"][job["id"]] = first
        job["state"], job["substate"] = "R", PRERUN
        server_comment(s, job, f"Job was sent for execution at {stamp()} on {exec_vnode(hosts, cpus)}")
    else:
        s["prologue"].pop(job["id"], None)
        job["state"], job["substate"] = "R", RUNNING
        server_comment(s, job, f"Job run at {stamp()} on {exec_vnode(hosts, cpus)}")
    parent_began(s, job)


def parent_began(s, job: dict) -> None:
    m = re.match(r"^(\d+)\[\d+\](\..*)$", job["id"])
    if m and f"{m.group(1)}[]{m.group(2)}" in s["jobs"]:
        s["jobs"][f"{m.group(1)}[]{m.group(2)}"]["state"] = "B"


def requeue(s, job: dict, exit_status: int) -> None:
    for key in ("exec_host", "exec_vnode", "hosts", "stime"):
        job.pop(key, None)
    s["prologue"].pop(job["id"], None)
    held = job["hold"] != "n"
    job["state"], job["substate"] = ("H", 20) if held else ("Q", 10)
    job["exit_status"] = exit_status
    job["mtime"] = time.time()


FINISH_SUFFIX = {92: " and finished", 93: " and failed", 91: " and terminated"}
"""What OpenPBS's server appends to a job's comment as it goes to history, by its substate
(src/server/svr_jobfunc.c update_job_finish_comment): finished, failed, terminated (deleted)."""


def end_job(s, job: dict, substate: int, exit_status: int | None) -> None:
    s["prologue"].pop(job["id"], None)
    job.pop("hosts", None)
    job.pop("deleting", None)
    if exit_status is not None:
        job["exit_status"] = exit_status
    if substate == 92 and exit_status:
        substate = 93  # ran and exited non-zero: failed
    job["mtime"] = time.time()
    if torque(s):
        job["state"] = "C"
    elif s["history"]:
        job["state"], job["substate"] = ("X" if "[" in job["id"] and "[]" not in job["id"] else "F"), substate
        suffix = FINISH_SUFFIX[substate]
        if job.get("comment") and not (substate == 91 and "terminated" in job["comment"]):
            job["comment"] += suffix
    else:
        del s["jobs"][job["id"]]


def mom_answers(s, job: dict) -> bool:
    """Whether the MOM of the job's first host (its mother superior) is up."""
    hosts = job.get("hosts") or []
    return bool(hosts) and s["nodes"].get(hosts[0], {}).get("joined", False)


def cmd_qrun(s, args: list[str]) -> None:
    spec, operands = None, []
    i = 0
    while i < len(args):
        if args[i] == "-H":
            spec = args[i + 1]
            i += 2
            continue
        if args[i] != "-a":
            operands.append(args[i])
        i += 1
    for operand in operands:
        job_id = resolve(s, operand)
        if job_id is None:
            raise Exit(2, unknown_job(s, "qrun", operand))
        job = s["jobs"][job_id]
        if job["state"] not in ("Q",) and not (job["state"] == "S" and spec and not torque(s)):
            raise Exit(2, f"qrun: Request invalid for state of job {job_id}\n")
        if spec is None:
            host = schedule_host(s, job)
            if host is None:
                raise Exit(2, f"qrun: Resource temporarily unavailable {job_id}\n")
            hosts = [host]
        else:
            hosts = [h.split(":")[0] for h in re.split(r"[()+]+", spec) if h]
            for h in hosts:
                if h not in s["nodes"]:
                    raise Exit(2, f"qrun: {UNKNOWN_NODE} {spec}\n")
            down = [h for h in hosts if not s["nodes"][h]["joined"]]
            if torque(s) and (down or any(s["nodes"][h]["offline"] for h in hosts)):
                # Torque runs on no offline or down node (src/server/node_manager.c).
                raise Exit(2, f"qrun: Resource temporarily unavailable {job_id}\n")
            if down:
                # OpenPBS runs on offline vnodes (qrun(8B)), and tries a down one: it counts a run,
                # says it sent the job, and fails to reach the MOM (src/server/req_runjob.c).
                job["run_count"] += 1
                cpus = int(job["resources"].get("ncpus", 1))
                server_comment(s, job, f"Job was sent for execution at {stamp()} on {exec_vnode(hosts, cpus)}")
                raise Exit(2, f"qrun: Server could not connect to MOM {job_id}\n")
        start_job(s, job, hosts)


def cmd_qrerun(s, args: list[str]) -> None:
    force = "-f" in args if torque(s) else "-W" in args
    if not torque(s) and force and args[args.index("-W") + 1] != "force":
        raise Exit(2, "usage: qrerun [-W force] job_identifier...\n")
    operands = [a for i, a in enumerate(args) if not a.startswith("-") and args[i - 1] != "-W"]
    code, errs = 0, []
    for operand in operands:
        try:
            rerun(s, find_job(s, "qrerun", operand), force)
        except Exit as failed:  # each job in turn; the exit status is the last failure's
            code, errs = failed.code, errs + [failed.stderr]
    raise Exit(code, "".join(errs))


def rerun(s, job: dict, force: bool) -> None:
    """One job of qrerun. OpenPBS (src/server/req_rerun.c): -W force overrides Rerunable = False,
    the substate and an unreachable MOM; Torque (src/server/req_rerun.c): -f overrides only the
    MOM, and a job that is not rerunnable is refused whatever the options."""
    job_id = job["id"]
    if job_is_history(s, job):
        raise Exit(HISTJOBID & 0xFF, f"qrerun: Job has finished {job_id}\n")
    not_rerunnable = Exit(NORERUN & 0xFF, f"qrerun: job is not rerunnable {job_id}\n")
    if not job["rerunable"] and not (force and not torque(s)):
        raise not_rerunnable
    if job["state"] != "R":
        raise Exit(BADSTATE & 0xFF, f"qrerun: Request invalid for state of job {job_id}\n")
    if not force and not torque(s) and job["substate"] not in (PRERUN, RUNNING):
        raise Exit(BADSTATE & 0xFF, f"qrerun: Request invalid for state of job {job_id}\n")
    if not force and not mom_answers(s, job):
        raise Exit(NORELYMOM & 0xFF, f"qrerun: Server could not connect to MOM {job_id}\n")
    requeue(s, job, JOB_EXEC_RERUN)


def cmd_qhold(s, args: list[str]) -> None:
    kinds = args[args.index("-h") + 1] if "-h" in args else "u"
    operands = [a for i, a in enumerate(args) if not a.startswith("-") and args[i - 1] != "-h"]
    for operand in operands:
        job = find_job(s, "qhold", operand)
        if job_is_history(s, job):
            raise Exit(HISTJOBID & 0xFF, f"qhold: Job has finished {job['id']}\n")
        holds = set(job["hold"].replace("n", "")) | set(kinds)
        job["hold"] = "".join(sorted(holds, key="uos".index))
        # As real OpenPBS does: the hold writes its own comment over whatever the job had.
        job["comment"] = f"Job held by {getpass.getuser()} on {time.ctime()}"
        if job["state"] == "Q":
            job["state"], job["substate"] = "H", 20


def cmd_qrls(s, args: list[str]) -> None:
    kinds = args[args.index("-h") + 1] if "-h" in args else "u"
    operands = [a for i, a in enumerate(args) if not a.startswith("-") and args[i - 1] != "-h"]
    for operand in operands:
        job = find_job(s, "qrls", operand)
        if job_is_history(s, job):
            raise Exit(HISTJOBID & 0xFF, f"qrls: Job has finished {job['id']}\n")
        holds = set(job["hold"].replace("n", "")) - set(kinds)
        job["hold"] = "".join(sorted(holds, key="uos".index)) or "n"
        if job["hold"] == "n":
            job["comment"] = ""  # the last hold gone, real OpenPBS's qrls removes the comment
        if job["state"] == "H" and job["hold"] == "n":
            job["state"], job["substate"] = "Q", 10


def parse_equal_string(text: str) -> list[tuple[str, str]]:
    """qalter -W's ``a=b,c="d,e"`` as src/lib/Libcmds/parse_equal.c reads it: a quoted value's
    closing quote becomes a space; the last value runs to the end of the text (commas, that
    space and all); any other ends at the last comma before the next ``=``, trailing blanks cut."""
    pairs = []
    while text.strip():
        m = re.match(r"\s*([^\s=,][^\s=]*)\s*=\s*", text)
        if not m:
            raise ValueError(text)
        name, start = m.group(1), m.end()
        after = start
        if text[start:start + 1] in ("'", '"'):
            close = text.find(text[start], start + 1)
            if close < 0:
                raise ValueError(text)
            text = text[:close] + " " + text[close + 1:]
            start, after = start + 1, close
        equal = text.find("=", after)
        if equal < 0:
            if text.rstrip().endswith(","):
                raise ValueError(text)
            pairs.append((name, text[start:]))
            break
        comma = text.rfind(",", start, equal)
        if comma < 0:
            raise ValueError(text)
        pairs.append((name, text[start:comma].rstrip()))
        text = text[comma + 1:]
    return pairs


def cmd_qalter(s, args: list[str]) -> None:
    changes: list[tuple[str, str]] = []
    operands = []
    i = 0
    while i < len(args):
        if args[i] == "-W":
            try:
                changes += parse_equal_string(args[i + 1])
            except ValueError:
                raise Exit(2, "qalter: illegal -W value\n") from None
            i += 2
            continue
        operands.append(args[i])
        i += 1
    for operand in operands:
        job = find_job(s, "qalter", operand)
        if job_is_history(s, job):
            raise Exit(HISTJOBID & 0xFF, f"qalter: Job has finished {job['id']}\n")
        for name, value in changes:
            if name == "comment":
                job["comment"] = value
            else:
                raise Exit(2, f"pbs-emu: qalter -W {name} is not emulated\n")


def cmd_qdel(s, args: list[str]) -> None:
    operands = [a for i, a in enumerate(args) if not a.startswith("-") and args[i - 1] != "-W"]
    code, errs = 0, []
    for operand in operands:
        job_id = resolve(s, operand)
        if job_id is None:
            errs.append(unknown_job(s, "qdel", operand))
            code = UNKJOBID & 0xFF
            continue
        job = s["jobs"][job_id]
        if job_is_history(s, job):
            errs.append(f"qdel: Job has finished {job_id}\n")
            code = HISTJOBID & 0xFF
            continue
        if job["state"] not in ("R", "E", "S"):
            end_job(s, job, 91, None)
            continue
        # A running job: the server asks its MOM to kill it, noting who asked (src/server/req_delete.c).
        if job.get("comment") and "terminated" not in job["comment"] and not torque(s):
            job["comment"] += f" and terminated by {getpass.getuser()}@{socket.gethostname()}"
        if s["prologue"].get(job_id) and not torque(s):
            job["deleting"] = True  # its MOM ends it only once the prologue has exited
        else:
            end_job(s, job, 91, KILLED)
    raise Exit(code, "".join(errs))


def cmd_qsub(s, args: list[str]) -> None:
    queue, name, hold, rerunable, resources, array = s["default_queue"], "STDIN", False, True, {}, ""
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--":
            break
        if a in ("-q", "-N", "-l", "-r", "-J", "-t", "-W", "-v"):
            value = args[i + 1]
            if a == "-q":
                queue = value
            elif a == "-N":
                name = value
            elif a == "-r":
                rerunable = value == "y"
            elif a in ("-J", "-t"):
                array = value
            elif a == "-l":
                for item in value.split(","):
                    k, _, v = item.partition("=")
                    resources[k] = v
            i += 2
            continue
        if a == "-h":
            hold = True
        i += 1
    if queue not in s["queues"]:
        raise Exit(15018 & 0xFF, "qsub: Unknown queue\n")
    if not torque(s):
        resources.setdefault("ncpus", "1")
        resources.setdefault("nodect", "1")
        resources.setdefault("place", "pack")
        resources.setdefault("select", f"1:ncpus={resources['ncpus']}")
    else:
        resources.setdefault("nodes", "1")
    seq = s["next_id"]
    s["next_id"] += 1
    now = time.time()
    user = os.environ.get("PBS_EMU_USER", "alice")
    group = os.environ.get("PBS_EMU_GROUP", "users")

    def new(job_id: str, array_spec: str = "") -> dict:
        job = {"id": job_id, "name": name, "user": user, "group": group, "queue": queue,
               "state": "H" if hold else "Q", "substate": 20 if hold else 10, "hold": "u" if hold else "n",
               "resources": dict(resources), "rerunable": rerunable, "run_count": 0, "ctime": now,
               "mtime": now, "comment": "", "submit_args": " ".join(args)}
        if array_spec:
            job["array"] = array_spec
        s["jobs"][job_id] = job
        return job

    if array:
        first, _, last = array.partition("-")
        new(f"{seq}[].{s['server']}", array)
        for index in range(int(first), int(last or first) + 1):
            new(f"{seq}[{index}].{s['server']}")
        raise Exit(0, "", f"{seq}[].{s['server']}\n")
    new(f"{seq}.{s['server']}")
    raise Exit(0, "", f"{seq}.{s['server']}\n")


# -- pbs-emu: what the daemons do -----------------------------------------------------------------


def schedule_host(s, job: dict) -> str | None:
    cpus = int(job["resources"].get("ncpus", 1))
    for name in sorted(s["nodes"]):
        node = s["nodes"][name]
        if node["joined"] and not node["offline"] and node["ncpus"] - node_busy_cpus(s, name) >= cpus:
            return name
    return None


def prologue_call(s, job: dict, host: str) -> dict:
    if torque(s):
        res = ",".join(f"{k}={v}" for k, v in job["resources"].items())
        argv = [job["id"], job["user"], job["group"], job["name"], res, job["queue"], "",
                f"/var/spool/torque/mom_priv/jobs/{job['id']}.SC"]
        env = {"PBS_MSHOST": host, "PBS_NODENUM": "0", "PBS_NP": job["resources"].get("ncpus", "1"),
               "PBS_RESOURCE_NODES": job["resources"].get("nodes", "1"), "PBS_O_WORKDIR": f"/home/{job['user']}"}
    else:
        argv = [job["id"], job["user"], job["group"]]
        env = {"PBS_JOBDIR": f"/home/{job['user']}"}
    return {"argv": argv, "env": env, "host": host}


def cmd_emu(s, args: list[str]) -> None:
    verb, rest = args[0], args[1:]
    if verb == "node":  # declare: as qmgr -c "create node NAME"
        name = rest[0]
        s["nodes"][name] = {"ncpus": int(rest[1]) if len(rest) > 1 else 4, "mem_kb": 8388608, "joined": False,
                            "offline": False, "comment": "", "changed": time.time()}
    elif verb in ("join", "leave"):  # the node's MOM starts (or its host goes away)
        node = s["nodes"][rest[0]]
        node["joined"] = verb == "join"
        node["was_joined"] = True
        node["changed"] = time.time()
        if verb == "join":
            node["joined_at"] = node["changed"]  # its host booted: Torque's uptime counts from here
        # OpenPBS's server says why a vnode is down in its comment, and clears that when the MOM is
        # back, but never touches a comment a manager set (src/server/node_manager.c). Its jobs
        # still show running, until node_fail_requeue.
        if not torque(s) and (not node["comment"] or node.get("comment_by_server")):
            node["comment"], node["comment_by_server"] = ("", False) if verb == "join" else (MOM_GONE, True)
    elif verb == "bait":  # the scheduler dispatches the job to a bait; its MOM runs the prologue
        job, host = find_job(s, "pbs-emu", rest[0]), rest[1]
        if job["state"] != "Q":
            raise Exit(1, f"pbs-emu: job {job['id']} is {job['state']}, not queued\n")
        start_job(s, job, [host], prologue=True)
        raise Exit(0, "", json.dumps(prologue_call(s, job, host)) + "\n")
    elif verb == "prologue-exit":  # the prologue on HOST exited with CODE
        job_id, host, code = resolve(s, rest[0]), rest[1], int(rest[2])
        if job_id is None or s["prologue"].get(job_id) != host:
            raise Exit(0, "", "ignored: the job no longer runs there\n")
        job = s["jobs"][job_id]
        if job.get("deleting"):  # qdel'd while the prologue ran: ended now, whatever it said
            end_job(s, job, 91, KILLED)
            raise Exit(0, "", "deleted\n")
        if code == 0:
            s["prologue"].pop(job_id)  # the MOM reports it running
            job["substate"] = RUNNING
            server_comment(s, job, f"Job run at {stamp()} on {job.get('exec_vnode', '')}")
            raise Exit(0, "", "runs\n")
        if code == 1:
            end_job(s, job, 93, JOB_EXEC_FAIL2)  # aborted
            raise Exit(0, "", "aborted\n")
        requeue(s, job, JOB_EXEC_RETRY)
        if job["run_count"] > MAX_PROLOGUE_REQUEUES:
            job["hold"], job["state"], job["substate"] = "s", "H", 20
            job["comment"] = "job held, too many failed attempts to run"
        raise Exit(0, "", "requeued\n")
    elif verb == "schedule":  # one scheduling cycle for one job
        job = find_job(s, "pbs-emu", rest[0])
        if job["state"] == "R":
            raise Exit(0, "", job["hosts"][0] + "\n")
        if job["state"] != "Q":
            raise Exit(1, f"pbs-emu: job {job['id']} is {job['state']}: not eligible\n")
        host = schedule_host(s, job)
        if host is None:
            # OpenPBS's scheduler says why in the comment, over whatever the job had (job_info.cpp).
            server_comment(s, job, "Not Running: Not enough free nodes available")
            raise Exit(1, f"pbs-emu: no node can run job {job['id']} now\n")
        start_job(s, job, [host])
        raise Exit(0, "", host + "\n")
    elif verb == "suspend":  # as qsig -s suspend: the job keeps its exec_host, its nodes are freed
        job = find_job(s, "pbs-emu", rest[0])
        if job["state"] != "R":
            raise Exit(1, f"pbs-emu: job {job['id']} is {job['state']}, not running\n")
        job["state"], job["substate"] = "S", SUSPENDED
    elif verb == "finish":
        job = find_job(s, "pbs-emu", rest[0])
        end_job(s, job, 92, int(rest[1]) if len(rest) > 1 else 0)
    elif verb == "garble":  # the next call of COMMAND prints FILE's content and exits CODE
        s["garble"][rest[0]] = {"stdout": open(rest[1]).read(), "code": int(rest[2]) if len(rest) > 2 else 0}
    elif verb == "history":
        s["history"] = rest[0] == "on"
    else:
        raise Exit(2, f"pbs-emu: unknown verb {verb}\n")


def init(flavour: str, server: str) -> None:
    with open(STATE, "w") as f:
        json.dump({"flavour": flavour, "server": server, "next_id": 100, "history": True, "jobs": {},
                   "nodes": {}, "prologue": {}, "garble": {}, "queues": ["workq", "short", "batch"],
                   "default_queue": "batch" if flavour == "torque" else "workq", "calls": []}, f)


COMMANDS = {"qstat": cmd_qstat, "pbsnodes": cmd_pbsnodes, "qrun": cmd_qrun, "qrerun": cmd_qrerun,
            "qhold": cmd_qhold, "qrls": cmd_qrls, "qalter": cmd_qalter, "qdel": cmd_qdel, "qsub": cmd_qsub,
            "pbs-emu": cmd_emu}
READ_ONLY = {"qstat"}


def main(argv: list[str]) -> int:
    command = os.path.basename(argv[0])
    if command == "pbs-emu" and argv[1:2] == ["init"]:
        init(argv[2], argv[3])
        return 0
    handler = COMMANDS.get(command)
    if handler is None:
        sys.stderr.write(f"pbs-emu: {command} is not emulated\n")
        return 127
    code, out, err = 0, "", ""
    with state(write=True) as s:
        s["calls"].append([command, *argv[1:]])
        garbled = s["garble"].pop(command, None)
        if garbled is not None:
            sys.stdout.write(garbled["stdout"])
            return garbled["code"]
        try:
            handler(s, argv[1:])
        except Exit as exc:
            code, out, err = exc.code, exc.stdout, exc.stderr
    sys.stdout.write(out)
    sys.stderr.write(err)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv))
