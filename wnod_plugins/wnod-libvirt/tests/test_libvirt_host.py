"""The one owner of the libvirt connection: lazy, reconnecting, and keeping events coming."""

import queue
import time
from collections.abc import Callable

import libvirt
import pytest
from wnod_core.interfaces import DomainEvent, DomainState, VwnSpec

from wnod_libvirt.backend import LibvirtHypervisor
from wnod_libvirt.host import Host

TIMEOUT = 10.0


def _next(events: "queue.Queue[DomainEvent]", vwn_id: str, state: DomainState) -> DomainEvent:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        try:
            event = events.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            break
        if event.vwn_id == vwn_id and event.state is state:
            return event
    pytest.fail(f"no {state} event for {vwn_id} within {TIMEOUT:g}s")


def _kill_connection(host: Host) -> None:
    """The connection dies under the backend's feet, as when libvirtd restarts."""
    conn = host._conn
    assert conn is not None
    if host._callback_id is not None:
        conn.domainEventDeregisterAny(host._callback_id)
    conn.close()


def test_the_connection_is_opened_on_first_use_and_kept(backend: LibvirtHypervisor) -> None:
    assert backend.host._conn is None
    backend.state("wnod-x")
    first = backend.host._conn
    backend.domains()
    assert backend.host._conn is first


def test_a_dead_connection_is_replaced_on_the_next_call(
    backend: LibvirtHypervisor, spec: VwnSpec, test_conn: libvirt.virConnect
) -> None:
    backend.create(spec)
    old = backend.host._conn
    _kill_connection(backend.host)
    assert backend.state(spec.vwn_id) is DomainState.RUNNING
    assert backend.host._conn is not old


def test_events_are_registered_again_on_the_new_connection(
    backend: LibvirtHypervisor, spec: VwnSpec, test_conn: libvirt.virConnect
) -> None:
    events: queue.Queue[DomainEvent] = queue.Queue()
    backend.create(spec)
    backend.watch(events.put)
    _kill_connection(backend.host)
    backend.domains()  # any call reconnects
    test_conn.lookupByName(spec.vwn_id).destroy()
    assert _next(events, spec.vwn_id, DomainState.SHUTOFF).detail == "destroyed"


def test_a_watched_backend_reconnects_by_itself_when_libvirt_says_the_connection_closed(
    backend: LibvirtHypervisor, spec: VwnSpec, test_conn: libvirt.virConnect
) -> None:
    events: queue.Queue[DomainEvent] = queue.Queue()
    backend.create(spec)
    backend.watch(events.put)
    conn = backend.host._conn
    _kill_connection(backend.host)
    # What libvirt calls when a remote connection drops (the test driver never drops).
    backend.host._lost(conn, libvirt.VIR_CONNECT_CLOSE_REASON_EOF, None)
    deadline = time.monotonic() + TIMEOUT
    while backend.host._callback_id is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert backend.host._callback_id is not None, "no reconnect without a call"
    test_conn.lookupByName(spec.vwn_id).destroy()
    _next(events, spec.vwn_id, DomainState.SHUTOFF)


def test_events_say_what_happened_to_wnods_vwns_only(
    backend: LibvirtHypervisor, spec: VwnSpec, test_conn: libvirt.virConnect
) -> None:
    events: queue.Queue[DomainEvent] = queue.Queue()
    assert backend.watch(events.put)
    backend.create(spec)
    foreign = test_conn.defineXML(
        "<domain type='kvm'><name>not-wnods</name><memory>65536</memory><os><type>hvm</type></os></domain>"
    )
    foreign.create()
    foreign.destroy()
    foreign.undefine()
    dom = test_conn.lookupByName(spec.vwn_id)
    dom.suspend()
    dom.resume()
    backend.destroy(spec.vwn_id)
    assert _next(events, spec.vwn_id, DomainState.MISSING).detail == "undefined"
    seen = []
    while not events.empty():
        seen.append(events.get())
    assert all(e.vwn_id == spec.vwn_id for e in seen)


def test_events_carry_the_state_and_the_reason(
    backend: LibvirtHypervisor, spec: VwnSpec, test_conn: libvirt.virConnect
) -> None:
    events: queue.Queue[DomainEvent] = queue.Queue()
    backend.watch(events.put)
    backend.create(spec)
    assert _next(events, spec.vwn_id, DomainState.RUNNING).detail == "started"
    test_conn.lookupByName(spec.vwn_id).suspend()
    assert _next(events, spec.vwn_id, DomainState.PAUSED).detail == "suspended"


def test_a_vwn_of_an_earlier_run_is_recognised_in_events(
    make_backend: Callable[..., LibvirtHypervisor], spec: VwnSpec, test_conn: libvirt.virConnect
) -> None:
    make_backend().create(spec)
    events: queue.Queue[DomainEvent] = queue.Queue()
    later = make_backend()
    later.watch(events.put)
    test_conn.lookupByName(spec.vwn_id).destroy()
    _next(events, spec.vwn_id, DomainState.SHUTOFF)


def test_a_failing_watcher_does_not_stop_the_others(
    backend: LibvirtHypervisor, spec: VwnSpec, caplog: pytest.LogCaptureFixture
) -> None:
    events: queue.Queue[DomainEvent] = queue.Queue()

    def broken(_event: DomainEvent) -> None:
        raise RuntimeError("watcher bug")

    backend.watch(broken)
    backend.watch(events.put)
    backend.create(spec)
    _next(events, spec.vwn_id, DomainState.RUNNING)


def test_no_events_after_close(backend: LibvirtHypervisor, spec: VwnSpec, test_conn: libvirt.virConnect) -> None:
    events: queue.Queue[DomainEvent] = queue.Queue()
    backend.create(spec)
    backend.watch(events.put)
    backend.close()
    dom = test_conn.lookupByName(spec.vwn_id)
    dom.destroy()
    dom.undefine()
    time.sleep(0.2)
    assert events.empty()
