"""Jinja2 templates: autoescaped, with filters for the numbers of the reports and the names of
countries (the English territory names of the Unicode CLDR, from Babel, with the flag emoji
made of the code's two regional indicator symbols)."""

from functools import cache

from babel import Locale

FILTERS = {
    "number": "tracking.templating:number",
    "duration": "tracking.templating:duration",
    "percent": "tracking.templating:percent",
    "offset": "tracking.templating:offset",
    "country": "tracking.templating:country",
    "flag": "tracking.templating:flag",
    "local": "tracking.templating:local",
    "money": "tracking.templating:money",
}


def number(value) -> str:
    """1234567 → 1,234,567; 12345.6 → 12.3k is left to the reader: counts are shown in full."""
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.1f}"
    return f"{int(value):,}"


def duration(seconds) -> str:
    seconds = int(round(seconds or 0))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m {seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def offset(delta) -> str:
    """The time since a visit began: +0:00, +2:05, +1:02:03 (whole seconds)."""
    seconds = max(int(delta.total_seconds()), 0)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"+{hours}:{minutes:02d}:{seconds:02d}" if hours else f"+{minutes}:{seconds:02d}"


def percent(value) -> str:
    return f"{value:.0f}%" if value >= 10 or value == 0 else f"{value:.1f}%"


def money(amount, currency: str) -> str:
    """An amount in its currency, with its minor unit's decimals: ``€29.90``, ``¥1,500``."""
    from babel.numbers import format_currency

    return format_currency(amount, currency, locale="en")


def local(ts, timezone: str) -> str:
    """A naive-UTC time from the database, in ``timezone``: ``2026-03-10 14:05``."""
    from .timezones import to_local

    return to_local(ts, timezone).strftime("%Y-%m-%d %H:%M")


@cache
def _territories() -> dict[str, str]:
    return dict(Locale("en").territories)


def country(code) -> str:
    """``DE`` → ``Germany``; a code CLDR does not know is shown as it is."""
    code = code or ""
    return _territories().get(code.upper(), code) if len(code) == 2 else code


def flag(code) -> str:
    """``DE`` → 🇩🇪 (two regional indicator symbols); "" for anything but a known country code."""
    code = (code or "").upper()
    if len(code) != 2 or not code.isascii() or not code.isalpha() or code not in _territories():
        return ""
    return "".join(chr(0x1F1E6 + ord(letter) - ord("A")) for letter in code)


def includeme(config) -> None:
    settings = config.get_settings()
    settings.setdefault("jinja2.filters", "\n".join(f"{name} = {path}" for name, path in FILTERS.items()))
    config.include("pyramid_jinja2")
    config.add_jinja2_renderer(".jinja2")
    config.add_jinja2_search_path("tracking:templates", name=".jinja2")
