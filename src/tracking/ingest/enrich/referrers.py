"""Where a visit comes from: the referrer's host and the source class (:func:`classify_source`)."""

from __future__ import annotations

import functools

from .text import clean_text
from .urls import _HOST_LIMIT, _UTM_LIMIT, _host_matches, _normalize_host, _split_url

SOURCE_CLASSES = ("search", "social", "email", "referral", "direct")

# Referrer domains by class.  A host matches an entry when it equals it or
# is a subdomain of it (m.facebook.com, old.reddit.com, uk.search.yahoo.com).
# Android apps send "android-app://<package>/" as referrer; their package
# names are listed like hosts.
_SEARCH_DOMAINS = (
    "bing.com", "duckduckgo.com", "search.yahoo.com", "search.yahoo.co.jp",
    "baidu.com", "ecosia.org", "qwant.com", "startpage.com", "search.brave.com",
    "kagi.com", "ya.ru", "naver.com", "seznam.cz", "sogou.com", "so.com",
    "ask.com", "search.aol.com", "yahoo.co.jp",
    "com.google.android.googlequicksearchbox",
)
_SOCIAL_DOMAINS = (
    "facebook.com", "fb.com", "fb.me", "messenger.com", "instagram.com",
    "threads.net", "threads.com", "twitter.com", "t.co", "x.com", "linkedin.com",
    "lnkd.in", "reddit.com", "redd.it", "youtube.com", "youtu.be", "tiktok.com",
    "pin.it", "news.ycombinator.com", "bsky.app", "mastodon.social", "vk.com",
    "ok.ru", "tumblr.com", "quora.com", "discord.com", "t.me", "telegram.org",
    "whatsapp.com", "wa.me", "snapchat.com", "weibo.com", "xing.com", "twitch.tv",
    "com.facebook.katana", "com.facebook.orca", "com.instagram.android",
    "com.twitter.android", "com.linkedin.android", "com.reddit.frontpage",
    "com.zhiliaoapp.musically", "com.pinterest", "org.telegram.messenger",
    "com.whatsapp", "com.google.android.youtube",
)
_EMAIL_DOMAINS = (
    "mail.google.com", "inbox.google.com", "outlook.live.com", "outlook.office.com",
    "outlook.office365.com", "mail.yahoo.com", "mail.aol.com", "mail.proton.me",
    "mail.protonmail.com", "mail.yandex.ru", "mail.yandex.com", "e.mail.ru",
    "mail.zoho.com", "app.fastmail.com", "app.tuta.com", "mail.tutanota.com",
    "com.google.android.gm", "com.microsoft.office.outlook",
)
_DOMAIN_CLASSES: dict[str, str] = {
    **dict.fromkeys(_SEARCH_DOMAINS, "search"),
    **dict.fromkeys(_SOCIAL_DOMAINS, "social"),
    **dict.fromkeys(_EMAIL_DOMAINS, "email"),
}
# Brands with one site per country: matched as "<brand>.<tld>" or
# "<brand>.<second-level>.<tld>" (google.de, google.co.uk, google.com.br),
# but not as a subdomain (docs.google.com is a plain referral).
_BRAND_CLASSES = {"google": "search", "yandex": "search", "pinterest": "social"}
_SECOND_LEVEL_LABELS = frozenset({"co", "com", "net", "org", "ne", "or", "ac", "gob", "gov", "edu"})
# "mail.<domain>" / "webmail.<domain>" are webmail front-ends.
_WEBMAIL_LABELS = frozenset({"mail", "webmail"})

# utm_medium values (lowercased, "_" and " " read as "-") and their class.
# "paid" marks pay-per-click media, which are search ads unless the source
# or referrer is a social network.
_MEDIUM_CLASSES = {
    **dict.fromkeys(("email", "e-mail", "mail", "newsletter", "newsletters"), "email"),
    **dict.fromkeys(
        ("social", "social-media", "socialmedia", "social-network", "sm", "organic-social",
         "paid-social", "paidsocial", "social-paid"),
        "social",
    ),
    **dict.fromkeys(("organic", "organic-search", "seo", "search", "paid-search", "paidsearch", "sem"), "search"),
    **dict.fromkeys(("referral", "display", "banner", "cpm", "affiliate", "affiliates"), "referral"),
    **dict.fromkeys(("cpc", "ppc", "paid"), "paid"),
}
# utm_source values that name a platform rather than a domain.
_SOURCE_NAME_CLASSES = {
    **dict.fromkeys(
        ("google", "bing", "duckduckgo", "ddg", "yahoo", "yandex", "baidu", "ecosia",
         "qwant", "startpage", "brave", "kagi", "naver", "seznam"),
        "search",
    ),
    **dict.fromkeys(
        ("facebook", "fb", "instagram", "ig", "twitter", "x", "linkedin", "reddit",
         "youtube", "tiktok", "pinterest", "hackernews", "hacker-news", "hn",
         "bluesky", "bsky", "threads", "mastodon", "vk", "telegram", "whatsapp",
         "snapchat", "tumblr", "quora", "discord", "xing"),
        "social",
    ),
    **dict.fromkeys(
        ("newsletter", "email", "e-mail", "mail", "mailchimp", "substack", "brevo",
         "sendinblue", "convertkit", "kit", "buttondown", "mailerlite", "klaviyo"),
        "email",
    ),
}
_REFERRER_SCHEMES = frozenset({"http", "https", "android-app"})
_REFERRER_LIMIT = 2048


def _host_class(host: str) -> str | None:
    """Class of a normalised host from the built-in tables, None if unlisted."""
    if not host:
        return None
    suffix = host
    while True:
        found = _DOMAIN_CLASSES.get(suffix)
        if found is not None:
            return found
        dot = suffix.find(".")
        if dot < 0:
            break
        suffix = suffix[dot + 1 :]
    labels = host.split(".")
    brand = _BRAND_CLASSES.get(labels[0])
    if brand is not None and (
        len(labels) == 2 or (len(labels) == 3 and labels[1] in _SECOND_LEVEL_LABELS)
    ):
        return brand
    if len(labels) >= 3 and labels[0] in _WEBMAIL_LABELS:
        return "email"
    return None


def _source_class(utm_source: str) -> str | None:
    """Class of a utm_source value: a platform name or a domain."""
    name = utm_source.lower()
    return _SOURCE_NAME_CLASSES.get(name) or _host_class(_normalize_host(name))


def _referrer_host(referrer: str) -> str:
    parts = _split_url(referrer)
    if parts is None or parts.scheme.lower() not in _REFERRER_SCHEMES:
        return ""
    return _normalize_host(parts.hostname or "")


def classify_source(
    referrer: str, page_host: str, utm_source: str = "", utm_medium: str = ""
) -> tuple[str, str]:
    """Return ``(referrer_host, source_class)`` for a hit.

    ``referrer_host`` is the referrer's host, lowercased, without port or
    "www." -- or "" when there is no usable http(s)/android-app referrer or
    when it is the page's own host, or either is a subdomain of the other
    (internal navigation is no referrer).

    ``source_class`` (one of :data:`SOURCE_CLASSES`) is decided by, in turn:

    1. ``utm_medium`` (email/newsletter -> email, social/sm -> social,
       organic/seo -> search, display/affiliate -> referral; cpc/ppc/paid ->
       social when the source or referrer is a social network, else search);
    2. ``utm_source`` naming a known platform or domain ("google",
       "facebook", "newsletter", "news.ycombinator.com");
    3. the referrer host against the built-in search / social / webmail
       tables (country domains such as google.co.uk and subdomains such as
       l.facebook.com included);
    4. "referral" for any other referrer or for unrecognised UTM tags,
       "direct" when there is neither.
    """
    return _classify_source(
        referrer[:_REFERRER_LIMIT],
        page_host[: _HOST_LIMIT + 16],
        utm_source[:_UTM_LIMIT],
        utm_medium[:_UTM_LIMIT],
    )


@functools.lru_cache(maxsize=4096)
def _classify_source(
    referrer: str, page_host: str, utm_source: str, utm_medium: str
) -> tuple[str, str]:
    ref_host = _referrer_host(clean_text(referrer, _REFERRER_LIMIT))
    if ref_host and page_host and (
        _host_matches(ref_host, page_host) or _host_matches(page_host, ref_host)
    ):
        ref_host = ""
    source = clean_text(utm_source, _UTM_LIMIT)
    medium = clean_text(utm_medium, _UTM_LIMIT).lower().replace("_", "-").replace(" ", "-")
    medium_class = _MEDIUM_CLASSES.get(medium)
    if medium_class is not None and medium_class != "paid":
        return ref_host, medium_class
    known = (_source_class(source) if source else None) or _host_class(ref_host)
    if medium_class == "paid":
        return ref_host, "social" if known == "social" else "search"
    if known is not None:
        return ref_host, known
    if ref_host or source or medium:
        return ref_host, "referral"
    return ref_host, "direct"
