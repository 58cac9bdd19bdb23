"""The report's message catalogue: Danish and English say the same things."""

from __future__ import annotations

import string

import pytest

from ngc_pilot.report_messages import LANGUAGES, MESSAGES, Messages


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_both_languages_have_the_same_keys_and_placeholders():
    assert set(MESSAGES) == set(LANGUAGES) == {"da", "en"}
    assert MESSAGES["da"].keys() == MESSAGES["en"].keys()
    for key in MESSAGES["da"]:
        assert placeholders(MESSAGES["da"][key]) == placeholders(MESSAGES["en"][key]), key


def test_an_unknown_language_is_refused():
    with pytest.raises(ValueError, match="allowed: da, en"):
        Messages("de")
