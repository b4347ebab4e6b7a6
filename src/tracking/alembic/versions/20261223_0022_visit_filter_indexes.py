"""indexes for filtered reports: the visits by region, city, referrer and entry page

Revision ID: 0022_visit_filter_indexes
Revises: 0021_segment_stats
Create Date: 2026-12-23 09:00:00.000000

A filter by a region, a city, a referrer or an entry page (none of which has summaries of its
own: their values are too many) read every visit of the period to keep the matching ones.
Like the country's before them, each now has an index by site, value and day, through which a
filter reads only its own visits (a month of a 10-million-hit site: ~680,000 visits read for a
city's ~11,000; BENCHMARKS.md). The exit page has none: it changes with every page view, and
each change would move the visit's entry in it.
"""
from alembic import op

# revision identifiers, used by Alembic.
revision = "0022_visit_filter_indexes"
down_revision = "0021_segment_stats"
branch_labels = None
depends_on = None

COLUMNS = ("region", "city", "ref_host", "entry_path")


def upgrade():
    for column in COLUMNS:
        op.create_index(f"ix_visits_site_id_{column}_day", "visits", ["site_id", column, "day"])


def downgrade():
    for column in COLUMNS:
        op.drop_index(f"ix_visits_site_id_{column}_day", table_name="visits")
