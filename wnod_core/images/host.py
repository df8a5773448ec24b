"""This host's images, as the admin drives them: pull, publish, roll back, prune, delete, show.

The programmatic API behind ``wnod image``; the click commands are a thin shim over it. Every
change of the library goes through here, under the image's lock (library.py)."""

from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path

import attrs

from ..config.schema import ImagesSection
from ..errors import ImageError
from ..model import ImageSource, VmType
from . import rollout
from .library import Library
from .manifest import Manifest
from .rollout import Rollout
from .source import Source
from .verify import Verifier


@attrs.frozen
class VersionStatus:
    version: int
    current: bool
    rollback_target: bool
    in_use: int
    """VWNs of this host that run on it."""
    manifest: Manifest

    def as_dict(self) -> dict[str, object]:
        """As ``wnod image status --json`` and ``GET /v1/images/{image}`` answer it."""
        return {"version": self.version, "current": self.current, "rollback_target": self.rollback_target,
                "in_use": self.in_use, "created": self.manifest.created, "parent": self.manifest.parent,
                "sha256": self.manifest.sha256}


@attrs.frozen
class HostImages:
    section: ImagesSection

    @classmethod
    def of(cls, section: ImagesSection) -> "HostImages":
        if not section.library:
            raise ImageError("no image library on this host: set [images] library in wnod.toml")
        return cls(section)

    @property
    def library(self) -> Library:
        return Library(Path(self.section.library))

    @property
    def verifier(self) -> Verifier:
        signers = Path(self.section.allowed_signers) if self.section.allowed_signers else None
        return Verifier(signers, timeout=self.section.tool_timeout)

    def source(self) -> Source:
        if not self.section.source:
            raise ImageError("no image source: set [images] source (a directory or an http(s):// URL)")
        return Source(self.section.source, timeout=self.section.tool_timeout)

    # -- getting versions ------------------------------------------------------------------------------

    def pull(self, image: str, version: int | None = None) -> tuple[Manifest, bool]:
        """Copy `image@version` (newest at the source if None) into the library, verified;
        (its manifest, whether it was copied now — False: it was already here)."""
        source = self.source()
        if version is None:
            available = source.versions(image)
            if not available:
                raise ImageError(f"the image source {source.location} has no version of {image}")
            version = available[-1]
        library = self.library
        with library.locked(image):
            if library.has(image, version):
                return library.manifest(image, version), False
            library.sweep(image)
            with library.staging(image) as staged:
                source.fetch(image, version, staged)
                manifest = self.verifier.check(staged, (image, version), source.where(image, version))
                library.commit(staged, manifest)
        return manifest, True

    def check(self, image: str, version: int) -> Manifest:
        """Verify a version already in the library again (its digest, and its signature if required)."""
        directory = self.library.version_dir(image, version)
        self.library.disk(image, version)
        manifest = self.verifier.check(directory, (image, version), str(directory))
        self.library.mark_verified(image, version)  # good again: VWNs may boot this very file
        return manifest

    # -- which version is current --------------------------------------------------------------------

    def rollout(self, image: str) -> Rollout:
        return rollout.read(self.library, image)

    def publish(self, image: str, version: int) -> tuple[Rollout, Rollout]:
        """Make `image@version` current here, pulling it first if it is not here yet.

        Verified again first, even when it was verified as it came: a disk changed in the library
        since (by hand, by a bad disk) must never become what new VWNs boot."""
        if not self.library.has(image, version):
            self.pull(image, version)  # verified as it came: no second digest of the whole disk
        else:
            self.check(image, version)
        return rollout.publish(self.library, image, version)

    def rollback(self, image: str, only_from: int | None = None) -> tuple[Rollout, Rollout]:
        """Make the previously current version current again, verified again as by ``publish``;
        with `only_from`, only where that version is current (see ``rollout.rollback``)."""
        return rollout.rollback(self.library, image, verify=lambda version: self.check(image, version),
                                only_from=only_from)

    # -- removing versions -----------------------------------------------------------------------------

    def delete(self, image: str, version: int, in_use: Collection[int]) -> None:
        library = self.library
        with library.locked(image):
            library.manifest(image, version)
            rollout.unpublish_check(rollout.read(library, image), image, version)
            if version in in_use:
                raise ImageError(f"{image}@{version} is in use by a VWN of this host: it goes when they do")
            library.remove(image, version)

    def prune(self, image: str, in_use: Collection[int]) -> list[int]:
        """Remove the oldest versions beyond ``keep``, never the current one, the one a rollback goes
        back to, one a VWN uses, or the newest (just built or pulled, maybe about to be published);
        the versions removed."""
        library = self.library
        removed = []
        with library.locked(image):
            library.sweep(image)
            versions = library.versions(image)
            kept = rollout.read(library, image).protected() | set(in_use) | set(versions[-1:])
            for version in versions:
                if len(versions) - len(removed) <= self.section.keep:
                    break
                if version not in kept:
                    library.remove(image, version)
                    removed.append(version)
        return removed

    # -- showing -----------------------------------------------------------------------------------------

    def status(self, image: str, in_use: dict[int, int]) -> list[VersionStatus]:
        state = self.rollout(image)
        back = state.history[-1] if state.history else None
        return [VersionStatus(version=v, current=v == state.current, rollback_target=v == back,
                              in_use=in_use.get(v, 0), manifest=self.library.manifest(image, v))
                for v in self.library.versions(image)]


def versions_in_use(vm_types: Iterable[VmType], image: str, alive: Mapping[tuple[str, str], int]) -> dict[int, int]:
    """VWNs per version of `image`, from `alive` (VWNs not destroyed per VM type and image version,
    as the daemon's records count them) and the VM types that boot `image` from the library: what
    ``delete`` and ``prune`` must leave alone."""
    types = {t.name for t in vm_types if t.image_source is ImageSource.LIBRARY and t.image == image}
    counts: Counter[int] = Counter()
    for (vm_type, version), n in alive.items():
        if vm_type in types and version.isdigit():
            counts[int(version)] += n
    return dict(counts)
