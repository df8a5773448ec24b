"""ClassAds as HTCondor's tools print them with ``-json``, read strictly.

The format (HTCondor's ``CondorClassAdListWriter`` and ``ClassAdJsonUnParser``): no
output at all when nothing matched; otherwise a JSON array of objects, one per ad.
Literal values are JSON values (``undefined`` is ``null``); any other expression is a
string ``"\\/Expr(<expression>)\\/"``, which a JSON reader sees as ``/Expr(...)/``.
Anything else is an error naming the command and quoting what it printed.
"""

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

import attrs
from wnod_core.commands import quote
from wnod_core.errors import BatchSystemError

_EXPR = re.compile(r"/Expr\((?P<text>.*)\)/\Z", re.DOTALL)
_HOSTNAME = re.compile(r"[A-Za-z0-9_]([A-Za-z0-9_.-]{0,252})\Z")


@attrs.frozen
class Expr:
    """A ClassAd expression that is not a literal, e.g. a job's ``Requirements``."""

    text: str

    def __str__(self) -> str:
        return self.text


def classad_value(value: Any) -> Any:
    """A JSON value of an ad as wnod reads it: an ``Expr`` for ``/Expr(...)/`` strings."""
    if isinstance(value, str):
        match = _EXPR.match(value)
        if match:
            return Expr(match["text"])
    return value


def classad_string(text: str) -> str:
    """`text` as a ClassAd string literal, quoted and escaped."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def check_hostname(hostname: str) -> str:
    """`hostname` if it is a plain host name; never lets an expression into a constraint."""
    if not isinstance(hostname, str) or not _HOSTNAME.match(hostname):
        raise BatchSystemError(f"htcondor: {hostname!r} is not a host name")
    return hostname


@attrs.frozen
class Ad:
    """One ClassAd from a command's output; its typed accessors name the command in their errors."""

    command: str
    values: Mapping[str, Any]

    def _bad(self, name: str, expected: str) -> BatchSystemError:
        return BatchSystemError(
            f"`{self.command}` printed {name} = {self.values.get(name)!r}, expected {expected}"
        )

    def get(self, name: str) -> Any:
        """The attribute's value (an ``Expr`` for an expression), None when absent or undefined."""
        return classad_value(self.values.get(name))

    def has(self, name: str) -> bool:
        return self.get(name) is not None

    def integer(self, name: str) -> int:
        value = self.get(name)
        if value is None:
            raise BatchSystemError(f"`{self.command}` printed an ad without {name}: {quote(repr(dict(self.values)))}")
        return self._as_int(name, value)

    def optional_integer(self, name: str) -> int | None:
        """An integer attribute; None when absent, undefined or an expression (not known yet)."""
        value = self.get(name)
        if value is None or isinstance(value, Expr):
            return None
        return self._as_int(name, value)

    def _as_int(self, name: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self._bad(name, "a number")
        if isinstance(value, float) and not value.is_integer():
            # ClassAds print integral reals as 4.0; anything else is not a count.
            raise self._bad(name, "a whole number")
        return int(value)

    def string(self, name: str) -> str:
        value = self.get(name)
        if not isinstance(value, str):
            raise self._bad(name, "a string")
        return value

    def optional_string(self, name: str) -> str | None:
        value = self.get(name)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self._bad(name, "a string")
        return value

    def optional_bool(self, name: str) -> bool | None:
        value = self.get(name)
        if value is None or isinstance(value, Expr):
            return None
        if not isinstance(value, bool):
            raise self._bad(name, "true or false")
        return value

    def expression(self, name: str) -> str | None:
        """The attribute as ClassAd source text, literal or not; None when absent."""
        value = self.get(name)
        if value is None:
            return None
        if isinstance(value, Expr):
            return value.text
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return repr(value)
        if isinstance(value, str):
            return classad_string(value)
        raise self._bad(name, "an expression")


def parse_ads(command: str, text: str) -> list[Ad]:
    """The ads a ``-json`` command printed; [] when it printed nothing (nothing matched)."""
    if not text.strip():
        return []
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise BatchSystemError(f"`{command}` printed something that is not JSON ({exc}): {quote(text)}") from None
    if not isinstance(data, list) or not all(isinstance(ad, dict) for ad in data):
        raise BatchSystemError(f"`{command}` printed JSON that is not a list of ClassAds: {quote(text)}")
    return [Ad(command, ad) for ad in data]


def slot_host(slot: str, command: str) -> str:
    """The machine of a slot name: ``slot1_2@node.example.org`` -> ``node.example.org``."""
    if not isinstance(slot, str) or not slot.strip():
        raise BatchSystemError(f"`{command}` printed {slot!r} where a slot name was expected")
    host = slot.rpartition("@")[2].strip()
    if not _HOSTNAME.match(host):
        raise BatchSystemError(f"`{command}` printed slot name {slot!r} with no host in it")
    return host


def slot_hosts(value: str, command: str) -> Iterator[str]:
    """The machines of a comma-separated slot list (a parallel job's ``RemoteHosts``)."""
    for part in value.split(","):
        if part.strip():
            yield slot_host(part.strip(), command)
