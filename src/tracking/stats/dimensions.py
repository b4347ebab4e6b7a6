"""What the reports can be broken down and filtered by.

Visit dimensions take the value of the visit's first hit (the exit page: its last page view);
hit dimensions are counted per hit. ``""`` is the site total, ``hits`` the page views
and events of the day they happened on (the chart's page views; the total counts a visit's on
the day it began), ``bot`` counts bot hits by reason. A ``prop`` value is ``event␟key␟value`` (``␟`` = U+001F, which the beacon strips from
visitor input, so it cannot be forged).
"""

TOTAL = ""
HITS = "hits"
BOT = "bot"
PROP_SEPARATOR = "\x1f"

#: dimension → column of ``visits``
VISIT_DIMENSIONS: dict[str, str] = {
    "source": "source",
    "referrer": "ref_host",
    "utm_source": "utm_source",
    "utm_medium": "utm_medium",
    "utm_campaign": "utm_campaign",
    "country": "country",
    "region": "region",
    "city": "city",
    "browser": "browser",
    "os": "os",
    "device": "device",
    "entry": "entry_path",
    "exit": "exit_path",
}

#: dimension → column of ``hits`` (``prop`` is computed from ``event`` and ``props``)
HIT_DIMENSIONS: dict[str, str] = {"page": "path", "event": "event", "prop": "props"}

DIMENSIONS = (*VISIT_DIMENSIONS, *HIT_DIMENSIONS)

LABELS: dict[str, str] = {
    "source": "Source",
    "referrer": "Referrer",
    "utm_source": "UTM source",
    "utm_medium": "UTM medium",
    "utm_campaign": "UTM campaign",
    "country": "Country",
    "region": "Region",
    "city": "City",
    "browser": "Browser",
    "os": "Operating system",
    "device": "Device",
    "entry": "Entry page",
    "exit": "Exit page",
    "page": "Page",
    "event": "Event",
    "prop": "Property",
}


def prop_value(event: str, key: str, value: str) -> str:
    return f"{event}{PROP_SEPARATOR}{key}{PROP_SEPARATOR}{value}"


def split_prop(value: str) -> tuple[str, str, str]:
    event, key, text = (value.split(PROP_SEPARATOR, 2) + ["", ""])[:3]
    return event, key, text
