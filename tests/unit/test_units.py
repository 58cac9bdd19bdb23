"""Data sizes as nominators write them."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from policies.units import UNITS, SizeError, format_size, parse_size


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("120 TB", 120 * 10**12),
        ("1.5 PiB", int(1.5 * 2**50)),
        ("500GB", 500 * 10**9),
        ("12 B", 12),
        (" 7 kB ", 7000),
        (42, 42),
    ],
)
def test_parses_decimal_and_binary_units(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["12 XB", "TB", "-5 TB", "1,5 TB", "", True, -1])
def test_rejects_what_is_not_a_size_and_says_what_is_allowed(text):
    with pytest.raises(SizeError) as info:
        parse_size(text)
    assert "TB" in str(info.value) or "negative" in str(info.value) or "size" in str(info.value)


def test_unknown_unit_message_lists_the_allowed_units():
    with pytest.raises(SizeError, match="unknown unit 'XB'; allowed: B, kB"):
        parse_size("12 XB")


@given(st.integers(min_value=0, max_value=10**6), st.sampled_from(sorted(UNITS)))
def test_integer_amounts_in_any_unit_parse_exactly(amount, unit):
    assert parse_size(f"{amount} {unit}") == amount * UNITS[unit]


@given(st.integers(min_value=1, max_value=10**18))
def test_formatted_sizes_parse_back_within_rounding(n):
    back = parse_size(format_size(n))
    assert abs(back - n) <= n * 0.05 + 1
