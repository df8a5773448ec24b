"""Every host's daemon asked the same question at once, each within the farm's timeout.

A host that does not answer in time, refuses the token or says something that is not wnod's
answer is one row saying so; never a hang, never a traceback, and never the others' wait.
"""

import concurrent.futures
import ssl
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from ..daemon.client import DaemonClient, DaemonRefused, DaemonUnreachable
from .config import FarmFile, FarmHost


@attrs.frozen
class HostAnswer:
    """One host's answer to one question, or why there is none."""

    host: FarmHost
    data: Any = None
    error: str = ""
    """Why the host gave no answer ("" when it did)."""
    refused: bool = False
    """The daemon answered, with an error: it did nothing, and nothing it began may land later."""

    @property
    def reachable(self) -> bool:
        return not self.error


def ask_farm(farm: FarmFile, path: str, hosts: Sequence[str] = ()) -> list[HostAnswer]:
    """GET `path` of every host's daemon (or of those named in `hosts`) at once; in the farm
    file's order. Each waits at most ``farm.timeout``, the whole at most a little more."""
    return ask_each(farm, lambda client: client.get(path), hosts)


def ask_each(farm: FarmFile, ask: Callable[[DaemonClient], Any], hosts: Sequence[str] = (),
             requests: int = 1, *, tokens: Mapping[str, str] | None = None,
             timeout: float | None = None) -> list[HostAnswer]:
    """`ask(client)` of every host's daemon at once, each with a client of its own; `requests`:
    how many requests one `ask` may make at most (a paged read), for how long it is waited for.
    `tokens` (host name -> token) instead of the farm file's read tokens, `timeout` instead of
    ``farm.timeout``: for what changes a host, and may take it minutes (a pull of an image)."""
    chosen = [h for h in farm.farm.hosts if not hosts or h.name in hosts]
    timeout = farm.farm.timeout if timeout is None else timeout
    tokens = farm.tokens if tokens is None else tokens
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=max(1, min(64, len(chosen))))
    try:
        futures = [pool.submit(_ask, host, tokens[host.name], farm.tls.get(host.name), ask, timeout)
                   for host in chosen]
        # Each request is bounded by its socket timeout; a host stuck past it anyway (a name
        # lookup that hangs) is not waited for.
        done, _ = concurrent.futures.wait(futures, timeout=(timeout * 2 + 1) * requests)
        return [f.result() if f in done else HostAnswer(h, error=f"no answer within {timeout:g}s")
                for h, f in zip(chosen, futures, strict=True)]
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _ask(host: FarmHost, token: str, tls: ssl.SSLContext | None, ask: Callable[[DaemonClient], Any],
         timeout: float) -> HostAnswer:
    client = DaemonClient(address=host.address, token=token, timeout=timeout, tls=tls)
    try:
        return HostAnswer(host, data=ask(client))
    except DaemonUnreachable as exc:
        return HostAnswer(host, error=f"unreachable: {exc}")
    except DaemonRefused as exc:
        return HostAnswer(host, error=f"refused (HTTP {exc.status}): {exc}", refused=True)
    except Exception as exc:  # anything else: still one row, and the others' answers stand
        return HostAnswer(host, error=f"failed: {type(exc).__name__}: {exc}")
