"""How wnod knows its own xl domains after a restart.

xl keeps no metadata of ours in a domain, so wnod keeps it beside the domain's config:
``<config_dir>/<domain>.json`` holds the VWN's identity and the UUID its config gave
the domain. A domain is wnod's when a record names it *and* the running domain of that
name carries the record's UUID (``xl list -l`` shows it): a domain someone else made
under a name wnod would use has another UUID, and wnod neither lists nor touches it.

The record is written before the domain is created and deleted only after the domain
and its scratch disk are gone, so a crash at any moment leaves either nothing or a
record that ``domains`` lists and ``destroy`` cleans up.
"""

import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import attrs

log = logging.getLogger(__name__)

FORMAT = "wnod-xl/1"


@attrs.frozen(kw_only=True)
class VwnRecord:
    """One VWN's identity and files, as stored in its sidecar JSON."""

    vwn_id: str
    vm_type: str
    host: str
    hostname: str
    image_version: str
    domain: str
    """The xl domain name."""
    uuid: str
    """The UUID the domain's config sets; tells wnod's domain from another of the same name."""
    config: str
    """The xl config file."""
    scratch: str
    """The VWN's read-write disk file (raw scratch or qcow2 overlay)."""
    scratch_layout: str
    """"raw" or "overlay", as the VM type said when the VWN was made."""
    scratch_size: int
    """Bytes of a raw scratch disk."""
    base_image: str
    """The read-only OS disk the VWN was made on (the image store's file, or the image library's
    version disk), kept so that a reset remakes an overlay over that very disk."""

    def to_json(self) -> str:
        return json.dumps({"format": FORMAT, **attrs.asdict(self)}, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> "VwnRecord":
        data = json.loads(text)
        if not isinstance(data, dict) or data.pop("format", None) != FORMAT:
            raise ValueError(f"not a {FORMAT} record")
        return cls(**data)


class RecordStore:
    """The sidecar records in one folder, one file per domain."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path(self, domain: str) -> Path:
        return self.folder / f"{domain}.json"

    def get(self, domain: str) -> VwnRecord | None:
        try:
            return VwnRecord.from_json(self.path(domain).read_text())
        except FileNotFoundError:
            return None
        except (ValueError, TypeError) as e:
            log.warning("wnod-xl: ignoring unreadable record %s: %s", self.path(domain), e)
            return None

    def put(self, record: VwnRecord) -> None:
        """Write the record whole or not at all (a crash never leaves half a file)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        target = self.path(record.domain)
        tmp = target.with_name(f".{target.name}.tmp")
        with open(tmp, "w") as f:
            f.write(record.to_json())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)

    def delete(self, domain: str) -> None:
        self.path(domain).unlink(missing_ok=True)

    def all(self) -> Iterator[VwnRecord]:
        if not self.folder.is_dir():
            return
        for path in sorted(self.folder.glob("*.json")):
            record = self.get(path.stem)
            if record is not None and record.domain == path.stem:
                yield record
