"""Where to send someone after logging in: only paths on this site."""

from urllib.parse import unquote, urlsplit

MAX_LENGTH = 2048


def safe_next(value: str | None) -> str | None:
    """``value`` if it is a same-site path such as ``/sites/3/``, else ``None``.

    Refused: absolute URLs, scheme-relative ``//host``, ``/\\host`` (browsers read a backslash
    as a slash), ``javascript:``, control characters, and every percent-encoded variant of
    these (checked after repeated decoding).
    """
    if not value or len(value) > MAX_LENGTH:
        return None
    candidate = value
    for _ in range(4):
        if not _is_local_path(candidate):
            return None
        decoded = unquote(candidate)
        if decoded == candidate:
            return value
        candidate = decoded
    return None


def _is_local_path(path: str) -> bool:
    if not path.startswith("/") or path.startswith("//"):
        return False
    if "\\" in path or any(ord(c) < 32 or ord(c) == 127 for c in path):
        return False
    parts = urlsplit(path)
    return not parts.scheme and not parts.netloc
