"""Where to send someone after logging in: only paths on this site."""

from urllib.parse import quote, unquote, urlsplit

MAX_LENGTH = 2048
#: Characters a path, query and fragment may carry as they are (RFC 3986's reserved and
#: unreserved ones, and ``%`` so that escapes already there are kept); anything else is
#: percent-encoded as UTF-8.
_KEEP = "/?#[]@!$&'()*+,;=:%~-._"


def safe_next(value: str | None) -> str | None:
    """``value`` as a same-site path such as ``/sites/3/``, else ``None``.

    Refused: absolute URLs, scheme-relative ``//host`` (and ``///host``), ``/\\host`` (browsers
    read a backslash as a slash), ``javascript:``, control characters (browsers drop tabs and
    newlines, which could join two slashes), and every percent-encoded variant of these (checked
    after repeated decoding).

    What is kept is returned percent-encoded (``/。/x`` becomes ``/%E3%80%82/x``): a ``Location``
    header carries only Latin-1, and a browser decodes the escapes to the same path. The result
    is its own safe value (``safe_next(safe_next(v)) == safe_next(v)``).
    """
    if not value or len(value) > MAX_LENGTH:
        return None
    candidate = value
    for _ in range(4):
        if not _is_local_path(candidate):
            return None
        decoded = unquote(candidate)
        if decoded == candidate:
            encoded = quote(value, safe=_KEEP)
            return encoded if len(encoded) <= MAX_LENGTH else None
        candidate = decoded
    return None


def next_param(request) -> str | None:
    """The request's ``next`` parameter as :func:`safe_next` keeps it; ``None`` when absent,
    unsafe, or not even text (a query string that is not UTF-8)."""
    try:
        value = request.params.get("next")
    except UnicodeDecodeError:
        return None
    return safe_next(value)


def _is_local_path(path: str) -> bool:
    if not path.startswith("/") or path.startswith("//"):
        return False
    if "\\" in path or any(ord(c) < 32 or ord(c) == 127 for c in path):
        return False
    parts = urlsplit(path)
    return not parts.scheme and not parts.netloc
