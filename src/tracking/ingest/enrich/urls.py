"""Page addresses (:func:`parse_page_url`: host, path, query without tracking parameters, UTM
tags) and host names (:func:`host_matches`: is a page on a site's domain)."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from urllib.parse import SplitResult, unquote_plus, urlsplit

from .text import clean_text

_HOST_LIMIT = 253
# Letters (any script), digits, "-", "_", "." and ":" (IPv6).  Rejects
# whitespace, "%", "<", quotes and the like.
_HOST_CHARS = re.compile(r"[\w.:-]+")


def _normalize_host(value: str, *, strip_www: bool = True) -> str:
    """Lowercase a host, drop its port and trailing dot, optionally a "www." prefix.

    Returns "" for anything that is not a plausible host name or address.
    A "www." prefix is kept when nothing with a dot would remain
    ("www.com" stays itself).
    """
    host = value.strip().lower()
    if host.startswith("["):
        host = host[1:].partition("]")[0]
    elif host.count(":") == 1:
        host = host.partition(":")[0]
    host = host.rstrip(".")
    if not host or len(host) > _HOST_LIMIT or not _HOST_CHARS.fullmatch(host):
        return ""
    if strip_www and host.startswith("www.") and "." in host[4:]:
        host = host[4:]
    return host


def host_matches(host: str, domain: str) -> bool:
    """True when *host* is *domain* or one of its subdomains.

    Case-insensitive; ports, a trailing dot and a leading "www." on either
    side are ignored.  Only whole labels match: "evil-example.com" and
    "example.com.evil.net" do not match "example.com".
    """
    return _host_matches(host[: _HOST_LIMIT + 16], domain[: _HOST_LIMIT + 16])


@functools.lru_cache(maxsize=4096)
def _host_matches(host: str, domain: str) -> bool:
    host = _normalize_host(host)
    domain = _normalize_host(domain)
    if not host or not domain:
        return False
    return host == domain or host.endswith("." + domain)


_URL_LIMIT = 4096
_PATH_LIMIT = 1024
_QUERY_LIMIT = 512
_UTM_LIMIT = 128
_UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
# Per-click / per-recipient identifiers appended by ad and mail platforms.
# They identify individuals and fragment page statistics, so they are never
# stored.
_CLICK_IDS = frozenset(
    {
        "fbclid", "gclid", "gclsrc", "dclid", "gbraid", "wbraid", "msclkid", "yclid",
        "twclid", "ttclid", "li_fat_id", "igshid", "mc_eid", "_hsenc", "_hsmi",
        "mkt_tok", "_gl", "_ga",
    }
)


@dataclass(frozen=True, slots=True)
class PageURL:
    """A page URL split into what is stored: host, path, cleaned query, UTM tags."""

    host: str
    path: str
    query: str
    utm_source: str
    utm_medium: str
    utm_campaign: str
    utm_term: str
    utm_content: str


def _split_url(url: str) -> SplitResult | None:
    try:
        return urlsplit(url)
    except ValueError:
        return None


def parse_page_url(url: str) -> PageURL | None:
    """Split an absolute http(s) page URL; None for anything else.

    * ``host``: lowercased, without port, user info or trailing dot ("www."
      is kept: it is part of the page's identity).
    * ``path``: as sent (percent-encoding untouched), "/" when empty, at most
      1024 characters.
    * ``query``: the query string as sent, minus every ``utm_*`` parameter
      and minus ad/mail click identifiers (``fbclid``, ``gclid``,
      ``msclkid``, ``mc_eid``, ... see ``_CLICK_IDS``), which identify
      individual clicks or recipients.  Parameters are kept whole, in order,
      while they fit in 512 characters; the rest are dropped.
    * ``utm_*``: the five standard UTM tags, percent-decoded, at most 128
      characters each; the first occurrence wins.

    The fragment is discarded.  Only the first 4096 characters of *url* are
    considered, and control characters are removed from every field.
    Results for URLs of up to 2048 characters are cached (1024 URLs).
    """
    if len(url) > _CACHED_URL_LIMIT:
        return _parse_page_url(url)
    return _cached_parse_page_url(url)


_CACHED_URL_LIMIT = 2048


def _parse_page_url(url: str) -> PageURL | None:
    parts = _split_url(clean_text(url, _URL_LIMIT))
    if parts is None or parts.scheme.lower() not in ("http", "https"):
        return None
    host = _normalize_host(parts.hostname or "", strip_www=False)
    if not host:
        return None
    kept: list[str] = []
    kept_length = 0
    utm: dict[str, str] = {}
    for parameter in parts.query.split("&"):
        if not parameter:
            continue
        raw_name, _, raw_value = parameter.partition("=")
        name = unquote_plus(raw_name).strip().lower()
        if name.startswith("utm_"):
            if name in _UTM_FIELDS and name not in utm:
                utm[name] = clean_text(unquote_plus(raw_value), _UTM_LIMIT)
            continue
        if name in _CLICK_IDS:
            continue
        added = len(parameter) + (1 if kept else 0)
        if kept_length + added <= _QUERY_LIMIT:
            kept.append(parameter)
            kept_length += added
    return PageURL(
        host=host,
        path=clean_text(parts.path, _PATH_LIMIT) or "/",
        query="&".join(kept),
        utm_source=utm.get("utm_source", ""),
        utm_medium=utm.get("utm_medium", ""),
        utm_campaign=utm.get("utm_campaign", ""),
        utm_term=utm.get("utm_term", ""),
        utm_content=utm.get("utm_content", ""),
    )


_cached_parse_page_url = functools.lru_cache(maxsize=1024)(_parse_page_url)
