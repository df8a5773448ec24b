"""The LSF glue in contrib/lsf, run as LSF runs it: /bin/sh, LSF's variables, LSF's PATH.

The pre-exec is run with the real ``wnod`` of this environment; the esub with the real
``wnod resolve``; the post-exec with the real curl, against a listener on 127.0.0.1.
"""

import http.server
import os
import pwd
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from wnod_core.interfaces import BaitOutcome
from wnod_core.testing.glue import installed_with_settings

from wnod_lsf.bait import EXIT_CODES

GLUE = Path(__file__).resolve().parents[3] / "contrib" / "lsf"
WNOD = Path(sys.executable).parent / "wnod"
LSF_PATH = "/bin:/usr/bin:/sbin:/usr/sbin"
"""The PATH LSF gives pre- and post-execution commands."""


def run(script: str | Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    path = script if isinstance(script, Path) else GLUE / script
    return subprocess.run(["/bin/sh", str(path), *args], env={"PATH": LSF_PATH, **env},
                          capture_output=True, text=True, timeout=60, cwd="/tmp", check=False)


def glue(tmp_path: Path, script: str, **settings: str) -> Path:
    """`script` installed as a site installs it, its settings file saying `settings`."""
    return installed_with_settings(GLUE / script, tmp_path / "libexec", settings)


def fake_wnod(tmp_path: Path, code: int, says: str = "") -> Path:
    """A wnod that writes down its arguments and its environment, says `says` and exits `code`."""
    script = tmp_path / "fake-wnod"
    script.write_text(f'#!/bin/sh\necho "$@" >>{tmp_path}/wnod-args\nenv >{tmp_path}/wnod-env\n'
                      f'printf "%s" "{says}"\nexit {code}\n')
    script.chmod(0o755)
    return script


# -- PRE_EXEC ----------------------------------------------------------------------------------------

LSB_ENV = {"LSB_JOBID": "4711", "LSB_JOBINDEX": "3", "LSB_HOSTS": "bait01", "LSB_MCPU_HOSTS": "bait01 1"}
"""What LSF sets for the job's dispatch to bait01."""


@pytest.fixture
def bait(tmp_path: Path) -> dict[str, str]:
    """The pre-exec's settings on a bait."""
    marker = tmp_path / "lsf-bait"
    marker.touch()
    return {"WNOD_BAIT_MARKER": str(marker), "WNOD_LOG": str(tmp_path / "pre-exec.log")}


def test_pre_exec_in_a_vwn_lets_the_job_run_without_asking_wnod(tmp_path: Path, bait: dict) -> None:
    (tmp_path / "vwn").touch()
    script = glue(tmp_path, "wnod-lsf-pre-exec", **{**bait, "WNOD_BAIT_MARKER": str(tmp_path / "absent"),
                                                    "WNOD_VWN_MARKER": str(tmp_path / "vwn"),
                                                    "WNOD": str(fake_wnod(tmp_path, 1))})
    assert run(script, LSB_ENV).returncode == 0
    assert not (tmp_path / "wnod-args").exists()


def test_pre_exec_on_a_host_neither_bait_nor_vwn_puts_the_job_back_saying_why(tmp_path: Path, bait: dict) -> None:
    # Reviewer's find: a bait whose marker was lost (reinstalled) ran every job itself, outside a VWN.
    script = glue(tmp_path, "wnod-lsf-pre-exec", **{**bait, "WNOD_BAIT_MARKER": str(tmp_path / "absent"),
                                                    "WNOD_VWN_MARKER": str(tmp_path / "absent-too"),
                                                    "WNOD": str(fake_wnod(tmp_path, 0))})
    assert run(script, LSB_ENV).returncode == 1
    assert not (tmp_path / "wnod-args").exists()
    assert "neither a bait" in (tmp_path / "pre-exec.log").read_text()


@pytest.mark.parametrize("code", [0, 1, 2, 99])
def test_pre_exec_on_a_bait_passes_wnod_baits_exit_code_to_lsf(tmp_path: Path, bait: dict, code: int) -> None:
    script = glue(tmp_path, "wnod-lsf-pre-exec", **bait, WNOD=str(fake_wnod(tmp_path, code, says="moved")),
                  WNOD_BAIT_ARGS="--timeout 600")
    assert run(script, LSB_ENV).returncode == code
    assert (tmp_path / "wnod-args").read_text() == "bait --timeout 600\n"
    log = (tmp_path / "pre-exec.log").read_text()
    assert "moved" in log and f"job 4711[3]: wnod bait exited {code}" in log


def test_pre_exec_is_not_steered_by_the_jobs_environment(tmp_path: Path, bait: dict) -> None:
    """LSF runs it as root in the environment the job's owner chose: none of it may choose what
    runs, which settings are read, or which daemon wnod bait asks."""
    evil = tmp_path / "evil"
    evil.write_text(f"#!/bin/sh\ntouch {tmp_path}/pwned\nexit 0\n")
    evil.chmod(0o755)
    (tmp_path / "evil.conf").write_text(f"WNOD={evil}\n")
    script = glue(tmp_path, "wnod-lsf-pre-exec", **bait, WNOD=str(fake_wnod(tmp_path, 2)),
                  WNOD_BAIT_ENV="WNOD_CONFIG=/etc/wnod/site.toml")
    hostile = {"WNOD": str(evil), "WNOD_LSF_GLUE": str(tmp_path / "evil.conf"), "SETTINGS": str(tmp_path / "evil.conf"),
               "WNOD_BAIT_MARKER": "/", "WNOD_BAIT_ARGS": "--socket /tmp/mine", "WNOD_CONFIG": "/home/mallory/w.toml",
               "XDG_CONFIG_HOME": "/home/mallory/.config", "WNOD_RUNTIME_DIR": "/home/mallory", "IFS": "/"}
    assert run(script, {**hostile, **LSB_ENV}).returncode == 2
    assert not (tmp_path / "pwned").exists()
    assert (tmp_path / "wnod-args").read_text() == "bait\n"
    seen = dict(line.split("=", 1) for line in (tmp_path / "wnod-env").read_text().splitlines() if "=" in line)
    assert seen["WNOD_CONFIG"] == "/etc/wnod/site.toml"
    assert {k: seen[k] for k in LSB_ENV} == LSB_ENV
    assert not {"XDG_CONFIG_HOME", "WNOD_RUNTIME_DIR", "WNOD_LSF_GLUE", "WNOD"} & set(seen), seen


def hostile_shell_environment(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """bash run as sh (RHEL's /bin/sh, where LSF runs its hooks), and a job environment whose
    exported functions stand in for the commands the glue runs, as its owner could submit it."""
    bash = Path("/bin/bash")
    if not bash.exists():
        pytest.skip("no bash here to run as sh")
    sh = tmp_path / "bin" / "sh"
    sh.parent.mkdir(exist_ok=True)
    sh.symlink_to(bash)
    pwn = f"() {{ touch {tmp_path}/pwned; }}"
    functions = {f"BASH_FUNC_{name}%%": pwn for name in ("env", "date", "hostname", "cat", "[", "printf")}
    return sh, functions


@pytest.mark.parametrize("script", ["wnod-lsf-pre-exec", "wnod-lsf-post-exec"])
def test_functions_in_the_jobs_environment_never_run_as_root(tmp_path: Path, bait: dict, vwn: dict,
                                                            script: str) -> None:
    """Reviewer's find: bash imports exported functions, which win over any command by name."""
    sh, functions = hostile_shell_environment(tmp_path)
    settings = {**bait, "WNOD": str(fake_wnod(tmp_path, 2))} if "pre" in script else {**vwn}
    installed = glue(tmp_path, script, **settings)
    done = subprocess.run([str(sh), str(installed)], env={"PATH": LSF_PATH, **functions, **LSB_ENV},
                          capture_output=True, text=True, timeout=60, cwd="/tmp", check=False)
    assert not (tmp_path / "pwned").exists(), done.stderr
    if "pre" in script:
        assert done.returncode == 2, done.stderr  # wnod bait's answer, not a function's 0
        assert not [k for k in (tmp_path / "wnod-env").read_text().splitlines() if k.startswith("BASH_FUNC")]


def test_pre_exec_on_a_bait_without_wnod_puts_the_job_back(tmp_path: Path, bait: dict) -> None:
    script = glue(tmp_path, "wnod-lsf-pre-exec", **bait, WNOD=str(tmp_path / "no-wnod"))
    assert run(script, LSB_ENV).returncode == 1
    assert "is missing" in (tmp_path / "pre-exec.log").read_text()


def bait_env_words(tmp_path: Path, config: Path) -> str:
    """WNOD_BAIT_ENV for the real wnod of these tests: its config, and a home of its own."""
    return (f"WNOD_CONFIG={config} HOME={tmp_path} XDG_CONFIG_DIRS={tmp_path / 'xdg'}"
            f" WNOD_STATE_DIR={tmp_path / 'st'}")


def test_pre_exec_with_the_real_wnod_and_no_daemon_puts_the_job_back(
    tmp_path: Path, bait: dict, lsf_bin: Path
) -> None:
    config = tmp_path / "wnod.toml"
    config.write_text(SITE.format(lsf_bin=lsf_bin, socket=tmp_path / "no-daemon.sock", user=ME))
    script = glue(tmp_path, "wnod-lsf-pre-exec", **bait, WNOD=str(WNOD), WNOD_BAIT_ARGS="--timeout 1",
                  WNOD_BAIT_ENV=bait_env_words(tmp_path, config))
    assert run(script, LSB_ENV).returncode == 1  # RETRY, as the LSF adapter codes it
    log = (tmp_path / "pre-exec.log").read_text()
    assert "job 4711[3]: retry: no answer from the daemon" in log, log


def test_pre_exec_with_a_broken_wnod_config_puts_the_job_back(tmp_path: Path, bait: dict) -> None:
    """wnod's own failure is never the job's: LSF re-pends it (any non-zero exit but 99, which exits it)."""
    config = tmp_path / "wnod.toml"
    config.write_text("[batch]\nsystem = 'lsf'\n[batch.lsf]\nno_such_option = 1\n")
    script = glue(tmp_path, "wnod-lsf-pre-exec", **bait, WNOD=str(WNOD), WNOD_BAIT_ENV=bait_env_words(tmp_path, config))
    code = run(script, LSB_ENV).returncode
    assert code not in (0, EXIT_CODES[BaitOutcome.REFUSED]), code
    assert "no_such_option" in (tmp_path / "pre-exec.log").read_text()


SITE = """
[host]
name = "hv01"
vcpus = 4
memory = "8GiB"
max_vwns = 2

[vm_types.el9]
image = "el9.img"

[vm_types.atlas]
image = "atlas.img"

[[resolvers]]
use = "requested"
allow.atlas = {{ users = ["{user}"] }}

[[resolvers]]
use = "default"
vm_type = "el9"

[batch]
system = "lsf"

[batch.lsf]
bin_dir = "{lsf_bin}"

[daemon]
socket = "{socket}"
"""
ME = pwd.getpwuid(os.getuid()).pw_name
"""Who runs the tests: the esub asks wnod about the user `id -un` names."""


# -- esub ----------------------------------------------------------------------------------------------

@pytest.fixture
def esub_env(tmp_path: Path) -> dict[str, str]:
    return {"WNOD_ESUB_CONF": str(tmp_path / "none.conf"), "LSB_SUB_PARM_FILE": str(tmp_path / "parm"),
            "LSB_SUB_MODIFY_FILE": str(tmp_path / "modify"), "LSB_SUB_ABORT_VALUE": "97"}


def parm(env: dict[str, str], **values: str) -> None:
    Path(env["LSB_SUB_PARM_FILE"]).write_text("".join(f'{k}="{v}"\n' for k, v in values.items()))


def modified(env: dict[str, str]) -> str:
    path = Path(env["LSB_SUB_MODIFY_FILE"])
    return path.read_text() if path.exists() else ""


def test_esub_without_a_request_changes_nothing(esub_env: dict) -> None:
    parm(esub_env, LSB_SUB_QUEUE="short")
    assert run("esub.wnod", esub_env).returncode == 0
    assert modified(esub_env) == ""


@pytest.mark.parametrize("how", ["argument", "additional"])
def test_esub_turns_a_request_into_the_types_application_profile(esub_env: dict, how: str) -> None:
    parm(esub_env, LSB_SUB_ADDITIONAL="license wnod(atlas)")
    args = ("atlas",) if how == "argument" else ()
    done = run("esub.wnod", esub_env, *args)
    assert done.returncode == 0, done.stderr
    assert modified(esub_env) == 'LSB_SUB_APP_NAME="wnod-atlas"\n'


def test_esub_refuses_a_type_the_site_does_not_offer(esub_env: dict) -> None:
    parm(esub_env, LSB_SUB_APP_NAME="wnod-cms")
    done = run("esub.wnod", {**esub_env, "WNOD_VM_TYPES": "el9 atlas"})
    assert done.returncode == 97
    assert 'there is no VM type "cms" to ask for; there are: el9 atlas' in done.stderr


def test_esub_refuses_two_different_requests(esub_env: dict) -> None:
    parm(esub_env, LSB_SUB_APP_NAME="wnod-el9")
    done = run("esub.wnod", esub_env, "atlas")
    assert done.returncode == 97 and "give one of them" in done.stderr


def test_esub_refuses_a_name_that_is_no_type(esub_env: dict) -> None:
    parm(esub_env)
    assert run("esub.wnod", esub_env, "../etc").returncode == 97


@pytest.fixture
def site(tmp_path: Path, lsf_bin: Path) -> dict[str, str]:
    config = tmp_path / "wnod.toml"
    config.write_text(SITE.format(lsf_bin=lsf_bin, socket=tmp_path / "wnod.sock", user=ME))
    return {"WNOD": str(WNOD), "WNOD_CONFIG": str(config), "HOME": str(tmp_path),
            "XDG_CONFIG_DIRS": str(tmp_path / "xdg"), "XDG_CONFIG_HOME": str(tmp_path / "xdg-home")}


def test_esub_asks_the_sites_resolver_chain_and_passes_what_it_allows(esub_env: dict, site: dict) -> None:
    parm(esub_env, LSB_SUB_QUEUE="short")
    done = run("esub.wnod", {**esub_env, **site}, "atlas")
    assert done.returncode == 0, done.stderr
    assert modified(esub_env) == 'LSB_SUB_APP_NAME="wnod-atlas"\n'


def test_esub_refuses_what_the_sites_resolver_chain_refuses_with_its_reason(esub_env: dict, site: dict) -> None:
    parm(esub_env, LSB_SUB_APP_NAME="wnod-el9")
    done = run("esub.wnod", {**esub_env, **site})
    assert done.returncode == 97
    assert done.stderr.startswith("wnod: ") and "el9" in done.stderr, done.stderr


def test_esub_lets_a_job_through_when_wnod_is_broken_unless_told_not_to(tmp_path: Path, esub_env: dict) -> None:
    parm(esub_env, LSB_SUB_APP_NAME="wnod-el9")
    broken = {**esub_env, "WNOD": str(fake_wnod(tmp_path, 1, says="Traceback"))}
    done = run("esub.wnod", broken)
    assert done.returncode == 0 and "not checked now" in done.stderr
    assert run("esub.wnod", {**broken, "WNOD_ON_ERROR": "refuse"}).returncode == 97


# -- POST_EXEC ---------------------------------------------------------------------------------------

class _Listener(http.server.BaseHTTPRequestHandler):
    seen: list[tuple[str, str, str | None]] = []

    def do_POST(self) -> None:
        self.seen.append((self.command, self.path, self.headers.get("Authorization")))
        self.send_response(202)
        self.end_headers()
        self.wfile.write(b'{"noticed": true}')

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def daemon_api() -> Iterator[tuple[str, list]]:
    _Listener.seen = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Listener)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", _Listener.seen
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def vwn(tmp_path: Path) -> dict[str, str]:
    """The post-exec's settings in a VWN: its marker, and no cleanup installed."""
    marker = tmp_path / "vwn"
    marker.touch()
    return {"WNOD_VWN_MARKER": str(marker), "WNOD_CLEANUP": str(tmp_path / "no-cleanup")}


def test_post_exec_tells_the_daemon_of_the_jobs_end(tmp_path: Path, vwn: dict, daemon_api: tuple[str, list]) -> None:
    url, seen = daemon_api
    token = tmp_path / "token"
    token.write_text("s3cret\n")
    script = glue(tmp_path, "wnod-lsf-post-exec", **vwn, WNOD_NOTICE_URL=url + "/", WNOD_TOKEN_FILE=str(token))
    # The owner's HOME, with a .curlrc that would have curl (as root) write a file, and a proxy
    # that would see the token: neither is heeded.
    home = tmp_path / "home"
    home.mkdir()
    (home / ".curlrc").write_text(f'output = "{tmp_path}/written-by-root"\n')
    hostile = {"HOME": str(home), "CURL_HOME": str(home), "http_proxy": "http://127.0.0.1:9", "ALL_PROXY": "http://127.0.0.1:9"}
    assert run(script, {**hostile, "LSB_JOBID": "4711", "LSB_JOBINDEX": "3"}).returncode == 0
    assert seen == [("POST", "/v1/jobs/4711%5B3%5D/notice", "Bearer s3cret")]
    assert not (tmp_path / "written-by-root").exists()


def test_post_exec_without_settings_or_daemon_does_nothing_and_exits_0(tmp_path: Path, vwn: dict) -> None:
    assert run(glue(tmp_path, "wnod-lsf-post-exec", **vwn), {"LSB_JOBID": "4711"}).returncode == 0
    down = glue(tmp_path, "wnod-lsf-post-exec", **vwn, WNOD_NOTICE_URL="http://127.0.0.1:9",
                WNOD_TOKEN_FILE=str(tmp_path / "none"))
    assert run(down, {"LSB_JOBID": "4711"}).returncode == 0


def cleanup_installed(tmp_path: Path, min_uid: int) -> Path:
    """contrib/vwn/wnod-vwn-cleanup as the VWN image has it, killing no uid below `min_uid` (the
    tests' leftover is nobody's: no other user of this machine may be reached)."""
    return installed_with_settings(GLUE.parent / "vwn" / "wnod-vwn-cleanup", tmp_path / "cleanup",
                                   {"MIN_UID": str(min_uid), "MAX_UID": str(min_uid)})


def test_post_exec_in_a_vwn_kills_what_the_job_left(tmp_path: Path, vwn: dict, leftover) -> None:
    uid, process = leftover
    script = glue(tmp_path, "wnod-lsf-post-exec", **{**vwn, "WNOD_CLEANUP": str(cleanup_installed(tmp_path, uid))})
    assert run(script, {"LSB_JOBID": "4711"}).returncode == 0
    assert process.wait(10) == -9


def test_post_exec_on_a_bait_kills_nothing_whatever_the_jobs_environment_says(
    tmp_path: Path, vwn: dict, leftover
) -> None:
    uid, process = leftover
    cleanup = cleanup_installed(tmp_path, uid)
    script = glue(tmp_path, "wnod-lsf-post-exec", **{**vwn, "WNOD_VWN_MARKER": str(tmp_path / "absent"),
                                                     "WNOD_CLEANUP": str(cleanup)})
    hostile = {"WNOD_VWN_MARKER": "/", "SETTINGS": "/dev/null", "WNOD_CLEANUP": str(cleanup)}
    assert run(script, {**hostile, "LSB_JOBID": "4711"}).returncode == 0
    assert process.poll() is None, "a process on a bait was killed"
