"""The one seam where libvirt's errors become wnod's: ``libvirtError`` never leaves this backend."""

import contextlib
from collections.abc import Iterator

import libvirt
from wnod_core.errors import HypervisorError, VwnNotFound

# Errors that say the connection is gone, not that the request was wrong (nova's list).
_DEAD_CONNECTION = frozenset({libvirt.VIR_ERR_SYSTEM_ERROR, libvirt.VIR_ERR_INTERNAL_ERROR})
_CONNECTION_DOMAINS = frozenset({libvirt.VIR_FROM_REMOTE, libvirt.VIR_FROM_RPC})

_WHY = {
    libvirt.VIR_ERR_XML_ERROR: "libvirt refused the domain definition",
    libvirt.VIR_ERR_XML_DETAIL: "libvirt refused the domain definition",
    libvirt.VIR_ERR_CONFIG_UNSUPPORTED: "the hypervisor does not support this domain definition",
    libvirt.VIR_ERR_NO_SUPPORT: "the libvirt driver does not support this",
    libvirt.VIR_ERR_OPERATION_UNSUPPORTED: "the libvirt driver does not support this",
    libvirt.VIR_ERR_OPERATION_INVALID: "not possible in the domain's current state",
    libvirt.VIR_ERR_OPERATION_TIMEOUT: "libvirt timed out",
    libvirt.VIR_ERR_AUTH_FAILED: "libvirt refused the credentials",
    libvirt.VIR_ERR_AUTH_CANCELLED: "libvirt refused the credentials",
    libvirt.VIR_ERR_NO_CONNECT: "cannot connect to libvirt",
    libvirt.VIR_ERR_INVALID_CONN: "the libvirt connection is closed",
    libvirt.VIR_ERR_NO_NETWORK: "no such libvirt network",
    libvirt.VIR_ERR_NO_NWFILTER: "no such libvirt nwfilter",
}


def is_connection_lost(exc: libvirt.libvirtError) -> bool:
    """Whether `exc` says the connection died, so a new one may well succeed."""
    code, domain = exc.get_error_code(), exc.get_error_domain()
    if code in (libvirt.VIR_ERR_INVALID_CONN, libvirt.VIR_ERR_NO_CONNECT):
        return True
    return code in _DEAD_CONNECTION and domain in _CONNECTION_DOMAINS


def is_code(exc: libvirt.libvirtError, code: int) -> bool:
    return exc.get_error_code() == code


def translate(exc: libvirt.libvirtError, doing: str, uri: str, vwn_id: str | None = None) -> HypervisorError:
    """wnod's error for `exc`, raised while `doing` (e.g. "start domain wnod-42").

    The message names the action, the URI, libvirt's reason in words and libvirt's own
    message quoted; a missing domain becomes ``VwnNotFound``."""
    code = exc.get_error_code()
    said = (exc.get_error_message() or str(exc)).strip()
    if code == libvirt.VIR_ERR_NO_DOMAIN:
        who = f"VWN {vwn_id}" if vwn_id else "the VWN"
        return VwnNotFound(f"cannot {doing}: {uri} has no domain for {who} (libvirt: {said})")
    if is_connection_lost(exc):
        why = "lost the connection to libvirt"
    else:
        why = _WHY.get(code, "libvirt failed")
    return HypervisorError(f"cannot {doing} on {uri}: {why} (libvirt: {said})")


@contextlib.contextmanager
def translated(doing: str, uri: str, vwn_id: str | None = None) -> Iterator[None]:
    """``with translated("start domain wnod-42", uri, "wnod-42"): dom.create()``"""
    try:
        yield
    except libvirt.libvirtError as exc:
        raise translate(exc, doing, uri, vwn_id) from exc
