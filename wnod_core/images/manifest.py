"""An image version's manifest: what the version is, where it came from, and the digest of its disk.

The manifest is what gets signed: its ``sha256`` binds the signature to every byte of the disk,
so a host that verified the signature of the manifest and the digest of the disk has the very
disk its builder signed.
"""

import json
import re
from typing import Any

import attrs

from ..errors import ImageError
from ..model.vmtype import check_name

FORMAT = 1
"""Bump when the manifest's meaning changes; a host refuses a format it does not know."""

DISK = "disk.raw"
MANIFEST = "manifest.json"
SIGNATURE = "manifest.json.sig"
LOG = "update.log"

_REF = re.compile(r"^(?P<image>[^@]+)(?:@(?P<version>[^@]*))?\Z")
_SHA256 = re.compile(r"^[0-9a-f]{64}\Z")


def check_version(value: object, where: str = "version") -> int:
    """A version number: 1, 2, 3 … in the order they were made."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ImageError(f"{where}: expected a version number (1, 2, …), got {value!r}")
    return value


def parse_ref(text: str) -> tuple[str, int | None]:
    """``IMAGE`` or ``IMAGE@N``, as an admin types it on the command line."""
    match = _REF.match(text)
    if not match:
        raise ImageError(f"expected IMAGE or IMAGE@VERSION, got {text!r}")
    image = match["image"]
    try:
        check_name(image, "image name")
    except ValueError as exc:
        raise ImageError(str(exc)) from None
    version = match["version"]
    if version is None:
        return image, None
    if not version.isdigit() or int(version) < 1:
        raise ImageError(f"{text!r}: the version after '@' must be a number (1, 2, …), got {version!r}")
    return image, int(version)


def _check_sha256(_inst: object, attr: "attrs.Attribute[str]", value: object) -> None:
    if not isinstance(value, str) or not (_SHA256.match(value) or (attr.name != "sha256" and value == "")):
        raise ImageError(f"{attr.name}: expected 64 lowercase hex digits, got {value!r}")


@attrs.frozen
class Manifest:
    image: str = attrs.field(validator=lambda _i, _a, v: _name(v))
    version: int = attrs.field(validator=lambda _i, _a, v: check_version(v))
    parent: int | None = attrs.field(validator=lambda _i, _a, v: v is None or check_version(v, "parent"))
    created: str
    """When it was made, ISO 8601 in UTC."""
    created_by: str
    """Who made it (user@host)."""
    size: int = attrs.field(validator=attrs.validators.ge(0))
    """The disk's size in bytes (its apparent size: a sparse disk has holes)."""
    sha256: str = attrs.field(validator=_check_sha256)
    """The disk's SHA-256."""
    script_sha256: str = attrs.field(default="", validator=_check_sha256)
    """The update script's SHA-256 ("" for a version imported from a file)."""
    log_sha256: str = attrs.field(default="", validator=_check_sha256)
    """The update log's SHA-256 (the log lies beside the manifest)."""
    note: str = ""
    """What the admin said of it (``--note``), or where an imported disk came from."""
    format: int = FORMAT

    @property
    def ref(self) -> str:
        return f"{self.image}@{self.version}"

    def to_json(self) -> str:
        return json.dumps(attrs.asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str | bytes, where: str) -> "Manifest":
        """The manifest in `text`, read from `where` (a file or URL, for the error)."""
        try:
            data: Any = json.loads(text)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ImageError(f"{where}: not a manifest (not JSON: {exc})") from None
        if not isinstance(data, dict):
            raise ImageError(f"{where}: not a manifest (expected a JSON object)")
        if data.get("format") != FORMAT:
            raise ImageError(f"{where}: manifest format {data.get('format')!r}; this wnod reads format {FORMAT}")
        fields = {f.name for f in attrs.fields(cls)}
        unknown = sorted(set(data) - fields)
        if unknown:
            raise ImageError(f"{where}: unknown manifest keys {', '.join(unknown)}")
        try:
            return cls(**data)
        except ImageError as exc:
            raise ImageError(f"{where}: {exc}") from None
        except (TypeError, ValueError) as exc:
            raise ImageError(f"{where}: not a valid manifest: {exc}") from None


def _name(value: object) -> None:
    try:
        check_name(value, "image name")
    except ValueError as exc:
        raise ImageError(str(exc)) from None
