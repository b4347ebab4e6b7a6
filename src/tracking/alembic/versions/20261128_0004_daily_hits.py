"""daily hits: each day's page views and events by the day they happened on, for the chart

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 01:00:00.000000

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    # The same rows the summaries keep from now on, from the page and event rows.
    op.execute(
        "INSERT INTO daily_stats (site_id, dim, day, value, visitors, visits, pageviews, bounces, duration, events)"
        " SELECT site_id, 'hits', day, '', 0, 0, SUM(pageviews), 0, 0, SUM(events) FROM daily_stats"
        " WHERE dim IN ('page', 'event') GROUP BY site_id, day"
    )


def downgrade():
    op.execute("DELETE FROM daily_stats WHERE dim = 'hits'")
