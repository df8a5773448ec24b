"""``[batch.toyq]``: where toyq is and how long one of its commands may take."""

import attrs
from wnod_core.config.checks import absolute_path_or_empty, longer_than_zero
from wnod_core.model import Seconds
from wnod_core.model.fields import documented


@attrs.frozen
class ToyqOptions:
    """`[batch.toyq]`."""

    bin_dir: str = documented(
        "Directory of the toyq command, e.g. /opt/toyq/bin. Empty: found on the daemon's PATH.",
        default="",
        validator=absolute_path_or_empty,
    )
    timeout: Seconds = documented(
        'Seconds one toyq command may take ("30s", "2m") before it is stopped and the call fails.',
        default=Seconds(30),
        validator=longer_than_zero,
    )
