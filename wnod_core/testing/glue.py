"""Testing a site's shell glue (a batch system's hooks in ``contrib/``) as its batch system runs it.

Glue that runs as root reads its settings and finds its helpers at fixed paths, never through
the environment (under LSF a hook runs in the job's own environment). A test installs a copy
with those paths pointed into its temporary folder (``installed``), and gives it something real
to act on: a process of another user, daemonized as a job's leftover would be (``leftover``).
"""

import os
import pwd
import re
import shlex
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path


def installed(script: Path, into: Path, settings: Mapping[str, str]) -> Path:
    """Copy `script` into `into`, each ``NAME=value`` line of `settings`' names set to the new
    value (as a site's installation would have it); fails if a name is not set in the script."""
    text = script.read_text()
    for name, value in settings.items():
        text, found = re.subn(rf"^{re.escape(name)}=.*$", f"{name}={value}", text, count=1, flags=re.MULTILINE)
        assert found, f"{script.name} sets no {name}= at the start of a line"
    into.mkdir(parents=True, exist_ok=True)
    copy = into / script.name
    copy.write_text(text)
    copy.chmod(0o755)
    return copy


def settings_file(path: Path, values: Mapping[str, str]) -> Path:
    """Write a glue's shell settings file: one ``NAME='value'`` line each, quoted for ``sh``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{name}={shlex.quote(value)}\n" for name, value in values.items()))
    return path


def installed_with_settings(script: Path, into: Path, settings: Mapping[str, str]) -> Path:
    """`script` installed into `into`, reading `settings` from its own file there (its
    ``SETTINGS=`` pointed at it)."""
    conf = settings_file(into / f"{script.name}.conf", settings)
    return installed(script, into, {"SETTINGS": str(conf)})


@contextmanager
def leftover(user: str = "nobody") -> Iterator[tuple[int, "subprocess.Popen[bytes]"]]:
    """A process of `user` in a session of its own, as a job's ``setsid`` daemon: (uid, process).
    Needs root; killed at the end whatever happened."""
    entry = pwd.getpwnam(user)

    def become() -> None:
        os.setsid()
        os.setgid(entry.pw_gid)
        os.setuid(entry.pw_uid)

    process = subprocess.Popen(["sleep", "600"], preexec_fn=become, stdin=subprocess.DEVNULL)
    try:
        yield entry.pw_uid, process
    finally:
        process.kill()
        process.wait(10)
