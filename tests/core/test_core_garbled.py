"""``Garbled``: the error an adapter's parsers raise on output they cannot read."""

from wnod_core.errors import Garbled


def test_garbled_output_is_said_of_where_it_is() -> None:
    error = Garbled("JobId='x' is not a number").at("line 3")
    assert isinstance(error, Garbled) and isinstance(error, ValueError)
    assert str(error) == "line 3: JobId='x' is not a number"
