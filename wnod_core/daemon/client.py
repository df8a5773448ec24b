"""Talking to this host's daemon over its Unix socket, for the CLI.

The standard library's HTTP client over an AF_UNIX socket: ``wnod bait`` runs once per
job from the batch system's hook, so it starts fast and imports no asyncio stack.
"""

import http.client
import json
import socket
from pathlib import Path
from typing import Any

from ..errors import WnodError


class DaemonUnreachable(WnodError):
    """No daemon answers on the socket (not started, restarting, or the wrong socket)."""


class DaemonRefused(WnodError):
    """The daemon answered with an error; the message is its own."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: Path, timeout: float):
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(str(self._path))
        except OSError:
            sock.close()
            raise
        self.sock = sock


class DaemonClient:
    def __init__(self, socket_path: Path, timeout: float = 30.0):
        self.socket_path = socket_path
        self.timeout = timeout

    def get(self, path: str) -> Any:
        return self.request("GET", path)

    def post(self, path: str, body: dict[str, Any] | None = None, timeout: float | None = None) -> Any:
        return self.request("POST", path, body, timeout)

    def delete(self, path: str) -> Any:
        return self.request("DELETE", path)

    def request(self, method: str, path: str, body: dict[str, Any] | None = None, timeout: float | None = None) -> Any:
        connection = _UnixConnection(self.socket_path, timeout or self.timeout)
        payload = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if payload is not None else {}
        try:
            connection.request(method, path, body=payload, headers=headers)
            response = connection.getresponse()
            raw = response.read()
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            raise DaemonUnreachable(
                f"no wnod daemon answers on {self.socket_path} ({exc.strerror}); is `wnod daemon` running?"
            ) from None
        except PermissionError:
            raise DaemonUnreachable(
                f"not allowed to use {self.socket_path}: ask for its group (daemon.socket_group)"
            ) from None
        except (OSError, http.client.HTTPException) as exc:
            raise DaemonUnreachable(f"the daemon on {self.socket_path} did not answer: {exc}") from None
        finally:
            connection.close()
        try:
            data = json.loads(raw)
        except ValueError:
            raise DaemonRefused(response.status, f"the daemon answered something not JSON: {raw[:200]!r}") from None
        if response.status >= 400:
            message = data.get("error") if isinstance(data, dict) else None
            raise DaemonRefused(response.status, str(message or f"HTTP {response.status}"))
        return data
