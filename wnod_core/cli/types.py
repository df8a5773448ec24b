"""click parameter types for what the config also spells, so a flag and a key read alike."""

from typing import Any

import click

from ..model.units import longer_than_zero, parse_duration


class Duration(click.ParamType):
    """A duration longer than zero, as in the config: "90s", "5m", "1h30m" or a number of seconds.
    Never NaN, infinity or more than the longest duration wnod takes."""

    name = "duration"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            text: Any = value
        else:
            text = str(value)
            try:  # a bare number is seconds, as in the config
                text = float(text)
            except ValueError:
                pass
        try:
            seconds = parse_duration(text)
            longer_than_zero(None, None, seconds)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)
        return seconds


DURATION = Duration()
