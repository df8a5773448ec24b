"""docs/farm.md's deployment on N hosts, as written: its site file and host file, put where it
says and read with the XDG_CONFIG_DIRS it gives the unit, merge into the configuration it
describes. Read from the page itself, so the page cannot drift from what wnod does."""

import json
import os
import re
import subprocess
from pathlib import Path

from .hosts import WNOD

DOC = Path(__file__).parents[2] / "docs" / "farm.md"


def documented_files() -> dict[str, str]:
    """The page's TOML blocks whose first line names the file they are, by that name."""
    blocks = re.findall(r"```toml\n# (/\S+): [^\n]*\n(.*?)```", DOC.read_text(), re.S)
    return dict(blocks)


def test_the_site_file_and_the_host_file_merge_as_the_page_says(tmp_path: Path) -> None:
    files = documented_files()
    assert sorted(files) == ["/etc/wnod/host/wnod/wnod.toml", "/etc/xdg/wnod/wnod.toml"]
    for name, text in files.items():
        path = tmp_path / name.lstrip("/")
        path.parent.mkdir(parents=True)
        path.write_text(text)
    unit = re.search(r"Environment=XDG_CONFIG_DIRS=(\S+)`", DOC.read_text()).group(1)
    dirs = ":".join(str(tmp_path / d.lstrip("/")) for d in unit.split(":"))
    env = {"PATH": os.environ["PATH"], "XDG_CONFIG_DIRS": dirs, "XDG_CONFIG_HOME": str(tmp_path / "home")}
    done = subprocess.run([str(WNOD), "config", "show", "--json"], capture_output=True, text=True, timeout=60,
                          check=False, env=env)
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    site, host = (str(tmp_path / name.lstrip("/")) for name in ("/etc/xdg/wnod/wnod.toml",
                                                                 "/etc/wnod/host/wnod/wnod.toml"))
    assert shown["files"] == [site, host], "the host file read last: it wins"
    config, sources = shown["config"], shown["sources"]
    assert config["host"]["name"] == "hv01.farm.example" and config["host"]["baits"] == ["hv01-bait"]
    assert config["batch"]["system"] == "slurm" and "el9" in config["vm_types"]
    # One [daemon] table from both files, key by key: the shared token, this host's address.
    assert config["daemon"]["read_token_file"] == "/etc/wnod/read.token"
    assert config["daemon"]["listen"] == "10.1.0.1:8470"
    assert sources["daemon.read_token_file"] == site and sources["daemon.listen"] == host
    assert sources["host.name"] == host and sources["engine.vwn_hostname"] == site
