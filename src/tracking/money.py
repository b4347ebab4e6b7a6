"""Revenue's rules: which currencies, which amounts. Plain values, for the beacon and the goals.

A currency is an ISO 4217 code Babel knows (the CLDR's list, current and historic). An amount is
a :class:`~decimal.Decimal` (never a float), from 0 to under 10^12, with at most as many decimals
as its currency's minor unit (2 for EUR, 0 for JPY, 3 for KWD), and never more than 4.
"""

from decimal import Decimal

from babel.numbers import get_currency_precision, list_currencies

MAX_AMOUNT = Decimal(10) ** 12
MAX_DECIMALS = 4

#: The ISO 4217 codes a revenue may be in.
CURRENCIES = frozenset(code for code in list_currencies() if len(code) == 3 and code.isascii() and code.isupper())


def currency_error(code: str) -> str | None:
    """Why ``code`` is not an ISO 4217 currency code, or ``None``."""
    if code not in CURRENCIES:
        return "Not an ISO 4217 currency code (such as EUR, USD or JPY)."
    return None


def decimals(currency: str) -> int:
    """The decimals an amount in ``currency`` may have: its minor unit, at most 4."""
    return min(get_currency_precision(currency), MAX_DECIMALS)


def amount_error(amount: Decimal, currency: str) -> str | None:
    """Why ``amount`` in ``currency`` is not a revenue, or ``None``."""
    if not amount.is_finite():
        return "must be a number"
    if amount < 0:
        return "must not be negative"
    if amount >= MAX_AMOUNT:
        return f"must be less than {MAX_AMOUNT:,}"
    places = decimals(currency)
    if amount != amount.quantize(Decimal(1).scaleb(-places)):
        return f"has at most {places} decimals in {currency}"
    return None
