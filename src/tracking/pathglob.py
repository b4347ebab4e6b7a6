"""Page patterns matched in linear time: ``/blog/*`` (``*``: any run of characters within one
path segment) and ``/docs/**`` (``**``: any run of characters), as a goal's pattern says
(:mod:`tracking.goals`).

Python's regular expressions backtrack: a pattern with several wildcards against a long path —
any visitor's — can take minutes (``/**a**a**a**a**b`` against ``/aaaa…``). Here a set of
positions in the pattern is carried along the path, as a Thompson automaton does: time
proportional to the path's length times the pattern's, whatever they are. PostgreSQL's regular
expression engine does not backtrack; SQLite calls :func:`sqlite_glob` (registered on each
connection by :mod:`tracking.models` as ``tracking_glob``).
"""

from __future__ import annotations

import re
from functools import lru_cache

#: Between the items of ``visits.pages`` and ``visits.event_names``: U+001F, which the beacon
#: strips from every value it stores, so no path or event name holds it.
LIST_SEPARATOR = "\x1f"

#: ``**`` or ``*``, in a page pattern.
WILDCARDS = re.compile(r"\*\*|\*")
#: Wildcards a page pattern may have at most.
MAX_WILDCARDS = 8
_STAR, _ANY = object(), object()


def backtracks(pattern: str) -> bool:
    """Whether a regular expression of ``pattern`` could backtrack for long: it has more than one
    wildcard (with one, there is nothing to try again)."""
    return len(WILDCARDS.findall(pattern)) > 1


@lru_cache(maxsize=256)
def _tokens(pattern: str) -> tuple:
    """``pattern`` as matching steps: a character, ``_STAR`` (``*``) or ``_ANY`` (``**``)."""
    out: list = []
    at = 0
    for wildcard in WILDCARDS.finditer(pattern):
        out.extend(pattern[at:wildcard.start()])
        out.append(_ANY if wildcard.group() == "**" else _STAR)
        at = wildcard.end()
    out.extend(pattern[at:])
    return tuple(out)


def path_matches(pattern: str, path: str) -> bool:
    """Whether ``path`` matches the page pattern ``pattern`` whole — what
    :func:`tracking.goals.path_regex` says — in time linear in the path's length whatever the pattern (a set of positions in the
    pattern is carried along the path, as a Thompson automaton does; a backtracking regular
    expression engine such as Python's takes exponential time on some patterns and paths, and
    the paths are any visitor's)."""
    tokens = _tokens(pattern)
    end = len(tokens)
    states = _skip_wildcards(tokens, {0})
    for ch in path:
        moved = set()
        for at in states:
            if at == end:
                continue
            token = tokens[at]
            if token is _ANY or (token is _STAR and ch != "/"):
                moved.add(at)
            elif token == ch:
                moved.add(at + 1)
        if not moved:
            return False
        states = _skip_wildcards(tokens, moved)
    return end in states


def _skip_wildcards(tokens: tuple, states: set[int]) -> set[int]:
    """``states`` and the positions after the wildcards at them (a wildcard may match nothing)."""
    found = set(states)
    for at in states:
        while at < len(tokens) and (tokens[at] is _STAR or tokens[at] is _ANY):
            at += 1
            found.add(at)
    return found


def listing_matches(pattern: str, listing: str | None) -> bool:
    """Whether a path of a visit's list of paths (``visits.pages``) matches ``pattern``."""
    if not listing:
        return False
    return any(path_matches(pattern, path) for path in listing[1:-1].split(LIST_SEPARATOR) if path)


def sqlite_glob(pattern: str, text: str | None, listing: int) -> int:
    """The SQLite function ``tracking_glob`` (registered on each connection by
    :mod:`tracking.models`)."""
    if text is None:
        return 0
    return int(listing_matches(pattern, text) if listing else path_matches(pattern, text))
