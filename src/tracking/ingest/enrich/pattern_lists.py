"""Many regexes searched as one: :class:`_PatternList`, the engine of the bot lists (:mod:`.bots`).

Each list is compiled into a few large regexes run by the Rust engine of ua-parser
(``ua-parser-rs``, installed by ``ua-parser[regex]``): a few microseconds for a whole list. The
few patterns that engine cannot run (look-around) are run by :mod:`re`, in list order, and only
where the pattern without its look-arounds, run by the Rust engine, matches.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from typing import Literal

import ua_parser_rs

log = logging.getLogger(__name__)

#: The Rust engine's flags: "i" ignores case.
Flag = Literal["i"] | None

_GROUP = 50
# Look-around and back-references, which the Rust engine does not run.
_LOOK_AROUND = re.compile(r"\(\?<?[=!]|\\[1-9]")


class _PatternList:
    """An ordered list of ``(regex, tag, wrap)``: :meth:`first` answers the tag of the first regex
    found in a text, or None.

    Each regex is searched inside its *wrap* (a format string; ``"{}"`` leaves it as it is), with
    or without regard to case (*ignore_case*, for the whole list). Neighbours with the same tag
    and wrap are joined in alternations of up to :data:`_GROUP` regexes, all run by one
    :class:`ua_parser_rs.DeviceExtractor`, which answers the first of its regexes that matches
    (here the index of the group's first regex): compiling a few dozen large regexes costs a
    fraction of compiling a thousand small ones. The regexes the Rust engine does not run are
    compiled by :mod:`re` (see :func:`_fixed_lookbehinds`) and tried when they come before the
    Rust engine's match and their relaxed form (:func:`_relaxed`), which it runs, matches. A
    regex that neither compiles is left out, with a warning.
    """

    __slots__ = ("_rust", "_python", "_tags")

    def __init__(self, entries: Iterable[tuple[str, str, str]], *, ignore_case: bool) -> None:
        listed = list(entries)
        self._tags = tuple(tag for _, tag, _ in listed)
        flag: Flag = "i" if ignore_case else None
        in_python = {index for index, (pattern, _, _) in enumerate(listed) if _LOOK_AROUND.search(pattern)}
        try:
            self._rust = _extractor(listed, in_python, flag)
        except ValueError:  # a regex the Rust engine refuses for another reason: find it
            in_python |= {
                index for index, (pattern, _, wrap) in enumerate(listed) if _rust(wrap.format(pattern), flag) is None
            }
            self._rust = _extractor(listed, in_python, flag)
        python = []
        for index in sorted(in_python):
            pattern, _, wrap = listed[index]
            try:
                compiled = re.compile(_fixed_lookbehinds(wrap.format(pattern)), re.IGNORECASE if ignore_case else 0)
            except re.error as exc:
                log.warning("bot pattern %r left out: %s", pattern, exc)
                continue
            python.append((index, compiled, _rust(wrap.format(_relaxed(pattern)), flag)))
        self._python = tuple(python)

    def first(self, text: str) -> str | None:
        found = self._rust.extract(text)
        limit = int(found.family) if found is not None else len(self._tags)
        for index, pattern, gate in self._python:
            if index >= limit:
                break
            if (gate is None or gate.extract(text) is not None) and pattern.search(text):
                return self._tags[index]
        return self._tags[limit] if found is not None else None


def _extractor(listed: list[tuple[str, str, str]], in_python: set[int], flag: Flag) -> ua_parser_rs.DeviceExtractor:
    groups: list[list[int]] = []
    for index, (_, tag, wrap) in enumerate(listed):
        if index in in_python:
            continue
        if groups:
            group = groups[-1]
            _, first_tag, first_wrap = listed[group[0]]
            if group[-1] == index - 1 and (first_tag, first_wrap) == (tag, wrap) and len(group) < _GROUP:
                group.append(index)
                continue
        groups.append([index])
    return ua_parser_rs.DeviceExtractor(
        (
            listed[group[0]][2].format("|".join(f"(?:{listed[index][0]})" for index in group)),
            flag,
            str(group[0]),
            None,
            None,
        )
        for group in groups
    )


def _rust(pattern: str, flag: Flag) -> ua_parser_rs.DeviceExtractor | None:
    """*pattern* alone in the Rust engine, or None when it refuses it."""
    try:
        return ua_parser_rs.DeviceExtractor([(pattern, flag, "0", None, None)])
    except ValueError:
        return None


def _relaxed(pattern: str) -> str:
    """*pattern* without its look-around groups: it matches wherever *pattern* does, and more."""
    out: list[str] = []
    for start, end, look_around in _pieces(pattern):
        if not look_around:
            out.append(pattern[start:end])
    return "".join(out)


def _fixed_lookbehinds(pattern: str) -> str:
    """*pattern* with each look-behind of alternatives split into one look-behind per alternative,
    which :mod:`re` compiles when each alternative has a fixed width: ``(?<!ab|c)`` becomes
    ``(?<!ab)(?<!c)``, ``(?<=ab|c)`` becomes ``(?:(?<=ab)|(?<=c))``."""
    out: list[str] = []
    for start, end, look_around in _pieces(pattern):
        piece = pattern[start:end]
        if look_around and piece.startswith(("(?<!", "(?<=")):
            head, body = piece[:4], piece[4:-1]
            alternatives = [f"{head}{_fixed_lookbehinds(alternative)})" for alternative in _alternatives(body)]
            piece = "".join(alternatives) if head == "(?<!" else "(?:" + "|".join(alternatives) + ")"
        out.append(piece)
    return "".join(out)


def _pieces(pattern: str) -> Iterator[tuple[int, int, bool]]:
    """*pattern* cut into ``(start, end, is_look_around)``: look-around groups whole, the rest in
    pieces that never split an escape or a character class."""
    position = 0
    while position < len(pattern):
        if pattern.startswith(("(?=", "(?!", "(?<=", "(?<!"), position):
            end = _group_end(pattern, position)
            yield position, end, True
        else:
            end = _token_end(pattern, position)
            yield position, end, False
        position = end


def _alternatives(body: str) -> list[str]:
    """*body* split at its top-level ``|``."""
    parts, depth, start, position = [], 0, 0, 0
    while position < len(body):
        char = body[position]
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth == 0:
            parts.append(body[start:position])
            start = position + 1
        position = _token_end(body, position)
    parts.append(body[start:])
    return parts


def _token_end(pattern: str, start: int) -> int:
    """The index after the escape, character class or single character at *start*."""
    char = pattern[start]
    if char == "\\":
        return start + 2
    if char != "[":
        return start + 1
    position = start + 1
    if pattern.startswith("^", position):
        position += 1
    if pattern.startswith("]", position):
        position += 1
    while position < len(pattern) and pattern[position] != "]":
        position += 2 if pattern[position] == "\\" else 1
    return position + 1


def _group_end(pattern: str, start: int) -> int:
    """The index after the group that opens at *start*."""
    depth = 0
    position = start
    while position < len(pattern):
        char = pattern[position]
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return position + 1
        position = _token_end(pattern, position)
    return position
