"""indexes for filtered reports: the bot hits by site and time, the visits with UTM parameters

Revision ID: 0019_filter_indexes
Revises: 0018_goal_summaries
Create Date: 2026-12-20 09:00:00.000000

Two partial indexes, each holding a small share of its table's rows, so that the writer adds an
entry to them for those rows only:

* ``ix_hits_site_id_ts_bots``: a filtered dashboard counts the period's bot hits that match its
  filters. Bots have no visit, so the count is over ``hits``; through ``ix_hits_site_id_ts`` it
  read every hit of the period (a month of a 10-million-hit site: ~940,000 rows, ~300 ms on
  PostgreSQL) to keep the bot hits (3 % of them).
* ``ix_visits_site_id_day_utm``: a filter by a UTM parameter read every visit of the period to
  keep the few that came with one (8 % of the demo's visits).
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0019_filter_indexes"
down_revision = "0018_goal_summaries"
branch_labels = None
depends_on = None

BOTS = "bot <> ''"
UTM_VISIT = "utm_source <> '' OR utm_medium <> '' OR utm_campaign <> ''"


def upgrade():
    op.create_index("ix_hits_site_id_ts_bots", "hits", ["site_id", "ts"], postgresql_where=sa.text(BOTS),
                    sqlite_where=sa.text(BOTS))
    op.create_index("ix_visits_site_id_day_utm", "visits", ["site_id", "day"], postgresql_where=sa.text(UTM_VISIT),
                    sqlite_where=sa.text(UTM_VISIT))


def downgrade():
    op.drop_index("ix_visits_site_id_day_utm", table_name="visits")
    op.drop_index("ix_hits_site_id_ts_bots", table_name="hits")
