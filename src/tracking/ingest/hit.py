"""Parse a beacon request into a :class:`RawHit`, or say precisely what is wrong with it.

The beacon accepts the same fields three ways: a query string (``GET``, the no-JavaScript
pixel), a form body, or a JSON object body (``navigator.sendBeacon`` sends it as
``text/plain``). Everything here comes from strangers: every value is bounded, typed and
cleaned of control characters before anything else sees it.

========  =======================================================  ===========================
field     meaning                                                  bound
========  =======================================================  ===========================
url       the page's address (else the ``Referer`` header)         2048 characters, http(s)
event     ``pageview`` (default) or a custom event name            64 characters
referrer  the page's ``document.referrer``                         2048 characters
width     the viewport width in CSS pixels                         integer 0–32767
props     custom properties: a JSON object of scalar values        30 keys, key ≤ 64, value ≤ 256
revenue   a custom event's revenue: ``{"amount": "29.90",         ISO 4217 currency; amount
          "currency": "EUR"}`` (a JSON object, or its text)        0 ≤ amount < 10^12, the
                                                                   currency's decimals (≤ 4)
========  =======================================================  ===========================

An amount is a decimal: a JSON string (``"29.90"``, exact) or number (read from its decimal
text, never through a binary float). A hit carries it as its canonical text. A JSON number is rounded, half to even, to the
currency's decimals (it was a binary float in the page that sent it); a string is taken as written.
"""

import json
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

from ..money import MAX_AMOUNT, amount_error, currency_error, decimals
from .enrich import PageURL, clean_text, parse_page_url

MAX_BODY = 8192
MAX_URL = 2048
MAX_EVENT = 64
MAX_PROPS = 30
MAX_PROP_KEY = 64
MAX_PROP_VALUE = 256
#: The widest viewport taken: what ``hits.width`` (a SMALLINT) holds. A wider one stored would
#: fail its whole batch on PostgreSQL, again at every retry; no screen is that wide.
MAX_WIDTH = 32_767
FIELDS = ("url", "event", "referrer", "width", "props", "revenue")
#: The longest amount's text (``999999999999.9999`` and room for a sign, zeros and an exponent).
MAX_AMOUNT_TEXT = 40


@dataclass(slots=True)
class RawHit:
    """A hit as the visitor sent it, validated and bounded, not yet enriched."""

    page: PageURL
    event: str = "pageview"
    referrer: str = ""
    width: int | None = None
    props: dict[str, str] | None = None
    #: A custom event's revenue: the amount's text (``"29.9"``) and its ISO 4217 currency.
    revenue: tuple[str, str] | None = None


class BadHit(Exception):
    """Invalid input: ``errors`` maps each field to a message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(errors)
        self.errors = errors


def decode_json_body(body: bytes) -> dict:
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise BadHit({"body": "not a JSON object"}) from None
    if not isinstance(data, dict):
        raise BadHit({"body": "not a JSON object"})
    return data


def parse(fields: dict, referer_header: str = "") -> RawHit:
    """Validate ``fields`` (from a query string, a form or a JSON object) into a :class:`RawHit`."""
    errors: dict[str, str] = {}
    url = _text(fields.get("url"), "url", MAX_URL, errors)
    if not url and "url" not in errors:
        url = clean_text(referer_header, MAX_URL) if len(referer_header) <= MAX_URL else ""
        if not url:
            errors["url"] = "required (or send a Referer header)"
    page = parse_page_url(url) if url else None
    if url and page is None:
        errors["url"] = "must be an absolute http(s) URL with a host"

    event = _text(fields.get("event"), "event", MAX_EVENT, errors) or "pageview"
    referrer = _text(fields.get("referrer"), "referrer", MAX_URL, errors)
    width = _width(fields.get("width"), errors)
    props = _props(fields.get("props"), errors)
    revenue = _revenue(fields.get("revenue"), errors)
    if revenue is not None and event == "pageview":
        errors["revenue"] = "only a custom event carries revenue"
    if errors:
        raise BadHit(errors)
    assert page is not None  # no URL is an error above
    return RawHit(page=page, event=event, referrer=referrer, width=width, props=props, revenue=revenue)


def _text(value, name: str, limit: int, errors: dict) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        errors[name] = "must be a string"
        return ""
    if len(value) > limit:
        errors[name] = f"longer than {limit} characters"
        return ""
    return clean_text(value, limit)


def _width(value, errors: dict) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        errors["width"] = "must be an integer"
        return None
    if isinstance(value, str):
        if not value.isascii() or not value.isdigit() or len(value) > 6:
            errors["width"] = f"must be an integer from 0 to {MAX_WIDTH}"
            return None
        value = int(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or not 0 <= value <= MAX_WIDTH:
        errors["width"] = f"must be an integer from 0 to {MAX_WIDTH}"
        return None
    return value


def _props(value, errors: dict) -> dict[str, str] | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        if len(value) > MAX_BODY:
            errors["props"] = "too long"
            return None
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):
            errors["props"] = "must be a JSON object"
            return None
    if not isinstance(value, dict):
        errors["props"] = "must be a JSON object"
        return None
    if len(value) > MAX_PROPS:
        errors["props"] = f"at most {MAX_PROPS} properties"
        return None
    props: dict[str, str] = {}
    for key, item in value.items():
        name = clean_text(key, MAX_PROP_KEY + 1)
        if not name or len(name) > MAX_PROP_KEY:
            errors["props"] = f"property names must have 1 to {MAX_PROP_KEY} characters"
            return None
        if isinstance(item, bool):
            text = "true" if item else "false"
        elif isinstance(item, (int, float)) or item is None:
            text = "" if item is None else json.dumps(item)
        elif isinstance(item, str):
            text = item
        else:
            errors["props"] = f"property {name!r} must be a string, number, boolean or null"
            return None
        if len(text) > MAX_PROP_VALUE:
            errors["props"] = f"property {name!r} is longer than {MAX_PROP_VALUE} characters"
            return None
        props[name] = clean_text(text, MAX_PROP_VALUE)
    return props or None




def _revenue(value, errors: dict) -> tuple[str, str] | None:
    """``{"amount": ..., "currency": ...}`` (or its JSON text) → (the amount's text, currency)."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        if len(value) > MAX_BODY:
            errors["revenue"] = "too long"
            return None
        try:
            value = json.loads(value, parse_float=Decimal)
        except (ValueError, RecursionError):
            errors["revenue"] = "must be a JSON object with amount and currency"
            return None
    if not isinstance(value, dict) or set(value) != {"amount", "currency"}:
        errors["revenue"] = "must be a JSON object with amount and currency"
        return None
    currency, amount = value["currency"], value["amount"]
    if isinstance(currency, str):
        currency = currency.upper()  # as the goal form takes it: ``eur`` is EUR
    if not isinstance(currency, str) or currency_error(currency):
        errors["revenue.currency"] = "must be an ISO 4217 currency code, such as EUR"
        return None
    if isinstance(amount, bool) or not isinstance(amount, (str, int, float, Decimal)):
        errors["revenue.amount"] = "must be a decimal number, such as \"29.90\""
        return None
    text = amount if isinstance(amount, str) else repr(amount) if isinstance(amount, float) else str(amount)
    try:
        number = Decimal(text.strip()) if len(text) <= MAX_AMOUNT_TEXT else None
    except InvalidOperation:
        number = None
    if number is None:
        errors["revenue.amount"] = "must be a decimal number, such as \"29.90\""
        return None
    if not isinstance(amount, str) and number.is_finite() and number >= 0:
        # A JSON number is a binary float in the page that sent it (``19.99 * 3`` is
        # ``59.97000000000001``): rounded, half to even, to the currency's decimals. A string is
        # taken as written.
        number = number.quantize(Decimal(1).scaleb(-decimals(currency)), rounding=ROUND_HALF_EVEN) \
            if abs(number) < MAX_AMOUNT else number
    error = amount_error(number, currency)
    if error:
        errors["revenue.amount"] = error
        return None
    return format(number.normalize() if number else Decimal(0), "f"), currency
