#!/usr/bin/env python3
"""A scripted stand-in for Xen's ``xl``, for the tests of wnod-xl's command driving.

Run as ``fake_xl.py --state FILE <xl arguments>``; the tests wrap it in a small
executable they give wnod as its ``xl`` option. It keeps its domains in the JSON file
FILE and answers the commands wnod uses the way xl 4.17 does:

- ``create CFG``: parses the config (a small reader of xl's syntax; a syntax error is
  reported ``CFG:LINE: config parsing error near ...``, exit 1), refuses a name already
  taken and a disk whose file is missing, and starts the domain ("-b----").
- ``list``: the table ``Name ID Mem VCPUs State Time(s)``, Domain-0 first.
- ``list -l``: a JSON array of ``{"domid": N, "config": {"c_info": ..., "b_info": ...,
  "disks": [...], "nics": [...]}}``, shaped like libxl's, Domain-0 left out.
- ``shutdown -w DOM`` and ``destroy DOM`` (DOM a name or an id): the domain is gone;
  an unknown DOM is "DOM is an invalid domain identifier (rc=-6)", exit 1.

The tests script the world through the state file: ``fail[command]`` = {"stderr",
"exit"} makes that command fail; ``hang[command]`` = seconds makes it sleep first;
``ignore_shutdown`` makes guests ignore ``shutdown`` (it waits forever); a domain's
``flags`` can be set to crash or pause it. Every call's arguments go to ``calls``.
"""

import fcntl
import json
import os
import re
import sys
import time
from contextlib import contextmanager
from pathlib import Path

DOM0 = {"name": "Domain-0", "domid": 0, "flags": "r-----", "memory": 1024, "vcpus": 2}


@contextmanager
def locked(state_file: Path):
    with open(f"{state_file}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        state = json.loads(state_file.read_text()) if state_file.exists() else {}
        state.setdefault("domains", {})
        state.setdefault("next_domid", 1)
        state.setdefault("calls", [])
        yield state
        tmp = state_file.with_name(state_file.name + ".tmp")
        tmp.write_text(json.dumps(state, indent=1))
        os.replace(tmp, state_file)


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] != "--state":
        print("usage: fake_xl.py --state FILE <xl arguments>", file=sys.stderr)
        return 2
    state_file = Path(argv[1])
    args = argv[2:]
    command = args[0] if args else ""
    with locked(state_file) as state:
        state["calls"].append(args)
        hang = state.get("hang", {}).get(command, 0)
        fail = state.get("fail", {}).get(command)
        ignore_shutdown = state.get("ignore_shutdown", False)
    if hang:
        time.sleep(hang)
    if fail:
        sys.stderr.write(fail.get("stderr", ""))
        return int(fail.get("exit", 1))
    if command == "create" and len(args) == 2:
        return create(state_file, Path(args[1]))
    if command == "list" and args[1:] == []:
        return list_table(state_file)
    if command == "list" and args[1:] == ["-l"]:
        return list_long(state_file)
    if command == "shutdown" and args[1:2] == ["-w"] and len(args) == 3:
        if ignore_shutdown and find(state_file, args[2]) is not None:
            while True:
                time.sleep(3600)
        return remove(state_file, args[2])
    if command == "destroy" and len(args) == 2:
        return remove(state_file, args[1])
    print(f"fake xl: unsupported arguments {args!r}", file=sys.stderr)
    return 2


def create(state_file: Path, cfg: Path) -> int:
    print(f"Parsing config from {cfg}", file=sys.stderr)
    try:
        settings = parse_config(cfg.read_text(), str(cfg))
    except OSError as e:
        print(f"Failed to read config file: {cfg}: {e.strerror}", file=sys.stderr)
        return 1
    except ConfigSyntaxError as e:
        print(str(e), file=sys.stderr)
        return 1
    name = settings.get("name")
    if not isinstance(name, str) or not name:
        print("Domain name must be specified.", file=sys.stderr)
        return 1
    disks = [parse_disk(d) for d in settings.get("disk", [])]
    for disk in disks:
        if not os.path.exists(disk["pdev_path"]):
            print(
                f"libxl: error: libxl_device.c:417:libxl__device_disk_set_backend: Disk vdev={disk['vdev']}"
                f" failed to stat: {disk['pdev_path']}: No such file or directory",
                file=sys.stderr,
            )
            return 3
    with locked(state_file) as state:
        if name in state["domains"]:
            print(
                f'libxl: error: libxl_create.c:697:libxl__domain_make: Domain with name "{name}" already exists.',
                file=sys.stderr,
            )
            return 3
        domid = state["next_domid"]
        state["next_domid"] = domid + 1
        b_info: dict = {
            "max_vcpus": int(settings.get("vcpus", 1)),
            "max_memkb": int(settings.get("maxmem", settings.get("memory", 128))) * 1024,
            "target_memkb": int(settings.get("memory", 128)) * 1024,
        }
        for key in ("kernel", "ramdisk", "bootloader"):
            if key in settings:
                b_info[key] = settings[key]
        if "extra" in settings:
            b_info["cmdline"] = settings["extra"]
        config = {
            "c_info": {"type": settings.get("type", "pv"), "name": name, "uuid": settings.get("uuid", f"fake-{domid}")},
            "b_info": b_info,
            "disks": disks,
            "nics": [dict(kv.split("=", 1) for kv in v.split(",") if "=" in kv) for v in settings.get("vif", [])],
        }
        state["domains"][name] = {"domid": domid, "flags": "-b----", "config": config}
    return 0


def list_table(state_file: Path) -> int:
    with locked(state_file) as state:
        rows = [DOM0] + [
            {
                "name": name,
                "domid": d["domid"],
                "flags": d["flags"],
                "memory": d["config"]["b_info"]["target_memkb"] // 1024,
                "vcpus": d["config"]["b_info"]["max_vcpus"],
            }
            for name, d in sorted(state["domains"].items(), key=lambda kv: kv[1]["domid"])
        ]
    print("Name                                        ID   Mem VCPUs\tState\tTime(s)")
    for r in rows:
        print(f"{r['name']:<40} {r['domid']:5d} {r['memory']:5d} {r['vcpus']:5d}     {r['flags']}       1.5")
    return 0


def list_long(state_file: Path) -> int:
    with locked(state_file) as state:
        out = [
            {"domid": d["domid"], "config": d["config"]}
            for _, d in sorted(state["domains"].items(), key=lambda kv: kv[1]["domid"])
        ]
    print(json.dumps(out, indent=4))
    return 0


def find(state_file: Path, which: str) -> str | None:
    with locked(state_file) as state:
        for name, d in state["domains"].items():
            if which == name or which == str(d["domid"]):
                return name
    return None


def remove(state_file: Path, which: str) -> int:
    with locked(state_file) as state:
        for name, d in list(state["domains"].items()):
            if which == name or which == str(d["domid"]):
                del state["domains"][name]
                return 0
    print(f"{which} is an invalid domain identifier (rc=-6)", file=sys.stderr)
    return 1


# -- a small reader of xl's config syntax ---------------------------------------------------------


class ConfigSyntaxError(Exception):
    pass


_TOKEN = re.compile(
    r"""(?P<space>[ \t\r]+)|(?P<comment>\#[^\n]*)|(?P<newline>\n)|(?P<ident>[a-z][_0-9a-z]*)"""
    r"""|(?P<number>[0-9][0-9a-fx]*)|(?P<string>'(?:[^'\\\n]|\\[^\n])*'|"(?:[^"\\\n]|\\[^\n])*")"""
    r"""|(?P<punct>[=\[\],;])"""
)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"'}


def _unquote(text: str) -> str:
    body, out, i = text[1:-1], [], 0
    while i < len(body):
        if body[i] == "\\":
            out.append(_ESCAPES.get(body[i + 1], body[i + 1]))
            i += 2
        else:
            out.append(body[i])
            i += 1
    return "".join(out)


def parse_config(text: str, filename: str) -> dict:
    tokens: list[tuple[str, object, int]] = []
    pos, line = 0, 1
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise ConfigSyntaxError(f"{filename}:{line}: config parsing error near `{text[pos:pos + 10]}': syntax error")
        kind = m.lastgroup
        if kind == "newline":
            tokens.append(("end", None, line))
            line += 1
        elif kind == "string":
            tokens.append(("value", _unquote(m.group()), line))
        elif kind == "number":
            tokens.append(("value", int(m.group(), 0), line))
        elif kind in ("ident", "punct"):
            tokens.append((kind, m.group(), line))
        pos = m.end()
    tokens.append(("end", None, line))
    settings: dict = {}
    i = 0

    def error(at: int) -> ConfigSyntaxError:
        return ConfigSyntaxError(f"{filename}:{tokens[at][2]}: config parsing error near `{tokens[at][1]}': syntax error")

    while i < len(tokens):
        kind, value, _ = tokens[i]
        if kind == "end" or (kind == "punct" and value == ";"):
            i += 1
            continue
        if kind != "ident" or tokens[i + 1][:2] != ("punct", "="):
            raise error(i)
        key, i = value, i + 2
        while tokens[i][0] == "end":
            i += 1
        if tokens[i][0] == "value":
            settings[key] = tokens[i][1]
            i += 1
        elif tokens[i][:2] == ("punct", "["):
            items, i = [], i + 1
            while True:
                while tokens[i][0] == "end":
                    i += 1
                if tokens[i][:2] == ("punct", "]"):
                    i += 1
                    break
                if tokens[i][0] != "value":
                    raise error(i)
                items.append(tokens[i][1])
                i += 1
                while tokens[i][0] == "end":
                    i += 1
                if tokens[i][:2] == ("punct", ","):
                    i += 1
                elif tokens[i][:2] != ("punct", "]"):
                    raise error(i)
            settings[key] = items
        else:
            raise error(i)
        if tokens[i][0] != "end" and tokens[i][:2] != ("punct", ";"):
            raise error(i)
    return settings


def parse_disk(spec: str) -> dict:
    """xl's disk syntax, as much as wnod writes: key=value pairs, target= last and taking the rest."""
    disk: dict = {}
    rest = spec
    while rest:
        rest = rest.lstrip(" ")
        if rest.startswith("target="):
            disk["pdev_path"] = rest[len("target="):]
            break
        item, _, rest = rest.partition(",")
        key, _, value = item.strip().partition("=")
        if key == "access":
            if value in ("rw", "w"):
                disk["readwrite"] = 1
        elif key:
            disk[key] = value
    return disk


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
