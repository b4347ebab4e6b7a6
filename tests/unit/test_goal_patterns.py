"""Page goals' patterns: what they match, what is refused, and the same rule in SQL's regular
expressions (Python's ``re`` for SQLite) as in :meth:`GoalSpec.matches_path`."""

import re
from decimal import Decimal

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tracking.goals import GoalSpec, check, listing_regex, path_regex, pattern_error
from tracking.models.hits import listing
from tracking.money import amount_error, currency_error
from tracking.pathglob import listing_matches, path_matches


def page(pattern: str) -> GoalSpec:
    return GoalSpec(1, "g", "page", pattern)


@pytest.mark.parametrize(("pattern", "path", "matches"), [
    ("/signup", "/signup", True),
    ("/signup", "/signup/", False),
    ("/signup", "/signups", False),
    ("/blog/*", "/blog/a", True),
    ("/blog/*", "/blog/", True),
    ("/blog/*", "/blog/a/b", False),
    ("/blog/*", "/blog", False),
    ("/blog/*-2024", "/blog/summer-2024", True),
    ("/blog/*-2024", "/blog/x/summer-2024", False),
    ("/docs/**", "/docs/", True),
    ("/docs/**", "/docs/a/b/c", True),
    ("/docs/**", "/doc", False),
    ("/**/edit", "/a/b/edit", True),
    ("/**/edit", "/a/b/editor", False),
    ("/a.b", "/aXb", False),  # a dot is a dot
    ("/a+(b)?", "/a+(b)?", True),
    ("/[x]", "/[x]", True),
    ("/x|y", "/y", False),
    ("/café/*", "/café/menu", True),
    ("/a\\d", "/a\\d", True),
    ("/a\\d", "/a5", False),
])
def test_a_page_pattern_matches_whole_paths(pattern, path, matches):
    assert pattern_error(pattern) is None
    assert page(pattern).matches_path(path) is matches
    # In a visit's list of paths, as the visit condition reads it.
    assert (re.search(listing_regex(pattern), listing(["/other", path, "/zzz"])) is not None) is matches


def test_a_wildcard_in_the_list_of_paths_stays_within_one_path():
    # /blog/* must not match by running from one listed path into the next.
    assert re.search(listing_regex("/blog/*"), listing(["/blog/a/b", "/x"])) is None
    assert re.search(listing_regex("/docs/**"), listing(["/doc", "/docs"])) is None
    assert re.search(listing_regex("/**x"), listing(["/a", "/b"])) is None


@pytest.mark.parametrize(("pattern", "error"), [
    ("signup", "starts with /"),
    ("", "starts with /"),
    ("/a/***", "not ***"),
    ("/a b", "no spaces"),
    ("/a\x00", "control"),
    ("/" + "a" * 1024, "at most 1024"),
    ("/*a/*b/*c/*d/*e/**f/*g/*h/*i", "at most 8 wildcards"),
])
def test_a_malformed_pattern_is_refused_with_a_reason(pattern, error):
    assert error in pattern_error(pattern)


# Patterns and paths over a small alphabet, so that wildcards, slashes and literals meet often.
_PATTERNS = st.lists(st.sampled_from(["a", "b", "/", "-", "*", "**"]), max_size=9).map(lambda parts: "/" + "".join(parts))
_PATHS = st.text(alphabet="ab/-", max_size=12).map(lambda text: "/" + text)


@given(pattern=_PATTERNS, path=_PATHS)
@settings(max_examples=400, deadline=None)
def test_the_linear_matcher_says_what_the_regular_expression_says(pattern, path):
    assume(pattern_error(pattern) is None)
    expected = re.fullmatch(path_regex(pattern), path) is not None
    assert path_matches(pattern, path) is expected
    paths = listing(["/other", path])
    assert listing_matches(pattern, paths) is (re.search(listing_regex(pattern), paths) is not None)


@pytest.mark.parametrize(("pattern", "path"), [
    ("/**a**a**a**a**a**b", "/" + "a" * 1023),  # a backtracking engine tries ~n^6 ways
    ("/blog/*-*-*.html", "/blog/" + "-" * 1018),
    ("/*-*-*-*-x", "/" + "-" * 1023),
])
def test_a_hostile_path_is_matched_at_once(pattern, path):
    """Without the linear matcher each of these takes from seconds to hours."""
    assert path_matches(pattern, path) is False
    assert path_matches(pattern, path[:-1] + ("b" if pattern.endswith("b") else "x")) is pattern.endswith(("b", "x"))


def test_path_regex_is_anchored():
    assert path_regex("/a") == "^\\/a$"


@pytest.mark.parametrize(("amount", "currency", "error"), [
    ("29.90", "EUR", None),
    ("29.9", "EUR", None),
    ("29.901", "EUR", "at most 2 decimals"),
    ("1500", "JPY", None),
    ("1500.5", "JPY", "at most 0 decimals"),
    ("1.234", "KWD", None),
    ("-1", "EUR", "negative"),
    ("999999999999.99", "USD", None),
    ("1000000000000", "USD", "less than"),
    ("NaN", "USD", "number"),
    ("Infinity", "USD", "number"),
])
def test_amounts_are_bounded_by_the_currency(amount, currency, error):
    found = amount_error(Decimal(amount), currency)
    assert (found is None) if error is None else (error in found)


def test_currencies_are_iso_4217_codes():
    assert currency_error("EUR") is None and currency_error("JPY") is None
    assert currency_error("eur") and currency_error("XYZ") and currency_error("EURO") and currency_error("")


def test_a_goal_is_checked_field_by_field():
    assert check("page", "Sign-ups", pattern="/signup") == {}
    assert check("event", "Pro", event="Signup", prop_key="plan", prop_value="pro", currency="EUR") == {}
    assert set(check("page", " ", pattern="x")) == {"name", "pattern"}
    assert set(check("page", "A", pattern="/a", currency="EUR")) == {"currency"}
    assert set(check("event", "A", event="")) == {"event"}
    assert set(check("event", "A", event="pageview")) == {"event"}
    assert set(check("event", "A", event="x", prop_key='a"b')) == {"prop_key"}
    assert set(check("event", "A", event="x", prop_value="v")) == {"prop_key"}
    assert set(check("event", "A", event="x", currency="ABC")) == {"currency"}
    assert set(check("other", "A")) == {"kind"}
