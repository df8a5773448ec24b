"""Stopping a process a test started: by its PID, SIGTERM first so that it can clean up."""

import signal
import subprocess
from typing import Any


def stop(process: "subprocess.Popen[Any]", grace: float = 30) -> None:
    """SIGTERM `process`, SIGKILL it if it is still there after `grace` seconds; reaped either way."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)
