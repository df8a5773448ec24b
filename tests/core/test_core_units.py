"""Sizes and durations as the admin writes them: parsed once at the edge, printed back exactly."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wnod_core.model import format_duration, format_size, parse_duration, parse_size
from wnod_core.model.units import MAX_SECONDS

# Sizes beyond 2**53 bytes (8 PiB) are covered by their own test below.
realistic_sizes = st.integers(min_value=0, max_value=2**53)
durations = st.integers(min_value=0, max_value=MAX_SECONDS)


@given(realistic_sizes)
def test_format_size_parses_back_to_the_same_bytes(num_bytes: int) -> None:
    assert parse_size(format_size(num_bytes)) == num_bytes


@given(st.integers(min_value=1, max_value=2**20), st.sampled_from(["KiB", "MiB", "GiB", "TiB"]))
def test_format_size_picks_the_largest_exact_binary_unit(count: int, unit: str) -> None:
    factor = {"KiB": 1024, "MiB": 1024**2, "GiB": 1024**3, "TiB": 1024**4}[unit]
    text = format_size(count * factor)
    assert parse_size(text) == count * factor
    number = int(text.rstrip("BKMGTi"))
    # Never a smaller unit than needed: the count only divides by 1024 in the largest unit.
    assert text.endswith("TiB") or number % 1024 != 0
    assert text.endswith(("KiB", "MiB", "GiB", "TiB"))


@given(durations)
def test_format_duration_parses_back_to_the_same_seconds(seconds: int) -> None:
    assert parse_duration(format_duration(seconds)) == seconds


@given(realistic_sizes)
def test_plain_integers_are_bytes(num_bytes: int) -> None:
    assert parse_size(num_bytes) == num_bytes
    assert parse_size(str(num_bytes)) == num_bytes


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2GiB", 2 * 1024**3),
        ("512 MiB", 512 * 1024**2),
        ("512mib", 512 * 1024**2),
        ("10G", 10 * 1000**3),
        ("10GB", 10 * 1000**3),
        ("1.5KiB", 1536),
        ("2.3k", 2300),
        ("  7  ", 7),
        ("0", 0),
        ("3b", 3),
        ("1TiB", 1024**4),
    ],
)
def test_parse_size_reads_what_admins_write(text: str, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", 1800),
        ("30min", 1800),
        ("1h30m", 5400),
        ("1h 30m", 5400),
        ("90s", 90),
        ("2d", 172800),
        ("0.5h", 1800),
        ("45", 45),
        ("1H", 3600),
    ],
)
def test_parse_duration_reads_what_admins_write(text: str, expected: int) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("seconds", "text"), [(0, "0s"), (5400, "1h30m"), (86400 + 61, "1d1m1s"), (600, "10m")]
)
def test_format_duration_is_the_shortest_exact_spelling(seconds: int, text: str) -> None:
    assert format_duration(seconds) == text


@pytest.mark.parametrize(
    ("num_bytes", "text"), [(0, "0B"), (1, "1B"), (1024, "1KiB"), (1536, "1536B"), (2 * 1024**3, "2GiB")]
)
def test_format_size_is_the_shortest_exact_spelling(num_bytes: int, text: str) -> None:
    assert format_size(num_bytes) == text


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("lots", '"lots"'),
        ("-1GiB", '"-1GiB"'),
        ("2 parsecs", '"2 parsecs"'),
        ("2GiBs", '"2GiBs"'),
        ("", '""'),
        (1.5, "1.5"),
        (True, "True"),
        (None, "None"),
        ([1], "[1]"),
    ],
)
def test_parse_size_refuses_garbage_naming_the_value(value: object, shown: str) -> None:
    with pytest.raises(ValueError) as err:
        parse_size(value)
    assert str(err.value) == f'expected a size like "2GiB", got {shown}'


def test_parse_size_refuses_a_negative_number_of_bytes() -> None:
    with pytest.raises(ValueError, match=r"^expected a size of zero or more bytes, got -5$"):
        parse_size(-5)


@pytest.mark.parametrize(
    "value", ["lots", "-5m", "5us", "1y", "h", "", "1h-30m", "30 minutes", "m30", None, False, [1]]
)
def test_parse_duration_refuses_garbage_naming_the_value(value: object) -> None:
    with pytest.raises(ValueError) as err:
        parse_duration(value)
    message = str(err.value)
    assert message.startswith('expected a duration like "30m"')
    shown = f'"{value}"' if isinstance(value, str) else repr(value)
    assert message.endswith(f"got {shown}")


def test_parse_duration_refuses_a_negative_number_of_seconds() -> None:
    with pytest.raises(ValueError, match=r"^expected a duration of zero or more seconds, got -1$"):
        parse_duration(-1)


def test_huge_sizes_are_exact() -> None:
    assert parse_size(str(2**53 + 1)) == 2**53 + 1


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf"), 1e300, "400d", 366 * 86400 + 1])
def test_parse_duration_refuses_what_no_clock_can_wait(value: object) -> None:
    with pytest.raises(ValueError, match="finite duration|at most 366d"):
        parse_duration(value)


def test_a_year_is_the_longest_duration() -> None:
    assert parse_duration("366d") == 366 * 86400
