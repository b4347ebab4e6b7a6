"""The write side of the reports: the summary tables and everything that writes them.

* :mod:`.dimensions`: the vocabulary the summary rows are keyed by (dimensions, their values,
  the counts of a row, the hour of ``hourly_stats``), shared with the read side;
* :mod:`.delta`: the change one batch of hits makes to the summaries, applied by the store in
  the batch's transaction;
* :mod:`.rebuild`: recomputing a site's summaries from its raw rows, and re-dating them in a
  new time zone first;
* :mod:`.jobs`: that heavy work queued as jobs, which the hit writer runs between batches.

Ingest imports from here; nothing here imports the read side (:mod:`tracking.reports`).
"""
