"""Talking to a daemon, for the CLI: this host's over its Unix socket, another's over TCP.

The standard library's HTTP client (over an AF_UNIX socket for this host's daemon): ``wnod
bait`` runs once per job from the batch system's hook, so it starts fast and imports no
asyncio stack. Over TCP every request carries its role's bearer token (the farm view's is
the read role's).
"""

import http.client
import json
import socket
import ssl
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
    def __init__(self, socket_path: Path | None = None, timeout: float = 30.0, *, address: str = "",
                 token: str = "", tls: ssl.SSLContext | None = None):
        """This host's daemon on `socket_path`; or, given `address` ("host:port"), a daemon's TCP
        API, each request with `token`, over TLS with `tls` (see ``tls.client_context``)."""
        if (socket_path is None) == (not address):
            raise ValueError("a daemon client needs either a socket path or a TCP address")
        self.socket_path = socket_path
        self.address = address
        self.token = token
        self.tls = tls
        self.timeout = timeout

    @property
    def where(self) -> str:
        return str(self.socket_path) if self.socket_path is not None else self.address

    def _connection(self, timeout: float) -> http.client.HTTPConnection:
        if self.socket_path is not None:
            return _UnixConnection(self.socket_path, timeout)
        host, _, port = self.address.rpartition(":")
        if not host or not port.isdigit():
            raise DaemonUnreachable(f'{self.address!r} is not an address like "10.0.0.1:8470"')
        if self.tls is not None:
            return http.client.HTTPSConnection(host.strip("[]"), int(port), timeout=timeout, context=self.tls)
        return http.client.HTTPConnection(host.strip("[]"), int(port), timeout=timeout)

    def get(self, path: str) -> Any:
        return self.request("GET", path)

    def post(self, path: str, body: dict[str, Any] | None = None, timeout: float | None = None) -> Any:
        return self.request("POST", path, body, timeout)

    def delete(self, path: str) -> Any:
        return self.request("DELETE", path)

    def text(self, path: str) -> str:
        """GET `path`, an answer that is not JSON (``/metrics``); its errors are JSON as ever."""
        status, raw = self._exchange("GET", path, None, None)
        if status >= 400:
            self._parsed(status, raw)
        return raw.decode("utf-8", "replace")

    def request(self, method: str, path: str, body: dict[str, Any] | None = None, timeout: float | None = None) -> Any:
        return self._parsed(*self._exchange(method, path, body, timeout))

    def _exchange(self, method: str, path: str, body: dict[str, Any] | None, timeout: float | None) -> tuple[int, bytes]:
        connection = self._connection(timeout or self.timeout)
        payload = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if payload is not None else {}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        try:
            connection.request(method, path, body=payload, headers=headers)
            response = connection.getresponse()
            raw = response.read()
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            raise DaemonUnreachable(
                f"no wnod daemon answers on {self.where} ({exc.strerror}); is `wnod daemon` running?"
            ) from None
        except PermissionError:
            raise DaemonUnreachable(
                f"not allowed to use {self.where}: ask for its group (daemon.socket_group)"
            ) from None
        except ssl.SSLCertVerificationError as exc:
            raise DaemonUnreachable(f"the daemon on {self.where} is not the one trusted: {exc.verify_message}") from None
        except ssl.SSLError as exc:
            raise DaemonUnreachable(f"no TLS with the daemon on {self.where}: {exc.reason or exc}") from None
        except TimeoutError:
            raise DaemonUnreachable(f"the daemon on {self.where} did not answer within {connection.timeout:g}s") from None
        except (OSError, http.client.HTTPException) as exc:
            raise DaemonUnreachable(f"the daemon on {self.where} did not answer: {exc}") from None
        finally:
            connection.close()
        return response.status, raw

    @staticmethod
    def _parsed(status: int, raw: bytes) -> Any:
        try:
            data = json.loads(raw)
        except ValueError:
            raise DaemonRefused(status, f"the daemon answered something not JSON: {raw[:200]!r}") from None
        if status >= 400:
            message = data.get("error") if isinstance(data, dict) else None
            raise DaemonRefused(status, str(message or f"HTTP {status}"))
        return data
