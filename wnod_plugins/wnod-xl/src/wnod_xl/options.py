"""``[hypervisor.xl]``: where the xl backend finds images and keeps its files, and how long it waits."""

import re

import attrs
from wnod_core.config.checks import absolute_path, longer_than_zero, optional_absolute_path
from wnod_core.model.fields import documented
from wnod_core.model.units import Seconds, parse_duration

_BRIDGE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,14}\Z")
"""A Linux interface name: at most 15 characters, no separators xl or a shell would read."""

_PREFIX_RE = re.compile(r"^[A-Za-z0-9._-]{0,32}\Z")


def _bridge(_inst: object, _attr: attrs.Attribute, value: object) -> None:
    if value is not None and (not isinstance(value, str) or not _BRIDGE_RE.match(value)):
        raise ValueError(f"expected a bridge interface name like 'xenbr0', got {value!r}")


def _prefix(_inst: object, _attr: attrs.Attribute, value: object) -> None:
    if not isinstance(value, str) or not _PREFIX_RE.match(value):
        raise ValueError(f"expected at most 32 letters, digits, '.', '_' or '-', got {value!r}")


@attrs.frozen
class XlOptions:
    """``[hypervisor.xl]``: the Xen ``xl`` backend."""

    image_store: str = documented(
        "Folder of the read-only OS images (and kernels, ramdisks) that VM types name. wnod only"
        " reads it.",
        validator=absolute_path,
    )
    xl: str = documented(
        'The xl command: a name looked up on PATH, or an absolute path like "/usr/sbin/xl".',
        default="xl",
        validator=attrs.validators.min_len(1),
    )
    scratch_dir: str | None = documented(
        "Folder of the VWNs' read-write scratch disks, one sparse file per VWN; unset, `xl/scratch`"
        " in wnod's state folder.",
        default=None,
        validator=optional_absolute_path,
    )
    config_dir: str | None = documented(
        "Folder of the xl config file and the identity record (`<domain>.cfg`, `<domain>.json`) of"
        " each VWN; unset, `xl/domains` in wnod's state folder. Only wnod writes here.",
        default=None,
        validator=optional_absolute_path,
    )
    domain_prefix: str = documented(
        "Prefix of every domain name wnod makes: the domain of VWN `ID` is `<prefix>ID`.",
        default="wnod-",
        validator=_prefix,
    )
    bridge: str | None = documented(
        'Bridge the VWNs of "open" network VM types are plugged into (`vif = ["bridge=..."]`);'
        " unset, xl's default bridge.",
        default=None,
        validator=_bridge,
    )
    closed_bridge: str | None = documented(
        'Bridge for VWNs of "closed" network VM types: one the site has fenced so it reaches the'
        " batch system and nothing else. Unset, closed VWNs get no network interface at all.",
        default=None,
        validator=_bridge,
    )
    qemu_img: str = documented(
        'The qemu-img command, used only for VM types with scratch_layout = "overlay".',
        default="qemu-img",
        validator=attrs.validators.min_len(1),
    )
    command_timeout: Seconds = documented(
        "How long one xl command (create, list, destroy) may take before wnod gives up on it.",
        default=Seconds(60),
        converter=parse_duration,
        validator=longer_than_zero,
    )
    shutdown_timeout: Seconds = documented(
        "How long a VWN's guest is given to shut down cleanly (`xl shutdown -w`) before its domain"
        " is destroyed outright; 0 destroys it at once.",
        default=Seconds(30),
        converter=parse_duration,
    )
