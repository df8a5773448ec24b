"""How long a new VWN takes to boot and join, per VM type: a fixed time or a uniform spread.

Written as a farm admin writes durations in wnod.toml: ``"90s"``, or ``"uniform:1m-3m"``.
"""

import random
from collections.abc import Mapping

import attrs
from wnod_core.model.units import format_duration, parse_duration


@attrs.frozen
class Fixed:
    seconds: float

    def draw(self, rng: random.Random) -> float:
        return self.seconds

    def __str__(self) -> str:
        return format_duration(self.seconds)


@attrs.frozen
class Uniform:
    low: float
    high: float

    def draw(self, rng: random.Random) -> float:
        return rng.uniform(self.low, self.high)

    def __str__(self) -> str:
        return f"uniform:{format_duration(self.low)}-{format_duration(self.high)}"


BootTime = Fixed | Uniform

NO_TIME = Fixed(0)


def parse_boot_time(text: str) -> BootTime:
    """``"90s"`` or ``"uniform:1m-3m"``; ValueError with a message fit for the option."""
    kind, sep, spread = text.partition(":")
    if not sep:
        return Fixed(parse_duration(text))
    low, dash, high = spread.partition("-")
    if kind.strip() != "uniform" or not dash:
        raise ValueError(f'expected a duration like "90s" or a spread like "uniform:1m-3m", got {text!r}')
    bounds = parse_duration(low), parse_duration(high)
    if bounds[0] > bounds[1]:
        raise ValueError(f"the spread's low end is above its high end: {text!r}")
    return Uniform(*bounds)


@attrs.frozen
class BootModel:
    """Boot time of each VM type: its own if given, else the default."""

    default: BootTime = Fixed(60)
    by_type: Mapping[str, BootTime] = attrs.field(factory=dict)

    def of(self, vm_type: str) -> BootTime:
        return self.by_type.get(vm_type, self.default)

    @classmethod
    def parse(cls, specs: tuple[str, ...], default: BootTime = Fixed(60)) -> "BootModel":
        """From ``--boot`` values: ``SPEC`` sets the default, ``TYPE=SPEC`` one type's."""
        by_type: dict[str, BootTime] = {}
        for spec in specs:
            name, sep, value = spec.rpartition("=")
            if sep:
                by_type[name.strip()] = parse_boot_time(value.strip())
            else:
                default = parse_boot_time(value.strip())
        return cls(default, by_type)
