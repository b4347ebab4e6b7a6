"""Enrichment steps for a beacon hit, one module per question:

* :mod:`.text`: control characters out, bounds on (:func:`clean_text`), for every step;
* :mod:`.agents`: browser, operating system and device class from the User-Agent
  (:func:`parse_agent`);
* :mod:`.bots`: is the User-Agent a person's browser, or why not (:func:`detect_bot`), with the
  rules and lists it reads (:mod:`.bot_lists`) and the engine that runs them
  (:mod:`.pattern_lists`);
* :mod:`.addresses`: IP addresses, what is stored of them (:func:`truncate_ip`), visitor keys
  and daily visitor ids (:class:`VisitorKeys`, :func:`visitor_id`);
* :mod:`.geo`: country, autonomous system and, with a city database, region and city
  (:class:`GeoLocator`);
* :mod:`.urls`: page addresses (:func:`parse_page_url`) and host names (:func:`host_matches`);
* :mod:`.referrers`: the referrer's host and the source class (:func:`classify_source`).

Every function here is pure (apart from read-only lookup data loaded once)
and cheap enough for the hot path of an analytics beacon.  All inputs come
from untrusted visitors, so every public function accepts *any* ``str`` --
garbage, multi-megabyte values, NUL bytes, lone surrogates from a JSON body
-- and answers with empty/unknown values instead of raising.

Caching: results that depend only on a value which repeats across hits (the
User-Agent, the referrer) are memoised with :func:`functools.lru_cache`.  The
cache key is always the *bounded* input, never the raw one, so a visitor
sending huge headers cannot make a cache hold huge strings.

The public names are imported here (``from tracking.ingest import enrich``, then
``enrich.parse_agent(...)``); names with a leading underscore are shared between the modules of
this package only.
"""

from .addresses import IP_MODES, VisitorKeys, truncate_ip, visitor_id
from .agents import DEVICE_CLASSES, Agent, parse_agent
from .bots import detect_bot, warm_up
from .geo import AS_ORG_LIMIT, Geo, GeoLocator
from .referrers import SOURCE_CLASSES, classify_source
from .text import clean_text
from .urls import PageURL, host_matches, parse_page_url

__all__ = [
    "AS_ORG_LIMIT",
    "DEVICE_CLASSES",
    "IP_MODES",
    "SOURCE_CLASSES",
    "Agent",
    "Geo",
    "GeoLocator",
    "PageURL",
    "VisitorKeys",
    "classify_source",
    "clean_text",
    "detect_bot",
    "host_matches",
    "parse_agent",
    "parse_page_url",
    "truncate_ip",
    "visitor_id",
    "warm_up",
]
