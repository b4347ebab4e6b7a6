"""Text hygiene (tracking.ingest.enrich.text): clean_text."""

from __future__ import annotations

from tracking.ingest.enrich import clean_text

# --------------------------------------------------------------------------
# clean_text
# --------------------------------------------------------------------------


def test_clean_text_removes_control_characters_and_trims() -> None:
    assert clean_text("  a\x00b\x01c\x7fd\x85e\x9f\tf\n  ", 100) == "abcdef"


def test_clean_text_removes_lone_surrogates() -> None:
    assert clean_text("a\ud800b\udfffc", 10) == "abc"


def test_clean_text_truncates_and_keeps_unicode() -> None:
    assert clean_text("héllo wörld 😀", 5) == "héllo"
    assert clean_text("ab cd", 3) == "ab"
    assert clean_text("😀😀😀", 2) == "😀😀"


def test_clean_text_non_positive_limit() -> None:
    assert clean_text("abc", 0) == ""
    assert clean_text("abc", -1) == ""


def test_clean_text_huge_input_is_bounded() -> None:
    assert clean_text("x" * 10_000_000, 7) == "x" * 7
