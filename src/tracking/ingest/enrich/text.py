"""Text hygiene: what every other step of the enrichment does first to a visitor's text."""

from __future__ import annotations

import re

# C0 controls (incl. NUL), DEL, C1 controls, and UTF-16 surrogates.  Lone
# surrogates are not control characters, but they cannot be encoded as
# UTF-8: they would crash the UA parser (Rust) and the database driver.
_UNSAFE_CHARS = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def clean_text(value: str, limit: int) -> str:
    """Return *value* without control characters, trimmed, at most *limit* chars.

    Removes C0 (including NUL), DEL and C1 control characters and lone
    surrogates, strips surrounding whitespace and truncates to *limit*
    characters.  Only the first ``2 * limit + 64`` characters are examined,
    so a multi-megabyte hostile value costs no more than a normal one.
    """
    if limit <= 0:
        return ""
    window = value[: 2 * limit + 64]
    return _UNSAFE_CHARS.sub("", window).strip()[:limit].rstrip()
