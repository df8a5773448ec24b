"""A VM type: the environment a class of jobs runs in, and how its VWNs are treated."""

import enum
import re
from collections.abc import Callable
from typing import NewType

import attrs

from .fields import documented
from .units import Bytes, Seconds, format_size, longer_than_zero, parse_duration, parse_size

Name = NewType("Name", str)
"""A plugin, VM type or resolver name (see NAME_RE)."""
ImageName = NewType("ImageName", str)
"""A file name inside the image store (see IMAGE_NAME_RE)."""
CpuSet = NewType("CpuSet", str)
"""Host CPUs as a list of numbers and ranges, e.g. "2-5" or "0,2,4"."""

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}\Z")
"""Names end up in domain names, file names and host names: keep them plain."""

IMAGE_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,254}\Z")
"""A single path component, so no image name can escape the image store."""


def check_name(value: object, what: str = "name") -> str:
    if not isinstance(value, str) or not NAME_RE.match(value):
        raise ValueError(
            f"{what} must be lowercase letters, digits, '.', '_' or '-', at most 63 and starting"
            f" with a letter or digit, got {value!r}"
        )
    return value


def check_image_name(value: object) -> str:
    if not isinstance(value, str) or not IMAGE_NAME_RE.match(value) or ".." in value:
        raise ValueError(
            "expected a file name inside the image store (letters, digits, '.', '_', '-';"
            f" no '/' and no '..'), got {value!r}"
        )
    return value


def check_cpuset(value: object) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"\d+(-\d+)?(,\d+(-\d+)?)*", value):
        raise ValueError(f'expected host CPUs like "2-5" or "0,2,4", got {value!r}')
    return value


def _check_optional_image(_inst: object, _attr: object, value: object) -> None:
    if value is not None:
        check_image_name(value)


def _check_most(inst: object, attr: "attrs.Attribute[object]", most: int | None, name: str,
                show: Callable[[int], str]) -> None:
    # Without its type (a key checked on its own, inst None), there is no least to compare with.
    least = getattr(inst, name, None)
    if most is not None and least is not None and most < least:
        raise ValueError(f"{attr.name} ({show(most)}) is less than {name} ({show(least)}), the size of its smallest VWN")


def _positive_size(value: int, name: str) -> None:
    if value < 1:
        raise ValueError(f"{name} must be at least one byte, got {value}")


class ScratchLayout(enum.StrEnum):
    """How a VWN's read-write disk is made."""

    RAW = "raw"
    """A fresh sparse raw file per VWN, attached beside the read-only OS disk."""
    OVERLAY = "overlay"
    """A qcow2 copy-on-write overlay over the read-only base, which is never written."""


class Network(enum.StrEnum):
    CLOSED = "closed"
    """The VWN reaches its batch system and nothing else."""
    OPEN = "open"
    """The VWN gets whatever network the hypervisor backend gives it."""


class ImageSource(enum.StrEnum):
    """Where a VM type's `image` is found."""

    STORE = "store"
    """A file of the hypervisor backend's image store, used as it is."""
    LIBRARY = "library"
    """An image of the host's image library (`[images]`): immutable, verified versions; new VWNs
    get the version the host's rollout made current (`wnod image publish`)."""


class ReuseScope(enum.StrEnum):
    """Whose job an idle VWN may take next."""

    USER = "user"
    """Only the same user's: what her last job left behind is hers."""
    GROUP = "group"
    """Only a job of a user of the same primary group."""
    TYPE = "type"
    """Any job of its VM type."""


def _check_scope(policy: "ReusePolicy", _attr: object, scope: ReuseScope) -> None:
    if scope is not ReuseScope.USER and not policy.scratch_reset:
        raise ValueError(
            f'reuse_scope "{scope}" hands a VWN to another user\'s job: it needs scratch_reset = true, so that'
            " it is restarted on a fresh scratch disk first (no process, no file of the last job's owner"
            " survives); or keep reuse_scope = \"user\""
        )


@attrs.frozen
class ReusePolicy:
    """What happens to a VWN when its job ends."""

    max_reuses: int = documented(
        "How many later jobs a VWN may take after its first; 0 destroys it after one job.",
        default=100,
        validator=attrs.validators.ge(0),
    )
    idle_ttl: Seconds = documented(
        "How long an idle VWN is kept for reuse before it is destroyed.",
        default=Seconds(1800),
        converter=parse_duration,
    )
    scratch_reset: bool = documented(
        "Wipe the read-write scratch disk before the VWN takes its next job (the backend restarts the"
        " guest on a fresh disk: no process of the last job survives it either).",
        default=True,
    )
    reuse_scope: ReuseScope = documented(
        '"user": an idle VWN takes only its last job\'s owner\'s jobs; "group": her primary group\'s;'
        ' "type": any job of its type. "group" and "type" need `scratch_reset` (a job must not see what'
        " another user's job left).",
        default=ReuseScope.USER,
        converter=ReuseScope,
        validator=_check_scope,
    )


@attrs.frozen
class VmType:
    """The environment a class of jobs runs in: OS image, size, network, reuse."""

    name: Name = documented(
        "The VM type's name: the key of its [vm_types.NAME] table.",
        validator=lambda _i, _a, v: check_name(v, "VM type name"),
    )
    image: ImageName = documented(
        "Read-only OS and software image of this type, a file name in the hypervisor's image store."
        " Every VWN of the type shares it and never writes it. With `image_source = \"library\"`,"
        " the name of an image of the host's image library instead.",
        validator=lambda _i, _a, v: check_image_name(v),
    )
    image_source: ImageSource = documented(
        '"store": `image` is a file of the hypervisor\'s image store; "library": an image of the'
        " host's image library (`[images]`), whose version for new VWNs is the one published on the"
        " host (`wnod image publish`), recorded on each VWN as its image version.",
        default=ImageSource.STORE,
        converter=ImageSource,
    )
    vcpus: int = documented(
        "Virtual CPUs of each VWN; with `max_vcpus`, the fewest: a job asking for more CPUs gets a VWN of as many.",
        default=1,
        validator=attrs.validators.ge(1),
    )
    memory: Bytes = documented(
        "Memory of each VWN; with `max_memory`, the least: a job asking for more gets a VWN of that much"
        " (rounded up to `memory_step`).",
        default=Bytes(2 * 1024**3),
        converter=parse_size,
    )
    max_vcpus: int | None = documented(
        "The most virtual CPUs a VWN of this type is made with, sized from its job's request. Unset:"
        " every VWN has `vcpus`, and a job asking for more CPUs than that is refused.",
        default=None,
        validator=lambda i, a, v: _check_most(i, a, v, "vcpus", str),
    )
    max_memory: Bytes | None = documented(
        "The most memory a VWN of this type is made with, sized from its job's request. Unset: every"
        " VWN has `memory`, and a job asking for more than that is refused.",
        default=None,
        converter=attrs.converters.optional(parse_size),
        validator=lambda i, a, v: _check_most(i, a, v, "memory", format_size),
    )
    memory_step: Bytes = documented(
        "With `max_memory`: a job's memory request is rounded up to a multiple of this for its VWN,"
        " so that jobs asking nearly the same share VWNs (an idle VWN is reused for a job of its very size).",
        default=Bytes(1024**3),
        converter=parse_size,
        validator=lambda _i, _a, v: _positive_size(v, "memory_step"),
    )
    scratch_size: Bytes = documented(
        "Size of each VWN's own read-write scratch disk.",
        default=Bytes(10 * 1024**3),
        converter=parse_size,
    )
    scratch_layout: ScratchLayout = documented(
        '"raw": a fresh sparse scratch disk beside the read-only one; "overlay": a qcow2'
        " copy-on-write overlay over the read-only base.",
        default=ScratchLayout.RAW,
        converter=ScratchLayout,
    )
    network: Network = documented(
        '"closed": the VWN reaches its batch system only; "open": the backend\'s normal network.',
        default=Network.CLOSED,
        converter=Network,
    )
    kernel: ImageName | None = documented(
        "Kernel to boot directly, a file name in the image store; unset, the image boots itself.",
        default=None,
        validator=_check_optional_image,
    )
    initrd: ImageName | None = documented(
        "Initial ramdisk for the kernel, a file name in the image store.",
        default=None,
        validator=_check_optional_image,
    )
    cmdline: str = documented("Kernel command line, with kernel.", default="")
    cpuset: CpuSet | None = documented(
        'Host CPUs the VWN\'s vCPUs are pinned to, e.g. "2-5" or "0,2,4"; unset, not pinned.',
        default=None,
        validator=lambda _i, _a, v: v is None or check_cpuset(v),
    )
    boot_timeout: Seconds = documented(
        "How long a new VWN may take to boot and join the batch system before it is given up.",
        default=Seconds(600),
        converter=parse_duration,
        validator=longer_than_zero,
    )
    image_version: str = documented(
        "A label for the image's current release, recorded on every VWN made from it; idle VWNs of"
        " another label are retired. With `image_source = \"library\"` it is set by the host's"
        " rollout (the published version's number) and must not be given.",
        default="",
    )
    reuse: ReusePolicy = documented("What happens to a VWN when its job ends.", default=ReusePolicy())

