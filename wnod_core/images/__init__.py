"""Image versions: the host's library of immutable, verified versions; where they come from (a
source), which one is current on this host (the rollout), and how a new one is made (the update
VM). See docs/images.md."""

from .host import HostImages, VersionStatus
from .library import Library
from .manifest import Manifest, parse_ref
from .rollout import Rollout
from .source import Source
from .verify import Verifier

__all__ = ["HostImages", "Library", "Manifest", "Rollout", "Source", "Verifier", "VersionStatus", "parse_ref"]
