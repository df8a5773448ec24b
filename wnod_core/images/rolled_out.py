"""The VM types as the engine sees them on this host: each whose image comes from the library carries,
as its ``image_version``, the version current here — so the engine's one rule ("an idle VWN of
another image version is not reused") is what retires old versions after a publish or a rollback,
at each VWN's next reuse decision, while running VWNs keep theirs to their end."""

import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import attrs

from ..errors import ImageError, ImageUnavailable
from ..model import ImageSource, VmType
from . import rollout
from .library import Library

REFRESH = 1.0
"""Seconds a reading of the rollout states is used before they are read again: `wnod image
publish` takes effect within that, without the daemon reading files at every decision."""


class RolledOut(Mapping[str, VmType]):
    def __init__(self, vm_types: Mapping[str, VmType], library: Library,
                 clock: Callable[[], float] = time.monotonic):
        self._configured = dict(vm_types)
        self._library = library
        self._clock = clock
        self._read_at = float("-inf")
        self._types: dict[str, VmType] = dict(vm_types)

    def _fresh(self) -> dict[str, VmType]:
        now = self._clock()
        if now - self._read_at >= REFRESH:
            self._read_at = now
            self._types = {name: self._rolled(t) for name, t in self._configured.items()}
        return self._types

    def _rolled(self, vm_type: VmType) -> VmType:
        if vm_type.image_source is not ImageSource.LIBRARY:
            return vm_type
        try:
            current = rollout.read(self._library, vm_type.image).current
        except ImageError:
            current = None  # unreadable: no version here; the create says why (disk_of)
        return attrs.evolve(vm_type, image_version="" if current is None else str(current))

    def invalidate(self) -> None:
        """Read the rollout states again at the next decision: this daemon changed one itself (a
        publish over its API), and a job baited right after must get the new version, not wait
        out `REFRESH` (or be given back for a version it does not see yet)."""
        self._read_at = float("-inf")

    def __getitem__(self, name: str) -> VmType:
        return self._fresh()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._configured)

    def __len__(self) -> int:
        return len(self._configured)


def unpublished(library: Library | None, vm_type: VmType) -> str:
    """Why no new VWN of `vm_type` (as the host's rollout has it) can be made here, known before any
    boot: its image is from the library and no version of it is current ("": one is, or its image
    is of the backend's store)."""
    if vm_type.image_source is not ImageSource.LIBRARY or (library is not None and vm_type.image_version):
        return ""
    if library is None:
        return f'VM type "{vm_type.name}": its image is from the library, but [images] library is not set'
    state = rollout.state_path(library, vm_type.image)
    why = rollout.read_problem(library, vm_type.image)
    return (f'no version of image "{vm_type.image}" is published on this host'
            f" ({why or f'nothing in {state}'}): wnod image publish {vm_type.image}@N")


def disk_of(library: Library | None, vm_type: VmType, version: str) -> Path | None:
    """The read-only disk a VWN of `vm_type` made at image version `version` boots; None for an image
    of the backend's store. ImageUnavailable when it cannot be had: a VWN is never made without it."""
    if vm_type.image_source is not ImageSource.LIBRARY:
        return None
    missing = unpublished(library, attrs.evolve(vm_type, image_version=version))
    if missing:
        raise ImageUnavailable(missing)
    assert library is not None
    try:
        disk = library.disk(vm_type.image, int(version))
    except (ImageError, ValueError) as exc:
        raise ImageUnavailable(f'VM type "{vm_type.name}": {exc}') from None
    changed = library.changed_since_verified(vm_type.image, int(version))
    if changed:
        ref = f"{vm_type.image}@{version}"
        raise ImageUnavailable(f'VM type "{vm_type.name}": {ref}: {changed}: refused, never booted'
                               f" (wnod image verify {ref} checks it whole)")
    return disk
