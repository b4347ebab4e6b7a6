"""The read side of the reports: plain functions over a SQLAlchemy session that never write.

* :mod:`.periods`: periods of local days, read from a query string;
* :mod:`.query`: the query value (:class:`~.query.StatsQuery`) a view builds from a request;
* :mod:`.planner`: the one place that decides whether the summary tables or the raw rows answer
  each part of a query;
* :mod:`.api`: the read API (overview, aggregate, timeseries, breakdown, realtime), which asks
  the planner and has the runners read: :mod:`.summary_runner` (``daily_stats``,
  ``hourly_stats``) and :mod:`.raw_runner` (``visits``, ``hits``);
* :mod:`.results`: the values they answer;
* :mod:`.visits`: a site's visits, a visit's timeline, its bot hits;
* :mod:`.export`: the CSV exports.

The tables they read are written by :mod:`tracking.summaries` and :mod:`tracking.ingest`, which
import nothing from here.
"""
