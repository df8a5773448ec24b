"""`wnod farm web` as a real process, and a real headless Chromium to look at it: each started
here and stopped by its PID, whatever the test did meanwhile."""

import contextlib
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from wnod_core.testing.processes import stop

from .hosts import WNOD

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]  # a fresh root's /dev/shm may be small: its files go to /tmp


def stop_group(process: subprocess.Popen[bytes]) -> None:
    """Stop `process`, then SIGKILL what is left of the process group it leads (a browser's
    renderers)."""
    stop(process, grace=15)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


@contextlib.contextmanager
def dashboard(farm_file: Path, log: Path, *args: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """`wnod farm --farm FILE web --listen 127.0.0.1:0 ARGS`, until the block ends; yields its
    address, as it says it when it listens."""
    with open(log, "ab") as out:
        process = subprocess.Popen([str(WNOD), "farm", "--farm", str(farm_file), "web", "--listen", "127.0.0.1:0",
                                    *args], env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
    try:
        deadline = time.monotonic() + 30
        while not (found := re.search(r" at (https?://\S+/)", log.read_text())):
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        yield found.group(1)
    finally:
        stop(process)


@contextlib.contextmanager
def chromium(profile: Path, log: Path) -> Iterator[Any]:
    """Debian's Chromium, headless, with a fresh profile at `profile`, driven by Playwright over
    the DevTools protocol; yields Playwright's Browser. Started here rather than by Playwright so
    that it is ours to stop, by its PID, and Playwright never looks for browsers of its own."""
    from playwright.sync_api import sync_playwright

    profile.mkdir()
    with open(log, "ab") as out:
        process = subprocess.Popen([CHROMIUM, *CHROMIUM_ARGS, f"--user-data-dir={profile}",
                                    "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
                                    "about:blank"], stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                   start_new_session=True)
    try:
        port_file = profile / "DevToolsActivePort"  # Chromium writes its port there once it listens
        deadline = time.monotonic() + 60
        while not (port_file.exists() and port_file.read_text().strip()):
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        port = port_file.read_text().split()[0]
        with sync_playwright() as playwright:
            browser = playwright.chromium.connect_over_cdp(f"http://127.0.0.1:{port}")
            try:
                yield browser
            finally:
                browser.close()
    finally:
        stop_group(process)
