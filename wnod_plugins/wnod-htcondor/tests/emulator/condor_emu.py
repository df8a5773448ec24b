"""An emulator of HTCondor's command-line tools, for testing wnod's HTCondor adapter. Test tool only.

One script, installed under each tool's name (condor_q, condor_status, condor_qedit,
condor_hold, condor_release, condor_rm, condor_vacate_job, condor_config_val, condor_reconfig); it acts
on the name it was called by. The pool (a schedd's queue, the collector's slot ads,
each startd's runtime configuration) is a JSON file next to the script, locked while
a tool runs. Tests drive the daemons' side (submit, startds joining, the negotiator,
the starter's prepare-job hook, jobs ending) through ``Pool``'s methods.

Where each output comes from (HTCondor's public source and manual, read at
github.com/htcondor/htcondor; facts carried over, no text or code copied):

- ``-json`` lists: ``CondorClassAdListWriter::appendAd``/``appendFooter``
  (src/condor_utils/compat_classad.cpp): nothing at all when no ad matched, else
  ``[`` newline, ads separated by ``,`` newline, ``]`` newline. Each ad as
  ``ClassAdJsonUnParser`` prints it (src/classad/jsonSink.cpp): two-space indent,
  ``"Name": value``, undefined as ``null``, non-literal expressions as the string
  ``"\\/Expr(<expr>)\\/"``, attributes in case-insensitive order when ``-attributes``
  names them.
- condor_q / condor_status failures: ``-- Failed to fetch ads from: <addr> : <host>``
  (src/condor_q.V6/queue.cpp), ``Error: <query result>`` (src/condor_status.V6/status.cpp).
- condor_hold/release/rm per-job lines: ``JobActionResults::getResultString``
  (src/condor_daemon_client/dc_schedd.cpp): ``Job C.P held``, ``Job C.P already held``,
  ``Job C.P not found``, ``Job C.P marked for removal``, ``Job C.P already marked for
  removal``, ``Job C.P not held to be released``, ``Job C.P vacated`` (``fast-vacated`` with
  -fast), ``Job C.P not running to be vacated``, ``Permission denied to hold job C.P``;
  success lines on stdout, failures on stderr and exit 1 (src/condor_rm.V6/rm.cpp).
  The schedd appends `` (by user <name>)`` to a given reason and refuses to hold a
  removed or completed job (``actOnJobs``, src/condor_schedd.V6/schedd.cpp).
- condor_qedit: ``Set attribute "A" for 1 matching jobs.`` per attribute in name
  order; ``Failed to set attribute "A" for job C.P.`` then ``Queue transaction failed.
  No attributes were set.`` and exit 1 (src/condor_tools/qedit.cpp). A value
  ``undefined`` unsets the attribute's value.
- condor_config_val -rset: ``Successfully set configuration "K = V" on startd <name>
  <addr>. The change will take effect on the next condor_reconfig.``; ``Can't find
  address for startd '<name>' in local pool`` + ``Perhaps you need to query another
  pool.``; ``Attempt to set configuration ... failed.`` (src/condor_tools/config_val.cpp).
- condor_reconfig: ``Sent "Reconfig" command to startd <name>``; ``Can't find address
  for startd <name>`` + ``Perhaps you need to query another pool.`` (src/condor_tools/tool.cpp;
  the daemon's id string is approximated).
- JobStatus codes 1-7 and HoldReasonCode 48 (HookPrepareJobFailure); the prepare-job
  hook's HookStatusCode: 0 runs the job, 1-299 holds it (the message as HoldReason),
  300+ sends it back to Idle (docs/admin-manual/hooks.rst; StarterHookMgr.cpp).

Simplifications, each kept out of what the adapter relies on: the negotiator honours
only the ``TARGET.Machine == "<host>"`` terms of a job's Requirements (the rest is
taken as true); a slot's START is decided by its kind - ``bait`` admits jobs without
``WnodVwn``, ``vwn`` admits the job whose ``WnodVwn`` is its Machine, and any job while
its ``WnodOpen`` is true, ``plain`` admits every job; static slots only.
"""

import fcntl
import json
import os
import re
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

TOOLS = (
    "condor_q", "condor_status", "condor_qedit", "condor_hold", "condor_release", "condor_rm",
    "condor_vacate_job", "condor_config_val", "condor_reconfig",
)
STATE_FILE = "condor-emu-pool.json"
SCHEDD_ADDR = "<127.0.0.1:9618?addrs=127.0.0.1-9618&alias=schedd.emu.test>"
SCHEDD_HOST = "schedd.emu.test"
EXPR = "__expr__"
HOLD_CODE_USER_REQUEST = 1
HOLD_CODE_HOOK_PREPARE_JOB_FAILURE = 48

_MACHINE_TERM = re.compile(r'TARGET\.Machine\s*==\s*"((?:[^"\\]|\\.)*)"', re.IGNORECASE)


def expr(text: str) -> dict[str, str]:
    """A non-literal ClassAd expression, as the pool file keeps it."""
    return {EXPR: text}


# -- the pool --------------------------------------------------------------------------------------


class Pool:
    """The emulated pool in `directory`; every method reads and writes it under the lock."""

    def __init__(self, directory: Path | str) -> None:
        self.dir = Path(directory)
        self.path = self.dir / STATE_FILE

    @contextmanager
    def state(self) -> Iterator[dict[str, Any]]:
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.dir / (STATE_FILE + ".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                data = json.loads(self.path.read_text()) if self.path.exists() else _empty()
                yield data
                tmp = self.path.with_suffix(".tmp")
                tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
                os.replace(tmp, self.path)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    # -- what users and daemons do (driven by the tests) ------------------------------------------

    def submit(self, owner: str, count: int = 1, **attributes: Any) -> list[str]:
        """``condor_submit``: a cluster of `count` idle jobs of `owner`; returns their ids."""
        with self.state() as s:
            cluster = s["next_cluster"]
            s["next_cluster"] += 1
            ids = []
            for proc in range(count):
                ad: dict[str, Any] = {
                    "MyType": "Job", "TargetType": "Machine", "ClusterId": cluster, "ProcId": proc,
                    "GlobalJobId": f"{SCHEDD_HOST}#{cluster}.{proc}#1700000000",
                    "Owner": owner, "User": f"{owner}@emu.test", "JobStatus": 1, "JobUniverse": 5,
                    "Cmd": "/bin/sleep", "Args": "60", "Iwd": f"/home/{owner}", "QDate": 1700000000,
                    "RequestCpus": 1, "RequestDisk": expr("DiskUsage"),
                    # condor_submit's default when the user asks for no memory: an expression.
                    "RequestMemory": expr(
                        "ifthenelse(MemoryUsage =!= undefined,MemoryUsage,(ImageSize + 1023) / 1024)"
                    ),
                    "Requirements": expr(
                        '(TARGET.Arch == "X86_64") && (TARGET.OpSys == "LINUX") && (TARGET.Disk >= RequestDisk)'
                        " && (TARGET.Memory >= RequestMemory) && (TARGET.HasFileTransfer)"
                    ),
                    "NumShadowExceptions": 0, "NumJobStarts": 0,
                }
                ad.update(attributes)
                s["jobs"][f"{cluster}.{proc}"] = ad
                ids.append(f"{cluster}.{proc}")
            return ids

    def add_startd(self, machine: str, kind: str = "plain", slots: int = 1, open_: bool = False,
                   runtime_config: bool | None = None) -> None:
        """A startd joins: its slot ads reach the collector. `kind` is vwn, bait or plain."""
        assert kind in ("vwn", "bait", "plain"), kind
        with self.state() as s:
            s["startds"][machine] = {
                "kind": kind,
                "runtime_config": kind == "vwn" if runtime_config is None else runtime_config,
                "config": {"WnodOpen": open_} if kind == "vwn" else {},
                "pending": {},
            }
            for n in range(1, slots + 1):
                name = f"slot{n}@{machine}"
                ad: dict[str, Any] = {
                    "MyType": "Machine", "TargetType": "Job", "Name": name, "Machine": machine,
                    "SlotID": n, "SlotType": "Static", "State": "Unclaimed", "Activity": "Idle",
                    "Cpus": 1, "Memory": 2048, "Arch": "X86_64", "OpSys": "LINUX",
                    "Start": expr(_START[kind]), "DaemonStartTime": int(time.time()),
                }
                if kind == "vwn":
                    ad["WnodVwn"] = True
                    ad["WnodOpen"] = open_
                s["slots"][name] = ad

    def remove_startd(self, machine: str) -> None:
        with self.state() as s:
            s["startds"].pop(machine, None)
            for name in [n for n, ad in s["slots"].items() if ad["Machine"] == machine]:
                del s["slots"][name]

    def negotiate(self, job_id: str | None = None) -> dict[str, str]:
        """One negotiation cycle (for one job, or every idle job): job id -> the slot it started on."""
        started = {}
        with self.state() as s:
            ids = [job_id] if job_id else sorted(s["jobs"], key=_job_order)
            for jid in ids:
                job = s["jobs"].get(jid)
                if job is None or job["JobStatus"] != 1:
                    continue
                for name in sorted(s["slots"]):
                    slot = s["slots"][name]
                    if slot["State"] == "Unclaimed" and _matches(job, slot, s["startds"][slot["Machine"]]):
                        _start(job, slot, jid)
                        started[jid] = name
                        break
        return started

    def hook_answers(self, job_id: str, status_code: int, message: str = "") -> None:
        """The starter's prepare-job hook for a running job answered `status_code` (HookStatusCode)."""
        with self.state() as s:
            job = s["jobs"][job_id]
            assert job["JobStatus"] == 2, job
            if status_code == 0:
                return  # the job runs where it is
            _free_slot(s, job)
            if status_code < 300:
                hook = f"HOOK_PREPARE_JOB (wnod-prepare-job) failed (reported status {status_code:03d})"
                job.update(JobStatus=5, HoldReason=f"{hook}: {message or '<no message>'}",
                           HoldReasonCode=HOLD_CODE_HOOK_PREPARE_JOB_FAILURE, HoldReasonSubCode=status_code,
                           JobStatusOnRelease=1)
            else:
                job.update(JobStatus=1, NumShadowExceptions=job.get("NumShadowExceptions", 0) + 1)

    def complete(self, job_id: str, exit_code: int = 0, leave_in_queue: bool = False) -> None:
        """The job exits on its host: Completed, then gone to history unless left in the queue."""
        with self.state() as s:
            job = s["jobs"][job_id]
            _free_slot(s, job)
            job.update(JobStatus=4, ExitCode=exit_code)
            if not leave_in_queue:
                s["history"][job_id] = s["jobs"].pop(job_id)

    def shadow_exits(self, job_id: str) -> None:
        """The shadow of a removed running job is done: the job leaves the queue."""
        with self.state() as s:
            s["history"][job_id] = s["jobs"].pop(job_id)

    def fault(self, tool: str, stdout: str = "", stderr: str = "", code: int = 0) -> None:
        """From now on `tool` prints this and exits `code`, whatever it is asked."""
        with self.state() as s:
            s["faults"][tool] = {"stdout": stdout, "stderr": stderr, "code": code}

    def clear_faults(self) -> None:
        with self.state() as s:
            s["faults"] = {}

    def job(self, job_id: str) -> dict[str, Any] | None:
        with self.state() as s:
            return s["jobs"].get(job_id)

    def slot(self, name: str) -> dict[str, Any] | None:
        with self.state() as s:
            return s["slots"].get(name)

    def calls(self) -> list[list[str]]:
        """Every tool invocation so far, as its argument list (the tool's name first)."""
        with self.state() as s:
            return [list(c) for c in s["calls"]]


_START = {
    "plain": "true",
    "bait": "(TARGET.WnodVwn =?= undefined)",
    "vwn": "(TARGET.WnodVwn =?= MY.Machine) || (MY.WnodOpen =?= true)",
}


def _empty() -> dict[str, Any]:
    return {"next_cluster": 1, "jobs": {}, "history": {}, "slots": {}, "startds": {}, "faults": {},
            "calls": [], "user": "condor"}


def _job_order(job_id: str) -> tuple[int, int]:
    cluster, proc = job_id.split(".")
    return int(cluster), int(proc)


def _matches(job: dict[str, Any], slot: dict[str, Any], startd: dict[str, Any]) -> bool:
    requirements = job.get("Requirements")
    text = requirements[EXPR] if isinstance(requirements, dict) else str(requirements)
    machines = [m.replace('\\"', '"').replace("\\\\", "\\") for m in _MACHINE_TERM.findall(text)]
    if any(m.lower() != slot["Machine"].lower() for m in machines):
        return False
    bound = job.get("WnodVwn")
    kind = startd["kind"]
    if kind == "bait":
        return bound is None
    if kind == "vwn":
        is_bound_here = isinstance(bound, str) and bound.lower() == slot["Machine"].lower()
        return is_bound_here or slot.get("WnodOpen") is True
    return True


def _start(job: dict[str, Any], slot: dict[str, Any], job_id: str) -> None:
    job.update(JobStatus=2, RemoteHost=slot["Name"], NumJobStarts=job.get("NumJobStarts", 0) + 1)
    slot.update(State="Claimed", Activity="Busy", JobId=job_id, RemoteOwner=job["User"])


def _free_slot(s: dict[str, Any], job: dict[str, Any]) -> None:
    name = job.pop("RemoteHost", None)
    if name:
        job["LastRemoteHost"] = name
        slot = s["slots"].get(name)
        if slot is not None:
            slot.update(State="Unclaimed", Activity="Idle")
            slot.pop("JobId", None)
            slot.pop("RemoteOwner", None)


# -- printing ClassAds as -json does ---------------------------------------------------------------


def _escape(text: str) -> str:
    out = []
    for ch in text:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch in "\b\f\n\r\t":
            out.append({"\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}[ch])
        elif 0 < ord(ch) < 32:
            out.append(f"\\u00{ord(ch):02X}")
        else:
            out.append(ch)
    return "".join(out)


def _json_value(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        text = f"{value:.16G}"
        return text if any(c in text for c in ".Ee") else text + ".0"
    if isinstance(value, str):
        return '"' + _escape(value) + '"'
    if isinstance(value, dict) and EXPR in value:
        return '"\\/Expr(' + _escape(value[EXPR]) + ')\\/"'
    raise TypeError(value)


def json_ads(ads: list[dict[str, Any]], attributes: list[str] | None) -> str:
    out = ""
    for ad in ads:
        names = sorted(ad, key=str.lower)
        if attributes is not None:
            wanted = {a.lower() for a in attributes}
            names = [n for n in names if n.lower() in wanted]
        if not names:
            continue
        body = ",".join(f'\n  "{_escape(n)}": {_json_value(ad[n])}' for n in names)
        out += ("," if out else "[") + "\n{" + body + "\n}\n"
    return out + ("]\n" if out else "")


# -- the tools ------------------------------------------------------------------------------------


class Exit(Exception):
    def __init__(self, code: int, stdout: str = "", stderr: str = ""):
        self.code, self.stdout, self.stderr = code, stdout, stderr


def _options(args: list[str], with_value: set[str], flags: set[str]) -> tuple[dict[str, Any], list[str]]:
    opts: dict[str, Any] = {}
    rest: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg.startswith("-") and not re.match(r"-\d", arg):
            name = arg.lstrip("-").lower()
            if name in with_value:
                if i + 1 >= len(args):
                    raise Exit(1, stderr=f"Error: Argument {arg} requires another argument\n")
                opts[name] = args[i + 1]
                i += 2
                continue
            if name in flags:
                opts[name] = True
                i += 1
                continue
            raise Exit(1, stderr=f"Error: unrecognized argument {arg}\n")
        rest.append(arg)
        i += 1
    return opts, rest


def _job_ids(tool: str, words: list[str]) -> list[str]:
    for word in words:
        if not re.fullmatch(r"\d+(\.\d+)?", word):
            raise Exit(2, stderr=f"{tool} (emulated): only job ids are emulated, got {word!r}\n")
    return words


def condor_q(s: dict[str, Any], args: list[str]) -> Exit:
    opts, rest = _options(args, {"pool", "name", "attributes", "constraint"}, {"allusers", "json"})
    if not opts.get("json"):
        raise Exit(2, stderr="condor_q (emulated): only -json output is emulated\n")
    ids = _job_ids("condor_q", rest)
    jobs = []
    for jid, ad in sorted(s["jobs"].items(), key=lambda kv: _job_order(kv[0])):
        if not ids or jid in ids or jid.split(".")[0] in ids:
            jobs.append(ad)
    attributes = opts["attributes"].split(",") if "attributes" in opts else None
    return Exit(0, stdout=json_ads(jobs, attributes))


def condor_status(s: dict[str, Any], args: list[str]) -> Exit:
    opts, rest = _options(args, {"pool", "attributes", "constraint"}, {"json"})
    if not opts.get("json") or rest:
        raise Exit(2, stderr="condor_status (emulated): only -json of startd ads is emulated\n")
    slots = sorted(s["slots"].values(), key=lambda ad: ad["Name"])
    if "constraint" in opts:
        match = re.fullmatch(r'\s*Machine\s*==\s*"([^"\\]*)"\s*', opts["constraint"])
        if not match:
            raise Exit(2, stderr='condor_status (emulated): only -constraint \'Machine == "host"\' is emulated\n')
        slots = [ad for ad in slots if ad["Machine"].lower() == match[1].lower()]
    attributes = opts["attributes"].split(",") if "attributes" in opts else None
    return Exit(0, stdout=json_ads(slots, attributes))


_IMMUTABLE = {"clusterid", "procid", "mytype", "targettype", "jobstatus", "owner", "globaljobid", "qdate"}


def _parse_value(text: str) -> Any:
    text = text.strip()
    if text.lower() == "undefined":
        return None
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    if re.fullmatch(r'"(?:[^"\\]|\\.)*"', text):
        return text[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return expr(text)


def condor_qedit(s: dict[str, Any], args: list[str]) -> Exit:
    opts, rest = _options(args, {"pool", "name"}, set())
    ids = []
    while rest and re.fullmatch(r"\d+(\.\d+)?", rest[0]):
        ids.append(rest.pop(0))
    edits: dict[str, str] = {}
    while rest:
        word = rest.pop(0)
        if "=" in word:
            attr, _, value = word.partition("=")
        else:
            if not rest:
                raise Exit(1, stderr=f"condor_qedit : expression required after attribute {word}\n")
            attr, value = word, rest.pop(0)
        attr, value = attr.strip(), value.strip()
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", attr):
            raise Exit(1, stderr=f'Update aborted, illegal attribute-name specified for attribute "{attr}".\n'
                                 "Queue transaction failed.  No attributes were set.\n")
        edits[attr] = value or "undefined"
    if not ids:
        raise Exit(1, stderr="condor_qedit : Error - there were no jobs specified.\n")
    if not edits:
        raise Exit(1, stderr="condor_qedit : Error - no attributes specifed.\n")
    out = ""
    for attr in sorted(edits):  # a std::map: edits are applied in attribute-name order
        if attr.lower() in _IMMUTABLE:
            raise Exit(1, stdout=out, stderr=f'Update of immutable attribute "{attr}" is not allowed.\n'
                                             "Queue transaction failed.  No attributes were set.\n")
        for jid in ids:
            if jid not in s["jobs"]:
                raise Exit(1, stdout=out, stderr=f'Failed to set attribute "{attr}" for job {jid}.\n'
                                                 "Queue transaction failed.  No attributes were set.\n")
        out += f'Set attribute "{attr}" for {len(ids)} matching jobs.\n'
    for jid in ids:  # the transaction commits only when every edit was accepted
        for attr, value in edits.items():
            s["jobs"][jid][attr] = _parse_value(value)
    return Exit(0, stdout=out)


def _job_action(tool: str, s: dict[str, Any], args: list[str]) -> Exit:
    # condor_vacate_job takes no reason, and -fast (kill at once) as its one flag.
    vacate = tool == "condor_vacate_job"
    with_value = {"pool", "name"} if vacate else {"pool", "name", "reason", "subcode"}
    opts, rest = _options(args, with_value, {"fast"} if vacate else set())
    ids = _job_ids(tool, rest)
    if not ids:
        raise Exit(1, stderr="You did not specify any jobs\n")
    default = {"condor_hold": "via condor_hold", "condor_release": "via condor_release", "condor_rm": "via condor_rm",
               "condor_vacate_job": ""}
    reason = f"{opts.get('reason') or default[tool]} (by user {s['user']})"
    out, err, failed = "", "", False
    for jid in ids:
        ok, line = _act(tool, s, jid, reason, int(opts.get("subcode", 0)), bool(opts.get("fast")))
        if ok:
            out += line + "\n"
        else:
            err += line + "\n"
            failed = True
    return Exit(1 if failed else 0, stdout=out, stderr=err)


def _act(tool: str, s: dict[str, Any], jid: str, reason: str, subcode: int, fast: bool = False) -> tuple[bool, str]:
    job = s["jobs"].get(jid)
    if job is None:
        return False, f"Job {jid} not found"
    status = job["JobStatus"]
    if tool == "condor_hold":
        if status == 5 and job.get("HoldReasonCode") in (HOLD_CODE_USER_REQUEST, 16):
            return False, f"Job {jid} already held"
        if status in (3, 4):
            return False, f"Permission denied to hold job {jid}"
        _free_slot(s, job)
        job.update(JobStatus=5, HoldReason=reason, HoldReasonCode=HOLD_CODE_USER_REQUEST,
                   HoldReasonSubCode=subcode, JobStatusOnRelease=1)
        return True, f"Job {jid} held"
    if tool == "condor_release":
        if status != 5:
            return False, f"Job {jid} not held to be released"
        for attr in ("HoldReason", "HoldReasonCode", "HoldReasonSubCode"):
            if attr in job:
                job["Last" + attr] = job.pop(attr)
        job.update(JobStatus=job.pop("JobStatusOnRelease", 1), ReleaseReason=reason)
        return True, f"Job {jid} released"
    if tool == "condor_vacate_job":
        done = "fast-vacated" if fast else "vacated"
        if status != 2:
            return False, f"Job {jid} not running to be {done}"
        # Back to idle at once, where a real schedd shows it running until its shadow exits: that
        # only delays the VWN's next job, and the adapter reads nothing back.
        _free_slot(s, job)
        job.update(JobStatus=1)
        return True, f"Job {jid} {done}"
    if status == 3:
        return False, f"Job {jid} already marked for removal"
    running = status in (2, 6, 7)
    if running:
        _free_slot(s, job)
        job["RemoteHost"] = job.pop("LastRemoteHost")  # shown as X on its host until its shadow exits
    job.update(JobStatus=3, RemoveReason=reason)
    if not running:
        s["history"][jid] = s["jobs"].pop(jid)
    return True, f"Job {jid} marked for removal"


def condor_config_val(s: dict[str, Any], args: list[str]) -> Exit:
    opts, rest = _options(args, {"pool", "name", "rset"}, {"startd"})
    if not (opts.get("startd") and "name" in opts and "rset" in opts) or rest:
        raise Exit(2, stderr="condor_config_val (emulated): only -name H -startd -rset \"K = V\" is emulated\n")
    name, setting = opts["name"], opts["rset"]
    pool = opts.get("pool", "local pool")
    startd = s["startds"].get(name)
    if startd is None:
        raise Exit(1, stderr=f"Can't find address for startd '{name}' in {pool}\n"
                             "Perhaps you need to query another pool.\n")
    addr = f"<127.0.0.1:9618?alias={name}>"
    knob, sep, value = setting.partition("=")
    if not sep or not startd["runtime_config"]:
        # ENABLE_RUNTIME_CONFIG off, or the knob not in SETTABLE_ATTRS_CONFIG: the startd refuses.
        raise Exit(1, stderr=f'Attempt to set configuration "{setting}" on startd {name} {addr} failed.\n')
    startd["pending"][knob.strip()] = _parse_value(value)
    return Exit(0, stdout=f'Successfully set configuration "{setting}" on startd {name} {addr}. '
                          "The change will take effect on the next condor_reconfig.\n")


def condor_reconfig(s: dict[str, Any], args: list[str]) -> Exit:
    opts, rest = _options(args, {"pool", "name", "daemon"}, set())
    if opts.get("daemon") != "startd" or "name" not in opts or rest:
        raise Exit(2, stderr="condor_reconfig (emulated): only -name H -daemon startd is emulated\n")
    name = opts["name"]
    startd = s["startds"].get(name)
    if startd is None:
        raise Exit(1, stderr=f"Can't find address for startd {name}\nPerhaps you need to query another pool.\n")
    startd["config"].update(startd.pop("pending"))
    startd["pending"] = {}
    for slot in s["slots"].values():
        if slot["Machine"] == name and startd["kind"] == "vwn":  # WnodOpen is in a VWN's STARTD_ATTRS
            slot["WnodOpen"] = startd["config"].get("WnodOpen")
    return Exit(0, stdout=f'Sent "Reconfig" command to startd {name}\n')


COMMANDS = {
    "condor_q": condor_q,
    "condor_status": condor_status,
    "condor_qedit": condor_qedit,
    "condor_hold": lambda s, a: _job_action("condor_hold", s, a),
    "condor_release": lambda s, a: _job_action("condor_release", s, a),
    "condor_rm": lambda s, a: _job_action("condor_rm", s, a),
    "condor_vacate_job": lambda s, a: _job_action("condor_vacate_job", s, a),
    "condor_config_val": condor_config_val,
    "condor_reconfig": condor_reconfig,
}


def main(argv: list[str]) -> int:
    tool = os.path.basename(argv[0])
    if tool not in COMMANDS:
        print(f"condor_emu: called as {tool!r}; install it as one of {', '.join(TOOLS)}", file=sys.stderr)
        return 2
    pool = Pool(Path(argv[0]).parent)
    with pool.state() as s:
        s["calls"].append([tool, *argv[1:]])
        fault = s["faults"].get(tool)
        if fault:
            result = Exit(fault["code"], fault["stdout"], fault["stderr"])
        else:
            try:
                result = COMMANDS[tool](s, argv[1:])
            except Exit as exc:
                result = exc
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    return result.code


if __name__ == "__main__":
    sys.exit(main(sys.argv))
