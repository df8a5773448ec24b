"""xl config strings: every value quoted so the parser reads it back exactly and nothing more.

The real parser's verdict on the same values is in test_xl_real_parser.py.
"""

import pytest

from wnod_xl.config import Disk, DomainConfig, quote


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("plain", "'plain'"),
        ("it's", "'it\\'s'"),
        ('say "hi"', "'say \"hi\"'"),
        ("back\\slash", "'back\\\\slash'"),
        ("\\'", "'\\\\\\''"),
        ("", "''"),
        ("ünï", "'ünï'"),
    ],
)
def test_quote_escapes_backslash_and_quote(value: str, written: str) -> None:
    assert quote(value) == written


@pytest.mark.parametrize("value", ["a\nb", "a\rb", "\t", "\0", "\x1b[31m", "\x7f"])
def test_quote_refuses_control_characters(value: str) -> None:
    with pytest.raises(ValueError, match="control characters"):
        quote(value)


def test_a_disk_target_goes_last_so_a_path_cannot_add_a_key() -> None:
    disk = Disk("/srv/a, access=rw", "xvda", writable=False)  # type: ignore[arg-type]
    assert disk.spec() == "format=raw, vdev=xvda, access=ro, target=/srv/a, access=rw"


def test_a_relative_disk_target_is_refused() -> None:
    with pytest.raises(ValueError, match="absolute"):
        Disk("a.img", "xvda", writable=False).spec()  # type: ignore[arg-type]


def test_a_comment_cannot_end_its_line() -> None:
    config = DomainConfig(
        name="d", uuid="u", memory_mib=1, vcpus=1, disks=[], bootloader="pygrub", comments=["x\nmemory = 1"]
    )
    with pytest.raises(ValueError, match="control characters"):
        config.format()


@pytest.mark.parametrize(
    "fields",
    [
        {"bootloader": None},
        {"kernel": "/k"},
        {"extra": "quiet"},
        {"memory_mib": 0},
    ],
)
def test_a_config_xl_would_misread_cannot_be_built(fields: dict[str, object]) -> None:
    base = {"name": "d", "uuid": "u", "memory_mib": 1, "vcpus": 1, "disks": [], "bootloader": "pygrub"}
    with pytest.raises(ValueError):
        DomainConfig(**{**base, **fields})  # type: ignore[arg-type]
