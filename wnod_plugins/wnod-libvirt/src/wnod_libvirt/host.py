"""``Host``: the one owner of the libvirt connection, its liveness and its lifecycle events."""

import logging
import threading
from collections.abc import Callable

import libvirt
from wnod_core.errors import HypervisorError

from .errors import is_code, translated

log = logging.getLogger(__name__)

LifecycleHandler = Callable[[libvirt.virDomain, int, int], None]
"""Called as ``handler(domain, event, detail)`` from libvirt's event thread."""

RECONNECT_DELAYS = (0.5, 1, 2, 5, 10, 30)
"""Seconds between attempts to get a lost connection back for its events; the last repeats."""


class _EventLoop:
    """libvirt's default event loop, once per process, run by a daemon thread.

    It must be registered before a connection is opened for that connection to deliver
    events and notice its own death, so every ``Host`` makes sure of it before opening."""

    _lock = threading.Lock()
    _thread: threading.Thread | None = None

    @classmethod
    def ensure(cls) -> None:
        with cls._lock:
            if cls._thread is not None:
                return
            # libvirt prints every error to stderr by default; wnod reports them itself.
            libvirt.registerErrorHandler(lambda _ctx, _err: None, None)
            libvirt.virEventRegisterDefaultImpl()
            cls._thread = threading.Thread(target=cls._run, name="libvirt-events", daemon=True)
            cls._thread.start()

    @staticmethod
    def _run() -> None:
        while True:
            if libvirt.virEventRunDefaultImpl() < 0:
                log.error("libvirt's event loop failed an iteration: %s", libvirt.virGetLastErrorMessage())


class Host:
    """The libvirt connection to `uri`: opened on first use, checked alive before each use and
    opened again when it died; lifecycle events go to one handler, re-registered on every new
    connection. After a connection is lost, a watched ``Host`` reconnects by itself so that
    events keep coming without waiting for the next call."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self._lock = threading.RLock()
        self._conn: libvirt.virConnect | None = None
        self._callback_id: int | None = None
        self._handler: LifecycleHandler | None = None
        self._closed = threading.Event()
        self._reconnecting: threading.Thread | None = None

    # -- the connection ---------------------------------------------------------------------------

    def connection(self) -> libvirt.virConnect:
        """A live connection, opened (again) if there is none."""
        with self._lock:
            if self._closed.is_set():
                raise HypervisorError(f"the libvirt backend for {self.uri} is closed")
            if self._conn is not None and self._alive(self._conn):
                return self._conn
            if self._conn is not None:
                log.warning("libvirt connection to %s is dead; opening a new one", self.uri)
                self._drop()
            _EventLoop.ensure()
            with translated("open a connection", self.uri):
                conn = libvirt.open(self.uri)
            self._conn = conn
            try:
                conn.registerCloseCallback(self._lost, None)
            except libvirt.libvirtError as exc:  # the test driver cannot tell: it never dies
                log.debug("libvirt connection to %s reports no close: %s", self.uri, exc)
            if self._handler is not None:
                self._register(conn)
            return conn

    @staticmethod
    def _alive(conn: libvirt.virConnect) -> bool:
        try:
            return conn.isAlive() == 1
        except libvirt.libvirtError:
            return False

    def _drop(self) -> None:
        """Forget the current connection, closing what can still be closed."""
        conn, self._conn, callback_id, self._callback_id = self._conn, None, self._callback_id, None
        if conn is None:
            return
        for undo in (
            (lambda: conn.domainEventDeregisterAny(callback_id)) if callback_id is not None else None,
            conn.unregisterCloseCallback,
            conn.close,
        ):
            if undo is None:
                continue
            try:
                undo()
            except libvirt.libvirtError as exc:
                log.debug("closing the old libvirt connection to %s: %s", self.uri, exc)

    def _lost(self, conn: libvirt.virConnect, reason: int, _opaque: object) -> None:
        """libvirt's close callback, on its event thread."""
        log.warning("libvirt connection to %s closed (reason %d)", self.uri, reason)
        with self._lock:
            if self._conn is not conn:
                return
            self._conn, self._callback_id = None, None
            if self._handler is not None and not self._closed.is_set():
                self._start_reconnecting()

    def _start_reconnecting(self) -> None:
        if self._reconnecting is not None and self._reconnecting.is_alive():
            return
        self._reconnecting = threading.Thread(target=self._reconnect, name="libvirt-reconnect", daemon=True)
        self._reconnecting.start()

    def _reconnect(self) -> None:
        attempt = 0
        while not self._closed.is_set():
            try:
                self.connection()
                log.info("libvirt connection to %s is back; events are delivered again", self.uri)
                return
            except Exception as exc:  # noqa: BLE001 - keep trying until it is back or we close
                delay = RECONNECT_DELAYS[min(attempt, len(RECONNECT_DELAYS) - 1)]
                log.warning("libvirt at %s still unreachable (%s); next try in %gs", self.uri, exc, delay)
                attempt += 1
                self._closed.wait(delay)

    # -- domains ----------------------------------------------------------------------------------

    def lookup(self, name: str) -> libvirt.virDomain | None:
        """The domain called `name`, or None.

        A call that fails because the connection died raises ``HypervisorError``; the next
        call opens a new connection, so the engine's retry is all it takes."""
        with translated(f"look up domain {name}", self.uri, name):
            try:
                return self.connection().lookupByName(name)
            except libvirt.libvirtError as exc:
                if is_code(exc, libvirt.VIR_ERR_NO_DOMAIN):
                    return None
                raise

    # -- events -----------------------------------------------------------------------------------

    def on_lifecycle(self, handler: LifecycleHandler) -> None:
        """Deliver every domain lifecycle event to `handler`, on this and every later connection."""
        with self._lock:
            self._handler = handler
            conn = self.connection()
            if self._callback_id is None:
                self._register(conn)

    def _register(self, conn: libvirt.virConnect) -> None:
        with translated("register for domain lifecycle events", self.uri):
            self._callback_id = conn.domainEventRegisterAny(
                None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, self._dispatch, None
            )

    def _dispatch(
        self, _conn: libvirt.virConnect, dom: libvirt.virDomain, event: int, detail: int, _opaque: object
    ) -> None:
        handler = self._handler
        if handler is None or self._closed.is_set():
            return
        try:
            handler(dom, event, detail)
        except Exception:  # an exception must not reach libvirt's event loop
            log.exception("handling a libvirt lifecycle event of %s failed", self.uri)

    def close(self) -> None:
        with self._lock:
            self._closed.set()
            self._handler = None
            self._drop()
