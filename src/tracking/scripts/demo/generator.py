"""The generator: one site's people, their visits and hits day by day, and the crawlers'
(:class:`Generator`), written through a :class:`~.rows.Rows`."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from ...ingest.enrich import classify_source
from ...ingest.visits import VISIT_GAP
from ...models import Site
from ...models.hits import listing
from ...timezones import day_bounds
from .rows import Rows
from .traffic import (
    CRAWLER_PLACE,
    CRAWLERS,
    EVENT_THRESHOLDS,
    GAPS,
    HOUR_CURVE,
    HOUR_TABLE,
    LANDING_TABLE,
    LANDINGS,
    OUTBOUND_PROPS,
    PAGE_TABLE,
    PAGES,
    PAGEVIEW_COUNTS,
    PLACES,
    RETURN_TABLE,
    SIGNUP_PROPS,
    USER_AGENTS,
    VISITS_PER_DAY,
    WEEKDAY_WEIGHTS,
    Agent,
    Place,
    Weighted,
    _agent,
)

#: Hits buffered before they are sent to the database.
CHUNK_HITS = 50_000
BOT_SHARE = 0.03


@dataclass
class Result:
    """What a run added, and where its time went."""

    hits: int = 0
    visits: int = 0
    bots: int = 0
    #: Making and loading the rows, indexes and statistics included.
    load_seconds: float = 0.0
    #: The part of ``load_seconds`` spent building indexes and keys and updating statistics.
    index_seconds: float = 0.0
    rebuild_seconds: float = 0.0


@dataclass
class Day:
    """One local day: how many seconds of it may hold hits, and where it starts in UTC.

    The timestamp of second ``n`` of the day is ``utc_dates[m // 86400] + clock[m % 86400]``
    with ``m = utc_second + n`` (seconds from the UTC midnight before the local one; a local
    day of 23 or 25 hours spans up to three UTC dates).
    """

    day: date
    text: str
    seconds: int
    utc_dates: tuple[str, ...]
    utc_second: int
    #: ``weekly-<year>-w<week>``: this week's newsletter issue.
    newsletter: str


def _visitor_ids(rng: random.Random) -> Callable[[], int]:
    """Distinct, random-looking signed 64-bit visitor ids.

    A counter (from a random start, by an odd step: it runs through all 2**64 values before it
    repeats) goes through the SplitMix64 finaliser, a bijection of 64-bit integers: no two
    people of one run share an id, which the ``is_first`` flags rely on.
    """
    mask = (1 << 64) - 1
    counter = rng.getrandbits(64)

    def next_id() -> int:
        nonlocal counter
        counter = (counter + 0x9E3779B97F4A7C15) & mask
        x = counter
        x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & mask
        x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & mask
        x ^= x >> 31
        return x - (1 << 64) if x >> 63 else x

    return next_id


def daily_budgets(total: int, days: list[Day], rng: random.Random) -> list[int]:
    """Hits per day, summing to ``total``: weekday rhythm, a third more at the end than at the
    start, ±10 % noise.

    A day only partly elapsed (today) gets the share of the daily curve it has had so far.
    """
    weights = []
    whole_day = sum(HOUR_CURVE)
    for index, day in enumerate(days):
        hours, seconds = divmod(day.seconds, 3600)
        elapsed = sum(HOUR_CURVE[:hours]) + (HOUR_CURVE[hours] * seconds / 3600 if hours < 24 else 0.0)
        growth = 0.75 + 0.25 * (index + 1) / len(days)
        weights.append(WEEKDAY_WEIGHTS[day.day.weekday()] * growth * rng.uniform(0.9, 1.1) * min(1.0, elapsed / whole_day))
    whole = sum(weights)
    if not whole:
        return [0] * len(days)
    exact = [total * weight / whole for weight in weights]
    budgets = [int(share) for share in exact]
    # The hits lost to rounding down go to the largest remainders.
    for index in sorted(range(len(days)), key=lambda i: budgets[i] - exact[i])[: total - sum(budgets)]:
        budgets[index] += 1
    return budgets


class Generator:
    """Synthetic traffic of one site, written through a :class:`Rows`."""

    def __init__(self, site: Site, rows: Rows, seed: int) -> None:
        self.site_id = site.id
        self.host = site.domain
        self.rows = rows
        self.rng = random.Random(seed)
        self.next_visitor = _visitor_ids(self.rng)
        self.next_visit_id = 1
        self.people = Weighted([(_agent(ua, widths), weight) for ua, widths, weight in USER_AGENTS])
        self.crawlers = Weighted([(_agent(ua, (None,)), weight) for ua, weight in CRAWLERS])
        #: Truncated addresses (as ``tracking.store_ip = truncated`` stores them).
        self.addresses = [f"{self.rng.randint(1, 223)}.{self.rng.randrange(256)}.{self.rng.randrange(256)}.0" for _ in range(4096)]
        self._arrival_classes = [
            classify_source(referrer, self.host, utm_source, utm_medium) for referrer, utm_source, utm_medium, *_ in LANDINGS
        ]
        # Formatted parts, made on first use.
        self._pageview = rows.part(("pageview", None))
        self._events: dict[tuple[str, str | None], Any] = {}
        self._event_names: dict[Any, str] = {}  # event part → the event's name
        self._landing_pages: dict[tuple[int, int, str], Any] = {}
        #: by ``previous page * len(PAGES) + page``
        self._inner_pages: list[Any] = [None] * len(PAGES) ** 2
        self._crawled_pages: dict[int, Any] = {}
        self._arrivals: dict[tuple[int, str], Any] = {}
        self._profiles: dict[tuple[Place, Agent, int | None], tuple[Any, Any]] = {}
        self.result = Result()

    # -- parts ------------------------------------------------------------------------------

    def _event(self, name: str, props: str | None) -> Any:
        key = (name, props)
        part = self._events.get(key)
        if part is None:
            part = self._events[key] = self.rows.part(key)
            self._event_names[part] = name
        return part

    def _landing_page(self, landing: int, page: int, campaign: str) -> Any:
        """The page part of a visit's first view: where the visitor came from."""
        key = (landing, page, campaign)
        part = self._landing_pages.get(key)
        if part is None:
            referrer, utm_source, utm_medium, *_ = LANDINGS[landing]
            ref_host, source = self._arrival_classes[landing]
            part = self.rows.part((PAGES[page], "", referrer, ref_host, source, utm_source, utm_medium, campaign, "", ""))
            self._landing_pages[key] = part
        return part

    def _inner_page(self, previous: int, page: int) -> Any:
        """The page part of a view reached from another page of the site (no source)."""
        key = previous * len(PAGES) + page
        part = self._inner_pages[key]
        if part is None:
            referrer = f"https://{self.host}{PAGES[previous]}"
            part = self._inner_pages[key] = self.rows.part((PAGES[page], "", referrer, "", "direct", "", "", "", "", ""))
        return part

    def _arrival(self, landing: int, campaign: str) -> Any:
        """A visit's arrival columns (its first hit's source and UTM tags)."""
        key = (landing, campaign)
        part = self._arrivals.get(key)
        if part is None:
            _, utm_source, utm_medium, *_ = LANDINGS[landing]
            ref_host, source = self._arrival_classes[landing]
            part = self._arrivals[key] = self.rows.part((source, ref_host, utm_source, utm_medium, campaign))
        return part

    def _profile(self, place: Place, agent: Agent, width: int | None) -> tuple[Any, Any]:
        """The place and software columns of a person's hits, and of their visits."""
        key = (place, agent, width)
        parts = self._profiles.get(key)
        if parts is None:
            parts = self._profiles[key] = (
                self.rows.part((self.site_id, self.host, place.country, place.region, place.city, place.postal,
                                place.latitude, place.longitude, agent.browser, agent.browser_version, agent.os,
                                agent.device, width, agent.bot)),
                self.rows.part((self.site_id, place.country, place.region, place.city, agent.browser, agent.os,
                                agent.device)),
            )
        return parts

    # -- days -------------------------------------------------------------------------------

    def day(self, day: Day, budget: int, flush: Callable[[], None]) -> None:
        """``budget`` hits on ``day``: people's visits, then crawler hits.

        ``flush`` is called whenever :data:`CHUNK_HITS` hits are buffered (a day may hold many).
        """
        bots = min(budget, round(budget * BOT_SHARE))
        people = budget - bots
        rows = self.rows
        while people > 0:
            people -= self._person(day, people)
            if len(rows.hits) >= CHUNK_HITS:
                flush()
        self._crawlers(day, bots)

    def _start(self, day: Day) -> int:
        """Seconds into ``day`` of a first visit, on the daily curve (within the day's hours)."""
        rnd = self.rng.random
        offset = HOUR_TABLE.draw(rnd()) * 3600 + int(rnd() * 3600)
        while offset >= day.seconds:
            offset = int(rnd() * day.seconds) if day.seconds < 3600 else HOUR_TABLE.draw(rnd()) * 3600 + int(rnd() * 3600)
        return offset

    def _person(self, day: Day, limit: int) -> int:
        """One person's visits of the day, at most ``limit`` hits; returns the hits written.

        ``is_first``: the person's first visit of the day, and each hit that is their first
        view of its page (first event of its name) that day — the visitor id is theirs for the
        day only.
        """
        rows = self.rows
        add_hit = rows.hit
        clock = rows.clock
        dates, midnight = day.utc_dates, day.utc_second
        rnd = self.rng.random
        agent = self.people.draw(rnd())
        width = agent.widths[int(rnd() * len(agent.widths))]
        profile, visit_profile = self._profile(PLACES.draw(rnd()), agent, width)
        visitor = self.next_visitor()
        ip = self.addresses[int(rnd() * len(self.addresses))]
        seen: set[object] = set()
        written = 0
        start = self._start(day)
        for number in range(VISITS_PER_DAY.draw(rnd())):
            if written >= limit:
                break
            hits = self._visit_hits(limit - written)
            if number == 0:
                # A visit never crosses midnight (nor now): cut it to the day, then move it
                # early enough to end within it.
                if hits[-1][0] >= day.seconds:
                    hits = [hit for hit in hits if hit[0] < day.seconds]
                start = min(start, day.seconds - 1 - hits[-1][0])
            elif start + hits[-1][0] >= day.seconds:
                break
            landing = LANDING_TABLE.draw(rnd()) if number == 0 else RETURN_TABLE.draw(rnd())
            campaign = LANDINGS[landing][3]
            if campaign == "weekly":
                campaign = day.newsletter
            visit_id = self.next_visit_id
            self.next_visit_id += 1
            person = rows.person(day.text, visitor, visit_id, ip, profile)
            tail = None
            previous = -1
            pageviews = 0
            viewed: dict[int, None] = {}
            sent: dict[str, None] = {}
            for offset, page, event in hits:
                if event is None:
                    viewed[page] = None
                    page_part = self._landing_page(landing, page, campaign) if previous < 0 else self._inner_page(previous, page)
                    tail = rows.tail(page_part, person)
                    previous = page
                    pageviews += 1
                    key: object = page
                    event = self._pageview
                else:
                    key = event
                    sent[self._event_names[event]] = None
                first = key not in seen
                if first:
                    seen.add(key)
                second = midnight + start + offset
                add_hit(dates[second // 86400] + clock[second % 86400], first, event, tail)
            span = hits[-1][0]
            first_second, last_second = midnight + start, midnight + start + span
            own = (visit_id, visitor, dates[first_second // 86400] + clock[first_second % 86400],
                   dates[last_second // 86400] + clock[last_second % 86400], day.text, number == 0, PAGES[hits[0][1]],
                   PAGES[previous], pageviews, len(hits) - pageviews, span, listing(PAGES[p] for p in viewed),
                   listing(sent))
            rows.visit(own, self._arrival(landing, campaign), visit_profile)
            written += len(hits)
            self.result.visits += 1
            # The next visit starts after the 30-minute gap, up to ~6 hours later.
            start += span + int(VISIT_GAP.total_seconds()) + 60 + int(rnd() * 6 * 3600)
        self.result.hits += written
        return written

    def _visit_hits(self, limit: int) -> list[tuple[int, int, Any]]:
        """(seconds from the start, page index, event part or ``None`` for a page view) of a
        visit's hits, at most ``limit``.

        The first hit is a page view; an event follows its page view by a few seconds; an
        outbound click ends the visit.
        """
        rnd = self.rng.random
        pages, size = PAGE_TABLE.table, PAGE_TABLE.size
        hits: list[tuple[int, int, Any]] = []
        offset = 0
        page = pages[int(rnd() * size)]
        for number in range(PAGEVIEW_COUNTS.draw(rnd())):
            if number:
                offset += GAPS[int(rnd() * len(GAPS))]
                page = pages[int(rnd() * size)]
            hits.append((offset, page, None))
            signup, download, outbound = EVENT_THRESHOLDS[page]
            u = rnd()
            if u < outbound:
                if u < signup:
                    event = self._event("signup", SIGNUP_PROPS.draw(rnd()))
                elif u < download:
                    event = self._event("download", None)
                else:
                    event = self._event("outbound", OUTBOUND_PROPS[int(rnd() * len(OUTBOUND_PROPS))])
                offset += 1 + int(rnd() * 20)
                hits.append((offset, page, event))
                if u >= download:  # an outbound click: the visitor has left
                    break
        return hits if len(hits) <= limit else hits[:limit]

    def _crawlers(self, day: Day, count: int) -> None:
        """``count`` crawler hits spread over ``day``: no referrer, no visit, never first.

        Each crawler has one visitor id a day and comes from one address.
        """
        if not count:
            return
        rows = self.rows
        rnd = self.rng.random
        clock = rows.clock
        people: dict[Agent, Any] = {}
        for _ in range(count):
            agent = self.crawlers.draw(rnd())
            person = people.get(agent)
            if person is None:
                address = f"66.249.{len(people) + 64}.0"
                profile = self._profile(CRAWLER_PLACE, agent, None)[0]
                person = people[agent] = rows.person(day.text, self.next_visitor(), None, address, profile)
            page = int(rnd() * len(PAGES))
            part = self._crawled_pages.get(page)
            if part is None:
                part = self._crawled_pages[page] = rows.part((PAGES[page], "", "", "", "direct", "", "", "", "", ""))
            second = day.utc_second + int(rnd() * day.seconds)
            rows.hit(day.utc_dates[second // 86400] + clock[second % 86400], False, self._pageview, rows.tail(part, person))
        self.result.hits += count
        self.result.bots += count


def days_ending(end: date, count: int, timezone: str, now: datetime) -> list[Day]:
    """The ``count`` local days up to ``end``, each cut at ``now`` (naive UTC)."""
    days = []
    for back in range(count - 1, -1, -1):
        day = end - timedelta(days=back)
        start, stop = day_bounds(day, timezone)
        seconds = int((min(stop, now) - start).total_seconds())
        year, week, _ = day.isocalendar()
        utc_dates = tuple((start.date() + timedelta(days=n)).isoformat() for n in range(3))
        utc_second = start.hour * 3600 + start.minute * 60 + start.second
        days.append(Day(day, day.isoformat(), max(0, seconds), utc_dates, utc_second, f"weekly-{year}-w{week:02d}"))
    return days
