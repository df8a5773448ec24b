"""What a test needs from the machine (a package, root, a daemon), and what happens when it is
missing: a skip with the reason on a developer's machine, a failure under CI.

CI runs on a fresh machine that ``dev/setup`` has equipped with every package the
distributions list (their ``system-packages.txt``). There, a missing package is a broken
setup to mend, never a reason for the suite to prove less without saying so.
"""

import importlib.util
import os
import shutil
from pathlib import Path

import pytest


def under_ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


def require(missing: str, *, module: bool = False) -> None:
    """Stop the test (or, with `module`, the whole module) because of `missing`, which names what
    this machine lacks and how to get it. Does nothing when `missing` is empty."""
    if not missing:
        return
    if under_ci():
        pytest.fail(f"CI must run this test, but: {missing}", pytrace=False)
    pytest.skip(missing, allow_module_level=module)


def missing_commands(*names: str, hint: str = "") -> str:
    """Which of the commands `names` are neither on PATH nor in /usr/sbin, as a reason ("" when
    none is missing); `hint` says where they come from (e.g. the system-packages.txt)."""
    absent = [n for n in names if shutil.which(n) is None and not Path("/usr/sbin", n).exists()]
    if not absent:
        return ""
    return "not installed: " + ", ".join(absent) + (f" ({hint})" if hint else "")


def missing_root(why: str) -> str:
    """Why the test needs root, when it does not run as root ("" otherwise)."""
    return "" if os.geteuid() == 0 else f"needs root: {why}"


def missing_module(module: str, distribution: str) -> str:
    """Why `module` cannot be imported here ("" when it can): its `distribution` is not installed."""
    if importlib.util.find_spec(module) is not None:
        return ""
    return f"{distribution} is not installed in this environment (dev/setup installs it)"


def missing_file(path: str, hint: str) -> str:
    """Why the test needs `path`, when it is not a file here ("" otherwise); `hint` says what makes it."""
    return "" if Path(path).is_file() else f"no {path} ({hint})"
